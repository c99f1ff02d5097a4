"""What the agent benchmarks on the namespaced lab share: staging, hyperfine rounds.

``galera_bench.py`` and ``rabbitmq_bench.py`` time an installed hakit agent
against the ClusterLabs agent for the same daemon, inside one node of the
3-node lab (tests/lab/multinode.py).  Both stage hakit the way its package
installs it, time the commands with hyperfine in rounds of alternating
order, and check every run's exit code.
"""

from __future__ import annotations

import os
import statistics
import subprocess
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SYSTEM_PYTHON = "/usr/bin/python3"
HYPERFINE = "hyperfine"


class BenchError(Exception):
    """The benchmark cannot run, or a command did not do what it must."""


def stage(workdir: Path, agent: str) -> tuple[str, str]:
    """Install hakit under ``workdir`` as its package does.

    The library is copied from the working tree and byte-compiled, as a
    Debian postinst would; nothing outside ``workdir`` is written.  The nodes
    share the host's /tmp, so the launcher runs inside them unchanged.

    Returns:
        The launcher of ``agent`` and the library directory.
    """
    argv = [SYSTEM_PYTHON, str(ROOT / "packaging" / "install.py"), "--destdir", "/"]
    argv += ["--python", SYSTEM_PYTHON, "--libdir", str(workdir / "lib")]
    argv += ["--ocf-root", str(workdir / "ocf"), "--bindir", str(workdir / "bin")]
    argv += ["--sbindir", str(workdir / "sbin")]
    for step in (argv, [SYSTEM_PYTHON, "-m", "compileall", "-q", str(workdir)]):
        done = subprocess.run(step, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise BenchError(f"staging failed: {step}:\n{done.stderr.strip()}")
    launcher = workdir / "ocf" / "resource.d" / "hakit" / agent
    if not os.access(launcher, os.X_OK):
        raise BenchError(f"the installer did not write {launcher}")
    return str(launcher), str(workdir / "lib")


def hyperfine_command(argv: Sequence[str]) -> str:
    """One hyperfine ``-N`` command line (it splits words like a shell)."""
    if any('"' in a for a in argv):
        raise BenchError(f"cannot quote {argv} for hyperfine")
    return " ".join(f'"{a}"' if " " in a else a for a in argv)


def timed(
    inside: Callable[[list[str]], list[str]],
    env: Mapping[str, str],
    cmds: Mapping[str, Sequence[str]],
    *,
    runs: int,
    rounds: int,
    warmup: int,
    work: Path,
    expected: Mapping[str, int],
) -> dict[str, Any]:
    """Time ``cmds`` in ``rounds`` hyperfine runs and merge their samples.

    hyperfine runs all runs of one command before the next, so a neighbour's
    load that comes or goes during a run would favour one command.  Rounds
    alternate the order (forward, reversed, ...) and spread ``runs`` over
    time; the statistics are over every sample of every round.  hyperfine
    runs with ``-i`` (agents exit 8 on success), and every run's exit code
    must be the one ``expected`` gives its label (0 when it names none).

    Args:
        inside: prefixes an argv so that it runs inside the lab node.

    Returns:
        hyperfine's JSON shape, ``{"results": [...]}`` in ``cmds`` order, each
        with median, mean, stddev, min, max, user and system (mean seconds),
        times, exit_codes and the command line; plus the rounds and the
        command lines.
    """
    import json  # noqa: PLC0415

    merged: dict[str, dict[str, list[float]]] = {
        label: {"times": [], "exit_codes": [], "user": [], "system": []}
        for label in cmds
    }
    labels = list(cmds)
    for number in range(rounds):
        count = runs // rounds + (1 if number < runs % rounds else 0)
        order = labels if number % 2 == 0 else labels[::-1]
        export = work / f"round-{number}.json"
        argv = [HYPERFINE, "-N", "-i", "--style", "none", "--warmup", str(warmup)]
        argv += ["--runs", str(count), "--export-json", str(export)]
        for label in order:
            argv += ["-n", label, hyperfine_command(cmds[label])]
        done = subprocess.run(
            inside(argv),
            env=dict(env),
            capture_output=True,
            text=True,
            timeout=120 + count * len(cmds) * 30,
            check=False,
        )
        if done.returncode != 0:
            raise BenchError(
                f"hyperfine exited {done.returncode}: {done.stderr.strip()}"
            )
        for result in json.loads(export.read_text())["results"]:
            into = merged[result["command"]]
            into["times"] += result["times"]
            into["exit_codes"] += result["exit_codes"]
            into["user"] += [result["user"]] * count
            into["system"] += [result["system"]] * count
    results = []
    for label, got in merged.items():
        want = expected.get(label, 0)
        wrong = [code for code in got["exit_codes"] if code != want]
        if wrong:
            raise BenchError(
                f"{label}: {len(wrong)} of {len(got['exit_codes'])} timed runs "
                f"exited {sorted(set(wrong))}, expected {want}"
            )
        times = got["times"]
        results.append(
            {
                "command": label,
                "argv": hyperfine_command(cmds[label]),
                "median": statistics.median(times),
                "mean": statistics.mean(times),
                "stddev": statistics.stdev(times),
                "min": min(times),
                "max": max(times),
                "user": statistics.mean(got["user"]),
                "system": statistics.mean(got["system"]),
                "times": times,
                "exit_codes": got["exit_codes"],
            }
        )
    commands = {label: hyperfine_command(cmd) for label, cmd in cmds.items()}
    return {"rounds": rounds, "commands": commands, "results": results}


def out(argv: list[str]) -> str:
    """The first line a version command prints, or "unknown"."""
    try:
        done = subprocess.run(
            argv, capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    lines = (done.stdout or done.stderr).strip().splitlines()
    return lines[0] if lines else "unknown"


def ms(value: float) -> str:
    """Seconds as milliseconds with one decimal."""
    return f"{value * 1000:.1f}"


def terminate(signum: int, frame: object) -> None:
    """SIGTERM handler: leave through the ``finally`` blocks that clean up."""
    del frame
    raise SystemExit(128 + signum)
