"""Time the monitor of a clustered RabbitMQ member: hakit against ClusterLabs.

    .venv/bin/python bench/rabbitmq_bench.py [--runs 30] [--rounds 3] [--warmup 1]
                                             [--output-dir DIR]

Brings up the namespaced three-node lab (``tests.lab.multinode.MultiCluster``:
Corosync + Pacemaker, nodes ctl1-3 in private network, mount and UTS
namespaces) with one RabbitMQ member per node (``rabbit@ctl1..3``, management
plugin on; ``tests.lab.rabbitmq_agent.RabbitAgents``), forms the cluster with
hakit's own agent (staged from the working tree), and then, inside node ctl1,
times with hyperfine (``-N``):

- ``ocf:hakit:rabbitmq monitor`` (recurring, interval 10 s);
- ``ocf:heartbeat:rabbitmq-cluster monitor`` (resource-agents), on the same
  member.  It runs as packaged: it hard-codes ``/usr/sbin/rabbitmqctl``,
  which switches to the ``rabbitmq`` user with HOME ``/var/lib/rabbitmq``;
  the lab's standard ports and real host names fit it, and only ctl1's
  private mount namespace gets a ``/var/lib/rabbitmq`` holding the lab's
  Erlang cookie (the host's directory is not touched);
- ``rabbitmq-diagnostics -q ping``: one bare CLI call, for scale.

Each command runs once before and once after the timing, and every timed run
is checked: both agents and the CLI must exit 0 (running).  Otherwise the
script stops with exit status 1.  Runs are spread over several hyperfine runs
of alternating order.  Writes ``rabbitmq.md`` and ``rabbitmq.json``.  The
members, the cluster, its namespaces and the work directory are removed
however the script ends.
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
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))  # as a script: the repository (tests.lab)

from bench import node_bench  # noqa: E402
from bench.node_bench import ms, out  # noqa: E402
from tests.lab.multinode import MULTI_REQUIRED_TOOLS, MultiCluster  # noqa: E402
from tests.lab.pacemaker import SAFE_PATH  # noqa: E402
from tests.lab.rabbitmq import RABBIT_BIN_DIR, rabbitmq_missing  # noqa: E402
from tests.lab.rabbitmq_agent import RUNNING, RabbitAgents  # noqa: E402

SYSTEM_PYTHON = "/usr/bin/python3"
HEARTBEAT_RABBIT = "/usr/lib/ocf/resource.d/heartbeat/rabbitmq-cluster"
NODE = "ctl1"
#: Issue #13's target: at least 10x faster and 10x less CPU.
TARGET = 10.0
HAKIT = "hakit rabbitmq monitor"
HEARTBEAT = "heartbeat rabbitmq-cluster monitor"
CLI = "rabbitmq-diagnostics -q ping"


def preflight() -> None:
    if os.geteuid() != 0:
        raise node_bench.BenchError("needs root (network and mount namespaces)")
    for tool in (*MULTI_REQUIRED_TOOLS, node_bench.HYPERFINE):
        if shutil.which(tool, path=SAFE_PATH) is None:
            raise node_bench.BenchError(f"{tool} is not installed")
    for path in (HEARTBEAT_RABBIT, "/usr/sbin/rabbitmqctl", SYSTEM_PYTHON):
        if not os.access(path, os.X_OK):
            raise node_bench.BenchError(
                f"{path} is missing (resource-agents, rabbitmq-server)"
            )
    why = rabbitmq_missing()
    if why:
        raise node_bench.BenchError(why)


def give_cookie(lab: RabbitAgents, workdir: Path) -> None:
    """Mount a ``/var/lib/rabbitmq`` with the lab's cookie in ctl1 only.

    ``/usr/sbin/rabbitmqctl`` runs the CLI as user rabbitmq with HOME
    ``/var/lib/rabbitmq``; the lab's members use their own cookie.
    """
    home = workdir / "var-lib-rabbitmq"
    home.mkdir(mode=0o755)
    cookie = home / ".erlang.cookie"
    shutil.copy(lab.home / ".erlang.cookie", cookie)
    cookie.chmod(0o400)
    for path in (home, cookie):
        shutil.chown(path, "rabbitmq", "rabbitmq")
    lab.cluster.node(NODE).run(["mount", "--bind", str(home), "/var/lib/rabbitmq"])


def monitor_env(lab: RabbitAgents) -> dict[str, str]:
    """One environment for both agents: a recurring monitor on ctl1.

    The harness's environment (``OCF_RESKEY_*`` parameters, instance
    ``rabbitmq:0``, ``HA_RSCTMP``, the clone meta) without its debug log,
    plus what execd adds.  ClusterLabs' agent reads only ``set_policy``.
    """
    env = lab.environment(NODE, "monitor", interval="10000")
    for key in ("HA_LOGFILE", "HA_debug"):
        env.pop(key, None)
    env.update(
        {
            "PATH": SAFE_PATH,
            "LC_ALL": "C.UTF-8",
            "OCF_RA_VERSION_MAJOR": "1",
            "OCF_RA_VERSION_MINOR": "1",
            "OCF_RESKEY_crm_feature_set": "3.16.2",
            "OCF_RESKEY_CRM_meta_on_node_uuid": str(lab.names.index(NODE) + 1),
            "OCF_RESKEY_CRM_meta_clone_node_max": "1",
            "OCF_RESKEY_CRM_meta_globally_unique": "false",
        }
    )
    return env


def commands(launcher: str, lab: RabbitAgents) -> dict[str, list[str]]:
    diagnostics = str(RABBIT_BIN_DIR / "rabbitmq-diagnostics")
    return {
        HAKIT: [launcher, "monitor"],
        HEARTBEAT: [HEARTBEAT_RABBIT, "monitor"],
        CLI: [diagnostics, "-q", "-n", lab.nodename(NODE), "ping"],
    }


def cli_env(env: dict[str, str], lab: RabbitAgents) -> dict[str, str]:
    """The CLI's variables (its cookie through HOME) on top of ``env``."""
    return {
        **env,
        "HOME": str(lab.home),
        "RABBITMQ_CONF_ENV_FILE": "/dev/null",
    }


