"""Prove the IPMI test lab with the real clients: ipmitool, pyghmi, fence_ipmilan.

Both simulators (OpenIPMI ``ipmi_sim`` and the pyghmi BMC process) must read
and change power, honour their fault knobs, and stop without leaving a process
behind, also when the process that started them is killed.  Every client call
is bounded: ipmitool and fence_ipmilan by subprocess timeouts, pyghmi (which
has no login timeout, LAB.md section 10) by a watchdog thread.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any, Callable, TypeVar

import psutil
import pytest

from tests.lab.ipmi import (
    ADMIN_PASSWORD,
    ADMIN_USER,
    BASE_PATH,
    FENCE_IPMILAN,
    IPMITOOL,
    OPERATOR_USER,
    IpmiSim,
    ipmi_sim_missing,
    pyghmi_missing,
)
from tests.lab.pyghmi_bmc import PyghmiBmc
from tests.unavailable import unavailable

pytestmark = pytest.mark.ipmi_sim

T = TypeVar("T")
Bmc = IpmiSim | PyghmiBmc

KG = "0123456789abcdef0123"
#: ipmitool options for a BMC that stalls: one 3 s try, so no retransmission.
NO_RETRY = ("-N", "3", "-R", "1")


@pytest.fixture(params=["ipmi_sim", "pyghmi_bmc"])
def bmc(request: pytest.FixtureRequest) -> Bmc:
    """Each simulator in turn (fresh per test)."""
    return request.getfixturevalue(request.param)


def _wait_until(condition: Callable[[], bool], timeout: float, what: str) -> float:
    """Poll ``condition``; return the seconds it took, fail after ``timeout``."""
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > timeout:
            pytest.fail(f"not within {timeout} s: {what}")
        time.sleep(0.02)
    return time.monotonic() - start


def _bounded(call: Callable[[], T], timeout: float, what: str) -> T:
    """Run ``call`` in a daemon thread; fail the test if it outlasts ``timeout``."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = call()
        except BaseException as err:  # re-raised in the test thread
            outcome["error"] = err

    worker = threading.Thread(target=run, name=f"bounded: {what}", daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        pytest.fail(f"{what} did not return within {timeout} s")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def _pyghmi() -> Any:
    """Import the pyghmi client modules, or fail/skip like a missing lab part."""
    try:
        from pyghmi import exceptions
        from pyghmi.ipmi import command
    except ImportError as err:
        unavailable(f"pyghmi is not importable: {err}")
    return command, exceptions


def _login(bmc: Bmc, password: bytes = ADMIN_PASSWORD.encode(), **kwargs: Any) -> Any:
    """Return a pyghmi ``Command`` logged in to ``bmc`` (bytes credentials, LAB §10)."""
    command, _ = _pyghmi()
    return _bounded(
        lambda: command.Command(
            bmc.address,
            ADMIN_USER.encode(),
            password,
            port=bmc.port,
            keepalive=False,
            **kwargs,
        ),
        10,
        f"pyghmi login to {bmc!r}",
    )


def _logout(client: Any) -> None:
    _bounded(client.ipmi_session.logout, 10, "pyghmi logout")


def _status(bmc: Bmc, **kwargs: Any) -> str:
    result = bmc.ipmitool("chassis", "power", "status", **kwargs)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def _fence_ipmilan(bmc: Bmc, action: str, cipher: int | None) -> tuple[int, str]:
    """Run ClusterLabs fence_ipmilan with its options (password too) on stdin."""
    options = {
        "ip": bmc.address,
        "ipport": str(bmc.port),
        "username": ADMIN_USER,
        "password": ADMIN_PASSWORD,
        "lanplus": "1",
        "action": action,
    }
    if cipher is not None:
        options["cipher"] = str(cipher)
    result = subprocess.run(
        [FENCE_IPMILAN],
        input="".join(f"{key}={value}\n" for key, value in options.items()),
        env={"PATH": BASE_PATH, "LANG": "C"},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    return result.returncode, result.stdout.strip()


# -- ipmitool ---------------------------------------------------------------------


def test_ipmitool_reads_and_changes_power(ipmi_sim: IpmiSim) -> None:
    """status/off/on/cycle with ``-I lanplus -C 3`` act on the state file."""
    assert ipmi_sim.power
    assert _status(ipmi_sim) == "Chassis Power is on"

    off = ipmi_sim.ipmitool("chassis", "power", "off")
    assert off.returncode == 0, off.stderr
    assert not ipmi_sim.power
    assert _status(ipmi_sim) == "Chassis Power is off"

    assert ipmi_sim.ipmitool("chassis", "power", "on").returncode == 0
    assert ipmi_sim.power
    assert ipmi_sim.history == ["get power", "set power 0", "get power", "set power 1"]

    ipmi_sim.clear_history()
    cycle = ipmi_sim.ipmitool("chassis", "power", "cycle")
    assert cycle.returncode == 0, cycle.stderr
    assert not ipmi_sim.power  # the off half runs before ipmi_sim answers
    took = _wait_until(lambda: ipmi_sim.power, 5, "power back on after cycle")
    assert 0.5 < took < 3
    assert ipmi_sim.history == ["set power 0", "get power", "set power 1"]


def test_ipmitool_sees_power_set_behind_the_bmcs_back(bmc: Bmc) -> None:
    bmc.set_power(False)
    assert _status(bmc) == "Chassis Power is off"
    bmc.set_power(True)
    assert _status(bmc) == "Chassis Power is on"


def test_pyghmi_bmc_cycle_and_cipher_suites(pyghmi_bmc: PyghmiBmc) -> None:
    """Cycle is off, then on 1 s later; suite 3 (and discovery) work, 17 is refused."""
    cycle = pyghmi_bmc.ipmitool("chassis", "power", "cycle")
    assert cycle.returncode == 0, cycle.stderr
    assert not pyghmi_bmc.power
    took = _wait_until(lambda: pyghmi_bmc.power, 5, "power back on after cycle")
    assert 0.5 < took < 3
    assert pyghmi_bmc.history == ["set cycle 1"]

    assert _status(pyghmi_bmc, cipher=None) == "Chassis Power is on"
    start = time.monotonic()
    refused = pyghmi_bmc.ipmitool("chassis", "power", "status", cipher=17)
    assert refused.returncode != 0
    assert time.monotonic() - start < 5


def test_ipmi_sim_operator_user_logs_in(ipmi_sim: IpmiSim) -> None:
    assert _status(ipmi_sim, user=OPERATOR_USER, options=("-L", "OPERATOR")) == (
        "Chassis Power is on"
    )


# -- fault knobs ------------------------------------------------------------------


def test_stuck_on_acknowledges_off_but_stays_on(bmc: Bmc) -> None:
    bmc.set_fault("stuck_on")
    off = bmc.ipmitool("chassis", "power", "off")
    assert off.returncode == 0, off.stderr
    assert "Down/Off" in off.stdout
    assert "set power 0" in bmc.history
    assert bmc.power
    assert _status(bmc) == "Chassis Power is on"

    bmc.clear_faults()
    assert bmc.ipmitool("chassis", "power", "off").returncode == 0
    assert not bmc.power


def test_fail_control_is_an_ipmitool_error(bmc: Bmc) -> None:
    bmc.set_fault("fail_control")
    off = bmc.ipmitool("chassis", "power", "off")
    assert off.returncode != 0
    assert off.stderr.strip()
    assert bmc.power
    assert _status(bmc) == "Chassis Power is on"  # status still answers


def test_fail_status_is_an_ipmitool_error(bmc: Bmc) -> None:
    bmc.set_fault("fail_status")
    status = bmc.ipmitool("chassis", "power", "status")
    assert status.returncode != 0
    assert status.stderr.strip()


def test_slow_bmc_delays_every_answer(bmc: Bmc) -> None:
    bmc.set_fault("slow_seconds", 1.0)
    start = time.monotonic()
    assert _status(bmc, options=NO_RETRY) == "Chassis Power is on"
    assert time.monotonic() - start >= 1.0

    bmc.clear_faults()
    start = time.monotonic()
    assert _status(bmc, options=NO_RETRY) == "Chassis Power is on"
    assert time.monotonic() - start < 0.9


def test_unknown_fault_is_refused(bmc: Bmc) -> None:
    with pytest.raises(ValueError):
        bmc.set_fault("on_fire")


# -- pyghmi client ------------------------------------------------------------------


def test_pyghmi_client_reads_and_sets_power(bmc: Bmc) -> None:
    client = _login(bmc)
    try:
        assert _bounded(client.get_power, 10, "get_power") == {"powerstate": "on"}
        done = _bounded(lambda: client.set_power("off", wait=5), 15, "set_power off")
        assert done == {"powerstate": "off"}
        assert not bmc.power
        pending = _bounded(lambda: client.set_power("on"), 10, "set_power on")
        assert pending == {"pendingpowerstate": "on"}
        _wait_until(lambda: bmc.power, 3, "power on")
    finally:
        _logout(client)


@pytest.mark.parametrize(
    "pyghmi_bmc", [{"power_delay": 1.0}], indirect=True, ids=["delay-1s"]
)
def test_pyghmi_bmc_power_changes_after_delay(pyghmi_bmc: PyghmiBmc) -> None:
    client = _login(pyghmi_bmc)
    try:
        start = time.monotonic()
        pending = _bounded(lambda: client.set_power("off"), 10, "set_power off")
        assert pending == {"pendingpowerstate": "off"}
        assert _bounded(client.get_power, 10, "get_power") == {"powerstate": "on"}
        assert pyghmi_bmc.power
        _wait_until(lambda: not pyghmi_bmc.power, 3, "delayed power off")
        assert time.monotonic() - start >= 0.9
        assert _bounded(client.get_power, 10, "get_power") == {"powerstate": "off"}
    finally:
        _logout(client)


def test_pyghmi_client_wrong_password_fails_fast(bmc: Bmc) -> None:
    _, exceptions = _pyghmi()
    start = time.monotonic()
    with pytest.raises(exceptions.IpmiException):
        _login(bmc, password=b"not-the-password")
    assert time.monotonic() - start < 2


@pytest.mark.parametrize("pyghmi_bmc", [{"kg": KG}], indirect=True, ids=["kg"])
def test_pyghmi_bmc_with_kg(pyghmi_bmc: PyghmiBmc) -> None:
    """With a BMC key, clients log in with that Kg only."""
    assert _status(pyghmi_bmc, kg=KG) == "Chassis Power is on"
    assert pyghmi_bmc.ipmitool("chassis", "power", "status").returncode != 0

    client = _login(pyghmi_bmc, kg=KG.encode())
    try:
        assert _bounded(client.get_power, 10, "get_power") == {"powerstate": "on"}
    finally:
        _logout(client)

    _, exceptions = _pyghmi()
    with pytest.raises(exceptions.IpmiException):
        _login(pyghmi_bmc)


# -- fence_ipmilan ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sim", "cipher"),
    [("ipmi_sim", 3), ("pyghmi_bmc", None)],
    ids=["ipmi_sim", "pyghmi"],
)
def test_fence_ipmilan_status(
    request: pytest.FixtureRequest, sim: str, cipher: int | None
) -> None:
    """fence_ipmilan --lanplus [--cipher 3] -o status: rc 0 for ON, 2 for OFF."""
    if not os.access(FENCE_IPMILAN, os.X_OK):
        unavailable(f"{FENCE_IPMILAN} is missing (install fence-agents)")
    bmc: Bmc = request.getfixturevalue(sim)

    start = time.monotonic()
    assert _fence_ipmilan(bmc, "status", cipher) == (0, "Status: ON")
    assert time.monotonic() - start < 5

    bmc.set_power(False)
    assert _fence_ipmilan(bmc, "status", cipher) == (2, "Status: OFF")
    assert bmc.history == ["get power", "get power"]


# -- process hygiene ----------------------------------------------------------------


def _lab_processes(marker: str) -> list[psutil.Process]:
    """Return the live (non-zombie) processes whose command line mentions ``marker``."""
    found = []
    for proc in psutil.process_iter(["cmdline", "status"]):
        if proc.pid == os.getpid() or proc.info["status"] == psutil.STATUS_ZOMBIE:
            continue
        if any(marker in arg for arg in proc.info["cmdline"] or ()):
            found.append(proc)
    return found


def _ipmitool_argv(sim: Bmc) -> list[str]:
    """Return an ipmitool argv for ``sim`` that reads the password from the env."""
    return [
        IPMITOOL, "-I", "lanplus", "-C", "3", "-H", sim.address,
        "-p", str(sim.port), "-U", ADMIN_USER, "-E", *NO_RETRY,
    ]  # fmt: skip


def test_stop_ends_a_stalled_bmc_and_its_control_script(
    ipmi_sim: IpmiSim, pyghmi_bmc: PyghmiBmc
) -> None:
    """stop() is bounded even while the BMC sleeps in a request, and kills it all."""
    stalled = []
    for sim in (ipmi_sim, pyghmi_bmc):
        sim.set_fault("slow_seconds", 30)
        stalled.append(
            subprocess.Popen(
                [*_ipmitool_argv(sim), "chassis", "power", "status"],
                env={"PATH": BASE_PATH, "IPMI_PASSWORD": ADMIN_PASSWORD},
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
    try:
        _wait_until(lambda: "get power" in ipmi_sim.history, 5, "ipmi_sim stalls")
        _wait_until(lambda: "get power" in pyghmi_bmc.history, 5, "pyghmi stalls")
        assert _lab_processes(str(ipmi_sim.control_program))  # sleeping script
        for sim in (ipmi_sim, pyghmi_bmc):
            start = time.monotonic()
            sim.stop(timeout=2)
            assert time.monotonic() - start < 4
            assert not sim.is_running()
        assert _lab_processes(str(ipmi_sim.workdir)) == []
        assert _lab_processes(str(pyghmi_bmc.workdir)) == []
    finally:
        for proc in stalled:
            proc.kill()
            proc.wait(timeout=5)


def test_bmcs_die_with_the_process_that_started_them(tmp_path: Path) -> None:
    """A SIGKILLed test process takes both BMCs with it (pdeathsig)."""
    for reason in (ipmi_sim_missing(), pyghmi_missing()):
        if reason:
            unavailable(reason)
    script = textwrap.dedent(
        f"""
        import sys, time
        from tests.lab.ipmi import IpmiSim, free_udp_port
        from tests.lab.pyghmi_bmc import PyghmiBmc
        sim = IpmiSim({str(tmp_path / "sim")!r}, free_udp_port())
        bmc = PyghmiBmc(free_udp_port(), workdir={str(tmp_path / "bmc")!r})
        sim.start(timeout=15)
        bmc.start(timeout=15)
        print(sim.pid, bmc.pid, flush=True)
        time.sleep(60)
        """
    )
    repo = Path(__file__).resolve().parents[2]
    owner = subprocess.Popen(
        [sys.executable, "-c", script],
        cwd=repo,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        assert owner.stdout is not None
        line = _bounded(owner.stdout.readline, 30, "BMCs started by the helper")
        pids = [int(pid) for pid in line.split()]
        assert len(pids) == 2, line
        assert all(psutil.pid_exists(pid) for pid in pids)
    finally:
        owner.send_signal(signal.SIGKILL)
        owner.wait(timeout=5)

    def all_dead() -> bool:
        for pid in pids:
            try:
                if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                    return False
            except psutil.NoSuchProcess:
                pass
        return True

    _wait_until(all_dead, 5, "BMC processes gone after their owner was killed")
