"""The adapter over pyghmi's IPMI session: every call under a deadline.

It talks to the BMC at pyghmi's session level, with the two IPMI chassis
commands fencing needs (Get Chassis Status, Chassis Control), instead of
``pyghmi.ipmi.command``, which imports the SDR, FRU and OEM modules and asks
the BMC for its device id before the first power command (no OEM handler of
pyghmi changes how power is read or set).

pyghmi has no login timeout of its own (a BMC that drops the handshake blocks
the login for minutes), so each call runs in a worker thread that the driver
abandons at the deadline.  Commands do not get that far: pyghmi's own
retransmission is paced to the deadline (:func:`pacing`), so a slow BMC gets
a wait that grows with every retransmit, the retransmit carries the same IPMI
sequence number (pyghmi resends the same payload; a BMC may drop it as a
duplicate), and pyghmi itself gives up before the deadline.  A session that
gave up is logged in again for the next call, within that call's deadline.
Credentials go to pyghmi as bytes: with str, a second session to the same
BMC hangs (pyghmi's session cache is keyed inconsistently).  No pyghmi
exception crosses this module.
"""

from __future__ import annotations

import threading
import time

from fence_agents._runtime.driver import PowerState, PowerTarget
from fence_agents._runtime.errors import (
    ActionTimeoutError,
    AuthenticationError,
    DeviceError,
    DeviceUnreachableError,
    FenceError,
    FenceUsageError,
)
from ha_common import lazylog
from ha_common.deadline import Deadline

TYPE_CHECKING = False  # typing costs start-up time; see STYLE.md section 9
if TYPE_CHECKING:
    from typing import Any, Callable, TypeVar

    from fence_agents._runtime.parse import Options

    T = TypeVar("T")

log = lazylog.get(__name__)

PRIVILEGE_LEVELS = {"callback": 1, "user": 2, "operator": 3, "administrator": 4}
#: IPMI chassis commands (IPMI 2.0 section 28): network function, Get Chassis
#: Status (answer byte 1, bit 0: power is on), Chassis Control and its data.
CHASSIS_NETFN = 0
GET_CHASSIS_STATUS = 1
CHASSIS_CONTROL = 2
CONTROL_DATA = {PowerTarget.OFF: 0, PowerTarget.ON: 1, PowerTarget.CYCLE: 2}
#: pyghmi's completion code for "no answer after its retries".
NO_ANSWER = 0xFFFF
#: The shortest first wait for an answer; each retransmit waits a second more
#: (pyghmi's rule), so a BMC that takes 1.5 s is retransmitted to once at most.
#: Not longer: a BMC that loses answers is then retransmitted to in time
#: (2 s, ipmitool's lanplus interval, failed 3 lost answers in an 8 s phase).
FIRST_WAIT = 1.0
#: Kept between pyghmi giving up and the deadline, for the worker to return.
GRACE = 0.25
#: Bridging (IPMI 2.0 section 22.7): a request for another IPMB address goes
#: inside a Send Message (application netfn 6, command 0x34) to the BMC at
#: this address; the BMC's own answer only says whether it could pass it on.
BMC_ADDRESS = 0x20
SEND_MESSAGE_ANSWER = (7, 0x34)
#: Send Message completion codes meaning that nothing took the request.
SEND_MESSAGE_UNDELIVERED = {
    0x81: "lost arbitration",
    0x82: "bus error",
    0x83: "NAK on write",
}


def _classify(message: str) -> type[Exception]:
    low = message.lower()
    if "password" in low or "unauthorized" in low or "rakp" in low or "user" in low:
        return AuthenticationError
    if message in ("None", "") or "timeout" in low or "unreachable" in low:
        return DeviceUnreachableError
    return DeviceError


def pacing(budget: float, floor: float = FIRST_WAIT) -> tuple[float, float]:
    """Return pyghmi's ``timeout`` and ``maxtimeout`` for a ``budget`` in seconds.

    pyghmi (``Session._timedout``) waits ``timeout`` seconds for the answer,
    then retransmits the same payload and waits one second more each time;
    it gives up once the next wait would exceed ``maxtimeout``.  The first
    wait is chosen so that as many sends as fit (the first wait at least
    ``floor``, the BMC's pace) end exactly at ``budget``: n sends wait
    ``n * first + n * (n - 1) / 2`` seconds in all.

    Returns:
        (first wait, maxtimeout), both in seconds.
    """
    budget = max(0.05, budget)
    sends = 1
    while (sends + 1) * floor + sends * (sends + 1) / 2 <= budget:
        sends += 1
    first = (budget - sends * (sends - 1) / 2) / sends
    return first, first + sends - 1 + 0.5


