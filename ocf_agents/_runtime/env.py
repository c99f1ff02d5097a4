"""Read ``OCF_RESKEY_*`` values into a checked, typed ``Config``."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from ha_common import lazylog
from ocf_agents._runtime.errors import ConfigError
from ocf_agents._runtime.spec import AgentSpec, Param

log = lazylog.get(__name__)

PREFIX = "OCF_RESKEY_"

#: Characters of a parameter value a message shows at most.
SHOWN_CHARS = 60


def shown(value: str) -> str:
    """``repr(value)`` for a message; a long value is cut and its length given.

    A pasted file or a runaway template can make a value of many kilobytes,
    and every message that echoes it would carry it whole (into the exit
    reason, which Pacemaker keeps in the CIB, and into the logs).
    """
    if len(value) <= SHOWN_CHARS:
        return repr(value)
    return f"{value[:SHOWN_CHARS]!r}... ({len(value)} characters)"


class Config(Mapping[str, object]):
    """Converted parameter values, by parameter name."""

    def __init__(self, values: dict[str, object]) -> None:
        """Wrap already converted ``values``."""
        self._values = values

    def __getitem__(self, name: str) -> object:
        """Return the converted value of ``name`` (None when unset)."""
        return self._values[name]

    def __iter__(self) -> Iterator[str]:
        """Iterate over parameter names."""
        return iter(self._values)

    def __len__(self) -> int:
        """Count parameters."""
        return len(self._values)

    def get_str(self, name: str) -> str:
        """Return a string parameter; '' when unset."""
        value = self._values[name]
        return "" if value is None else str(value)

    def get_int(self, name: str) -> int:
        """Return an integer parameter (it must be set or defaulted)."""
        value = self._values[name]
        if not isinstance(value, int):
            raise ConfigError(f"{name} is not set")
        return value

    def get_bool(self, name: str) -> bool:
        """Return a boolean parameter; False when unset."""
        return bool(self._values[name])

    def get_tuple(self, name: str) -> tuple[str, ...]:
        """Return a list-valued parameter; () when unset."""
        value = self._values[name]
        if value is None:
            return ()
        assert isinstance(value, tuple)
        return value


def _raw(param: Param, environ: Mapping[str, str]) -> str | None:
    """The wire value of ``param``: set, under its old name, or its default."""
    value = environ.get(PREFIX + param.name)
    if value:
        return value
    if param.replaces:
        old = environ.get(PREFIX + param.replaces)
        if old:
            log.warning(
                "parameter %s is deprecated, use %s", param.replaces, param.name
            )
            return old
    return param.default


def load(
    spec: AgentSpec, environ: Mapping[str, str], *, lenient: bool = False
) -> Config:
    """Convert and check every parameter of ``spec``.

    Args:
        spec: the agent's declaration.
        environ: the process environment.
        lenient: instead of raising, leave unusable values at their default
            (or None) and log them; used by ``stop``, which must still find
            and stop a service whose configuration has since broken.

    Raises:
        ConfigError: listing every problem found, not just the first.
    """
    values: dict[str, object] = {}
    problems: list[str] = []
    for param in spec.params:
        raw = _raw(param, environ)
        if raw is None:
            if param.required:
                problems.append(f"required parameter {param.name} is not set")
            values[param.name] = None
            continue
        try:
            value = param.kind.convert(raw)
            if param.check is not None:
                param.check(value)
        except ValueError as exc:
            problems.append(_problem(param, raw, str(exc)))
            values[param.name] = _fallback(param) if lenient else None
            continue
        values[param.name] = value
    if problems and not lenient:
        raise ConfigError(problems)
    for problem in problems:
        log.warning("ignoring bad parameter: %s", problem)
    return Config(values)


def _problem(param: Param, raw: str, reason: str) -> str:
    """``name=value: reason``, with the value masked if secret, cut if long."""
    if param.secret:
        return f"{param.name}=<secret>: {reason}"
    if len(raw) > SHOWN_CHARS:
        # Kinds echo the value they refuse ("'x...' is not an integer").
        reason = reason.replace(repr(raw), "it")
    return f"{param.name}={shown(raw)}: {reason}"


def _fallback(param: Param) -> object:
    if param.default is None:
        return None
    try:
        return param.kind.convert(param.default)
    except ValueError:
        return None


def secrets_of(spec: AgentSpec, environ: Mapping[str, str]) -> list[str]:
    """Raw values of secret parameters, for redaction before parsing succeeds."""
    found = []
    for param in spec.params:
        if not param.secret:
            continue
        for name in (param.name, param.replaces):
            if name and environ.get(PREFIX + name):
                found.append(environ[PREFIX + name])
    return found