def check_commands(
    cluster: MultiCluster, env: dict[str, str], cmds: dict[str, list[str]]
) -> None:
    """Run each command once inside the node; each must exit 0."""
    for label, argv in cmds.items():
        done = subprocess.run(
            cluster.node(NODE).command(argv),
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if done.returncode != RUNNING:
            raise node_bench.BenchError(
                f"{label} exited {done.returncode}, expected {RUNNING}:"
                f"\n{done.stdout}{done.stderr}"
            )
        if label == HEARTBEAT:
            heartbeat_reached_the_node(cluster, env)


def heartbeat_reached_the_node(cluster: MultiCluster, env: dict[str, str]) -> None:
    """ClusterLabs' monitor published the node name it read from the node.

    Its monitor writes ``rmq-node-attr-<instance>`` with the name
    ``rabbitmqctl status`` reported, only after its Mnesia query succeeded:
    proof that it spoke to rabbit@ctl1 and did not fail early.
    """
    name = f"rmq-node-attr-{env['OCF_RESOURCE_INSTANCE']}"
    query = ["crm_attribute", "-N", NODE, "-l", "reboot", "-n", name, "-G", "-q"]
    got = cluster.node(NODE).run(query, check=False).stdout.strip()
    if got != f"rabbit@{NODE}":
        raise node_bench.BenchError(
            f"ClusterLabs' monitor did not publish its node: {got!r}"
        )
    delete = ["crm_attribute", "-N", NODE, "-l", "reboot", "-n", name, "-D"]
    cluster.node(NODE).run(delete, check=False)


def machine_facts() -> dict[str, Any]:
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    deb = ["dpkg-query", "-W", "-f", "${Version}"]
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime(
            "%Y-%m-%d %H:%M UTC"
        ),
        "kernel": platform.release(),
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "loadavg at the start": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "hakit python": f"{SYSTEM_PYTHON} {out([SYSTEM_PYTHON, '-V']).split()[-1]}",
        "hakit commit": out(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"]),
        "hakit agent": "staged from the working tree by packaging/install.py",
        "resource-agents": out([*deb, "resource-agents"]),
        "rabbitmq-server": out([*deb, "rabbitmq-server"]),
        "pacemaker": out([*deb, "pacemaker"]),
        "hyperfine": out([node_bench.HYPERFINE, "--version"]),
    }


def report(
    results: list[dict[str, Any]], facts: dict[str, Any], *, runs: int, rounds: int
) -> tuple[str, dict[str, Any]]:
    by_name = {r["command"]: r for r in results}
    hakit, heartbeat = by_name[HAKIT], by_name[HEARTBEAT]
    faster = heartbeat["median"] / hakit["median"]
    cpu = lambda r: r["user"] + r["system"]  # noqa: E731
    leaner = cpu(heartbeat) / cpu(hakit)
    lines = [
        "# RabbitMQ monitor of a clustered member: hakit against ClusterLabs",
        "",
        "Wall time of the whole agent process, fork+exec to exit, timed by "
        f"hyperfine -N inside node {NODE} of the namespaced 3-node lab "
        "(rabbit@ctl1..3 clustered and running, formed by hakit's agent): "
        f"{runs} runs of each command in {rounds} hyperfine runs of alternating "
        "order. CPU is hyperfine's mean user+system time of the command and "
        "its children. Every timed run of every command exited 0 (running).",
        "",
        "| command | median ms | mean ± σ ms | min–max ms | CPU (user+sys) ms |",
        "|---|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r['command']} | {ms(r['median'])} | {ms(r['mean'])} ± "
            f"{ms(r['stddev'])} | {ms(r['min'])}–{ms(r['max'])} | {ms(cpu(r))} |"
        )
    lines += [
        "",
        "| comparison (ClusterLabs / hakit) | ratio | target | met |",
        "|---|---:|---:|:-:|",
        f"| wall time, medians | {faster:.1f}x | ≥ {TARGET:.0f}x "
        f"| {'yes' if faster >= TARGET else 'NO'} |",
        f"| CPU time, means | {leaner:.1f}x | ≥ {TARGET:.0f}x "
        f"| {'yes' if leaner >= TARGET else 'NO'} |",
        "",
        "Commands (inside the node):",
        "",
        *[f"- {r['command']}: `{r['argv']}`" for r in results],
        "",
        "Machine and versions:",
        "",
        *[f"- {name}: {value}" for name, value in facts.items()],
    ]
    summary = {
        "runs": runs,
        "rounds": rounds,
        "node": NODE,
        "target": TARGET,
        "wall_ratio": faster,
        "cpu_ratio": leaner,
        "met": faster >= TARGET and leaner >= TARGET,
        "machine": facts,
        "results": results,
    }
    return "\n".join(lines) + "\n", summary


def bench(runs: int, rounds: int, warmup: int, output_dir: Path) -> None:
    preflight()
    workdir = Path(tempfile.mkdtemp(prefix="hakit-rabbitmq-bench."))
    cluster = MultiCluster(workdir / "pcmk3")
    lab: RabbitAgents | None = None
    try:
        launcher, _ = node_bench.stage(workdir / "stage", "rabbitmq")
        facts = machine_facts()
        began = time.monotonic()
        cluster.start(timeout=90)
        lab = RabbitAgents(cluster, workdir / "rabbit", launcher=launcher)
        lab.setup()
        for result in lab.on_all("start"):
            if result.rc != RUNNING:
                raise node_bench.BenchError(f"{result}\n{lab.log_tail(result.node)}")
        running = lab.running_nodes(NODE)
        if len(running) != len(lab.names):
            raise node_bench.BenchError(f"{NODE} sees only {running} running")
        print(f"rabbitmq_bench: lab up in {time.monotonic() - began:.1f} s", flush=True)
        give_cookie(lab, workdir)
        env = monitor_env(lab)
        cmds = commands(launcher, lab)
        env = cli_env(env, lab)
        check_commands(cluster, env, cmds)
        timing = {"runs": runs, "rounds": rounds, "warmup": warmup, "work": workdir}
        results = node_bench.timed(
            cluster.node(NODE).command,
            env,
            cmds,
            expected={label: RUNNING for label in cmds},
            **timing,
        )["results"]
        check_commands(cluster, env, cmds)
        facts["loadavg at the end"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    finally:
        try:
            if lab is not None:
                for node in lab.names:
                    lab.run(node, "stop")
                lab.teardown()
        finally:
            cluster.stop()
            shutil.rmtree(workdir, ignore_errors=True)
    text, summary = report(results, facts, runs=runs, rounds=rounds)
    output_dir.mkdir(parents=True, exist_ok=True)
    # The work directory is gone by now: name it, not its random path.
    text = text.replace(str(workdir), "$WORK")
    (output_dir / "rabbitmq.md").write_text(text)
    text_json = json.dumps(summary, indent=2).replace(str(workdir), "$WORK")
    (output_dir / "rabbitmq.json").write_text(text_json + "\n")
    print()
    print(text, end="")
    print(f"rabbitmq_bench: wrote {output_dir / 'rabbitmq.md'} and rabbitmq.json")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30, help="timed runs per command")
    parser.add_argument(
        "--rounds", type=int, default=3, help="hyperfine runs the runs are spread over"
    )
    parser.add_argument(
        "--warmup", type=int, default=1, help="untimed runs per command and round"
    )
    parser.add_argument(
        "--output-dir",
        type=Path,
        default=HERE / "results",
        help="where rabbitmq.md and rabbitmq.json go (default bench/results)",
    )
    args = parser.parse_args()
    if args.rounds < 1 or args.runs < 2 * args.rounds or args.warmup < 0:
        parser.error("need --rounds >= 1, --runs >= 2 per round, --warmup >= 0")
    signal.signal(signal.SIGTERM, node_bench.terminate)
    try:
        bench(args.runs, args.rounds, args.warmup, args.output_dir)
    except node_bench.BenchError as exc:
        print(f"rabbitmq_bench: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