def _pace(pace: float, took: float, first: float) -> float:
    """Return the BMC's pace after an answer that came ``took`` seconds after the send.

    Before the first retransmit (``first``), ``took`` is the BMC's own time.
    During the first retransmit's wait, the answer is the first send's (a BMC
    slower than the first wait) or the retransmit's (a packet was lost):
    only ``took`` is enough for both.  Counting only the first wait (the old
    rule) recorded 1.175 s for a BMC that takes 1.5 s, and the next read was
    sent with 1.2 s left, got no answer and lost the session (issue #17).
    Later still, packets were lost: at least the first wait.
    """
    if took < first:
        return took
    if took < 2 * first + 1:
        return max(pace, took)
    return max(pace, first)


def _call(what: str, func: Callable[[], T], deadline: Deadline) -> T:
    """Run ``func`` in a thread; give up at the deadline."""
    result: dict[str, Any] = {}

    def target() -> None:
        try:
            result["value"] = func()
        except Exception as exc:  # noqa: BLE001 - translated below, never leaks
            result["error"] = exc

    worker = threading.Thread(target=target, name=f"ipmi-{what}", daemon=True)
    waited = max(0.01, deadline.remaining())
    worker.start()
    worker.join(waited)
    if worker.is_alive():
        raise ActionTimeoutError(
            f"{what}: no answer from the BMC within {waited:.3g} s"
        )
    if "error" in result:
        exc = result["error"]
        message = str(exc)
        raise _classify(message)(f"{what}: {message or type(exc).__name__}") from None
    return result["value"]  # type: ignore[no-any-return]


