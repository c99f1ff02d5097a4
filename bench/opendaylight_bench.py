"""Time the OpenDaylight agent's monitor of a ready member next to one curl.

    .venv/bin/python bench/opendaylight_bench.py [--runs 50] [--rounds 3]
                                                 [--warmup 3] [--output-dir DIR]

No ClusterLabs agent manages OpenDaylight (LAB.md section 18): deployments
had HAProxy run ``GET /diagstatus``.  So the reference is that one request,
made by ``curl`` (fork+exec to exit, like the agent).  The member is the
lab's Karaf stand-in (``tests/lab/odl_standin.py``) in a Karaf-like home on a
free loopback port, started by hakit's own agent, staged from the working
tree as its package installs it (``bench/node_bench.py``).  hyperfine (``-N``)
times, in rounds of alternating order:

- ``curl -sf -o /dev/null http://127.0.0.1:PORT/diagstatus``;
- ``ocf:hakit:opendaylight monitor``, recurring (interval 10 s), level 0: the
  JVM found and verified in ``/proc``, then ``GET /diagstatus``;
- the same at ``OCF_CHECK_LEVEL=10``: also both ShardManager reads and the
  shard's RaftState through Jolokia (three more requests), run through
  ``env OCF_CHECK_LEVEL=10`` (hyperfine gives every command one environment;
  the extra exec of env is in its figure).  Its node
  attribute is already published (the state file says so), as in a running
  cluster, so no ``attrd_updater`` runs;
- ``python3 -sS -c pass``: the launchers' interpreter doing nothing.

Every timed run must exit 0.  Issue #15's target: level 0 within 2x curl's
wall time.  Writes ``opendaylight.md`` and ``opendaylight.json``; the member
and the work directory are removed however the script ends.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))  # as a script: the repository (tests.lab)

from bench import node_bench  # noqa: E402
from bench.node_bench import ms, out  # noqa: E402
from tests.lab import odl  # noqa: E402
from tests.lab.ports import free_port  # noqa: E402

SYSTEM_PYTHON = "/usr/bin/python3"
TARGET = 2.0
CURL = "curl GET /diagstatus"
LEVEL0 = "hakit opendaylight monitor (level 0)"
LEVEL10 = "hakit opendaylight monitor (level 10)"
FLOOR = "python3 -sS -c pass"
INSTANCE = "bench-odl"


def run(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv, env=env, capture_output=True, text=True, timeout=120, check=False
    )


def bench(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    launcher, _ = node_bench.stage(work / "stage", "opendaylight")
    port = free_port()
    home = odl.make_home(work, port, user="root")
    creds = odl.write_private(work / "creds", "admin:s3cret-odl\n")
    rsctmp = work / "rsctmp"
    rsctmp.mkdir()
    env = {
        "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
        "OCF_ROOT": "/usr/lib/ocf",
        "HA_RSCTMP": str(rsctmp),
        "OCF_RESOURCE_INSTANCE": INSTANCE,
        "OCF_RESKEY_CRM_meta_timeout": "30000",
        "OCF_RESKEY_CRM_meta_interval": "10000",
        "OCF_RESKEY_home": str(home),
        "OCF_RESKEY_user": "root",
        "OCF_RESKEY_rest_port": str(port),
        "OCF_RESKEY_credentials": str(creds),
    }
    started = run([launcher, "start"], env)
    if started.returncode != 0:
        raise node_bench.BenchError(f"start failed: {started.stderr.strip()}")
    (rsctmp / f"hakit-{INSTANCE}.odl-shard-role").write_text("Leader")
    try:
        cmds = {
            CURL: [
                "curl",
                "-sf",
                "-o",
                "/dev/null",
                f"http://127.0.0.1:{port}/diagstatus",
            ],
            LEVEL0: [launcher, "monitor"],
            LEVEL10: ["env", "OCF_CHECK_LEVEL=10", launcher, "monitor"],
            FLOOR: [SYSTEM_PYTHON, "-sS", "-c", "pass"],
        }
        for label, argv in cmds.items():
            done = run(argv, env)
            if done.returncode != 0:
                raise node_bench.BenchError(
                    f"{label}: exit {done.returncode}: {done.stderr}"
                )
        result = node_bench.timed(
            list,
            env,
            cmds,
            runs=args.runs,
            rounds=args.rounds,
            warmup=args.warmup,
            work=work,
            expected={},
        )
    finally:
        run([launcher, "stop"], env)
    return result


def report(result: dict[str, Any], output_dir: Path) -> None:
    by = {r["command"]: r for r in result["results"]}
    curl = by[CURL]["median"]
    lines = [
        "# OpenDaylight monitor (ocf:hakit:opendaylight)",
        "",
        f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, "
        f"{platform.node()}, {os.cpu_count()} CPUs, {out([SYSTEM_PYTHON, '-V'])}, "
        f"{out(['curl', '--version'])[:40]}; {len(by[CURL]['times'])} runs each "
        f"in {result['rounds']} rounds (hyperfine -N). Member: the lab's Karaf "
        "stand-in, ready, on loopback.",
        "",
        "| command | median ms | mean ms | stddev | user ms | sys ms | x curl |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in result["results"]:
        lines.append(
            f"| {r['command']} | {ms(r['median'])} | {ms(r['mean'])} | "
            f"{ms(r['stddev'])} | {ms(r['user'])} | {ms(r['system'])} | "
            f"{r['median'] / curl:.2f} |"
        )
    ratio = by[LEVEL0]["median"] / curl
    verdict = "met" if ratio <= TARGET else "NOT met"
    lines += [
        "",
        f"Target (issue #15): level 0 monitor within {TARGET:g}x curl's wall time: "
        f"{ratio:.2f}x, {verdict}.",
        "",
    ]
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / "opendaylight.md").write_text("\n".join(lines))
    for r in result["results"]:
        r.pop("times", None)
        r.pop("exit_codes", None)
    (output_dir / "opendaylight.json").write_text(json.dumps(result, indent=2) + "\n")
    print("\n".join(lines))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--output-dir", type=Path, default=HERE / "results")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("opendaylight_bench: needs root (the stand-in's home)", file=sys.stderr)
        return 1
    for tool in (node_bench.HYPERFINE, "curl"):
        if shutil.which(tool) is None:
            print(f"opendaylight_bench: {tool} is not installed", file=sys.stderr)
            return 1
    signal.signal(signal.SIGTERM, node_bench.terminate)
    work = Path(tempfile.mkdtemp(prefix="hakit-odl-bench-"))
    try:
        report(bench(args, work), args.output_dir)
    except node_bench.BenchError as exc:
        print(f"opendaylight_bench: {exc}", file=sys.stderr)
        return 1
    finally:
        odl.kill(odl.jvm_pid(work / "opendaylight"))
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
