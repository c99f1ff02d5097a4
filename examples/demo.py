#!/usr/bin/env python3
"""hakit demo: compile the shipped topology into a CIB, then watch an agent repair.

Part one is hakit's main job on its default: the OPNFV reference topology
(examples/opnfv-3-controllers.toml) becomes a CIB, checked by hakit's lint,
its agent checks (every agent exists, every parameter is declared),
Pacemaker's RelaxNG schema and crm_verify, and crm_simulate shows what
happens when each controller, and then two, fail.

Part two starts a single-node Corosync + Pacemaker cluster on 127.0.0.1, installs the
agents the way the packages do, configures a real OpenStack API service
(placement from PyPI, sqlite, no-auth) with crmsh, kills it and measures how
long Pacemaker takes to restart it.  Prints every step; leaves nothing behind.
Run as root on Debian 12 through `make demo` (which installs what it needs).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cib_builder import agents as agent_checks  # noqa: E402
from cib_builder import pacemaker, pipeline  # noqa: E402
from ocf_agents._runtime import metadata, registry  # noqa: E402
from ocf_agents._runtime.proc import read_pidfile, session_members  # noqa: E402
from tests.lab import agents, openstack  # noqa: E402
from tests.lab.pacemaker import Cluster  # noqa: E402

#: OPNFV HA guideline baseline: nova-api failover after a service failure.
OPNFV_SERVICE_FAILOVER = 2.36


def step(text: str) -> None:
    """Print one step of the demo."""
    print(f"\n== {text}", flush=True)


def answers(url: str) -> int | None:
    """HTTP status of GET url, or None if nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return None


def check_meta_data() -> None:
    """Validate every agent's meta-data the way ocf-tester does (xmllint + DTD)."""
    names = registry.names()
    for name in names:
        result = subprocess.run(
            ["xmllint", "--noout", "--valid", "-"],
            input=metadata.render(registry.spec(name)),
            text=True,
            capture_output=True,
            cwd="/usr/share/resource-agents",
            check=False,
        )
        if result.returncode != 0:
            raise SystemExit(f"meta-data of {name} is not valid: {result.stderr}")
    print(f"{len(names)} agents, meta-data valid against ra-api-1.dtd:")
    print("  " + ", ".join(names))


def crm_configuration(svc: openstack.Service, pidfile: Path) -> str:
    """The resources in crm shell syntax, as an operator would write them."""
    return (
        f"primitive placement ocf:hakit:placement-api \\\n"
        f"  params binary={svc.argv[0]} config={svc.config_files[0]} "
        f"config_flag=-c user=root port={svc.port} pidfile={pidfile} \\\n"
        f"  op monitor interval=1s timeout=20s \\\n"
        f"  op start interval=0s timeout=60s op stop interval=0s timeout=60s\n"
        f"clone placement-clone placement meta interleave=true\n"
    )


def started(cluster: Cluster) -> bool:
    """Tell whether placement runs on node1 and no operation is pending."""
    for element in cluster.crm_mon_xml().iter("resource"):
        if (
            element.get("id") == "placement"
            and element.get("role") == "Started"
            and element.get("failed") == "false"
        ):
            return True
    return False


TOPOLOGY = ROOT / "examples" / "opnfv-3-controllers.toml"


def cib_demo(work: Path) -> None:
    """Build, check and simulate the shipped topology."""
    step(f"A. hakit-cib build {TOPOLOGY.relative_to(ROOT)}")
    began = time.monotonic()
    result = pipeline.build(TOPOLOGY)
    seconds = time.monotonic() - began
    cib = result.cib
    out = work / "cib.xml"
    out.write_bytes(result.xml)
    clones = sum(1 for r in cib.resources if hasattr(r, "child"))
    print(
        f"{len(cib.nodes)} nodes, {len(cib.resources)} resources ({clones} clones), "
        f"{len(cib.constraints)} constraints, {len(cib.fencing)} fencing levels; "
        f"{len(result.xml)} bytes in {seconds * 1000:.0f} ms"
    )
    problems = [
        *result.problems,
        *agent_checks.check_installed(cib, pacemaker.agent_lookup),
    ]
    for problem in problems:
        print(f"  lint: {problem}")
    print(
        f"lint and agents: {len(problems)} findings; schema {cib.schema}: "
        f"{'valid' if not result.schema_errors else result.schema_errors}"
    )
    verdict = pacemaker.verify(result.xml, [n.name for n in cib.nodes])
    print(f"crm_verify: {'clean' if verdict.ok else verdict.messages}")
    if problems or not (result.ok and verdict.ok):
        raise SystemExit("the shipped topology is not clean")

    step("B. hakit-cib simulate: what Pacemaker does when controllers fail")
    report = pacemaker.simulate(cib, result.xml)
    for scenario in report.scenarios[1:]:
        moved = [
            f"{a.resource} {a.source}->{a.dest}"
            for a in scenario.actions
            if a.action == "move"
        ]
        survivors = [n for n in report.nodes if n not in scenario.failed]
        lost = [
            a for a in scenario.actions if a.action == "stop" and a.node in survivors
        ]
        print(
            f"{scenario.name:22} quorum {'kept' if scenario.quorate else 'LOST':4}  "
            f"fenced: {', '.join(scenario.fenced) or 'nobody':6}  "
            f"moves: {', '.join(moved) or 'none'}"
            + (f"  stops on survivors: {len(lost)}" if lost else "")
            + ("  nothing left running" if not any(scenario.placement.values()) else "")
        )
    print(
        "(full report: .venv/bin/hakit-cib simulate examples/opnfv-3-controllers.toml)"
    )


