"""The generic fence driver: action semantics shared by every device.

An adapter says how to open a session, read the power state and request a
change.  The driver owns what the actions mean: ``off`` is a request and then
the state read back until OFF, within ``power_timeout``; ``reboot`` is a
verified off and a verified on; ``cycle`` is one request and the state read
back.  Success is never printed before the BMC confirms the state.

``main(agent)`` is the only place that prints results and exits:
0 success, 1 failure, 2 status/monitor found the target OFF.
"""

from __future__ import annotations

import os
import sys
import time
from enum import Enum

from fence_agents._runtime import parse
from fence_agents._runtime.errors import (
    ActionTimeoutError,
    AuthenticationError,
    DeviceUnreachableError,
    FenceError,
    FenceUsageError,
    UnexpectedPowerStateError,
)
from fence_agents._runtime.options import SWITCHES
from ha_common import __version__, lazylog
from ha_common.deadline import Deadline
from ha_common.redact import Redactor

# Start-up counts: pacemaker-fenced runs a fresh agent for every status and
# monitor.  typing, subprocess (only for password_script), the metadata
# renderer (xml) and logging (only when a line is emitted: ha_common.lazylog)
# are imported only where they are needed; see STYLE.md section 9.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from typing import NoReturn, Protocol

    from fence_agents._runtime.options import Option
else:
    Protocol = object

log = lazylog.get(__name__)

EXIT_OK = 0
EXIT_FAIL = 1
EXIT_OFF = 2
POLL = 0.25
CYCLE_POLL = 0.1
#: A power request may take this share of its phase; the rest is kept to read
#: the state back (README, "Deadlines").
REQUEST_SHARE = 0.6
#: ... but never less than this many seconds.
MIN_REQUEST = 1.0


class PowerState(Enum):
    """What the BMC reports.

    IPMI knows only ON and OFF; Redfish also reports the transitions, which
    are neither: ``off`` is confirmed by OFF alone, ``on`` by ON alone, and
    ``status`` prints OFF (exit 2) only for OFF.
    """

    ON = "ON"
    OFF = "OFF"
    POWERING_ON = "POWERING_ON"
    POWERING_OFF = "POWERING_OFF"


class PowerTarget(Enum):
    """What the driver asks for."""

    ON = "on"
    OFF = "off"
    CYCLE = "cycle"


class Device(Protocol):
    """An open session with one BMC (the adapter's side)."""

    def power_state(self, deadline: Deadline) -> PowerState:
        """Read the power state."""

    def request(self, target: PowerTarget, deadline: Deadline) -> None:
        """Ask for a power change; return once the BMC accepted it."""

    def close(self) -> None:
        """End the session (logout)."""


class FenceAgent:
    """A fence agent: its declaration and how to open its device."""

    name = ""
    shortdesc = ""
    longdesc = ""
    options: tuple[Option, ...] = ()

    @property
    def actions(self) -> tuple[str, ...]:
        """The actions the agent offers: the choices its ``action`` option declares.

        The parser accepts exactly these and metadata lists exactly these, so
        an agent cannot offer an action its declaration does not name.
        """
        for opt in self.options:
            if opt.name == "action":
                return opt.kind.choices
        return ()

    def open(self, opts: parse.Options, password: str, deadline: Deadline) -> Device:
        """Connect and log in within ``deadline``."""
        raise NotImplementedError


def password_of(opts: parse.Options) -> str:
    """The password: given, or the first line printed by ``password_script``.

    The script runs without a shell, with a timeout; its output is a secret.
    """
    if opts.text("password"):
        return opts.text("password")
    script = opts.text("password_script")
    if not script:
        return ""
    import shlex  # noqa: PLC0415 - only with password_script
    import subprocess  # noqa: PLC0415

    try:
        argv = shlex.split(script)
        if not argv:
            raise FenceUsageError("password_script is empty")
        done = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            check=False,
            timeout=max(1, opts.number("shell_timeout") + opts.number("login_timeout")),
        )
    except ValueError as exc:  # shlex: unbalanced quotes
        raise FenceUsageError(f"password_script cannot be split: {exc}") from None
    except subprocess.TimeoutExpired:
        raise FenceUsageError("password_script did not finish in time") from None
    except OSError as exc:
        # The program's name only: the rest of the line may be a secret.
        reason = exc.strerror or type(exc).__name__
        raise FenceUsageError(f"password_script: {argv[0]}: {reason}") from None
    if done.returncode != 0:
        raise FenceUsageError(f"password_script exited with {done.returncode}")
    return done.stdout.splitlines()[0] if done.stdout else ""


