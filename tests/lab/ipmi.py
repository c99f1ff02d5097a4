"""Real IPMI BMCs on 127.0.0.1 for fence-agent tests: OpenIPMI and pyghmi.

Two simulators with one API (LAB.md sections 9 and 10):

* :class:`IpmiSim` runs OpenIPMI ``ipmi_sim -n -c lan.conf -f bmc.emu -s
  persist``.  ipmi_sim keeps no power state: it ``popen()``s a generated
  chassis-control shell script for every status and control request, and the
  script keeps the power state in a file.  With ``bridged=(0x40, ...)`` it
  also emulates management controllers at those IPMB addresses, reached
  through the BMC's Send Message (``ipmitool -t 0x40``); each has its own
  chassis-control state, see :class:`BridgedMc`.
* :class:`tests.lab.pyghmi_bmc.PyghmiBmc` runs a subclass of
  ``pyghmi.ipmi.bmc.Bmc`` (the virtualbmc base class) in its own Python
  process, so it never shares the pyghmi IO thread of a client in the test
  process.  It adds delayed power changes and an optional Kg, and refuses
  cipher suite 17 so that pyghmi clients fall back to suite 3.

Both keep their state in plain files under ``<workdir>/state`` (a bridged
controller under ``<workdir>/state-0x40``) that tests read and flip at run
time:

``power``
    ``1`` or ``0``; :attr:`power` and :meth:`set_power`.
``history``
    one line per chassis request received since the last start, in the
    ipmi_sim chassis-control vocabulary: ``get power``, ``set power 0``,
    ``set power 1``, ``set reset 1``, ``set shutdown 1`` (ipmi_sim turns a
    power cycle into ``set power 0`` and, 1 s later, ``get power`` and ``set
    power 1``; the pyghmi BMC logs ``set cycle 1`` and ``set diag 1``).
fault files (:meth:`set_fault`, :meth:`clear_faults`)
    ``stuck_on``: power-off, soft-off and cycle are acknowledged but the power
    stays on.  ``fail_control``: every control request fails with completion
    code 0xff.  ``fail_status``: every status request fails with 0xff.
    ``slow_seconds``: the BMC sleeps that many seconds before answering a
    chassis request; both BMCs are single threaded, so it stalls them whole.
    The pyghmi BMC only: ``late_seconds``: it carries a chassis request out
    at once and sleeps that long before answering; ``drop_answers``: the
    next N chassis requests are carried out but not answered
    (``drop_control_answers``: the next N Chassis Control requests);
    ``drop_duplicates``: a retransmitted request (same session, IPMI
    sequence number and data) is answered again without being carried out
    again.  Without it, the pyghmi BMC carries a retransmit out twice, as
    pyghmi's stock server does.
``transitions``
    one line per power change the BMC wrote (wall-clock time, ``1``/``0``);
    the pyghmi BMC only (ipmi_sim's chassis-control script writes ``power``
    itself).

Every child runs in its own session under ``setpriv --pdeathsig KILL``: it
dies with the thread that started it (the pytest main thread) even when the
test process is killed.  :meth:`stop` sends SIGTERM to the recorded pid, then
SIGKILL to its process group, which also ends a chassis-control script that is
sleeping for ``slow_seconds``.  Nothing is ever killed by name.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

import psutil

from .ports import LOOPBACK, PLANNED_PORTS, PORT_MAX, PORT_MIN

#: Planned UDP ports (LAB.md section 9); fixtures use a fresh free port per
#: test instead, see :func:`free_udp_port`.
IPMI_SIM_PORT = 31623
PYGHMI_BMC_PORT = 31624

ADMIN_USER = "admin"
ADMIN_PASSWORD = "adminpass"  # noqa: S105 - lab credential
#: ipmi_sim only.  Its privilege limit is not enforced (LAB.md section 9).
OPERATOR_USER = "operator"
OPERATOR_PASSWORD = "operpass"  # noqa: S105 - lab credential

FAULTS = (
    "stuck_on",
    "fail_control",
    "fail_status",
    "slow_seconds",
    # The pyghmi BMC only:
    "late_seconds",
    "drop_answers",
    "drop_control_answers",
    "drop_duplicates",
)
#: Faults whose value is a number (seconds, or a count), not a switch.
NUMERIC_FAULTS = (
    "slow_seconds",
    "late_seconds",
    "drop_answers",
    "drop_control_answers",
)

IPMI_SIM = "/usr/bin/ipmi_sim"
IPMITOOL = "/usr/bin/ipmitool"
FENCE_IPMILAN = "/usr/sbin/fence_ipmilan"
BASE_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"

#: ipmi_sim waits this long between the off and on halves of a power cycle.
CYCLE_OFF_SECONDS = 1.0
#: The simulated BMC's own IPMB address; bridged controllers need another.
BMC_IPMB_ADDRESS = 0x20
#: ipmi_sim's Get Device ID answer for every controller (mc_add arguments after
#: the address): device id 0, revision 0x23, firmware 9.08, device support
#: 0x9f (chassis device among others), manufacturer 0x1291, product 0xf02.
_MC_IDENTITY = "0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02 persist_sdr"

_REPO = Path(__file__).resolve().parents[2]
_POLL = 0.05
_KILL_GRACE = 5.0
# Characters that survive ipmi_sim's config parser and the popen() shell
# unquoted; anything else in the workdir path is refused.
_SAFE_PATH_CHARS = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._+-=,@%"
)


# -- availability and ports ---------------------------------------------------


def _setpriv() -> str | None:
    return shutil.which("setpriv", path=BASE_PATH)


def ipmi_sim_missing() -> str | None:
    """Return why :class:`IpmiSim` cannot run here, or None when it can."""
    for tool in (IPMI_SIM, IPMITOOL):
        if not os.access(tool, os.X_OK):
            return f"{tool} is missing (install the Debian openipmi and ipmitool)"
    if _setpriv() is None:
        return "setpriv (util-linux) is missing"
    return None


def pyghmi_missing() -> str | None:
    """Return why :class:`PyghmiBmc` cannot run here, or None when it can."""
    if importlib.util.find_spec("pyghmi") is None:
        return f"pyghmi is not importable by {sys.executable}"
    if _setpriv() is None:
        return "setpriv (util-linux) is missing"
    return None


def udp_port_is_free(port: int, host: str = LOOPBACK) -> bool:
    """Return True when a UDP socket can bind ``host:port`` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def free_udp_port(host: str = LOOPBACK, attempts: int = 200) -> int:
    """Return a UDP port in 30000-31999 that is free on ``host``, outside the plan.

    A fresh port per BMC also keeps pyghmi clients in the test process from
    reusing a cached session of an earlier BMC on the same port.
    Raises RuntimeError when ``attempts`` random candidates are all taken.
    """
    import random  # noqa: PLC0415

    rng = random.SystemRandom()
    planned = PLANNED_PORTS | {IPMI_SIM_PORT, PYGHMI_BMC_PORT}
    for _ in range(attempts):
        port = rng.randint(PORT_MIN, PORT_MAX)
        if port not in planned and udp_port_is_free(port, host):
            return port
    raise RuntimeError(f"no free UDP port in {PORT_MIN}-{PORT_MAX} on {host}")