def demo(work: Path) -> None:
    """Run the demo in ``work``."""
    cib_demo(work)
    step("1. meta-data of hakit's OCF agents")
    check_meta_data()

    step("2. a real Corosync + Pacemaker node on 127.0.0.1")
    cluster = Cluster(work / "cluster")
    # What step 3 replaces goes back once the cluster no longer runs it; a test
    # run that has its own install in place is waited for.
    with agents.hold_install():
        kept = agents.keep_installed()
        began = time.monotonic()
        try:
            cluster.start()
            print(f"node1 online, DC idle after {time.monotonic() - began:.1f} s")
            run_service_demo(cluster, work)
        finally:
            step("6. tear down")
            try:
                cluster.stop()
                print("cluster stopped; nothing left running")
            finally:
                kept.restore()
                print("installed files put back as they were before the demo")


def run_service_demo(cluster: Cluster, work: Path) -> None:
    """Configure placement under Pacemaker, break it, watch the repair."""
    step("3. install the agents like the packages do")
    agent_dir = agents.install_agents()
    print(f"agents in {agent_dir} (launchers run /usr/bin/python3 -sS)")

    step("4. a real OpenStack API service under ocf:hakit:placement-api")
    svc = openstack.prepare_placement(work / "placement", port=30591)
    pidfile = work / "placement.pid"
    config = crm_configuration(svc, pidfile)
    print(config, end="")
    crm_file = work / "placement.crm"
    crm_file.write_text(config)
    cluster.run(["crm", "configure", "load", "update", str(crm_file)])
    try:
        began = time.monotonic()
        cluster.wait_until(
            lambda: started(cluster), timeout=90, what="placement started"
        )
        cluster.wait_idle()
        print(
            f"Pacemaker started it in {time.monotonic() - began:.1f} s; "
            f"GET {svc.url}/ -> {answers(svc.url + '/')}"
        )
        print(
            cluster.run(["crm_mon", "-1", "-r"]).stdout.split(
                "Full List of Resources:"
            )[-1]
        )

        step("5. kill -9 the service; Pacemaker must notice and restart it")
        old = read_pidfile(str(pidfile))
        victims = session_members(old)
        killed_at = time.monotonic()
        for pid in victims:
            os.kill(pid, signal.SIGKILL)
        print(f"killed pids {victims}")

        def back() -> bool:
            new = read_pidfile(str(pidfile))
            return new not in (None, old) and answers(svc.url + "/") == 200

        cluster.wait_until(back, timeout=60, interval=0.05, what="placement back")
        seconds = time.monotonic() - killed_at
        failures = cluster.fail_count("placement")
        print(
            f"placement answers again {seconds:.2f} s after the kill "
            f"(monitor interval 1 s; fail count {failures})"
        )
        verdict = "faster than" if seconds < OPNFV_SERVICE_FAILOVER else "slower than"
        print(
            f"OPNFV baseline for a service failure: {OPNFV_SERVICE_FAILOVER} s, "
            f"with no automatic repair; hakit: {seconds:.2f} s, {verdict} it, "
            "repaired by Pacemaker"
        )
    finally:
        # Also on Ctrl-C: the service runs in its own session and would
        # outlive the cluster.
        last = read_pidfile(str(pidfile))
        cluster.delete_resource("placement-clone", timeout=60)
        left = session_members(last) if last else []
        print(f"resource removed; processes left: {left or 'none'}")


def main() -> int:
    """Run the demo in a temporary directory."""
    if os.geteuid() != 0:
        print("make demo needs root (it runs Corosync and Pacemaker)", file=sys.stderr)
        return 2
    print(
        "hakit demo: the OPNFV controller cluster as a CIB, and agents on a live node"
    )
    with tempfile.TemporaryDirectory(prefix="hakit-demo-") as tmp:
        work = Path(tmp)
        work.chmod(0o755)
        demo(work)
    return 0


if __name__ == "__main__":
    sys.exit(main())
