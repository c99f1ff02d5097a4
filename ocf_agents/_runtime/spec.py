"""Agent declarations: one frozen ``AgentSpec`` per agent drives everything else.

From a spec the runtime derives the meta-data XML (``metadata.render``), the
parsed and checked parameters (``env.load``) and ``validate-all``.  Importing a
spec module must stay cheap: it is all that ``meta-data`` loads.
"""

from __future__ import annotations

from ha_common.kinds import SECONDS, Kind
from ha_common.record import record

TYPE_CHECKING = False  # typing costs ~5 ms of start-up; see STYLE.md section 9
if TYPE_CHECKING:
    from typing import Callable


@record
class Param:
    """One resource parameter (``OCF_RESKEY_<name>``)."""

    name: str
    kind: Kind
    shortdesc: str
    longdesc: str = ""
    default: str | None = None
    required: bool = False
    unique: bool = False
    reloadable: bool = False
    secret: bool = False
    replaces: str | None = None
    check: Callable[[object], None] | None = None

    def __post_init__(self) -> None:
        """Refuse declarations that could never work or would read blank."""
        if self.required and self.default is not None:
            raise ValueError(f"param {self.name}: required params take no default")
        _check_descriptions(f"param {self.name}", self.name, self.shortdesc)
        if self.longdesc.strip() == self.shortdesc.strip():
            # crmsh shows no title for a parameter whose descriptions are equal.
            raise ValueError(
                f"param {self.name}: longdesc repeats shortdesc; leave it out"
            )


def _check_descriptions(what: str, name: str, shortdesc: str) -> None:
    """Refuse a short description that listings would show blank or broken.

    ``crm ra info`` shows no title for a shortdesc that is empty or equal to
    the name (or to the longdesc), and prints it on one line.

    Raises:
        ValueError: naming ``what`` and the problem.
    """
    text = shortdesc.strip()
    if not text:
        raise ValueError(f"{what}: shortdesc is empty")
    if text == name:
        raise ValueError(f"{what}: shortdesc only repeats the name")
    if "\n" in text:
        raise ValueError(f"{what}: shortdesc must be one line")


@record
class Timing:
    """Default timeout and interval of an action, in seconds."""

    timeout: int
    interval: int = 0
    depth: int | None = None
    role: str | None = None


@record
class Action:
    """An action as listed in meta-data."""

    name: str
    timeout: int
    interval: int | None = None
    depth: int | None = None
    role: str | None = None


@record
class AgentSpec:
    """Everything the runtime knows about an agent, declared once.

    Attributes:
        name: the OCF type (``ocf:hakit:<name>``).
        shortdesc: one line for listings.
        longdesc: the agent's documentation.
        params: parameters in meta-data order.
        actions: actions with their default timings.
        handlers: dotted module path of the action handlers, imported lazily.
        version: the agent's version string in meta-data.
        extra: agent-specific constants the handlers read (for example a
            service table entry); never rendered.
    """

    name: str
    shortdesc: str
    longdesc: str
    params: tuple[Param, ...]
    actions: tuple[Action, ...]
    handlers: str
    version: str = "1.0"
    extra: tuple[tuple[str, object], ...] = ()

    def __post_init__(self) -> None:
        """Refuse duplicate names, which meta-data and parsing could not tell apart.

        Also refuse a short description listings would show blank.
        """
        _check_descriptions(f"agent {self.name}", self.name, self.shortdesc)
        if self.shortdesc.strip() == self.longdesc.strip():
            raise ValueError(f"agent {self.name}: longdesc repeats shortdesc")
        seen: set[str] = set()
        for param in self.params:
            for name in (param.name, param.replaces):
                if name is None:
                    continue
                if name in seen:
                    raise ValueError(f"agent {self.name}: duplicate param {name}")
                seen.add(name)

    def action_names(self) -> tuple[str, ...]:
        """Return the names of all actions, each once, in declaration order."""
        names: list[str] = []
        for action in self.actions:
            if action.name not in names:
                names.append(action.name)
        return tuple(names)

    def default_timeout(self, action: str, interval: int | None = None) -> int:
        """The declared timeout of ``action``; 20 s for undeclared ones.

        Args:
            action: the action name.
            interval: for an action declared more than once (monitors with
                different intervals or depths), the interval in seconds of
                the one meant; the first declaration when none matches.
        """
        found = [declared for declared in self.actions if declared.name == action]
        for declared in found:
            if interval is not None and (declared.interval or 0) == interval:
                return declared.timeout
        return found[0].timeout if found else 20

    def get_extra(self, key: str) -> object:
        """Return an agent-specific constant."""
        return dict(self.extra)[key]


#: The monitor most agents declare: every 10 s, 20 s timeout.
DEFAULT_MONITOR = Timing(timeout=20, interval=10)


def stop_grace(default: str = "5") -> Param:
    """The ``stop_grace`` parameter every agent that stops processes declares."""
    return Param(
        "stop_grace",
        SECONDS,
        "Seconds a stopping process may make no progress",
        "After SIGTERM (with SIGCONT, so a frozen process handles it), a "
        "process that uses no CPU time and loses no member for this many "
        "seconds gets SIGKILL, instead of at the end of the stop timeout. "
        "A process that is busy shutting down gets the whole timeout.",
        default=default,
    )


def standard_actions(
    *,
    start: int = 60,
    stop: int = 60,
    monitor: Timing = DEFAULT_MONITOR,
    extra_monitors: tuple[Timing, ...] = (),
    promote: int | None = None,
    demote: int | None = None,
    notify: int | None = None,
    reload: int | None = None,
) -> tuple[Action, ...]:
    """Build the action list most agents share, in the order meta-data shows it."""
    actions = [
        Action("start", start),
        Action("stop", stop),
    ]
    for timing in (monitor, *extra_monitors):
        actions.append(
            Action(
                "monitor",
                timing.timeout,
                interval=timing.interval,
                depth=timing.depth,
                role=timing.role,
            )
        )
    for name, timeout in (
        ("promote", promote),
        ("demote", demote),
        ("notify", notify),
        ("reload", reload),
    ):
        if timeout is not None:
            actions.append(Action(name, timeout))
    actions.append(Action("validate-all", 20))
    actions.append(Action("meta-data", 5))
    return tuple(actions)