# -- state files shared by the test process and the BMC processes ------------


class _StateFiles:
    """The power, history and fault files of one BMC (see the module docstring)."""

    def __init__(self, state_dir: Path) -> None:
        self.dir = state_dir
        self.power_file = state_dir / "power"
        self.history_file = state_dir / "history"

    def read_power(self) -> bool:
        try:
            return self.power_file.read_text().strip() == "1"
        except FileNotFoundError:
            return False

    def write_power(self, on: bool) -> None:
        was = self.read_power() if self.power_file.exists() else None
        tmp = self.dir / f"power.tmp.{os.getpid()}.{threading.get_ident()}"
        tmp.write_text("1\n" if on else "0\n")
        os.replace(tmp, self.power_file)
        if was is not None and was != on:
            with open(self.dir / "transitions", "a") as handle:
                handle.write(f"{time.time():.3f} {1 if on else 0}\n")

    def transitions(self) -> list[tuple[float, bool]]:
        """Power changes written by the BMC process (wall clock, new power)."""
        try:
            lines = (self.dir / "transitions").read_text().splitlines()
        except FileNotFoundError:
            return []
        return [(float(t), v == "1") for t, v in (x.split() for x in lines if x)]

    def fault(self, name: str) -> bool:
        return (self.dir / name).exists()

    def number(self, name: str) -> float:
        try:
            return float((self.dir / name).read_text().strip() or 0)
        except (FileNotFoundError, ValueError):
            return 0.0

    def slow_seconds(self) -> float:
        return self.number("slow_seconds")

    def take(self, name: str) -> bool:
        """Use up one of a counted fault (``drop_answers``); False when none is left."""
        left = int(self.number(name))
        if left <= 0:
            return False
        tmp = self.dir / f"{name}.tmp.{os.getpid()}.{threading.get_ident()}"
        tmp.write_text(f"{left - 1}\n")
        os.replace(tmp, self.dir / name)
        return True

    def set_fault(self, name: str, value: bool | float | str) -> None:
        if name not in FAULTS:
            raise ValueError(f"unknown fault {name!r}; known: {', '.join(FAULTS)}")
        path = self.dir / name
        if value is False or value is None:
            path.unlink(missing_ok=True)
            return
        text = str(float(value)) if name in NUMERIC_FAULTS else "1"
        tmp = self.dir / f"{name}.tmp.{os.getpid()}"
        tmp.write_text(text + "\n")
        os.replace(tmp, path)

    def clear_faults(self) -> None:
        for name in FAULTS:
            (self.dir / name).unlink(missing_ok=True)

    def record(self, line: str) -> None:
        with open(self.history_file, "a") as handle:
            handle.write(line + "\n")

    def history(self) -> list[str]:
        try:
            return self.history_file.read_text().splitlines()
        except FileNotFoundError:
            return []


