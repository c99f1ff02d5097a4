"""Time the CIB builder and write bench/results/cib.md (see bench/README.md).

    python bench/cib_bench.py [--runs 5] [--output bench/results/cib.md]

Measures with ``time.perf_counter``, after one untimed warm-up run:

- the reference topology (examples/opnfv-3-controllers.toml): each step of
  ``pipeline.build`` in this process (warm: modules imported, schema cached),
  ``pipeline.build`` itself, and a cold build in a fresh interpreter (imports,
  schema parsing and the build, as one ``hakit-cib`` run pays them);
- synthetic models of ``cib_synthetic.SIZES``: check, render, to_bytes and
  validate, the steps ``pipeline.build`` runs after the recipe.

Every figure is the median of ``--runs`` runs.  Every model must pass the
checks and the schema, or the script stops with exit status 1.
"""

from __future__ import annotations

import argparse
import datetime
import functools
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(ROOT), str(HERE)]  # as a script: the repository and bench/

import cib_synthetic as cs  # noqa: E402
from lxml import etree  # noqa: E402

from cib_builder import pipeline  # noqa: E402

#: The issue's targets for build + validate, in seconds.
REFERENCE_TARGET = 0.2
LARGE = (32, 2000)
LARGE_TARGET = 3.0

#: Run in a fresh interpreter: imports, schema parsing and one build.
_COLD = """\
import sys, time
start = time.perf_counter()
from cib_builder import pipeline
result = pipeline.build(sys.argv[1])
print(time.perf_counter() - start, int(result.ok))
"""

Run = Callable[[dict[str, float]], cs.Outcome]


def _fail(message: str) -> None:
    print(f"cib_bench: {message}", file=sys.stderr)
    sys.exit(1)


def _medians(
    run: Run, phases: tuple[str, ...], runs: int
) -> tuple[dict[str, float], float]:
    """Median of each phase and of the per-run totals over ``runs`` runs."""
    samples: dict[str, list[float]] = {name: [] for name in phases}
    totals = []
    for _ in range(runs):
        timings: dict[str, float] = {}
        outcome = run(timings)
        if not outcome.ok:
            _fail(f"invalid model: {outcome.problems[:3]} {outcome.schema_errors[:3]}")
        for name in phases:
            samples[name].append(timings[name])
        totals.append(sum(timings[name] for name in phases))
    return (
        {name: statistics.median(values) for name, values in samples.items()},
        statistics.median(totals),
    )


def _median_call(func: Callable[[], object], runs: int) -> float:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        func()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def _cold(path: Path, runs: int) -> tuple[float, float]:
    """Median time of a build in a fresh interpreter: inside it, and wall time."""
    inner, wall = [], []
    for _ in range(runs):
        start = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-c", _COLD, str(path)],
            cwd=ROOT,
            check=True,
            capture_output=True,
            text=True,
        )
        wall.append(time.perf_counter() - start)
        seconds, ok = done.stdout.split()
        if ok != "1":
            _fail(f"the cold build of {path} is not ok")
        inner.append(float(seconds))
    return statistics.median(inner), statistics.median(wall)


def _cpu() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _shown(path: Path) -> str:
    """``path`` without this machine's directories, for the committed results.

    Relative to the repository when inside it, ``$VENV/...`` inside another
    virtualenv, else as it is (a system path such as ``/usr/bin/python3``).
    """
    if path.is_relative_to(ROOT):
        return str(path.relative_to(ROOT))
    if sys.prefix != sys.base_prefix and path.is_relative_to(sys.prefix):
        return str("$VENV" / path.relative_to(sys.prefix))
    return str(path)


def _facts(runs: int) -> list[str]:
    now = datetime.datetime.now(datetime.timezone.utc)
    load = " ".join(f"{value:.2f}" for value in os.getloadavg())
    libxml2 = ".".join(map(str, etree.LIBXML_VERSION))
    lxml = ".".join(map(str, etree.LXML_VERSION[:3]))
    return [
        f"- date: {now:%Y-%m-%d %H:%M} (UTC)",
        f"- kernel: `{platform.release()}`, cores: {os.cpu_count()}, CPU: {_cpu()}",
        f"- python: `{_shown(Path(sys.executable))}` {platform.python_version()}, "
        f"lxml {lxml}, libxml2 {libxml2}",
        f"- load average at start: {load}",
        f"- median of {runs} runs after one warm-up run; times in seconds",
    ]


