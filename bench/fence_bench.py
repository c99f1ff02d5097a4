"""Time hakit's fence agents against ClusterLabs' (see bench/README.md).

    .venv/bin/python bench/fence_bench.py [--runs 10] [--output-dir DIR] [--installed]

Starts one OpenIPMI ``ipmi_sim`` and one sushy-tools Redfish emulator (TLS,
power changes visible at once), then times the whole agent process, fork+exec
to exit, for status, off and reboot:

- ``fence_hakit_ipmi`` against ``fence_ipmilan`` (lanplus, cipher 3), with
  fence_ipmilan's defaults, and fence_ipmilan with ``power_wait=0`` as an
  extra comparison for off and reboot;
- ``fence_hakit_redfish`` against ``fence_redfish``, both verifying TLS
  against the emulator's CA;
- two floors for Redfish ``status``, interleaved with the agents: the
  Redfish agent's interpreter that only imports ``requests`` (on which both
  agents' HTTP rests), or the DMTF ``redfish`` library, and exits as the
  installed agents do (a normal interpreter exit, teardown included): no
  request, no option parsing.

hakit's two agents are staged from the working tree into the temporary work
directory by ``packaging/install.py``, on the interpreters of the packaged
agents (``/usr/bin/python3`` with Debian's pyghmi; this interpreter, the
project venv, for Redfish); ``--installed`` times ``/usr/sbin/fence_hakit_*``
instead.

Every agent reads its options as key=value lines on stdin, as Pacemaker's
fencer passes them, so no password is on argv.  For each action the agents of
one BMC run interleaved, after one untimed run each; ipmi_sim is restarted
before each IPMI action and the power is set ON before every run, both outside
the timing.
Each run's exit code, the power state it left and the requests the simulator
received are checked; a wrong result stops the script with exit status 1.
Writes ``fence.md`` and ``fence.json``.  The simulators are stopped and the
work directory removed however the script ends.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))  # as a script: the repository (tests.lab)

from tests.lab import ipmi as lab_ipmi  # noqa: E402
from tests.lab import redfish as lab_redfish  # noqa: E402
from tests.lab.ports import free_port  # noqa: E402

INSTALLED_IPMI = "/usr/sbin/fence_hakit_ipmi"
INSTALLED_REDFISH = "/usr/sbin/fence_hakit_redfish"
#: fence_hakit_ipmi runs on the system interpreter with Debian's pyghmi.
SYSTEM_PYTHON = "/usr/bin/python3"
FENCE_IPMILAN = "/usr/sbin/fence_ipmilan"
FENCE_REDFISH = "/usr/sbin/fence_redfish"
ACTIONS = ("status", "off", "reboot")
#: The issue's target: each hakit operation takes at most this share of the
#: ClusterLabs agent's time.
TARGET_RATIO = 0.5
#: The targets set since (issues #11, #12): IPMI status at most as slow as
#: fence_ipmilan now that pyghmi loads the real cryptography; Redfish no
#: slower than fence_redfish with the DMTF library.  IPMI off/reboot keep 0.5.
TARGETS = {("ipmi", "status"): 1.0, ("redfish", None): 1.0}


def target(bmc: str, action: str) -> float:
    """The ratio hakit/ClusterLabs a row must stay under."""
    return TARGETS.get((bmc, action), TARGETS.get((bmc, None), TARGET_RATIO))


#: Per-run limit; the slowest expected run (fence_ipmilan reboot) takes ~5 s.
RUN_TIMEOUT = 60.0
#: One warm-up and the timed runs of an action must fit in ipmi_sim's 63
#: sessions, should an agent leave its session open (see fresh_ipmi).
MAX_RUNS = 60
BASE_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"}
#: What the floor agents run: import a client library, leave like the agents.
FLOOR_CODE = "import {module}"
#: sushy's request log line for a power request (Werkzeug access log).
RESET_LOG = "/Actions/ComputerSystem.Reset"


class BenchError(Exception):
    """A run gave a wrong result or a tool is missing."""


@dataclass
class Agent:
    """One agent configuration: how to run it and which options it gets."""

    key: str
    label: str
    bmc: str  # "ipmi" or "redfish"
    argv: list[str]
    options: dict[str, str]
    env: dict[str, str]
    actions: tuple[str, ...] = ACTIONS


@dataclass
class Sample:
    """One timed run."""

    wall: float
    cpu: float
    maxrss_kib: int


@dataclass
class Run:
    """What one agent process returned."""

    rc: int
    sample: Sample
    out: str
    err: str


@dataclass
class Series:
    """The runs of one agent and action."""

    agent: str
    action: str
    samples: list[Sample] = field(default_factory=list)

    def stat(self, attr: str) -> dict[str, float]:
        values = [getattr(s, attr) for s in self.samples]
        return {
            "median": statistics.median(values),
            "min": min(values),
            "max": max(values),
        }


# -- running one agent process ------------------------------------------------


def run_agent(agent: Agent, action: str) -> Run:
    """Run ``agent`` once with ``action``; return its exit code, timing and output.

    The options go to stdin as key=value lines, then stdin is closed.  The
    child is reaped with ``wait4`` so its CPU time (children included:
    fence_ipmilan's ipmitool processes) and peak RSS come with the wall time.
    """
    text = "".join(f"{k}={v}\n" for k, v in {**agent.options, "action": action}.items())
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(
            agent.argv,
            stdin=subprocess.PIPE,
            stdout=out,
            stderr=err,
            env=agent.env,
            close_fds=True,
        )
        timer = threading.Timer(RUN_TIMEOUT, _kill, (proc.pid,))
        timer.start()
        try:
            assert proc.stdin is not None
            try:
                proc.stdin.write(text.encode())
                proc.stdin.close()
            except BrokenPipeError:
                pass
            _, status, usage = os.wait4(proc.pid, 0)
            wall = time.perf_counter() - start
        finally:
            timer.cancel()
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        sample = Sample(
            wall=wall,
            cpu=usage.ru_utime + usage.ru_stime,
            maxrss_kib=usage.ru_maxrss,
        )
        return Run(
            proc.returncode,
            sample,
            out.read().decode(errors="replace"),
            err.read().decode(errors="replace"),
        )


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


# -- the simulators: arrange and check --------------------------------------


class Lab:
    """The two simulators and what each run is checked against."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.ipmi = lab_ipmi.IpmiSim(workdir / "ipmi", lab_ipmi.free_udp_port())
        self.redfish = lab_redfish.RedfishEmulator(
            workdir / "redfish", free_port(), systems=1, tls=True, power_delay=0
        )
        self._log_offset = 0

    def start(self) -> None:
        self.ipmi.start()
        self.redfish.start()
        self.system = self.redfish.systems_uris[0]

    def stop(self) -> None:
        errors = []
        for sim in (self.redfish, self.ipmi):
            try:
                sim.stop()
            except Exception as exc:  # noqa: BLE001 - stop the other one too
                errors.append(f"{type(sim).__name__}: {exc}")
        if errors:
            print("fence_bench: stopping: " + "; ".join(errors), file=sys.stderr)

    def fresh_ipmi(self) -> None:
        """Restart ipmi_sim (not timed): an empty session table for each action.

        ipmi_sim refuses the 64th open session until idle ones expire
        (~20 s).  fence_hakit_ipmi used to leave its session open (it logs
        out since 91a57b9); the restart still guards against any agent that
        leaks one, and costs nothing in the timed runs.
        """
        self.ipmi.stop()
        self.ipmi.start()

    def power_on(self, bmc: str) -> None:
        """Put the target ON and forget earlier requests (not timed)."""
        if bmc == "ipmi":
            self.ipmi.set_power(True)
            self.ipmi.clear_history()
        else:
            if self.redfish.power(self.system) != "On":
                self.redfish.set_power(self.system, True)
            self._log_offset = self.redfish.log_file.stat().st_size

    def is_on(self, bmc: str) -> bool:
        if bmc == "ipmi":
            return self.ipmi.power
        return self.redfish.power(self.system) == "On"

    def requests(self, bmc: str) -> list[str]:
        """Return the power requests the BMC received since :meth:`power_on`."""
        if bmc == "ipmi":
            return [h for h in self.ipmi.history if h.startswith("set ")]
        with open(self.redfish.log_file, "rb") as handle:
            handle.seek(self._log_offset)
            new = handle.read().decode(errors="replace")
        return [
            line.split('"')[1] if '"' in line else line
            for line in new.splitlines()
            if RESET_LOG in line and "POST" in line
        ]


def check_run(lab: Lab, agent: Agent, action: str, run: Run) -> None:
    """Raise BenchError unless the run did what ``action`` means."""
    on = lab.is_on(agent.bmc)
    sent = lab.requests(agent.bmc)
    want_on = action != "off"
    problems = []
    if run.rc != 0:
        problems.append(f"exit code {run.rc}, expected 0")
    if on != want_on:
        problems.append(f"the target is {'ON' if on else 'OFF'} afterwards")
    if agent.bmc == "ipmi":
        offs = [i for i, s in enumerate(sent) if s == "set power 0"]
        ons = [i for i, s in enumerate(sent) if s == "set power 1"]
        wanted = {
            "status": not sent,
            "off": bool(offs) and not ons,
            "reboot": bool(offs) and bool(ons) and offs[0] < ons[-1],
        }[action]
    else:
        wanted = {"status": not sent, "off": len(sent) >= 1, "reboot": len(sent) >= 2}[
            action
        ]
    if not wanted:
        problems.append(f"the BMC received {sent or 'no power request'}")
    if problems:
        raise BenchError(
            f"{agent.label} {action}: {'; '.join(problems)}\n"
            f"  stdout: {run.out.strip()[-500:]!r}\n"
            f"  stderr: {run.err.strip()[-1500:]!r}"
        )


def measure(lab: Lab, group: list[Agent], action: str, runs: int) -> dict[str, Series]:
    """Time ``action`` for every agent of ``group`` (one BMC), interleaved.

    Round k runs each agent once, starting with agent k mod n, so a change of
    background load hits every agent alike.  One untimed, checked run per
    agent comes first (page cache and byte code warm).
    """
    bmc = group[0].bmc
    if bmc == "ipmi":
        lab.fresh_ipmi()
    for agent in group:
        lab.power_on(bmc)
        check_run(lab, agent, action, run_agent(agent, action))
    series = {a.key: Series(a.key, action) for a in group}
    for k in range(runs):
        for agent in group[k % len(group) :] + group[: k % len(group)]:
            lab.power_on(bmc)
            run = run_agent(agent, action)
            check_run(lab, agent, action, run)
            series[agent.key].samples.append(run.sample)
    return series


# -- agents -------------------------------------------------------------------


def stage(workdir: Path) -> tuple[str, str]:
    """Install both hakit fence agents under ``workdir``; return their launchers.

    The same installer and interpreters as the packaged agents:
    fence_hakit_ipmi on ``/usr/bin/python3`` (Debian's pyghmi),
    fence_hakit_redfish on this interpreter (the project venv, with the DMTF
    redfish library).  The library is copied from the working tree and
    byte-compiled, as a Debian postinst would.  Nothing outside ``workdir`` is
    written, and a concurrent reinstall of /usr/sbin cannot change the figures.
    """
    lib, sbin = workdir / "lib", workdir / "sbin"
    install = [SYSTEM_PYTHON, str(ROOT / "packaging" / "install.py"), "--destdir", "/"]
    install += ["--libdir", str(lib), "--sbindir", str(sbin)]
    steps = [
        [*install, "--python", SYSTEM_PYTHON, "--ocf-root", str(workdir / "ocf")]
        + ["--bindir", str(workdir / "bin")],
        [*install, "--python", sys.executable, "--only", "fence_hakit_redfish"],
        [SYSTEM_PYTHON, "-m", "compileall", "-q", str(lib)],
        [sys.executable, "-m", "compileall", "-q", str(lib)],
    ]
    for argv in steps:
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise BenchError(f"staging failed: {argv}:\n{done.stderr.strip()}")
    return str(sbin / "fence_hakit_ipmi"), str(sbin / "fence_hakit_redfish")


def agents(lab: Lab, hakit_ipmi: str, hakit_redfish: str) -> list[Agent]:
    ipmi = {
        "ip": lab.ipmi.address,
        "ipport": str(lab.ipmi.port),
        "username": lab_ipmi.ADMIN_USER,
        "password": lab_ipmi.ADMIN_PASSWORD,
        "lanplus": "1",
        "cipher": "3",
        "power_timeout": "20",
    }
    redfish = {
        "ip": lab.redfish.host,
        "ipport": str(lab.redfish.port),
        "username": lab.redfish.username,
        "password": lab.redfish.password,
        "systems_uri": lab.system,
        "power_timeout": "20",
    }
    ca = str(lab.redfish.ca_file)
    # fence_redfish verifies TLS through requests, which reads the CA from the
    # environment; hakit sets trust_env off and reads ssl_ca_file instead.
    redfish_env = {**BASE_ENV, "REQUESTS_CA_BUNDLE": ca}
    return [
        Agent(
            "hakit_ipmi",
            "fence_hakit_ipmi",
            "ipmi",
            [hakit_ipmi],
            {**ipmi, "power_wait": "0"},
            dict(BASE_ENV),
        ),
        Agent(
            "fence_ipmilan",
            "fence_ipmilan (defaults: power_wait=2)",
            "ipmi",
            [FENCE_IPMILAN],
            dict(ipmi),
            dict(BASE_ENV),
        ),
        Agent(
            "fence_ipmilan_pw0",
            "fence_ipmilan power_wait=0",
            "ipmi",
            [FENCE_IPMILAN],
            {**ipmi, "power_wait": "0"},
            dict(BASE_ENV),
            actions=("off", "reboot"),  # status never waits
        ),
        Agent(
            "hakit_redfish",
            "fence_hakit_redfish",
            "redfish",
            [hakit_redfish],
            {**redfish, "power_wait": "0", "ssl_ca_file": ca},
            redfish_env,
        ),
        Agent(
            "fence_redfish",
            "fence_redfish (defaults: power_wait=0)",
            "redfish",
            [FENCE_REDFISH],
            dict(redfish),
            redfish_env,
        ),
        *(
            Agent(
                f"floor_{module}",
                f"floor: {_interpreter(hakit_redfish)} -sS, import {module}",
                "redfish",
                _floor_argv(hakit_redfish, module),
                {},
                dict(BASE_ENV),
                actions=("status",),
            )
            for module in FLOORS
        ),
    ]


#: Floor agents (see the module docstring): modules a Redfish agent imports.
FLOORS = ("requests", "redfish")


def _floor_argv(launcher: str, module: str) -> list[str]:
    """The launcher's interpreter and search path, importing only ``module``."""
    lines = Path(launcher).read_text().splitlines()
    setup = [line for line in lines[1:] if "sys.path" in line]
    code = "\n".join([*setup, FLOOR_CODE.format(module=module)])
    return [_interpreter(launcher), "-sS", "-c", code]


#: (hakit agent, ClusterLabs agent) pairs compared in the table.
PAIRS = (
    ("hakit_ipmi", "fence_ipmilan"),
    ("hakit_ipmi", "fence_ipmilan_pw0"),
    ("hakit_redfish", "fence_redfish"),
)


# -- machine facts ------------------------------------------------------------


def _out(argv: list[str]) -> str:
    try:
        done = subprocess.run(
            argv, capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return (done.stdout or done.stderr).strip() or "unknown"


def _interpreter(launcher: str) -> str:
    first = Path(launcher).read_text().splitlines()[0]
    return first[2:].split()[0] if first.startswith("#!") else "unknown"


def _version(python: str, dist: str) -> str:
    code = f"import importlib.metadata as m; print(m.version({dist!r}))"
    return _out([python, "-c", code])


def _deb(package: str) -> str:
    return _out(["dpkg-query", "-W", "-f", "${Version}", package])


def _commit() -> str:
    """HEAD, marked when the agents' packages have uncommitted changes."""
    git = ["git", "-C", str(ROOT)]
    head = _out([*git, "rev-parse", "--short", "HEAD"])
    paths = ["fence_agents", "ha_common", "packaging"]
    try:
        dirty = subprocess.run(
            [*git, "status", "--porcelain", "--", *paths],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        ).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return head
    return head + (f" ({', '.join(paths)} modified)" if dirty else "")


def machine_facts(hakit_ipmi: str, hakit_redfish: str) -> dict[str, Any]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ipmi_py = _interpreter(hakit_ipmi)
    redfish_py = _interpreter(hakit_redfish)
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime(
            "%Y-%m-%d %H:%M UTC"
        ),
        "kernel": platform.release(),
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "loadavg at the start": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "fence_hakit_ipmi_python": f"{ipmi_py} {_out([ipmi_py, '-V']).split()[-1]}",
        "fence_hakit_redfish_python": (
            f"{redfish_py} {_out([redfish_py, '-V']).split()[-1]}"
        ),
        "fence_ipmilan/fence_redfish python": _interpreter(FENCE_IPMILAN),
        "hakit commit": _commit(),
        "pyghmi": f"{_version(ipmi_py, 'pyghmi')} (Debian python3-pyghmi "
        f"{_deb('python3-pyghmi')})",
        "redfish": _version(redfish_py, "redfish"),
        "fence-agents": _deb("fence-agents"),
        "ipmitool": _deb("ipmitool"),
        "openipmi (ipmi_sim)": _deb("openipmi"),
        "sushy-tools": _version(sys.executable, "sushy-tools"),
    }


# -- report -------------------------------------------------------------------


def _s(value: float) -> str:
    return f"{value:.3f}"


def _range(stat: dict[str, float]) -> str:
    return f"{_s(stat['median'])} ({_s(stat['min'])}–{_s(stat['max'])})"


def report(
    results: dict[tuple[str, str], Series],
    by_key: dict[str, Agent],
    facts: dict[str, Any],
    runs: int,
) -> tuple[str, dict[str, Any]]:
    rows = []
    lines = [
        "# Fence agents: hakit against ClusterLabs",
        "",
        f"Wall time of the whole agent process, fork+exec to exit, in seconds: "
        f"median (min–max) of {runs} runs each, after one untimed run; the agents "
        "of one BMC run interleaved. Options on stdin (key=value); power set ON "
        "before every run and ipmi_sim restarted before each IPMI action, "
        "outside the timing. "
        "hakit/ClusterLabs is the ratio of the medians; the targets: IPMI "
        f"status {target('ipmi', 'status'):.2f}, IPMI off and reboot "
        f"{target('ipmi', 'off'):.2f}, Redfish {target('redfish', 'status'):.2f}.",
        "",
        "| BMC | action | hakit | ClusterLabs agent | ClusterLabs "
        "| hakit/ClusterLabs | met |",
        "|---|---|---:|---|---:|---:|:-:|",
    ]
    for hakit_key, cl_key in PAIRS:
        cl = by_key[cl_key]
        for action in cl.actions:
            h = results[(hakit_key, action)].stat("wall")
            c = results[(cl_key, action)].stat("wall")
            ratio = h["median"] / c["median"]
            met = ratio <= target(cl.bmc, action)
            rows.append(
                {
                    "bmc": cl.bmc,
                    "action": action,
                    "hakit": hakit_key,
                    "clusterlabs": cl_key,
                    "hakit_median": h["median"],
                    "clusterlabs_median": c["median"],
                    "ratio": ratio,
                    "met": met,
                }
            )
            lines.append(
                f"| {'IPMI' if cl.bmc == 'ipmi' else 'Redfish'} | {action} "
                f"| {_range(h)} | {cl.label} | {_range(c)} | {ratio:.2f} "
                f"| {'yes' if met else 'NO'} |"
            )
    floors = [k for k in by_key if k.startswith("floor_") and (k, "status") in results]
    if floors and ("fence_redfish", "status") in results:
        cl = results[("fence_redfish", "status")].stat("wall")["median"]
        lines += [
            "",
            "Floors for Redfish `status` (interleaved with the agents above): the "
            "Redfish agent's interpreter importing one library and leaving as the "
            "agents do, with no request at all. A client built on it cannot take "
            "less than its floor.",
            "",
            "| floor | wall s | share of fence_redfish status |",
            "|---|---:|---:|",
        ]
        for key in floors:
            f = results[(key, "status")].stat("wall")
            lines.append(
                f"| {by_key[key].label} | {_range(f)} | {f['median'] / cl:.2f} |"
            )
            rows.append(
                {
                    "bmc": "redfish",
                    "action": "status",
                    "floor": key,
                    "floor_median": f["median"],
                    "clusterlabs_median": cl,
                    "ratio": f["median"] / cl,
                }
            )
    lines += [
        "",
        "CPU time (user+sys, children included: fence_ipmilan's ipmitool "
        "processes) and peak RSS of the largest process, medians:",
        "",
        "| agent | action | wall s | CPU s | peak RSS MiB |",
        "|---|---|---:|---:|---:|",
    ]
    ordered = [
        (key, action, results[(key, action)])
        for key in by_key
        for action in ACTIONS
        if (key, action) in results
    ]
    for key, action, series in ordered:
        lines.append(
            f"| {by_key[key].label} | {action} | {_s(series.stat('wall')['median'])} "
            f"| {_s(series.stat('cpu')['median'])} "
            f"| {series.stat('maxrss_kib')['median'] / 1024:.1f} |"
        )
    lines += ["", "Machine and versions:", ""]
    lines += [f"- {name}: {value}" for name, value in facts.items()]
    lines += [
        "",
        "Options: IPMI `lanplus=1 cipher=3 power_timeout=20` (hakit adds "
        "`power_wait=0`, its default); Redfish `systems_uri=… power_timeout=20`, "
        "TLS verified against the emulator's CA (hakit `ssl_ca_file`, "
        "fence_redfish `REQUESTS_CA_BUNDLE`). Simulators: OpenIPMI ipmi_sim, "
        "sushy-tools fake driver with power changes visible at once.",
    ]
    data = {
        "runs": runs,
        "target_ratio": TARGET_RATIO,
        "targets": {f"{b} {a or '*'}": r for (b, a), r in TARGETS.items()},
        "machine": facts,
        "agents": {
            a.key: {
                "label": a.label,
                "bmc": a.bmc,
                "argv": a.argv,
                # the password is a lab credential, but keep it out anyway
                "options": {k: v for k, v in a.options.items() if k != "password"},
            }
            for a in by_key.values()
        },
        "comparisons": rows,
        "series": [
            {
                "agent": s.agent,
                "action": s.action,
                "wall": s.stat("wall"),
                "cpu": s.stat("cpu"),
                "maxrss_kib_median": s.stat("maxrss_kib")["median"],
                "samples": [vars(x) for x in s.samples],
            }
            for _, _, s in ordered
        ],
    }
    return "\n".join(lines) + "\n", data


# -- main ---------------------------------------------------------------------


def preflight(installed: bool) -> None:
    tools = [FENCE_IPMILAN, FENCE_REDFISH, SYSTEM_PYTHON]
    tools += [INSTALLED_IPMI, INSTALLED_REDFISH] if installed else []
    for tool in tools:
        if not os.access(tool, os.X_OK):
            raise BenchError(f"{tool} is missing (see bench/README.md, Fence agents)")
    for why in (lab_ipmi.ipmi_sim_missing(), lab_redfish.redfish_missing()):
        if why:
            raise BenchError(why)


def bench(runs: int, output_dir: Path, installed: bool) -> None:
    preflight(installed)
    workdir = Path(tempfile.mkdtemp(prefix="hakit-fence-bench."))
    lab = Lab(workdir)
    try:
        if installed:
            hakit_ipmi, hakit_redfish = INSTALLED_IPMI, INSTALLED_REDFISH
        else:
            hakit_ipmi, hakit_redfish = stage(workdir / "stage")
        facts = machine_facts(hakit_ipmi, hakit_redfish)
        facts["hakit agents"] = (
            "installed launchers in /usr/sbin"
            if installed
            else "staged from the working tree by packaging/install.py"
        )
        lab.start()
        all_agents = agents(lab, hakit_ipmi, hakit_redfish)
        by_key = {a.key: a for a in all_agents}
        results: dict[tuple[str, str], Series] = {}
        for bmc in ("ipmi", "redfish"):
            for action in ACTIONS:
                group = [a for a in all_agents if a.bmc == bmc and action in a.actions]
                started = time.monotonic()
                for key, series in measure(lab, group, action, runs).items():
                    results[(key, action)] = series
                    wall = series.stat("wall")
                    print(
                        f"{by_key[key].label:42} {action:7} median "
                        f"{_s(wall['median'])} s (min {_s(wall['min'])}, "
                        f"max {_s(wall['max'])})",
                        flush=True,
                    )
                print(f"  ({time.monotonic() - started:.1f} s)", flush=True)
    finally:
        lab.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    facts["loadavg at the end"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    text, data = report(results, by_key, facts, runs)
    output_dir.mkdir(parents=True, exist_ok=True)
    text = _neutral(text, workdir)
    (output_dir / "fence.md").write_text(text)
    text_json = _neutral(json.dumps(data, indent=2), workdir)
    (output_dir / "fence.json").write_text(text_json + "\n")
    print()
    print(text, end="")
    print(f"fence_bench: wrote {output_dir / 'fence.md'} and fence.json")


def _neutral(text: str, workdir: Path) -> str:
    """``text`` without this machine's paths, for the committed results.

    The work directory (gone by now) becomes ``$WORK``, the virtualenv that
    runs the Redfish agents ``$VENV``: what a reader needs is which
    interpreter it was (the facts give its version), not where it lived.
    """
    text = text.replace(str(workdir), "$WORK")
    if sys.prefix != sys.base_prefix:
        text = text.replace(sys.prefix, "$VENV")
    return text


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10, help="timed runs per figure")
    parser.add_argument(
        "--output-dir",
        type=Path,
        default=HERE / "results",
        help="where fence.md and fence.json go (default bench/results)",
    )
    parser.add_argument(
        "--installed",
        action="store_true",
        help="time /usr/sbin/fence_hakit_{ipmi,redfish} instead of a private copy "
        "staged from the working tree",
    )
    args = parser.parse_args()
    if not 1 <= args.runs <= MAX_RUNS:
        parser.error(f"--runs must be 1 to {MAX_RUNS}")
    try:
        bench(args.runs, args.output_dir, args.installed)
    except BenchError as exc:
        print(f"fence_bench: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
