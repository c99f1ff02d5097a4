"""Time the monitor of a promoted Galera node: hakit against ClusterLabs.

    .venv/bin/python bench/galera_bench.py [--runs 50] [--rounds 5] [--warmup 2]
                                           [--output-dir DIR]

Brings up the namespaced three-node lab (``tests.lab.multinode.MultiCluster``:
Corosync + Pacemaker, nodes ctl1-3 at 192.168.77.11-13 in private network,
mount and UTS namespaces) with one MariaDB Galera member per node
(``tests.lab.galera.NamespacedGalera``), starts and promotes all three with
hakit's own agent, and then, inside node ctl1, times with hyperfine (``-N``):

- ``ocf:hakit:galera monitor`` (staged from the working tree);
- ``ocf:heartbeat:galera monitor`` (resource-agents), on the same mariadbd;
- ``mariadb -NBe "SHOW STATUS LIKE 'wsrep%'"``: the bare CLI probe, for scale.

Both agents get one environment, as pacemaker-execd gives a recurring
monitor of the Promoted role (interval 10 s), with their parameters for the
lab's paths.  Before and after timing, each command runs once: both agents
must exit 8 (running promoted) and the CLI 0 with ``wsrep_cluster_status
Primary``; every timed run must exit the same way.  Otherwise the script stops
with exit status 1.  The runs of each command are spread over several
hyperfine runs of alternating order, so that a neighbour's load does not
favour one command.  A second, same-shaped timing breaks hakit's time down by
import stage.  Writes ``galera.md`` and ``galera.json``.  The mariadbds, the
cluster, its namespaces and the work directory are removed however the script
ends.
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
from tests.lab.galera import NamespacedGalera, galera_missing  # noqa: E402
from tests.lab.galera_agent import PROMOTED, GaleraAgent, Run  # noqa: E402
from tests.lab.multinode import MULTI_REQUIRED_TOOLS, MultiCluster  # noqa: E402
from tests.lab.pacemaker import SAFE_PATH  # noqa: E402

#: The packaged agents run on the system interpreter.
SYSTEM_PYTHON = "/usr/bin/python3"
HEARTBEAT_GALERA = "/usr/lib/ocf/resource.d/heartbeat/galera"
MARIADB = "/usr/bin/mariadb"
#: The node whose promoted member is measured (the other two stay promoted).
NODE = "ctl1"
#: Issue #11's target (the monitor runs the mariadb client since): hakit's
#: monitor takes at most this share of ClusterLabs' time.
TARGET_RATIO = 0.75
#: hyperfine's command names, in the order of the table.
HAKIT = "hakit galera monitor"
HEARTBEAT = "heartbeat galera monitor"
CLI = "mariadb CLI probe"
CLI_QUERY = "SHOW STATUS LIKE 'wsrep%'"
FLOOR = "python3 -sS -c pass"
IMPORT_DISPATCH = "+ dispatcher and declaration"
IMPORT_RUNNER = "+ action runner"
IMPORT_HANDLERS = "+ galera handlers and subprocess"
#: Exit code of every run of these commands (any other command: 0).
EXPECTED_RC = {HAKIT: PROMOTED, HEARTBEAT: PROMOTED, CLI: 0}


class StagedAgent(GaleraAgent):
    """:class:`GaleraAgent` running a staged launcher instead of the installed one.

    The bench stages hakit from the working tree, so it never writes to
    /usr/lib/ocf (where tests may be running the installed agent).
    """

    launcher = ""

    def run(self, node: str, action: str, **meta: str) -> Run:
        """Run ``action`` on ``node`` with the staged launcher (see GaleraAgent)."""
        env = self.environment(node, action, **meta)
        timeout = int(env["OCF_RESKEY_CRM_meta_timeout"]) / 1000 + 10
        done = self.cluster.node(node).run(
            [self.launcher, action], check=False, timeout=timeout, env=env
        )
        result = Run(node, action, done.returncode, done.stderr)
        self.history.append(result)
        return result


# -- setup ----------------------------------------------------------------------


def preflight() -> None:
    if os.geteuid() != 0:
        raise node_bench.BenchError(
            "needs root (network and mount namespaces, mariadbd)"
        )
    for tool in (*MULTI_REQUIRED_TOOLS, node_bench.HYPERFINE):
        if shutil.which(tool, path=SAFE_PATH) is None:
            raise node_bench.BenchError(f"{tool} is not installed")
    for path in (HEARTBEAT_GALERA, MARIADB, SYSTEM_PYTHON):
        if not os.access(path, os.X_OK):
            raise node_bench.BenchError(
                f"{path} is missing (resource-agents, mariadb-client)"
            )
    why = galera_missing()
    if why:
        raise node_bench.BenchError(why)


def monitor_env(agent: GaleraAgent) -> dict[str, str]:
    """One environment for both agents: a recurring monitor of the Promoted role.

    The harness's own environment for ctl1 (its ``OCF_RESKEY_*`` parameters,
    instance ``galera:0``, ``HA_RSCTMP``, the clone meta) without its debug
    log, plus what execd adds for a role monitor.  Each agent reads only the
    parameters it declares: the extra ones are ClusterLabs' names for the
    same lab (its pid file and check user).
    """
    env = agent.environment(NODE, "monitor", interval="10000", role="Promoted")
    for key in ("HA_LOGFILE", "HA_debug"):
        env.pop(key, None)
    node = agent.lab.nodes[NODE]
    env.update(
        {
            "PATH": SAFE_PATH,
            "LC_ALL": "C.UTF-8",
            "OCF_RA_VERSION_MAJOR": "1",
            "OCF_RA_VERSION_MINOR": "1",
            "OCF_RESKEY_crm_feature_set": "3.16.2",
            "OCF_RESKEY_CRM_meta_timeout": "30000",
            "OCF_RESKEY_CRM_meta_on_node_uuid": str(agent.lab.names.index(NODE) + 1),
            "OCF_RESKEY_CRM_meta_clone_node_max": "1",
            "OCF_RESKEY_CRM_meta_promoted_max": str(len(agent.lab.names)),
            "OCF_RESKEY_CRM_meta_promoted_node_max": "1",
            "OCF_RESKEY_CRM_meta_notify": "false",
            "OCF_RESKEY_CRM_meta_globally_unique": "false",
            # ClusterLabs' names: its pid file (default /var/run/mysqld/...),
            # and root over the unix socket, as hakit connects by default.
            "OCF_RESKEY_pid": str(node.pid_file),
            "OCF_RESKEY_check_user": "root",
        }
    )
    return env


def commands(launcher: str) -> dict[str, list[str]]:
    return {
        HAKIT: [launcher, "monitor"],
        HEARTBEAT: [HEARTBEAT_GALERA, "monitor"],
        CLI: [MARIADB, "-NBe", CLI_QUERY],
    }


def breakdown_commands(lib: str) -> dict[str, list[str]]:
    """What hakit's monitor pays before its own work, step by step.

    Each command is the launcher's interpreter importing one more stage of
    the monitor path: the interpreter alone, the dispatcher with the agent's
    declaration, the action runner (environment parsing, logging), then the
    Galera handlers and ``subprocess`` (imported when the monitor runs the
    client).  The monitor minus the last is the work itself (pid check, one
    ``mariadb`` client run with SHOW GLOBAL STATUS) plus exiting.
    """
    path = f"import sys; sys.path.insert(0, '{lib}')"
    steps = {
        FLOOR: "pass",
        IMPORT_DISPATCH: f"{path}; from ocf_agents._runtime import dispatch; "
        "dispatch.registry.spec('galera')",
        IMPORT_RUNNER: f"{path}; from ocf_agents._runtime import dispatch, runner; "
        "dispatch.registry.spec('galera')",
        IMPORT_HANDLERS: f"{path}; from ocf_agents._runtime import dispatch, runner; "
        "dispatch.registry.spec('galera'); "
        "import ocf_agents.galera.actions, subprocess",
    }
    return {label: [SYSTEM_PYTHON, "-sS", "-c", code] for label, code in steps.items()}


def stage(workdir: Path) -> tuple[str, str]:
    """Stage hakit under ``workdir``; return the galera launcher and the library."""
    return node_bench.stage(workdir, "galera")


def timed(
    cluster: MultiCluster,
    env: dict[str, str],
    cmds: dict[str, list[str]],
    **timing: Any,
) -> dict[str, Any]:
    """Time ``cmds`` inside the node (``node_bench.timed``)."""
    return node_bench.timed(
        cluster.node(NODE).command, env, cmds, expected=EXPECTED_RC, **timing
    )


def check_commands(
    cluster: MultiCluster, env: dict[str, str], cmds: dict[str, list[str]]
) -> dict[str, str]:
    """Run each command once inside the node and check its exit code."""
    seen = {}
    for label, argv in cmds.items():
        done = subprocess.run(
            cluster.node(NODE).command(argv),
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        expected = EXPECTED_RC.get(label, 0)
        if done.returncode != expected:
            raise node_bench.BenchError(
                f"{label} exited {done.returncode}, expected {expected}:"
                f"\n{done.stdout}{done.stderr}"
            )
        if label == CLI and "wsrep_cluster_status\tPrimary" not in done.stdout:
            raise node_bench.BenchError(f"{NODE} is not Primary:\n{done.stdout}")
        seen[label] = f"rc {done.returncode}"
    return seen


# -- report ---------------------------------------------------------------------


def _deb(package: str) -> str:
    return out(["dpkg-query", "-W", "-f", "${Version}", package])


def _commit() -> str:
    """HEAD, plus the agent's files that differ from it."""
    git = ["git", "-C", str(ROOT)]
    head = out([*git, "rev-parse", "--short", "HEAD"])
    dirty = subprocess.run(
        [*git, "status", "--porcelain", "--", "ocf_agents", "ha_common", "packaging"],
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    ).stdout.split("\n")
    changed = [line[3:] for line in dirty if line.strip()]
    return head + (f" (modified: {', '.join(changed)})" if changed else "")


