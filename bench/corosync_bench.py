"""How fast the survivors notice a dead controller, per failover profile.

    python bench/corosync_bench.py [--runs 5] [--output bench/results/corosync.md]

Runs the three-node namespaced lab (tests/lab/multinode.py) with the
corosync.conf ``hakit-cib corosync`` generates from the lab topology (two
knet links, aes256/sha256, votequorum), once per failover profile's token.
Each run kills every process of one node at once (``kill -9``: corosync,
pacemakerd and its children) and reads, in a survivor's corosync log
(``timestamp: hires``), when the new membership without it was formed; the
node is then restarted and the cluster settles before the next run.  The
victim rotates over the three nodes.  Needs root (namespaces); about 4 min.
"""

from __future__ import annotations

import argparse
import datetime
import platform
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from cib_builder import corosync  # noqa: E402
from tests.lab.multinode import MultiCluster  # noqa: E402

#: "Dec 04 05:07:12.345 [123] ctl1 corosync notice  [TOTEM ] A new membership"
_MEMBERSHIP = re.compile(
    r"^(?P<stamp>\w{3} +\d+ \d\d:\d\d:\d\d\.\d+) .*A new membership .*formed"
)


def _stamp(text: str, year: int) -> float:
    parsed = datetime.datetime.strptime(f"{year} {text}", "%Y %b %d %H:%M:%S.%f")
    return parsed.replace(tzinfo=datetime.timezone.utc).timestamp()


def membership_after(log: Path, since: float) -> float | None:
    """Wall-clock time of the first new membership logged after ``since``."""
    year = datetime.datetime.now(datetime.timezone.utc).year
    for line in log.read_text(errors="replace").splitlines():
        found = _MEMBERSHIP.match(line)
        if found:
            when = _stamp(found["stamp"], year)
            if when >= since:
                return when
    return None


def run_profile(token: int, runs: int, workdir: Path) -> list[float]:
    """Seconds from kill to the survivors' new membership, one per run."""
    cluster = MultiCluster(workdir / f"token-{token}", token_ms=token)
    cluster.start(timeout=120)
    seconds = []
    try:
        for run in range(runs):
            victim = cluster.names[run % len(cluster.names)]
            observer = next(n for n in cluster.names if n != victim)
            log = cluster.node(observer).corosync_log_path
            killed_at = time.time()
            cluster.kill_node(victim)
            cluster.wait_until(
                lambda: membership_after(log, killed_at) is not None,  # noqa: B023
                60,
                "the survivors' new membership",
            )
            formed = membership_after(log, killed_at)
            assert formed is not None
            seconds.append(formed - killed_at)
            cluster.restart_node(victim, timeout=90)
    finally:
        cluster.stop()
    return seconds


def main() -> int:
    """Measure every failover profile and write the markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--output", default=str(HERE / "results" / "corosync.md"))
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="hakit-corosync-bench-") as tmp:
        for profile, token in corosync.FAILOVER_PROFILES.items():
            print(f"== {profile}: token {token} ms", flush=True)
            took = run_profile(token, args.runs, Path(tmp))
            effective = token + corosync.TOKEN_COEFFICIENT  # three nodes
            consensus = corosync.consensus_for(token, 3)
            rows.append(
                f"| {profile} | {token} | {effective} | {consensus} | "
                f"{statistics.median(took):.2f} | {min(took):.2f} | {max(took):.2f} |"
            )
            print(rows[-1], flush=True)
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M")
    text = "\n".join(
        [
            "# corosync: from a node's death to the survivors' new membership",
            "",
            f"- date: {now} (UTC); kernel `{platform.release()}`",
            f"- {args.runs} runs per profile; 3 nodes, 2 knet links, aes256/sha256",
            "",
            "| failover | token (ms) | effective token (ms) | consensus (ms) "
            "| median (s) | min (s) | max (s) |",
            "|---|---:|---:|---:|---:|---:|---:|",
            *rows,
            "",
        ]
    )
    Path(args.output).write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