def _met(value: float, target: float) -> str:
    return "yes" if value < target else "NO"


def _reference(runs: int) -> list[str]:
    path = cs.REFERENCE
    phases = cs.REFERENCE_PHASES
    cs.run_reference(path)  # warm-up: imports done, schema parsed and cached
    steps, total = _medians(
        lambda timings: cs.reference_phases(path, timings), phases, runs
    )
    build = _median_call(lambda: cs.run_reference(path), runs)
    cold, wall = _cold(path, runs)
    count = len(pipeline.build(path).cib.resources)
    rel = path.relative_to(ROOT)
    return [
        f"## Reference topology: `{rel}` ({count} resources)",
        "",
        "Steps of `pipeline.build`, warm (ms):",
        "",
        "| " + " | ".join(phases) + " | sum |",
        "|" + "---:|" * (len(phases) + 1),
        "| "
        + " | ".join(f"{steps[name] * 1000:.2f}" for name in phases)
        + f" | {total * 1000:.2f} |",
        "",
        "| build + validate | seconds | target | met |",
        "|---|---:|---:|:-:|",
        f"| `pipeline.build`, warm (in-process, schema cached) | {build:.4f} "
        f"| < {REFERENCE_TARGET} | {_met(build, REFERENCE_TARGET)} |",
        "| fresh interpreter: imports + schema parse + `pipeline.build` "
        f"| {cold:.4f} | < {REFERENCE_TARGET} | {_met(cold, REFERENCE_TARGET)} |",
        f"| same, wall time of the whole `python -c` process | {wall:.4f} | | |",
    ]


def _synthetic(runs: int) -> list[str]:
    phases = cs.SYNTHETIC_PHASES
    lines = [
        "## Synthetic models: check + render + to_bytes + validate",
        "",
        "| nodes | resources | XML KiB | "
        + " | ".join(phases)
        + " | total | s per 1000 resources | target | met |",
        "|" + "---:|" * (len(phases) + 6) + ":-:|",
    ]
    per_thousand = []
    for nodes, resources in cs.SIZES:
        cib = cs.synthetic_cib(nodes, resources)
        size = len(cs.run_synthetic(cib).xml) / 1024  # also the warm-up run
        medians, total = _medians(
            functools.partial(cs.run_synthetic, cib), phases, runs
        )
        rate = total / resources * 1000
        per_thousand.append(rate)
        target, met = "", ""
        if (nodes, resources) == LARGE:
            target, met = f"< {LARGE_TARGET:g}", _met(total, LARGE_TARGET)
        lines.append(
            f"| {nodes} | {resources} | {size:.0f} | "
            + " | ".join(f"{medians[name]:.4f}" for name in phases)
            + f" | {total:.4f} | {rate:.4f} | {target} | {met} |"
        )
        print(f"cib_bench: {nodes} nodes / {resources} resources: {total:.3f} s")
    low, high = min(per_thousand), max(per_thousand)
    lines += [
        "",
        f"Seconds per 1000 resources range from {low:.4f} to {high:.4f} "
        f"(max/min {high / low:.2f}) over {cs.SIZES[0][1]} to "
        f"{cs.SIZES[-1][1]} resources: a flat column means linear growth.",
    ]
    return lines


def main() -> None:
    """Run the CIB builder benchmark and write its markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="timed runs per figure")
    parser.add_argument(
        "--output",
        type=Path,
        default=HERE / "results" / "cib.md",
        help="where the markdown goes (default: %(default)s)",
    )
    args = parser.parse_args()
    lines = ["# hakit CIB builder benchmark", "", *_facts(args.runs), ""]
    lines += _reference(args.runs)
    lines.append("")
    lines += _synthetic(args.runs)
    text = "\n".join(lines) + "\n"
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text, encoding="utf-8")
    print()
    print(text, end="")
    print(f"cib_bench: wrote {args.output}")


if __name__ == "__main__":
    main()
