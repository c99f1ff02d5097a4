"""``make lab`` and ``make lab-shell``: the whole controller cluster, live (issue #14).

``python -m tests.lab.run_lab`` installs hakit into the live system (and
puts back what was there afterwards), starts :class:`ControllerLab` with
Galera, RabbitMQ and a nova-conductor clone consuming from it, prints
``crm_mon -1 -A`` and a short report, runs the failover scenarios once each
(1: kill -9 keystone, 2: kill the VIP's node, 3: level-1 fencing broken,
4: every node killed at once) with the client probing the VIP every 50 ms
and writing to Galera through it, and tears everything down: only what it
started, by pid; every namespace removed.  ``--no-galera``
leaves Galera out (and scenario 4, which checks its writes);
``--no-rabbitmq`` leaves RabbitMQ and nova-conductor out.

``python -m tests.lab.run_lab --shell`` starts the same lab, prints how to
enter a node, the client namespace and the BMCs, and keeps it running until
Ctrl-C (or SIGTERM); the BMCs and the power coupling live in this process.
"""

from __future__ import annotations

import argparse
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path

from tests.lab import scenarios
from tests.lab.agents import (
    hold_install,
    install_lab_agents,
    keep_installed,
)
from tests.lab.controllers import (
    CLIENT_ADDRESS,
    FRONTEND_PORT,
    GALERA_FRONTEND_PORT,
    IPMI_BMCS,
    REDFISH_ADDRESS,
    VIP,
    ControllerLab,
)
from tests.lab.openstack import openstack_venv, venv_missing


def describe(lab: ControllerLab) -> str:
    """How the lab is wired, and how to get into it."""
    lines = ["", "== the lab =="]
    for name, node in lab.cluster.nodes.items():
        anchor = node.anchor.pid if node.anchor else "?"
        lines.append(
            f"{name}: {node.address}, IPMI BMC {IPMI_BMCS[name]}:623 (level 1),"
            f" Redfish {REDFISH_ADDRESS}:443 (level 2);"
            f" enter: nsenter -t {anchor} -n -m -u -- bash"
        )
    lines.append(
        f"client {CLIENT_ADDRESS}: ip netns exec {lab.cluster.client_ns}"
        f" curl http://{VIP}:{FRONTEND_PORT}/v3"
    )
    if lab.galera is not None:
        lines.append(
            f"Galera through the VIP (one writer at a time): {VIP}:"
            f"{GALERA_FRONTEND_PORT}; on a node: mariadb"
            " --defaults-file=/etc/mysql/hakit-galera.cnf"
        )
    if lab.rabbit is not None:
        lines.append(
            "RabbitMQ: rabbit@ctl1..3, AMQP on each node's address:5672;"
            " nova-conductor on every node, its transport_url naming all three"
        )
    lines.append(f"work directory: {lab.workdir}")
    lines.append(
        "lab up: "
        + ", ".join(f"{what} {sec:.1f} s" for what, sec in lab.timings.items())
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the lab; return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shell", action="store_true", help="keep it running")
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--no-galera", action="store_true", help="leave Galera out")
    parser.add_argument(
        "--no-rabbitmq",
        action="store_true",
        help="leave RabbitMQ and nova-conductor out",
    )
    args = parser.parse_args(argv)
    venv = openstack_venv()
    reason = venv_missing(venv)
    if reason:
        print(f"make lab: {reason}", file=sys.stderr)
        return 1
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="hakit-lab-"))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    print("installing hakit into the live system (waits for other users)...")
    hold = hold_install()
    kept = keep_installed(redfish_python=sys.executable)
    try:
        try:
            install_lab_agents(sys.executable)
        except RuntimeError as exc:  # the cluster's user cannot run it
            print(f"make lab: {exc}", file=sys.stderr)
            return 1
        lab = ControllerLab(
            workdir,
            venv=venv,
            galera=not args.no_galera,
            rabbitmq=not args.no_rabbitmq,
        )
        print("starting the lab: 3 nodes, 6 BMCs, hakit-cib's CIB...", flush=True)
        lab.start()
        try:
            took = scenarios.wait_all_running(lab, timeout=300)
            lab.timings["every instance running"] = lab.timings.get("ready", 0.0) + took
            print(lab.crm_mon())
            print(describe(lab), flush=True)
            if args.shell:
                print("\nThe lab runs until Ctrl-C.", flush=True)
                try:
                    while not stop.wait(1):
                        pass
                except KeyboardInterrupt:
                    pass
                return 0
            print("\n== scenarios ==", flush=True)
            todo = [
                scenarios.kill_keystone,
                scenarios.kill_node,
                scenarios.level_one_broken,
            ]
            if not args.no_galera:
                todo.append(scenarios.whole_cluster)
            for scenario in todo:
                t0 = time.monotonic()
                result = scenario(lab)
                print(scenarios.report(result))
                print(f"  (scenario took {time.monotonic() - t0:.1f} s)", flush=True)
            print(lab.crm_mon())
        finally:
            print("tearing down...", flush=True)
            lab.stop()
    finally:
        kept.restore()
        hold.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