def validate_offline(opts: parse.Options) -> None:
    """validate-all: the options are usable, without contacting the BMC.

    As in ClusterLabs fence-agents, validation never connects (``pcs stonith
    create`` runs it, also while a BMC is down) and never runs
    ``password_script`` (it may ask a vault); it checks what can be checked
    here: the values (parsed already), and that the files the options name
    exist.  ``monitor`` is the check that reaches the BMC.

    Raises:
        FenceUsageError: a named program or file is missing.
    """
    import shlex  # noqa: PLC0415 - only for validate-all

    script = opts.text("password_script")
    if script:
        try:
            words = shlex.split(script)
        except ValueError as exc:
            raise FenceUsageError(f"password_script cannot be split: {exc}") from None
        if not words:
            raise FenceUsageError("password_script is empty")
        if not os.access(words[0], os.X_OK) or os.path.isdir(words[0]):
            raise FenceUsageError(
                f"password_script: {words[0]} is not an executable program"
            )
    if opts.declares("ssl_ca_file") and opts.text("ssl_ca_file"):
        path = opts.text("ssl_ca_file")
        if not os.access(path, os.R_OK) or os.path.isdir(path):
            raise FenceUsageError(f"ssl_ca_file: {path} is not a readable file")


def phase_deadline(opts: parse.Options) -> Deadline:
    """The deadline of one power phase: ``power_wait`` + ``power_timeout``.

    A phase is one power request, the pause after it and the reading back of
    the state; status reads its state within one phase too.
    """
    return Deadline(opts.number("power_wait") + opts.number("power_timeout"))


def _kept(exc: FenceError) -> bool:
    """Tell whether reading the state again could not help: stop at once."""
    return isinstance(exc, (AuthenticationError, FenceUsageError))


def _unanswered(exc: FenceError) -> bool:
    """Tell whether ``exc`` means "no answer": the BMC may still act on it."""
    return isinstance(exc, (ActionTimeoutError, DeviceUnreachableError))


def wait_for(
    device: Device,
    want: PowerState,
    phase: Deadline,
    poll: float = POLL,
    passed: tuple[PowerState, ...] = (),
    *,
    once: bool = False,
) -> PowerState:
    """Read the state until it is ``want``, within ``phase``; return what was read.

    A read the BMC does not answer is tried again while the phase lasts (the
    adapter paces its retransmissions to what is left); a read the BMC
    refuses fails at once.  Nothing here runs past the phase's end.

    Args:
        device: the open session.
        want: the state to read back.
        phase: the deadline of the power phase.
        poll: seconds between two reads.
        passed: states that prove ``want`` was reached and left already; only
            the observation of a cycle names any.
        once: read once, not until the deadline (after a request the BMC
            refused, the reading only tells whether it was needed).

    Raises:
        UnexpectedPowerStateError: the phase ended (or ``once``) with another state.
        FenceError: the state could not be read (the last read's failure).
    """
    last: PowerState | None = None
    problem: FenceError | None = None
    while True:
        if phase.expired():
            break
        try:
            last = device.power_state(phase)
        except FenceError as exc:
            if _kept(exc) or not _unanswered(exc):
                raise
            problem = exc
            log.debug("read: %s", exc)
        else:
            problem = None
        if problem is None and last is not None and (last is want or last in passed):
            if last is not want:
                log.debug("read %s: %s was passed already", last.value, want.value)
            return last
        if once or phase.expired():
            break
        time.sleep(min(poll, phase.remaining()))
    if last is None:  # never read: the last read's failure says why
        raise problem or ActionTimeoutError("no time left to read the power state")
    if once:
        raise UnexpectedPowerStateError(
            f"requested {want.value}, the BMC reports {last.value}"
        )
    raise UnexpectedPowerStateError(
        f"requested {want.value}, the BMC still reports {last.value} "
        f"after {phase.total:g} s"
    )