# -- process handling -----------------------------------------------------------


def _alive(pid: int) -> bool:
    """Return True while ``pid`` runs; a zombie counts as dead (LAB.md section 2)."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False


def _wait_dead(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while _alive(pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(_POLL)
    return True


def _stop_child(proc: subprocess.Popen[bytes], timeout: float) -> None:
    """SIGTERM our session leader ``proc``, then SIGKILL its whole group.

    The group is killed while the leader is still an unreaped zombie: until
    :meth:`Popen.wait` reaps it, its pid (the group id) cannot be reused, so
    the group kill can only reach our own processes.
    """
    if proc.returncode is None:
        try:
            # Not proc.send_signal(): it polls first, which would reap the leader.
            os.kill(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        _wait_dead(proc.pid, timeout)
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    try:
        proc.wait(timeout=_KILL_GRACE)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=_KILL_GRACE)


class _Chassis:
    """The tests' view of one simulated chassis: power, faults and history."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self._state = _StateFiles(state_dir)

    @property
    def power(self) -> bool:
        """Return the simulated chassis power: True is on."""
        return self._state.read_power()

    def set_power(self, on: bool) -> None:
        """Set the chassis power behind the BMC's back (someone pressed the button)."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self._state.write_power(on)

    def set_fault(self, name: str, value: bool | float = True) -> None:
        """Switch fault ``name`` on or off (False); see :data:`FAULTS`.

        ``value`` is the number of seconds for ``slow_seconds``.  Takes effect
        with the next request.  Raises ValueError for an unknown name.
        """
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self._state.set_fault(name, value)

    def clear_faults(self) -> None:
        """Switch every fault off."""
        self._state.clear_faults()

    @property
    def history(self) -> list[str]:
        """Return the chassis requests received since the last start, oldest first."""
        return self._state.history()

    @property
    def transitions(self) -> list[tuple[float, bool]]:
        """Return the power changes the BMC made: (wall-clock time, power on)."""
        return self._state.transitions()

    def clear_history(self) -> None:
        """Forget the requests received so far."""
        self._state.history_file.write_text("")


class _Bmc(_Chassis):
    """Shared lifecycle, state and client helpers of the two simulators."""

    kind = "bmc"

    def __init__(
        self, workdir: os.PathLike[str] | str, port: int, *, initial_power: bool
    ) -> None:
        self.workdir = Path(workdir).resolve()
        super().__init__(self.workdir / "state")
        self.log_file = self.workdir / f"{self.kind}.log"
        self._port = port
        self._initial_power = initial_power
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def __repr__(self) -> str:
        """Show the class and the address."""
        return f"{type(self).__name__}({self.address}:{self.port}, pid={self.pid})"

    # -- description -------------------------------------------------------

    @property
    def port(self) -> int:
        """Return the UDP port the BMC listens on."""
        return self._port

    @property
    def address(self) -> str:
        """Return the IP address the BMC listens on (always 127.0.0.1)."""
        return LOOPBACK

    @property
    def pid(self) -> int | None:
        """Return the pid of the running BMC process, or None."""
        proc = self._proc
        return proc.pid if proc is not None and _alive(proc.pid) else None

    def is_running(self) -> bool:
        """Return True while the BMC process runs."""
        return self.pid is not None

    # -- clients -------------------------------------------------------------

    def ipmitool(
        self,
        *args: str,
        user: str = ADMIN_USER,
        password: str | None = None,
        cipher: int | None = 3,
        options: Sequence[str] = ("-N", "1", "-R", "2"),
        kg: str | None = None,
        timeout: float = 15.0,
    ) -> subprocess.CompletedProcess[str]:
        """Run ``ipmitool -I lanplus`` against this BMC and capture its output.

        The password (``ADMIN_PASSWORD`` unless given, ``OPERATOR_PASSWORD``
        for the operator) and Kg go through ``IPMI_PASSWORD``/``IPMI_KGKEY``
        (``-E``/``-K``), never argv.  ``cipher=None`` leaves ``-C`` out, which
        costs 10-14 s per call against ipmi_sim.  ``options`` go before the
        command (default: 1 s per try, 2 retries).  Raises
        subprocess.TimeoutExpired after ``timeout`` s.
        """
        if password is None:
            password = OPERATOR_PASSWORD if user == OPERATOR_USER else ADMIN_PASSWORD
        env = {"PATH": BASE_PATH, "LANG": "C", "IPMI_PASSWORD": password}
        argv = [IPMITOOL, "-I", "lanplus", "-H", self.address, "-p", str(self.port)]
        argv += ["-U", user, "-E"]
        if cipher is not None:
            argv += ["-C", str(cipher)]
        if kg is not None:
            env["IPMI_KGKEY"] = kg
            argv.append("-K")
        return subprocess.run(
            [*argv, *options, *args],
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    # -- lifecycle -----------------------------------------------------------

    def start(self, timeout: float = 10.0) -> None:
        """Start the BMC and return once it answers.

        A no-op while it runs.  The power file keeps its value across restarts
        (``initial_power`` when there is none); the history is emptied.  On
        failure everything started is stopped and RuntimeError (or
        TimeoutError) is raised, naming the log file.
        """
        if self.is_running():
            return
        self._halt(timeout=5.0)
        if not udp_port_is_free(self.port):
            raise RuntimeError(f"UDP port {LOOPBACK}:{self.port} is already in use")
        self.state_dir.mkdir(parents=True, exist_ok=True)
        if not self._state.power_file.exists():
            self._state.write_power(self._initial_power)
        argv, env, cwd = self._prepare()
        setpriv = _setpriv()
        if setpriv is None:
            raise RuntimeError("setpriv (util-linux) is missing")
        deadline = time.monotonic() + timeout
        self._log = open(self.log_file, "ab")  # noqa: SIM115 - kept open while running
        try:
            self._proc = subprocess.Popen(
                [setpriv, "--pdeathsig", "KILL", *argv],
                env=env,
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=self._log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            self._wait_ready(deadline)
        except BaseException:
            self._halt(timeout=5.0)
            raise
        self.clear_history()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the BMC: SIGTERM, wait up to ``timeout`` s, SIGKILL its process group.

        The group kill also ends a chassis-control script still sleeping for
        ``slow_seconds``.  Idempotent, and safe after a failed or missing start.
        """
        self._halt(timeout)

    def _halt(self, timeout: float) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            _stop_child(proc, timeout)
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> _Bmc:
        """Start the BMC."""
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        """Stop the BMC."""
        self.stop()

    # -- internals -----------------------------------------------------------

    def _prepare(self) -> tuple[list[str], dict[str, str], Path]:
        """Write the files; return the argv, environment and cwd of the BMC."""
        raise NotImplementedError

    def _probe(self, remaining: float) -> bool:
        raise NotImplementedError

    def _wait_ready(self, deadline: float) -> None:
        assert self._proc is not None
        while True:
            if not _alive(self._proc.pid):  # left unreaped for _stop_child
                raise RuntimeError(
                    f"{self.kind} exited while starting; see "
                    f"{self.log_file}:\n{self._log_tail()}"
                )
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(
                    f"{self.kind} on {LOOPBACK}:{self.port} did not answer in "
                    f"time; see {self.log_file}:\n{self._log_tail()}"
                )
            if self._probe(remaining):
                return
            time.sleep(_POLL)

    def _log_tail(self) -> str:
        try:
            return self.log_file.read_text(errors="replace")[-2000:]
        except OSError:
            return ""