class IpmiSession:
    """One logged-in pyghmi session (logged in again after pyghmi gave up)."""

    def __init__(
        self,
        session: Any,
        bridge: dict[str, int] | None,
        login: Callable[[Deadline], Any] | None = None,
    ) -> None:
        """Wrap a logged-in ``pyghmi.ipmi.private.session.Session``.

        ``login`` logs in again within a deadline and returns the new
        session; without it a broken session stays broken.
        """
        self.session = session
        self.bridge = bridge
        self._login = login
        #: Seconds the BMC took to answer the last command: the next one is
        #: not retransmitted before twice that (a slow BMC is not flooded
        #: with retransmits it may carry out once more each).
        self.pace = 0.0

    def _usable(self, what: str, deadline: Deadline) -> Any:
        """The session, logged in again if pyghmi gave it up.

        No login is started that could not leave time for the command after
        it (at least the BMC's pace, and never less than :data:`FIRST_WAIT`):
        a login abandoned at its deadline goes on in pyghmi's table of logins
        in progress, and the next login to the same BMC joins it instead of
        starting afresh (seen: a 3.6 s login got no answer after a 0.15 s one
        was abandoned, with the BMC idle).
        """
        if not getattr(self.session, "broken", False) or self._login is None:
            return self.session
        left = deadline.remaining() - GRACE
        if left < max(FIRST_WAIT, self.pace):
            raise ActionTimeoutError(
                f"{what}: {max(0.0, left):.1f} s left, too little to log in again "
                "and send it"
            )
        log.info("%s: the last command got no answer; logging in again", what)
        self.session = self._login(deadline)
        return self.session

    def _raw(
        self, session: Any, command: int, data: tuple[int, ...], budget: float
    ) -> Any:
        """Run in the worker: pace pyghmi's retransmission to ``budget``, send."""
        first, most = pacing(budget, max(FIRST_WAIT, 2 * self.pace))
        session.timeout = first
        session.maxtimeout = most
        # No hidden relogin that would send the request again in another
        # session (1.6 has one left after login): on no answer pyghmi answers
        # "timeout", and _usable logs in again for the next call.
        session.logontries = 0
        return session.raw_command(
            netfn=CHASSIS_NETFN, command=command, data=data, bridge_request=self.bridge
        )

    def _chassis(
        self, what: str, command: int, data: tuple[int, ...], deadline: Deadline
    ) -> bytes:
        """Send one chassis command; return the answer's data bytes.

        A completion code other than 0 fails at once with the BMC's reason.
        """
        if self.bridge is not None:
            what = f"{what} via IPMB target 0x{self.bridge['addr']:02x}"
        session = self._usable(what, deadline)
        budget = deadline.remaining() - GRACE
        if budget <= 0:
            raise ActionTimeoutError(f"{what}: no time left")
        if budget < self.pace:
            # Sent now, the answer would come too late, and the session
            # would be given up for it.
            raise ActionTimeoutError(
                f"{what}: {budget:.1f} s left, the BMC takes {self.pace:.1f} s"
            )
        first = pacing(budget, max(FIRST_WAIT, 2 * self.pace))[0]
        began = time.monotonic()
        try:
            answer = _call(
                what, lambda: self._raw(session, command, data, budget), deadline
            )
        except ActionTimeoutError:
            # The worker still owns the session: never reuse it.
            self._abandon(session)
            raise
        except FenceError:
            if getattr(session, "broken", False):  # pyghmi gave up: no answer
                raise ActionTimeoutError(
                    f"{what}: no answer from the BMC within {budget:.1f} s"
                ) from None
            raise
        took = time.monotonic() - began
        if isinstance(answer, dict) and answer.get("code") != NO_ANSWER:
            self.pace = _pace(self.pace, took, first)
            log.debug(
                "%s: answered after %.2f s (first wait %.2f s, of %.2f s)",
                what,
                took,
                first,
                budget,
            )
        if not isinstance(answer, dict):
            raise DeviceError(f"{what}: no answer from the BMC")
        error = answer.get("error")
        if error and self.bridge is not None:
            _check_delivered(what, answer)
        if error:
            if answer.get("code") == NO_ANSWER:
                raise ActionTimeoutError(
                    f"{what}: no answer from the BMC within {budget:.1f} s"
                )
            raise DeviceError(f"{what}: the BMC answered {error}")
        if (answer.get("netfn"), answer.get("command")) != (CHASSIS_NETFN + 1, command):
            raise DeviceError(f"{what}: the BMC answered another command")
        return bytes(answer.get("data") or b"")

    def power_state(self, deadline: Deadline) -> PowerState:
        """Read the chassis power state (Get Chassis Status)."""
        data = self._chassis("get power", GET_CHASSIS_STATUS, (), deadline)
        if not data:
            raise DeviceError("get power: the BMC's answer holds no power state")
        return PowerState.ON if data[0] & 1 else PowerState.OFF

    def request(self, target: PowerTarget, deadline: Deadline) -> None:
        """Send the chassis control request (the driver reads the state back).

        It is sent without reading the state first (pyghmi's ``set_power``
        did): on a BMC that takes seconds per request, that read would eat
        the phase; off when off and on when on change nothing, and a BMC
        that refuses them is read back by the driver.
        """
        self._chassis(
            f"power {target.value}",
            CHASSIS_CONTROL,
            (CONTROL_DATA[target],),
            deadline,
        )

    def _abandon(self, session: Any) -> None:
        """Mark ``session`` broken so that the next call logs in again."""
        try:
            session.broken = True
        except AttributeError:  # pragma: no cover - pyghmi's own attribute
            pass

    def close(self) -> None:
        """Log out, so the BMC frees the session (it has a handful of them)."""
        if getattr(self.session, "broken", False):
            return
        try:
            _call("logout", self.session.logout, Deadline(1.0))
        except Exception as exc:  # noqa: BLE001 - logout failure changes nothing
            log.debug("logout: %s", exc)


def _check_delivered(what: str, answer: dict[str, Any]) -> None:
    """Fail clearly when the BMC could not pass a bridged request on.

    pyghmi returns the BMC's Send Message answer instead of the target's
    when its completion code is not 0.
    """
    if (answer.get("netfn"), answer.get("command")) != SEND_MESSAGE_ANSWER:
        return
    code = answer.get("code") or 0
    if code in SEND_MESSAGE_UNDELIVERED:
        raise DeviceUnreachableError(
            f"{what}: nothing answers at that address behind the BMC "
            f"(Send Message: {SEND_MESSAGE_UNDELIVERED[code]}, 0x{code:02x})"
        )
    raise DeviceError(
        f"{what}: the BMC did not pass the request on "
        f"(Send Message answered 0x{code:02x}: {answer.get('error')})"
    )


