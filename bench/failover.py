#!/usr/bin/env python3
"""Failover of the whole controller cluster, measured from a client (issue #14).

Starts the lab of ``make lab`` (tests/lab/controllers.py: three namespaced
nodes, BMCs that power them, hakit-cib's CIB with the VIP, an HAProxy clone
and a keystone clone), then runs each scenario RUNS times (default 5) with
the client of tests/lab/vip_client.py asking ``GET /v3`` through the VIP
every 50 ms from its own namespace:

1. kill -9 keystone on the node that holds the VIP;
2. kill every process of the node that holds the VIP (no warning): the
   survivors fence it through its BMC, the VIP moves, the node is powered on
   again and rejoins.

Corosync's token_coefficient is the lab topology's (tests/lab/lab-cluster.toml
sets 0) unless --token-coefficient replaces it.  Writes
bench/results/failover-tc<N>.{md,json}, N the coefficient used, or
failover.{md,json} for corosync's default 650 (median, min-max per figure),
and prints the table.  Needs root, the cluster packages and the OpenStack
test venv (packaging/ci/openstack-venv.sh); installs hakit into the live
system while it runs and puts back what was there (tests/lab/agents.py).

    bench/failover.py [--runs N] [--keep DIR] [--token-coefficient MS]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from cib_builder import corosync, topology  # noqa: E402
from tests.lab import scenarios  # noqa: E402
from tests.lab.agents import (  # noqa: E402
    hold_install,
    install_lab_agents,
    keep_installed,
)
from tests.lab.controllers import LAB_CLUSTER, ControllerLab  # noqa: E402
from tests.lab.openstack import openstack_venv, venv_missing  # noqa: E402

#: The seed's figures (OPNFV reference test of nova-api), seconds.
OPNFV_SERVICE = 2.36
OPNFV_NODE = 10.71


def spread(values: list[float]) -> str:
    """Median and range of ``values``, seconds."""
    if not values:
        return "-"
    return f"{statistics.median(values):.2f} s ({min(values):.2f}-{max(values):.2f})"


def table(
    results: dict[str, list[scenarios.Result]], token_ms: int, coefficient: int
) -> str:
    """The Markdown report of every run."""
    s1 = results.get("kill -9 keystone", [])
    s2 = results.get("kill node", [])
    lines = [
        f'Corosync token {token_ms} ms (hakit\'s `failover = "fast"`),'
        f" token_coefficient {coefficient} ms; client"
        " `GET /v3` through the VIP every 50 ms, 1 s request timeout.",
        "",
        "| scenario | runs | failed requests (total; per run) | longest gap"
        " between answers | recovery | OPNFV seed |",
        "|---|---|---|---|---|---|",
    ]
    if s1:
        lines.append(
            f"| 1. kill -9 keystone on the VIP's node | {len(s1)}"
            f" | {sum(r.client.failed for r in s1)};"
            f" {', '.join(str(r.client.failed) for r in s1)}"
            f" | {spread([r.client.longest_gap for r in s1])}"
            f" | keystone answers again: "
            f"{spread([r.milestones['keystone answers again'] for r in s1])}"
            f" | {OPNFV_SERVICE} s outage |"
        )
    if s2:
        first = [r.milestones["first answer through the moved VIP"] for r in s2]
        fenced = [r.milestones["fenced (BMC off)"] for r in s2]
        back = [r.milestones["node back, every instance running"] for r in s2]
        lines.append(
            f"| 2. kill every process of the VIP's node | {len(s2)}"
            f" | {sum(r.client.failed for r in s2)};"
            f" {', '.join(str(r.client.failed) for r in s2)}"
            f" | {spread([r.client.longest_gap for r in s2])}"
            f" | first answer through the moved VIP: {spread(first)};"
            f" fenced: {spread(fenced)}; node back with every instance: "
            f"{spread(back)} | {OPNFV_NODE} s, no repair |"
        )
    return "\n".join(lines) + "\n"


def write_results(
    results_dir: Path,
    results: dict[str, list[scenarios.Result]],
    token: int,
    coefficient: int,
) -> None:
    """Print the table; write it and the raw figures under ``results_dir``."""
    text = table(results, token, coefficient)
    print(text)
    results_dir.mkdir(parents=True, exist_ok=True)
    stem = "failover"
    if coefficient != corosync.TOKEN_COEFFICIENT:
        stem += f"-tc{coefficient}"
    (results_dir / f"{stem}.md").write_text(text)
    (results_dir / f"{stem}.json").write_text(
        json.dumps(
            {
                name: [
                    {
                        "node": r.node,
                        "requests": r.client.requests,
                        "failed": r.client.failed,
                        "longest_gap": round(r.client.longest_gap, 3),
                        "milestones": {k: round(v, 3) for k, v in r.milestones.items()},
                    }
                    for r in runs
                ]
                for name, runs in results.items()
            },
            indent=2,
        )
        + "\n"
    )


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; return the exit status."""
    lab_coefficient = corosync.build(topology.load(LAB_CLUSTER)).token_coefficient
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--keep", type=Path, help="work directory to keep")
    parser.add_argument("--results", type=Path, default=HERE / "results")
    parser.add_argument(
        "--token-coefficient",
        type=int,
        help="corosync token_coefficient in ms (default: the lab topology's,"
        f" {lab_coefficient}); results go to failover-tc<N>.{{md,json}}, or"
        f" failover.{{md,json}} for corosync's {corosync.TOKEN_COEFFICIENT}",
    )
    args = parser.parse_args(argv)
    venv = openstack_venv()
    reason = venv_missing(venv)
    if reason:
        print(f"failover bench: {reason}", file=sys.stderr)
        return 1
    workdir = args.keep or Path(tempfile.mkdtemp(prefix="hakit-failover-"))
    hold = hold_install()
    kept = keep_installed(redfish_python=sys.executable)
    results: dict[str, list[scenarios.Result]] = {}
    try:
        try:
            install_lab_agents(sys.executable)
        except RuntimeError as exc:  # the cluster's user cannot run it
            print(f"failover bench: {exc}", file=sys.stderr)
            return 1
        lab = ControllerLab(
            workdir, venv=venv, token_coefficient=args.token_coefficient
        )
        t0 = time.monotonic()
        lab.start()
        try:
            print(f"lab up in {time.monotonic() - t0:.1f} s", flush=True)
            scenarios.wait_all_running(lab)
            for run in range(args.runs):
                for scenario in (scenarios.kill_keystone, scenarios.kill_node):
                    result = scenario(lab)
                    results.setdefault(result.scenario, []).append(result)
                    scenarios.write_outcomes(
                        result,
                        workdir / f"client-{result.scenario.replace(' ', '_')}-{run}",
                    )
                    print(f"run {run + 1}: {scenarios.report(result)}", flush=True)
        finally:
            lab.stop()
        token = lab.cluster.token_ms
        model = lab.cluster.model
        assert model is not None  # the lab always runs hakit's corosync.conf
        coefficient = model.token_coefficient
    finally:
        kept.restore()
        hold.close()
    write_results(args.results, results, token, coefficient)
    return 0


if __name__ == "__main__":
    sys.exit(main())