def _request(device: Device, target: PowerTarget, phase: Deadline) -> FenceError | None:
    """Send ``target``; None once the BMC accepted it, else why not.

    The request gets at most :data:`REQUEST_SHARE` of the phase: the rest is
    kept to read the state back, also when the request got no answer (the
    BMC may have carried it out all the same).
    """
    budget = phase.sub(max(MIN_REQUEST, phase.remaining() * REQUEST_SHARE))
    try:
        device.request(target, budget)
    except FenceError as exc:
        if _kept(exc):
            raise
        return exc
    return None


def _read_back(
    device: Device,
    want: PowerState,
    phase: Deadline,
    failure: FenceError,
    *,
    passed: tuple[PowerState, ...] = (),
    poll: float = POLL,
    once: bool = False,
) -> PowerState:
    """After a failed request: success only if the BMC reports ``want``.

    An unanswered request is read back until the phase ends (the BMC may act
    late); a refused one is read once (some BMCs refuse what is done already).

    Raises:
        FenceError: the state was not reached; the message names the
            request's failure and what was read back.
    """
    log.warning("%s; reading the power state back", failure)
    try:
        state = wait_for(
            device, want, phase, poll, passed, once=once or not _unanswered(failure)
        )
    except FenceError as exc:
        if _kept(exc):
            raise
        raise type(exc)(f"{failure}; read back: {exc}") from None
    log.info("%s: the BMC reports %s all the same", failure, state.value)
    return state


def _switch(device: Device, target: PowerTarget, opts: parse.Options) -> None:
    """One power phase: request, pause, read back until ``target`` is confirmed."""
    want = PowerState.ON if target is PowerTarget.ON else PowerState.OFF
    phase = phase_deadline(opts)
    while True:
        failure = _request(device, target, phase)
        if failure is None:
            time.sleep(min(opts.number("power_wait"), phase.remaining()))
            wait_for(device, want, phase)
            return
        if not _unanswered(failure) or phase.remaining() < 2 * MIN_REQUEST:
            _read_back(device, want, phase, failure)
            return
        # No answer: the request may be lost, or carried out late.  On and
        # off are idempotent, so read once and, if it is not done, send
        # again.
        try:
            _read_back(device, want, phase, failure, once=True)
            return
        except UnexpectedPowerStateError as exc:
            log.warning("%s; sending power %s again", exc, target.value)


