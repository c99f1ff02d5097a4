"""The pyghmi BMC of the IPMI lab: ``pyghmi.ipmi.bmc.Bmc`` in its own process.

:class:`PyghmiBmc` shares its API and state files with
:class:`tests.lab.ipmi.IpmiSim` (see that module's docstring); this module
also holds the child's side, run as ``python -m tests.lab.pyghmi_bmc``.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .ipmi import (
    _REPO,
    ADMIN_PASSWORD,
    ADMIN_USER,
    BASE_PATH,
    CYCLE_OFF_SECONDS,
    PYGHMI_BMC_PORT,
    _Bmc,
    _StateFiles,
)

# -- pyghmi Bmc server ------------------------------------------------------------


def _auth_cap_probe() -> bytes:
    """Return a sessionless Get Channel Authentication Capabilities request."""
    rs_addr, netfn_lun, rq_addr, rq_seq, cmd = 0x20, 0x06 << 2, 0x81, 0, 0x38
    data = [0x8E, 0x04]  # IPMI 2.0 extended data, channel "this one", ADMIN
    header_sum = -(rs_addr + netfn_lun) & 0xFF
    body = [rq_addr, rq_seq, cmd, *data]
    msg = bytes([rs_addr, netfn_lun, header_sum, *body, -sum(body) & 0xFF])
    rmcp = bytes([0x06, 0x00, 0xFF, 0x07])
    session = bytes([0x00]) + bytes(4) + bytes(4) + bytes([len(msg)])
    return rmcp + session + msg


class PyghmiBmc(_Bmc):
    """A ``pyghmi.ipmi.bmc.Bmc`` subclass serving ``127.0.0.1:port`` (UDP).

    It runs as ``python -m tests.lab.pyghmi_bmc pyghmi-bmc CONFIG`` in its own
    process.  Users: ``admin``/``adminpass`` (pyghmi makes every user an
    ADMINISTRATOR).  RMCP+ suite 3 only; suite 17 is refused with "no matching
    cipher suite" so pyghmi clients fall back to 3 (LAB.md section 9), and it
    answers cipher-suite discovery, so ipmitool needs no ``-C``.  An unknown
    user is silently dropped (clients hang until their own timeout).

    Power changes land ``power_delay`` seconds after the request is
    acknowledged (a power cycle: off after ``power_delay``, on again 1 s
    later); a newer request cancels a pending one.  With ``kg`` the BMC uses
    that BMC key.  Without ``workdir`` a private temporary directory is used
    and removed by :meth:`stop`.
    """

    kind = "pyghmi-bmc"

    def __init__(
        self,
        port: int = PYGHMI_BMC_PORT,
        power_delay: float = 0.0,
        *,
        workdir: os.PathLike[str] | str | None = None,
        kg: str | None = None,
        initial_power: bool = True,
    ) -> None:
        """Describe the BMC; nothing is written or started until :meth:`start`."""
        self._own_workdir = workdir is None
        if workdir is None:
            workdir = tempfile.mkdtemp(prefix="pyghmi-bmc-")
        super().__init__(workdir, port, initial_power=initial_power)
        self.power_delay = power_delay
        self.kg = kg
        self.config_file = self.workdir / "bmc.json"

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the BMC (see :meth:`_Bmc.stop`); remove a private workdir."""
        super().stop(timeout)
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def _prepare(self) -> tuple[list[str], dict[str, str], Path]:
        self.workdir.mkdir(parents=True, exist_ok=True)
        config = {
            "address": self.address,
            "port": self.port,
            "users": {ADMIN_USER: ADMIN_PASSWORD},
            "kg": self.kg,
            "power_delay": self.power_delay,
            "state_dir": str(self.state_dir),
            "parent_pid": os.getpid(),
        }
        fd = os.open(self.config_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(config, handle)
        # -E -s: no PYTHON* variables, no user site; -m puts the cwd (the
        # repository) first on sys.path.
        argv = [sys.executable, "-E", "-s", "-m", "tests.lab.pyghmi_bmc", "pyghmi-bmc"]
        argv.append(str(self.config_file))
        return argv, {"PATH": BASE_PATH, "LANG": "C.UTF-8"}, _REPO

    def _probe(self, remaining: float) -> bool:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.settimeout(min(0.2, remaining))
            try:
                sock.connect((self.address, self.port))
                sock.send(_auth_cap_probe())
                reply = sock.recv(512)
            except OSError:  # refused (not bound yet) or timed out
                return False
        return len(reply) > 20 and reply[:4] == b"\x06\x00\xff\x07"


# The child process: everything below runs in ``python -m tests.lab.pyghmi_bmc``.


def _refuse_suite_17(serversession: Any) -> None:
    """Make pyghmi's server refuse every cipher suite but 3 (LAB.md section 9).

    The stock ServerSession answers any Open Session Request with suite-3
    algorithms; pyghmi clients propose suite 17 first and then crash in
    ``_got_rakp2``.  Status 0x11 ("no matching cipher suite") makes them
    retry with suite 3.
    """
    original = serversession.ServerSession.create_open_session_response

    def create_open_session_response(self: Any, request: Any) -> Any:
        request = bytearray(request)
        if len(request) < 32 or (request[12], request[20], request[28]) != (1, 1, 1):
            return bytearray([request[0], 0x11, 0, 0]) + request[4:8]
        return original(self, request)

    serversession.ServerSession.create_open_session_response = (
        create_open_session_response
    )


def _route_new_logins(serversession: Any) -> None:
    """Let pyghmi's server take a new login from a client it has a session with.

    A client that logs in again from the same UDP port (pyghmi does, after
    giving a session up) sends its sessionless packets to the old
    ``ServerSession``, which has no ``sessionless_data`` and crashes the
    server's loop (pyghmi 1.5.34).  The BMC itself handles them.
    """
    if hasattr(serversession.ServerSession, "sessionless_data"):
        return

    def sessionless_data(self: Any, data: Any, sockaddr: Any) -> Any:
        return self.bmc.sessionless_data(data, sockaddr)

    serversession.ServerSession.sessionless_data = sessionless_data


_DIRECTIVES = {0: "power 0", 1: "power 1", 2: "cycle 1", 3: "reset 1", 4: "diag 1"}
_DIRECTIVES[5] = "shutdown 1"


def _make_bmc_class(config: Mapping[str, Any]) -> Any:
    """Return the lab's Bmc subclass (pyghmi is imported only in the child)."""
    import pyghmi.ipmi.bmc as pyghmi_bmc  # noqa: PLC0415

    state = _StateFiles(Path(config["state_dir"]))
    delay = float(config["power_delay"])
    lock = threading.Lock()
    timers: list[threading.Timer] = []

    def apply_later(steps: list[tuple[float, bool]]) -> None:
        """Write each (delay, on) power state after its delay; cancel older ones."""
        with lock:
            for timer in timers:
                timer.cancel()
            timers.clear()
            for after, on in steps:
                if after <= 0:
                    state.write_power(on)
                    continue
                timer = threading.Timer(after, state.write_power, (on,))
                timer.daemon = True
                timers.append(timer)
                timer.start()

    #: The last request carried out: its key and its answer, for a BMC that
    #: answers a retransmit again instead of carrying it out twice.
    last: dict[str, Any] = {}

    class _Answer:
        """Stands in for the session while a handler runs: keeps its answer."""

        def __init__(self) -> None:
            self.kwargs: dict[str, Any] = {}

        def send_ipmi_response(self, data: Any = (), code: int = 0) -> None:
            self.kwargs = {"data": list(data), "code": code}

    class LabBmc(pyghmi_bmc.Bmc):  # type: ignore[misc]
        """Chassis power in a state file, with faults and delayed power changes."""

        def _serve(self, what: str, request: Any, session: Any, handler: Any) -> None:
            """Record, stall, dedupe, run ``handler``, answer late or not at all."""
            state.record(what)
            seconds = state.slow_seconds()
            if seconds > 0:
                time.sleep(seconds)
            # pyghmi's server session holds the request's IPMI sequence number.
            key = (
                id(session),
                getattr(session, "seqlun", None),
                request.get("netfn"),
                request.get("command"),
                tuple(request.get("data") or ()),
            )
            fresh = time.monotonic() - last.get("at", -60.0) < 30
            if state.fault("drop_duplicates") and last.get("key") == key and fresh:
                state.record(f"retransmit of {what}: answered again")
                session.send_ipmi_response(**last["answer"])
                return
            answer = _Answer()
            handler(answer)
            last.update(key=key, answer=answer.kwargs, at=time.monotonic())
            late = state.number("late_seconds")
            if late > 0:
                time.sleep(late)
            control = request.get("command") == 2
            if state.take("drop_answers") or (
                control and state.take("drop_control_answers")
            ):
                state.record(f"answer to {what} dropped")
                return
            session.send_ipmi_response(**answer.kwargs)

        def get_chassis_status(self, session: Any) -> Any:
            def handler(answer: Any) -> Any:
                if state.fault("fail_status"):
                    return answer.send_ipmi_response(code=0xFF)
                return pyghmi_bmc.Bmc.get_chassis_status(self, answer)

            request = {"netfn": 0, "command": 1, "data": ()}
            self._serve("get power", request, session, handler)

        def control_chassis(self, request: Any, session: Any) -> Any:
            data = request.get("data") or [None]
            what = "set " + _DIRECTIVES.get(data[0], f"unknown {data[0]}")

            def handler(answer: Any) -> Any:
                if state.fault("fail_control"):
                    return answer.send_ipmi_response(code=0xFF)
                return pyghmi_bmc.Bmc.control_chassis(self, request, answer)

            self._serve(what, request, session, handler)

        def get_power_state(self) -> str:
            return "on" if state.read_power() else "off"

        def power_on(self) -> int:
            apply_later([(delay, True)])
            return 0

        def power_off(self) -> int:
            if not state.fault("stuck_on"):
                apply_later([(delay, False)])
            return 0

        power_shutdown = power_off

        def power_cycle(self) -> int:
            if not state.fault("stuck_on") and state.read_power():
                apply_later([(delay, False), (delay + CYCLE_OFF_SECONDS, True)])
            return 0

        def power_reset(self) -> int:
            return 0

        def pulse_diag(self) -> int:
            return 0

    return LabBmc


def _serve_pyghmi_bmc(config_path: str) -> int:
    """Run the pyghmi BMC described by the JSON file ``config_path`` until killed."""
    from pyghmi.ipmi.private import serversession  # noqa: PLC0415
    from pyghmi.ipmi.private import session as ipmisession  # noqa: PLC0415

    config = json.loads(Path(config_path).read_text())
    _refuse_suite_17(serversession)
    _route_new_logins(serversession)
    bmc = _make_bmc_class(config)(
        config["users"], port=config["port"], address=config["address"]
    )
    if config.get("kg"):
        bmc.set_kg(config["kg"])
    print(f"pyghmi BMC pid {os.getpid()} on {config['address']}:{config['port']}")
    sys.stdout.flush()
    parent = config["parent_pid"]
    while os.getppid() == parent:  # pdeathsig's backstop
        try:
            ipmisession.Session.wait_for_rsp(timeout=0.5)
        except Exception as exc:  # noqa: BLE001 - one bad packet must not end the BMC
            print(f"pyghmi BMC: {type(exc).__name__}: {exc}", file=sys.stderr)
    return 0


def _main(argv: Sequence[str]) -> int:
    if len(argv) == 2 and argv[0] == "pyghmi-bmc":
        return _serve_pyghmi_bmc(argv[1])
    print(
        "usage: python -m tests.lab.pyghmi_bmc pyghmi-bmc CONFIG.json", file=sys.stderr
    )
    return 2


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