# -- OpenIPMI ipmi_sim ----------------------------------------------------------

_CHASSIS_CONTROL = r"""#!/bin/sh
# Chassis control for ipmi_sim, generated by tests/lab/ipmi.py (LAB.md section 9).
# Called as: chassis-control STATEDIR get PARM... | set PARM VALUE...
state=$1
shift
printf '%s\n' "$*" >>"$state/history"
if [ -s "$state/slow_seconds" ]; then
    sleep "$(cat "$state/slow_seconds")"
fi
op=$1
shift
case $op in
get)
    if [ -e "$state/fail_status" ]; then
        echo "fault: fail_status"
        exit 1
    fi
    for parm in "$@"; do
        case $parm in
        power)
            val=0
            read -r val <"$state/power"
            echo "power:$val"
            ;;
        boot) echo "boot:default" ;;
        *)
            echo "Invalid parameter: $parm"
            exit 1
            ;;
        esac
    done
    ;;
set)
    if [ -e "$state/fail_control" ]; then
        echo "fault: fail_control"
        exit 1
    fi
    while [ $# -ge 2 ]; do
        parm=$1
        val=$2
        shift 2
        case $parm in
        power | shutdown)
            [ "$parm" = shutdown ] && val=0
            if [ "$val" = 0 ] && [ -e "$state/stuck_on" ]; then
                continue
            fi
            printf '%s\n' "$val" >"$state/power.tmp.$$"
            mv -f "$state/power.tmp.$$" "$state/power"
            ;;
        reset | boot) ;;
        identify)
            # identify INTERVAL FORCE
            [ $# -ge 1 ] && shift
            ;;
        *)
            echo "Invalid parameter: $parm"
            exit 1
            ;;
        esac
    done
    ;;
*)
    echo "Unknown operation: $op"
    exit 1
    ;;
esac
exit 0
"""


