"""The adapter over pyghmi: every call under a deadline, errors translated.

pyghmi has no login timeout of its own (a BMC that drops the handshake blocks
``Command()`` for minutes), so each call runs in a worker thread that the
driver abandons at the deadline.  Credentials go to pyghmi as bytes: with
str, a second session to the same BMC hangs (pyghmi's session cache is keyed
inconsistently).  No pyghmi exception crosses this module.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Callable, TypeVar

from fence_agents._runtime.driver import PowerState, PowerTarget
from fence_agents._runtime.errors import (
    ActionTimeoutError,
    AuthenticationError,
    DeviceError,
    DeviceUnreachableError,
    FenceUsageError,
)
from fence_agents._runtime.parse import Options
from ha_common.deadline import Deadline

log = logging.getLogger(__name__)

T = TypeVar("T")

PRIVILEGE_LEVELS = {"callback": 1, "user": 2, "operator": 3, "administrator": 4}
#: IPMI Chassis Control (netfn 0, command 2): data 2 = power cycle.
CHASSIS_NETFN, CHASSIS_CONTROL, POWER_CYCLE = 0, 2, 2


def _classify(message: str) -> type[Exception]:
    low = message.lower()
    if "password" in low or "unauthorized" in low or "rakp" in low or "user" in low:
        return AuthenticationError
    if message in ("None", "") or "timeout" in low or "unreachable" in low:
        return DeviceUnreachableError
    return DeviceError


def _call(what: str, func: Callable[[], T], deadline: Deadline) -> T:
    """Run ``func`` in a thread; give up at the deadline."""
    result: dict[str, Any] = {}

    def target() -> None:
        try:
            result["value"] = func()
        except Exception as exc:  # noqa: BLE001 - translated below, never leaks
            result["error"] = exc

    worker = threading.Thread(target=target, name=f"ipmi-{what}", daemon=True)
    worker.start()
    worker.join(max(0.01, deadline.remaining()))
    if worker.is_alive():
        raise ActionTimeoutError(
            f"{what}: no answer from the BMC within {deadline.total:g} s"
        )
    if "error" in result:
        exc = result["error"]
        message = str(exc)
        raise _classify(message)(f"{what}: {message or type(exc).__name__}") from None
    return result["value"]  # type: ignore[no-any-return]


class IpmiSession:
    """One logged-in pyghmi session."""

    def __init__(self, command: Any, bridge: dict[str, int] | None) -> None:
        """Wrap a pyghmi ``Command``."""
        self.command = command
        self.bridge = bridge

    def _checked(self, what: str, response: Any) -> Any:
        if isinstance(response, dict) and response.get("error"):
            raise DeviceError(f"{what}: the BMC answered {response['error']}")
        return response

    def power_state(self, deadline: Deadline) -> PowerState:
        """Read the chassis power state."""
        answer = _call(
            "get power",
            lambda: self.command.get_power(bridge_request=self.bridge),
            deadline,
        )
        state = self._checked("get power", answer).get("powerstate")
        if state not in ("on", "off"):
            raise DeviceError(f"get power: unexpected answer {state!r}")
        return PowerState.ON if state == "on" else PowerState.OFF

    def request(self, target: PowerTarget, deadline: Deadline) -> None:
        """Send the chassis control request (the driver reads the state back)."""
        if target is PowerTarget.CYCLE:
            answer = _call(
                "power cycle",
                lambda: self.command.raw_command(
                    netfn=CHASSIS_NETFN,
                    command=CHASSIS_CONTROL,
                    data=[POWER_CYCLE],
                    bridge_request=self.bridge or (),
                ),
                deadline,
            )
        else:
            answer = _call(
                f"power {target.value}",
                lambda: self.command.set_power(
                    target.value, wait=False, bridge_request=self.bridge
                ),
                deadline,
            )
        self._checked(f"power {target.value}", answer)

    def preflight(self, deadline: Deadline) -> None:
        """Login worked; reading the power state proves the privilege."""
        self.power_state(deadline)

    def close(self) -> None:
        """Log out, so the BMC frees the session (it has a handful of them).

        ``Command`` has no logout of its own; its session object has.
        """
        session = getattr(self.command, "ipmi_session", None)
        if session is None:
            return
        try:
            _call("logout", session.logout, Deadline(1.0))
        except Exception as exc:  # noqa: BLE001 - logout failure changes nothing
            log.debug("logout: %s", exc)


def open_session(opts: Options, password: str, deadline: Deadline) -> IpmiSession:
    """Log in to the BMC named by ``opts``."""
    from pyghmi.ipmi import command  # noqa: PLC0415 - only when fencing

    if not opts.flag("lanplus"):
        log.warning("lanplus=0 ignored: pyghmi speaks IPMI 2.0 (lanplus) only")
    kg = None
    if opts.text("hexadecimal_kg"):
        try:
            kg = bytes.fromhex(opts.text("hexadecimal_kg"))
        except ValueError:
            raise FenceUsageError("hexadecimal_kg is not hexadecimal") from None
    bridge = None
    if opts.text("target"):
        try:
            bridge = {"addr": int(opts.text("target"), 16), "channel": 0}
        except ValueError:
            raise FenceUsageError("target is not a hexadecimal address") from None
    privlevel = PRIVILEGE_LEVELS[opts.text("privlvl") or "administrator"]
    session = _call(
        "login",
        lambda: command.Command(
            bmc=opts.text("ip"),
            userid=opts.text("username").encode(),
            password=password.encode(),
            port=opts.number("ipport"),
            kg=kg,
            privlevel=privlevel,
            keepalive=False,
        ),
        deadline,
    )
    return IpmiSession(session, bridge)
