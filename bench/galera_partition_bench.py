"""Heal to all-Promoted: the Galera clone under partitions and freezes.

    python bench/galera_partition_bench.py [--rounds 5] [--seed N]
                                           [--output-dir bench/results]

Runs the rounds of ``tests/integration/test_galera_partitions.py``
(:class:`tests.lab.galera_faults.FaultRounds`) more often: the namespaced
three-node lab (Corosync + Pacemaker, two knet links, token 1000 ms) with one
MariaDB Galera member per node, hakit's agents installed as the integration
tests install them (what was there is put back at the end), and
``ocf:hakit:galera`` loaded as a promotable clone with the failure policy
hakit-cib generates (failure-timeout 60s, migration-threshold INFINITY) and a
20 s demote timeout.  A row writer inserts throughout.  Each round of
``--rounds`` runs, in this order:

- one node cut off (every link down in its namespace; the node is chosen at
  random), with ``no-quorum-policy=stop``, then ``ignore``;
- all three cut apart, with ``stop``, then ``ignore``;
- mariadbd of a random node SIGSTOPped for 25 s, then SIGCONT ("frozen
  once"), and the same while the test stops it again whenever it is
  continued ("kept frozen": only SIGKILL ends it).

A cut lasts a random 10-16 s, and at least until each cut-off node was seen
non-Primary or stopped.  Every round asserts what the tests assert (no
acknowledged row lost, identical rows, the uuid kept, no lone bootstrap, no
failed demote or stop) and records the seconds from lifting the fault (links
up, SIGCONT) to every instance Promoted.  Writes
``galera_partitions.{md,json}``; the seed is printed and written there.
Needs root; about 3.5 min per round on 2 cores.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import os
import platform
import statistics
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))  # as a script: the repository (tests.lab)

from bench.galera_bench import stage  # noqa: E402
from tests.lab.galera import NamespacedGalera, galera_missing  # noqa: E402
from tests.lab.galera_agent import GaleraAgent  # noqa: E402
from tests.lab.galera_clone import CLONE, NODES, clone_xml  # noqa: E402
from tests.lab.galera_faults import (  # noqa: E402
    FaultRounds,
    RoundResult,
    seed_from_env,
    summary,
)
from tests.lab.multinode import MultiCluster  # noqa: E402

DEMOTE_TIMEOUT = 20
FREEZE = DEMOTE_TIMEOUT + 5
#: What the issue measured from outside, heal to Promoted (seconds).
OUTSIDE = {"one node": "6.6-13.4", "all apart": "12.5-19.8"}


def one_round(faults: FaultRounds) -> list[RoundResult]:
    """Every scenario once."""
    results = []
    for policy in ("stop", "ignore"):
        faults.set_policy(policy)
        results.append(faults.partition([faults.rng.choice(NODES)], policy))
        results.append(faults.partition(list(NODES), policy))
    faults.set_policy("stop")
    results.append(faults.freeze(faults.rng.choice(NODES), FREEZE))
    results.append(faults.freeze(faults.rng.choice(NODES), FREEZE, keep_frozen=True))
    return results


#: Where Pacemaker looks for OCF agents.
RESOURCE_D = "/usr/lib/ocf/resource.d"


def use_staged_agents(cluster: MultiCluster, workdir: Path) -> None:
    """Stage hakit under ``workdir``; the nodes' Pacemaker runs that copy.

    The staged ``resource.d`` (only the ``hakit`` provider) is bind-mounted
    over the nodes' ``/usr/lib/ocf/resource.d``; the mounts are private to
    each node's mount namespace and end with it.
    """
    stage(workdir / "stage")
    for node in cluster.names:
        cluster.run(
            ["mount", "--bind", str(workdir / "stage" / "ocf" / "resource.d"),
             RESOURCE_D],
            node=node,
        )  # fmt: skip


def run(rounds: int, seed: int, workdir: Path) -> list[RoundResult]:
    """Bring the lab up, run ``rounds`` rounds, tear everything down."""
    cluster = MultiCluster(workdir / "lab")
    cluster.start(timeout=120)
    results: list[RoundResult] = []
    try:
        use_staged_agents(cluster, workdir)
        lab = NamespacedGalera(cluster)
        lab.setup()
        try:
            agent = GaleraAgent.for_lab(cluster, lab)
            ctl1 = cluster.node(NODES[0])
            ctl1.load_xml(clone_xml(agent.params, demote_timeout=DEMOTE_TIMEOUT))
            try:
                with FaultRounds(cluster, agent, seed) as faults:
                    for number in range(1, rounds + 1):
                        print(f"== round {number}/{rounds}", flush=True)
                        results += one_round(faults)
            finally:
                ctl1.delete_resource(CLONE, timeout=120)
        finally:
            lab.teardown()
    finally:
        cluster.stop()
    return results


def _figures(values: list[float]) -> str:
    return (
        f"{len(values)} | {statistics.median(values):.1f} | {min(values):.1f} "
        f"| {max(values):.1f}"
    )


def markdown(results: list[RoundResult], seed: int, rounds: int) -> str:
    """The summary tables (median and range per scenario)."""
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M")
    lines = [
        "# Galera clone: heal to all-Promoted under partitions and freezes",
        "",
        f"- date: {now} (UTC); kernel `{platform.release()}`, "
        f"{os.cpu_count()} cores; {rounds} rounds, seed {seed}",
        f"- command: `python bench/galera_partition_bench.py --rounds {rounds}"
        f" --seed {seed}`",
        "",
        "| scenario | rounds | heal->Promoted median (s) | min (s) | max (s) "
        "| issue, from outside (s) |",
        "|---|---:|---:|---:|---:|---|",
    ]
    partitions = [r for r in results if r.scenario != "freeze"]
    for key, (count, median, low, high) in summary(partitions).items():
        outside = OUTSIDE.get(key.split(" [")[0], "")
        lines.append(
            f"| {key} | {count} | {median:.1f} | {low:.1f} | {high:.1f} | {outside} |"
        )
    freezes = [r for r in results if r.scenario == "freeze"]
    if freezes:
        early = sum(r.heal_to_promoted < 1 for r in freezes)
        lines += [
            "",
            f"Freezes ({FREEZE} s, demote timeout {DEMOTE_TIMEOUT} s): the time is"
            " from the SIGSTOP to all Promoted again (in"
            f" {early} of {len(freezes)} rounds before the SIGCONT); the demote's"
            " run time is pacemaker-execd's.",
            "",
            "| freeze | rounds | SIGSTOP->Promoted median (s) | min (s) | max (s) "
            "| demote median (s) | demote max (s) | mariadbd ended by |",
            "|---|---:|---:|---:|---:|---:|---:|---|",
        ]
        for mode in dict.fromkeys(r.policy for r in freezes):
            group = [r for r in freezes if r.policy == mode]
            demotes = [r.demote_seconds for r in group if r.demote_seconds]
            ended = sorted({e.split()[0] for r in group for e in r.ended_by})
            lines.append(
                f"| {mode} | {_figures([r.fault_to_promoted for r in group])} "
                f"| {statistics.median(demotes):.1f} | {max(demotes):.1f} "
                f"| {', '.join(ended)} |"
                if demotes
                else f"| {mode} | {_figures([r.fault_to_promoted for r in group])}"
                f" | | | {', '.join(ended)} |"
            )
    acked = sum(r.acked for r in results)
    lines += ["", f"{acked} rows acknowledged over all rounds, none lost.", ""]
    return "\n".join(lines)


def load(path: Path) -> tuple[int, list[RoundResult]]:
    """The seed and rounds of a ``galera_partitions.json``."""
    data = json.loads(path.read_text())
    results = []
    for record in data["rounds"]:
        fields = {k: v for k, v in record.items() if k != "failures"}
        fields["nodes"] = tuple(fields["nodes"])
        results.append(RoundResult(**fields))
    return data["seed"], results


def main() -> int:
    """Run the rounds and write the results."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--output-dir", default=str(HERE / "results"))
    parser.add_argument(
        "--from-json",
        metavar="PATH",
        help="only write the markdown again from a galera_partitions.json",
    )
    args = parser.parse_args()
    out = Path(args.output_dir)
    if args.from_json:
        seed, results = load(Path(args.from_json))
        rounds = len(results) // 6
        (out / "galera_partitions.md").write_text(markdown(results, seed, rounds))
        print((out / "galera_partitions.md").read_text())
        return 0
    reason = galera_missing()
    if reason:
        print(f"cannot run: {reason}", file=sys.stderr)
        return 1
    seed = args.seed if args.seed is not None else seed_from_env()
    print(f"seed {seed}", flush=True)
    with tempfile.TemporaryDirectory(prefix="hakit-partition-bench-") as tmp:
        results = run(args.rounds, seed, Path(tmp))
    out.mkdir(parents=True, exist_ok=True)
    text = markdown(results, seed, args.rounds)
    (out / "galera_partitions.md").write_text(text)
    records = [
        {**dataclasses.asdict(r), "failures": [str(f) for f in r.failures]}
        for r in results
    ]
    (out / "galera_partitions.json").write_text(
        json.dumps({"seed": seed, "rounds": records}, indent=1) + "\n"
    )
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