class BridgedMc(_Chassis):
    """A management controller behind an :class:`IpmiSim` BMC, reached by bridging.

    It sits at ``ipmb_address`` on the BMC's primary IPMB (channel 0).
    Requests for it travel inside the BMC's Send Message command (``ipmitool
    -t``, pyghmi's ``bridge_request``); it answers Get Chassis Status and
    Chassis Control from its own chassis-control state in
    ``<workdir>/state-0x40``, so its power, faults and history are apart from
    the BMC's.  ipmi_sim is single threaded: ``slow_seconds`` here stalls the
    whole simulator, BMC included.  An address with no controller is refused
    at once by the BMC (Send Message completion code 0x83, "NAK on write").
    """

    def __init__(self, sim: IpmiSim, ipmb_address: int) -> None:
        """Describe the controller at ``ipmb_address`` behind ``sim``."""
        super().__init__(sim.workdir / f"state-{ipmb_address:#04x}")
        self.sim = sim
        self.ipmb_address = ipmb_address

    def __repr__(self) -> str:
        """Show the address and the BMC."""
        return f"BridgedMc({self.target} behind {self.sim!r})"

    def reset(self, initial_power: bool) -> None:
        """Prepare the state for a start: power as left, else ``initial_power``.

        The history is emptied, as the BMC's is on every start.
        """
        self.state_dir.mkdir(parents=True, exist_ok=True)
        if not self._state.power_file.exists():
            self._state.write_power(initial_power)
        self.clear_history()

    @property
    def target(self) -> str:
        """Return the address as ``ipmitool -t`` and fence agents take it: ``0x40``."""
        return f"{self.ipmb_address:#04x}"

    def ipmitool(self, *args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
        """Run :meth:`IpmiSim.ipmitool` with ``-t`` this controller's address."""
        return self.sim.ipmitool("-t", self.target, *args, **kwargs)


class IpmiSim(_Bmc):
    """OpenIPMI ``ipmi_sim`` as one BMC on ``127.0.0.1:port`` (UDP).

    Users: ``admin``/``adminpass`` (ADMINISTRATOR) and ``operator``/``operpass``
    (max OPERATOR, not enforced by ipmi_sim).  RMCP+ cipher suites 0-3 and 6 and
    IPMI 1.5 MD5/MD2/straight work; always pass ``-C 3``.  Layout under
    ``workdir``: ``lan.conf``, ``bmc.emu``, ``chassis-control``, ``ipmi_sim.log``,
    ``persist/`` (wiped on every start, LAB.md section 9) and ``state/``.

    ``bridged`` lists IPMB addresses (even, 0x02-0xfe, not the BMC's 0x20) of
    further controllers behind the BMC; :attr:`bridged` maps each address to
    its :class:`BridgedMc`.  They start with ``initial_power`` too.
    """

    kind = "ipmi_sim"

    def __init__(
        self,
        workdir: os.PathLike[str] | str,
        port: int = IPMI_SIM_PORT,
        *,
        initial_power: bool = True,
        bridged: Sequence[int] = (),
    ) -> None:
        """Describe the simulator; nothing is written or started until :meth:`start`.

        Raises ValueError for a bridged address that is no usable IPMB
        address or is given twice.
        """
        super().__init__(workdir, port, initial_power=initial_power)
        self.lan_conf = self.workdir / "lan.conf"
        self.emu_file = self.workdir / "bmc.emu"
        self.control_program = self.workdir / "chassis-control"
        self.persist_dir = self.workdir / "persist"
        for address in bridged:
            usable = isinstance(address, int) and 0 < address < 0x100
            if not usable or address % 2 or address == BMC_IPMB_ADDRESS:
                raise ValueError(
                    f"bridged address {address!r} is not an IPMB slave address "
                    f"(even, 0x02-0xfe, not the BMC's {BMC_IPMB_ADDRESS:#04x})"
                )
        if len(set(bridged)) != len(bridged):
            raise ValueError(f"bridged addresses given twice: {list(bridged)}")
        self.bridged = {address: BridgedMc(self, address) for address in bridged}

    def _prepare(self) -> tuple[list[str], dict[str, str], Path]:
        bad = set(str(self.workdir)) - _SAFE_PATH_CHARS
        if bad:
            raise ValueError(
                f"ipmi_sim runs its chassis control through a shell; the workdir "
                f"{self.workdir} must not contain {''.join(sorted(bad))!r}"
            )
        self.workdir.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(self.persist_dir, ignore_errors=True)
        self.persist_dir.mkdir()
        self.control_program.write_text(_CHASSIS_CONTROL)
        self.control_program.chmod(0o755)
        auths = "md5 md2 straight"
        operator = f'"{OPERATOR_USER}" "{OPERATOR_PASSWORD}" operator'
        lines = [
            'name "hakitlab"',
            "set_working_mc 0x20",
            "  startlan 1",
            f"    addr {LOOPBACK} {self.port}",
            "    priv_limit admin",
            # NOTE: without a guid ipmi_sim 1.0.13 (openipmi 2.0.33) does not
            # announce IPMI 2.0 and every lanplus login fails.
            "    guid a123456789abcdefa123456789abcdef",
            *(f"    allowed_auths_{p} {auths}" for p in ("user", "operator", "admin")),
            "  endlan",
            f'  chassis_control "{self.control_program} {self.state_dir}"',
            f'  user 2 true "{ADMIN_USER}" "{ADMIN_PASSWORD}" admin 10 {auths}',
            f"  user 3 true {operator} 10 {auths}",
        ]
        emu = [f"mc_setbmc {BMC_IPMB_ADDRESS:#04x}"]
        for address in (BMC_IPMB_ADDRESS, *self.bridged):
            emu.append(f"mc_add {address:#04x} {_MC_IDENTITY}")
            emu.append(f"mc_enable {address:#04x}")
        for address, mc in self.bridged.items():
            # The same program on the controller's own state: its own power.
            program = f"{self.control_program} {mc.state_dir}"
            lines.append(f"set_working_mc {address:#04x}")
            lines.append(f'  chassis_control "{program}"')
            mc.reset(self._initial_power)
        lines.append("")
        fd = os.open(self.lan_conf, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write("\n".join(lines))
        self.emu_file.write_text("".join(f"{line}\n" for line in emu))
        argv = [IPMI_SIM, "-n", "-c", str(self.lan_conf), "-f", str(self.emu_file)]
        argv += ["-s", str(self.persist_dir)]
        return argv, {"PATH": BASE_PATH, "LANG": "C"}, self.workdir

    def _probe(self, remaining: float) -> bool:
        try:
            result = self.ipmitool(
                "chassis",
                "power",
                "status",
                options=("-N", "1", "-R", "1"),
                timeout=min(5.0, max(remaining, 0.5)),
            )
        except subprocess.TimeoutExpired:
            return False
        return result.returncode == 0