def _cycle(device: Device, opts: parse.Options) -> None:
    """``method=cycle``: seen OFF (or passed), then ON; off and on if unseen.

    A chassis that reads OFF is powered on (IPMI lets a BMC ignore a cycle
    while off; the node is fenced already).  When the cycle's off half is
    not seen within the phase (a BMC slower than the cycle, or one that
    ignored it), the node is powered off and on with verified requests:
    "ON" after a cycle request alone proves nothing.
    """
    phase = phase_deadline(opts)
    try:
        # Any state will do; the read gets the request's share of the phase.
        before: PowerState | None = wait_for(
            device,
            PowerState.OFF,
            phase.sub(max(MIN_REQUEST, phase.remaining() * REQUEST_SHARE)),
            passed=(PowerState.ON, PowerState.POWERING_ON, PowerState.POWERING_OFF),
        )
    except FenceError as exc:
        if _kept(exc) or not _unanswered(exc):
            raise
        # Unknown: cycle all the same; if the chassis was off and the BMC
        # ignores the cycle, the off half is not seen and off, on follow.
        log.warning("%s; power cycle sent without knowing the state", exc)
        before = None
    if before is PowerState.OFF:
        log.warning("method=cycle: the chassis reads OFF already; powering it on")
        _switch(device, PowerTarget.ON, opts)
        return
    # "ON" right after the request proves nothing (the BMC may not have
    # started the cycle): the node must be seen OFF, then ON again.  IPMI
    # holds a cycle off for at least a second, so a fast poll sees it.
    # NOTE: observing a cycle keeps its own reading of POWERING_ON.  After
    # an off request, POWERING_ON means the node is coming back: not off,
    # never a success.  After a cycle request it is the cycle's second
    # half: a Redfish BMC (PowerCycle, ForceRestart) may hold the off
    # phase for less than one poll and go from On (or PoweringOff) to
    # PoweringOn, which proves the node went through off.  ON must still
    # follow.
    failure = _request(device, PowerTarget.CYCLE, phase)
    try:
        if failure is None:
            wait_for(
                device,
                PowerState.OFF,
                phase,
                poll=CYCLE_POLL,
                passed=(PowerState.POWERING_ON,),
            )
        else:
            _read_back(
                device,
                PowerState.OFF,
                phase,
                failure,
                passed=(PowerState.POWERING_ON,),
                poll=CYCLE_POLL,
            )
    except FenceError as exc:
        if _kept(exc):
            raise
        log.warning("power cycle not seen (%s); powering off and on instead", exc)
        _switch(device, PowerTarget.OFF, opts)
        _switch(device, PowerTarget.ON, opts)
        return
    wait_for(device, PowerState.ON, phase_deadline(opts))


def _reboot(device: Device, opts: parse.Options) -> None:
    if opts.text("method") == "cycle":
        _cycle(device, opts)
        return
    _switch(device, PowerTarget.OFF, opts)
    for attempt in range(1, max(1, opts.number("retry_on")) + 1):
        try:
            _switch(device, PowerTarget.ON, opts)
            return
        except FenceError as exc:
            # The node is verified off: fencing succeeded, only power-on failed.
            log.error("power on after reboot failed (attempt %d): %s", attempt, exc)


def run(agent: FenceAgent, opts: parse.Options) -> tuple[int, str]:  # noqa: PLR0911
    """Carry out the action; return the exit code and what to print."""
    action = opts.text("action")
    if action == "metadata":
        from fence_agents._runtime import metadata  # noqa: PLC0415 - xml

        return EXIT_OK, metadata.of_agent(agent)
    if action == "manpage":
        return EXIT_OK, manpage(agent)
    if action not in agent.actions:
        raise FenceUsageError(f"action {action!r} is not supported by {agent.name}")
    if action in ("off", "reboot") and opts.number("delay"):
        log.info("delaying fencing by %d s", opts.number("delay"))
        time.sleep(opts.number("delay"))
    if action == "validate-all":
        validate_offline(opts)
        return EXIT_OK, ""
    password = password_of(opts)
    opts.add_secret(password)
    device = agent.open(opts, password, Deadline(max(1, opts.number("login_timeout"))))
    try:
        if action in ("status", "monitor"):
            state = device.power_state(phase_deadline(opts))
            if action == "monitor":
                return EXIT_OK, ""
            if state is PowerState.OFF:
                return EXIT_OFF, "Status: OFF"
            # A node powering on or off is not off: it may still run.
            log.debug("power state %s reported as ON", state.value)
            return EXIT_OK, "Status: ON"
        if action == "off":
            _switch(device, PowerTarget.OFF, opts)
            return EXIT_OK, "Success: Powered OFF"
        if action == "on":
            _switch(device, PowerTarget.ON, opts)
            return EXIT_OK, "Success: Powered ON"
        _reboot(device, opts)
        return EXIT_OK, "Success: Rebooted"
    finally:
        try:
            device.close()
        except FenceError as exc:
            log.debug("logout failed: %s", exc)