def _bridge_request(target: str) -> dict[str, int] | None:
    """Return pyghmi's ``bridge_request`` for the ``target`` option, or None.

    The value means what fence_ipmilan's does: it passes it to ``ipmitool
    -t``, which reads it like C's strtoul (``0x40``, ``64`` and ``0100`` are
    all 0x40).  As with ipmitool, 0 and the BMC's own address (0x20) mean no
    bridging.  Channel 0 is the primary IPMB (fence_ipmilan has no option
    for ipmitool's ``-b``).

    Raises:
        FenceUsageError: the value is not an address from 0 to 0xff.
    """
    text = target.strip()
    if not text:
        return None
    digits, base = text, 10
    if text[:2].lower() == "0x":
        digits, base = text[2:], 16
    elif text.startswith("0"):
        base = 8
    try:  # int() alone would take signs, "_" and non-ASCII digits
        addr = int(digits, base) if digits.isascii() and digits.isalnum() else -1
    except ValueError:
        addr = -1
    if not 0 <= addr <= 0xFF:
        raise FenceUsageError(
            f"target {target!r} is not an IPMB address "
            "(0x00-0xff; 0x hex, leading 0 octal, else decimal, as ipmitool -t)"
        )
    if addr in (0, BMC_ADDRESS):
        log.debug("target 0x%02x is the BMC itself: not bridged", addr)
        return None
    log.debug("requests bridged to IPMB address 0x%02x, channel 0", addr)
    return {"addr": addr, "channel": 0}


def _session_class(base: Any) -> Any:
    """Return pyghmi's ``Session`` class, without its lost wake-up if possible.

    NOTE(bench/README.md, "Occasional 0.5-1 s IPMI stalls"): pyghmi 1.5.34 and
    1.6.19 send a request, then register the caller with the IO thread.  When
    the IO thread has already queued the answer, nobody wakes the caller until
    its retry timer (0.5-1 s), although the answer is there.  Handling queued
    packets before waiting closes most of that window (login included: its
    first step is a synchronous command).  If a pyghmi release lacks either
    method, its own class is used unchanged.
    """
    if not (hasattr(base, "awaitresponse") and hasattr(base, "process_pktqueue")):
        return base

    class PromptSession(base):  # type: ignore[misc]
        def awaitresponse(self, retry: bool, *args: Any) -> Any:
            self.process_pktqueue()
            return super().awaitresponse(retry, *args)

        def logout(self, sessionok: bool = True) -> Any:
            # NOTE: when pyghmi gives up on a command, it logs out with
            # sessionok=False from inside that command, and its logout first
            # waits out the command's own time slot (``incommand``, about a
            # second past the last retransmit's wait): the answer would come
            # after the deadline.  Nothing more will come for that command.
            if not sessionok:
                self.incommand = False
            return super().logout(sessionok)

    return PromptSession


def open_session(opts: Options, password: str, deadline: Deadline) -> IpmiSession:
    """Log in to the BMC named by ``opts``."""
    # pyghmi encrypts the payloads (AES-CBC-128) with python3-cryptography.
    from pyghmi.ipmi.private import session  # noqa: PLC0415 - only when fencing

    if not opts.flag("lanplus"):
        log.warning("lanplus=0 ignored: pyghmi speaks IPMI 2.0 (lanplus) only")
    kg = None
    if opts.text("hexadecimal_kg"):
        try:
            kg = bytes.fromhex(opts.text("hexadecimal_kg"))
        except ValueError:
            raise FenceUsageError("hexadecimal_kg is not hexadecimal") from None
    bridge = _bridge_request(opts.text("target"))
    privlevel = PRIVILEGE_LEVELS[opts.text("privlvl") or "administrator"]
    # pyghmi's default keepalive stays on, as pyghmi's Command left it: a long
    # power_wait must not let the BMC drop the session between two commands.
    session_class = _session_class(session.Session)

    def login(deadline: Deadline) -> Any:
        return _call(
            "login",
            lambda: session_class(
                bmc=opts.text("ip"),
                userid=opts.text("username").encode(),
                password=password.encode(),
                port=opts.number("ipport"),
                kg=kg,
                privlevel=privlevel,
            ),
            deadline,
        )

    return IpmiSession(login(deadline), bridge, login)