def machine_facts() -> dict[str, Any]:
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime(
            "%Y-%m-%d %H:%M UTC"
        ),
        "kernel": platform.release(),
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "loadavg at the start": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "hakit python": f"{SYSTEM_PYTHON} {out([SYSTEM_PYTHON, '-V']).split()[-1]}",
        "hakit commit": _commit(),
        "hakit agent": "staged from the working tree by packaging/install.py",
        "resource-agents": _deb("resource-agents"),
        "mariadb-server": _deb("mariadb-server"),
        "galera-4": _deb("galera-4"),
        "pacemaker": _deb("pacemaker"),
        "hyperfine": out([node_bench.HYPERFINE, "--version"]),
    }


def report(
    data: dict[str, Any],
    steps: dict[str, Any],
    facts: dict[str, Any],
    *,
    runs: int,
    rounds: int,
    warmup: int,
) -> tuple[str, dict[str, Any]]:
    by_name = {r["command"]: r for r in data["results"]}
    hakit, heartbeat, cli = by_name[HAKIT], by_name[HEARTBEAT], by_name[CLI]
    ratio = hakit["median"] / heartbeat["median"]
    met = ratio <= TARGET_RATIO
    lines = [
        "# Galera monitor of a promoted node: hakit against ClusterLabs",
        "",
        "Wall time of the whole agent process, fork+exec to exit, timed by "
        f"hyperfine -N inside node {NODE} of the namespaced 3-node lab (all three "
        f"members promoted by hakit, Synced, cluster size 3): {runs} runs of each "
        f"command in {rounds} hyperfine runs of alternating command order, "
        f"{warmup} warm-ups per command and round. Environment of a recurring "
        "monitor of the Promoted role (interval 10 s); every timed run of both "
        "agents exited 8 (running promoted). hakit/ClusterLabs is the ratio of "
        f"the medians; the target is at most {TARGET_RATIO:.2f}.",
        "",
        "| command | median ms | mean ± σ ms | min–max ms | CPU (user+sys) ms |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, r in ((HAKIT, hakit), (HEARTBEAT, heartbeat), (CLI, cli)):
        lines.append(
            f"| {name} | {ms(r['median'])} | {ms(r['mean'])} ± {ms(r['stddev'])} "
            f"| {ms(r['min'])}–{ms(r['max'])} | {ms(r['user'] + r['system'])} |"
        )
    lines += [
        "",
        "| comparison | ratio of medians | target | met |",
        "|---|---:|---:|:-:|",
        f"| hakit / heartbeat galera | {ratio:.2f} | ≤ {TARGET_RATIO:.2f} "
        f"| {'yes' if met else 'NO'} |",
        f"| hakit / mariadb CLI probe | {hakit['median'] / cli['median']:.2f} | | |",
        f"| heartbeat galera / mariadb CLI probe "
        f"| {heartbeat['median'] / cli['median']:.2f} | | |",
        "",
        "Commands (inside the node, one environment for all three):",
        "",
        f"- {HAKIT}: `$WORK/ocf/resource.d/hakit/galera monitor`",
        f"- {HEARTBEAT}: `{HEARTBEAT_GALERA} monitor`",
        f'- {CLI}: `{MARIADB} -NBe "{CLI_QUERY}"` (root over the unix socket)',
        "",
        "Where hakit's time goes: the launcher's interpreter "
        f"(`{SYSTEM_PYTHON} -sS`) importing one more stage of the monitor path per "
        "row, timed after the comparison in the same node and the same way, "
        "with the monitor again; the last row's step is the monitor's own work "
        "(environment, pid check, one mariadb client run) and exiting.",
        "",
        "| step | median ms | step ms | CPU (user+sys) ms |",
        "|---|---:|---:|---:|",
    ]
    previous = 0.0
    for r in steps["results"]:
        lines.append(
            f"| {r['command']} | {ms(r['median'])} | {ms(r['median'] - previous)} "
            f"| {ms(r['user'] + r['system'])} |"
        )
        previous = r["median"]
    lines += ["", "Machine and versions:", ""]
    lines += [f"- {name}: {value}" for name, value in facts.items()]
    summary = {
        "runs": runs,
        "rounds": rounds,
        "warmup": warmup,
        "node": NODE,
        "target_ratio": TARGET_RATIO,
        "ratio": ratio,
        "met": met,
        "machine": facts,
        "hyperfine": data,
        "breakdown": steps,
    }
    return "\n".join(lines) + "\n", summary


# -- main -----------------------------------------------------------------------


def measure(
    agent: StagedAgent, lib: str, *, runs: int, rounds: int, warmup: int, work: Path
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Check, time the comparison, check again, then time the breakdown."""
    cluster, lab = agent.cluster, agent.lab
    size = lab.status(NODE)["wsrep_cluster_size"]
    if size != "3":
        raise node_bench.BenchError(f"{NODE} sees a cluster of {size}, expected 3")
    env = monitor_env(agent)
    cmds = commands(agent.launcher)
    checked = check_commands(cluster, env, cmds)
    print(f"galera_bench: checked {checked}", flush=True)
    timing = {"runs": runs, "rounds": rounds, "warmup": warmup, "work": work}
    data = timed(cluster, env, cmds, **timing)
    check_commands(cluster, env, cmds)
    parts = {**breakdown_commands(lib), HAKIT: cmds[HAKIT]}
    check_commands(cluster, env, parts)
    steps = timed(cluster, env, parts, **timing)
    return data, steps


def bench(runs: int, rounds: int, warmup: int, output_dir: Path) -> None:
    preflight()
    workdir = Path(tempfile.mkdtemp(prefix="hakit-galera-bench."))
    cluster = MultiCluster(workdir / "pcmk3")
    lab: NamespacedGalera | None = None
    agent: StagedAgent | None = None
    try:
        launcher, lib = stage(workdir / "stage")
        facts = machine_facts()
        began = time.monotonic()
        cluster.start(timeout=90)
        lab = NamespacedGalera(cluster)
        lab.setup()
        agent = StagedAgent.for_lab(cluster, lab)
        agent.launcher = launcher
        took = agent.bring_up(timeout=240)
        print(
            f"galera_bench: lab up in {time.monotonic() - began:.1f} s "
            f"(start + promote of 3 members: {took:.1f} s)",
            flush=True,
        )
        data, steps = measure(
            agent, lib, runs=runs, rounds=rounds, warmup=warmup, work=workdir
        )
        facts["loadavg at the end"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    finally:
        if agent is not None:
            try:
                agent.stop_all()
            except Exception as exc:  # noqa: BLE001 - teardown below still runs
                print(f"galera_bench: agent stop failed: {exc}", file=sys.stderr)
        try:
            if lab is not None:
                lab.teardown()
        finally:
            cluster.stop()
            shutil.rmtree(workdir, ignore_errors=True)
    text, summary = report(data, steps, facts, runs=runs, rounds=rounds, warmup=warmup)
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / "galera.md").write_text(text)
    # The work directory is gone by now: name it, not its random path.
    text_json = json.dumps(summary, indent=2).replace(str(workdir / "stage"), "$WORK")
    (output_dir / "galera.json").write_text(text_json + "\n")
    print()
    print(text, end="")
    print(f"galera_bench: wrote {output_dir / 'galera.md'} and galera.json")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50, help="timed runs per command")
    parser.add_argument(
        "--rounds", type=int, default=5, help="hyperfine runs the runs are spread over"
    )
    parser.add_argument(
        "--warmup", type=int, default=2, help="untimed runs per command and round"
    )
    parser.add_argument(
        "--output-dir",
        type=Path,
        default=HERE / "results",
        help="where galera.md and galera.json go (default bench/results)",
    )
    args = parser.parse_args()
    if args.rounds < 1 or args.runs < 2 * args.rounds or args.warmup < 0:
        parser.error("need --rounds >= 1, --runs >= 2 per round, --warmup >= 0")
    signal.signal(signal.SIGTERM, node_bench.terminate)
    try:
        bench(args.runs, args.rounds, args.warmup, args.output_dir)
    except node_bench.BenchError as exc:
        print(f"galera_bench: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