def manpage(agent: FenceAgent) -> str:
    """A plain-text manual page generated from the declaration."""
    lines = [agent.name, "", agent.shortdesc, "", agent.longdesc, "", "OPTIONS"]
    for opt in agent.options:
        flags = ", ".join(x for x in (opt.short, opt.long) if x)
        required = " (required)" if opt.required else ""
        lines.append(f"  {flags}  {opt.shortdesc}{required}")
        if opt.aliases:
            lines.append(f"      stdin: {opt.name} (also {', '.join(opt.aliases)})")
    for short, long, text in SWITCHES:
        lines.append(f"  {short}, {long}  {text} (command line only)")
    lines += ["", "ACTIONS", "  " + ", ".join(agent.actions)]
    return "\n".join(lines) + "\n"


def version(agent: FenceAgent) -> str:
    """What ``-V``/``--version`` prints: the agent's name and hakit's version."""
    return f"{agent.name} {__version__}\n"


def _setup_logging(opts: parse.Options | None, redactor: Redactor, name: str) -> None:
    from ha_common import logsetup  # noqa: PLC0415

    verbose = bool(opts and opts.flag("verbose"))
    quiet = bool(opts and opts.flag("quiet"))
    debug_file = opts.text("debug_file") if opts else ""
    logsetup.setup_fence(
        name, redactor, verbose=verbose, quiet=quiet, debug_file=debug_file
    )


def _configure_logging(
    opts: parse.Options | None, redactor: Redactor, name: str
) -> None:
    """Set logging up before the first line at or above the run's level.

    A healthy status logs nothing, so ``logging`` (with its syslog handler)
    is never imported for it.
    """
    debug = bool(opts and (opts.flag("verbose") or opts.text("debug_file")))
    if debug:
        # Asked for: set up now, so the client libraries' lines are kept too.
        lazylog.configure(lazylog.DEBUG, None)
        _setup_logging(opts, redactor, name)
        return
    lazylog.configure(lazylog.INFO, lambda: _setup_logging(opts, redactor, name))


def main(
    agent: FenceAgent,
    argv: Sequence[str] | None = None,
    stdin_lines: Sequence[str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> NoReturn:
    """Parse input, run the action, print the result and exit."""
    argv = sys.argv[1:] if argv is None else argv
    redactor = Redactor()
    _configure_logging(None, redactor, agent.name)
    try:
        lines = stdin_lines
        if not argv and lines is None:
            lines = (
                [] if sys.stdin is None or sys.stdin.isatty() else sys.stdin.readlines()
            )
        opts = parse.resolve(agent.options, argv, lines, environ or os.environ)
        redactor.add(*opts.secrets)
        opts.on_secret = redactor.add
        _configure_logging(opts, redactor, agent.name)
        for level, note in opts.notes:
            log.log(level, "%s", note)
        if opts.switch:
            print(manpage(agent) if opts.switch == "help" else version(agent), end="")
            sys.exit(EXIT_OK)
        rc, text = run(agent, opts)
        redactor.add(*opts.secrets)
    except FenceError as exc:
        # One line: Pacemaker copies it into its log as the reason.
        message = redactor(" ".join(str(exc).split()))
        log.error("%s", message, extra={"exit_reason": True})
        print(f"Failed: {message}", file=sys.stderr)
        lazylog.shutdown()
        sys.exit(EXIT_FAIL)
    except ModuleNotFoundError as exc:
        from ha_common import modules  # noqa: PLC0415

        message = modules.describe(exc)
        log.error("%s", message, extra={"exit_reason": True})
        print(f"Failed: {message}", file=sys.stderr)
        lazylog.shutdown()
        sys.exit(EXIT_FAIL)
    except Exception as exc:  # noqa: BLE001 - never a traceback for a fence agent
        log.debug("internal error", exc_info=True)
        print(f"Failed: internal error: {type(exc).__name__}", file=sys.stderr)
        sys.exit(EXIT_FAIL)
    if text:
        print(
            text if text.endswith("\n") else text,
            end="" if text.endswith("\n") else "\n",
        )
    lazylog.shutdown()
    sys.exit(rc)
