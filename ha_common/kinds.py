"""Value kinds: how a parameter's wire string becomes a checked Python value.

A kind converts the string an operator wrote (an ``OCF_RESKEY_*`` value, a fence
option) and raises ``ValueError`` with a user-facing reason when it is unusable.
Kinds never touch the host: checks that need the file system or the user
database belong in an agent's ``validate`` hook.
"""

from __future__ import annotations

from ha_common.record import record

TYPE_CHECKING = False  # typing costs ~5 ms of start-up; see STYLE.md section 9
if TYPE_CHECKING:
    from typing import Callable

_TRUE = frozenset({"1", "yes", "y", "true", "on", "ja"})
_FALSE = frozenset({"0", "no", "n", "false", "off"})

#: Characters a shell would interpret.  hakit never runs a shell, but a value
#: holding them in a path, a user name or a host is a mistake or an attack.
SHELL_META = frozenset(";&|`$<>(){}\\\"'*?[]!#~\n\r\t")

# Character classes as sets: the agents' start-up does without ``re``.
LETTERS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
DIGITS = frozenset("0123456789")
WORD = LETTERS | DIGITS | {"_"}
_NAME_FIRST = LETTERS | {"_"}
_NAME_REST = WORD | {".", "-"}
_HOST_CHARS = WORD | {".", ":", "-"}
_NODE_CHARS = WORD | {".", "-"}
_MAPPED_HOST_CHARS = _HOST_CHARS | {"[", "]"}  # a bracketed IPv6 host with a port


def consists_of(text: str, allowed: frozenset[str]) -> bool:
    """Tell whether ``text`` is non-empty and made only of ``allowed``."""
    return bool(text) and all(char in allowed for char in text)


def _is_name(value: str) -> bool:
    """A user or group name: ``[A-Za-z_][A-Za-z0-9_.-]{0,31}``, then maybe ``$``."""
    core = value[:-1] if value.endswith("$") else value
    return (
        0 < len(core) <= 32
        and core[0] in _NAME_FIRST
        and consists_of(core[1:] or "_", _NAME_REST)
    )


def _is_env_name(value: str) -> bool:
    return bool(value) and value[0] in _NAME_FIRST and consists_of(value, WORD)


@record
class Kind:
    """How a wire string is converted and what type meta-data announces.

    Attributes:
        ocf_type: the ``content type`` of OCF meta-data
            (``string``, ``integer`` or ``boolean``).
        convert: wire string -> value; raises ``ValueError`` with the reason.
        choices: allowed values, described in the long description.
        name: a short human name for messages ("port", "path").
    """

    ocf_type: str
    convert: Callable[[str], object]
    choices: tuple[str, ...] = ()
    name: str = "value"


def _reject_control(value: str) -> None:
    if any(ord(c) < 32 for c in value):
        raise ValueError("contains a control character")


def to_string(value: str) -> str:
    """Accept any single-line text."""
    _reject_control(value)
    return value


def to_bool(value: str) -> bool:
    """Parse the boolean spellings the cluster tools accept."""
    low = value.strip().lower()
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    raise ValueError(f"{value!r} is not a boolean (use true or false)")


def to_int(value: str) -> int:
    """Parse a decimal integer."""
    try:
        return int(value.strip(), 10)
    except ValueError:
        raise ValueError(f"{value!r} is not an integer") from None


def to_non_negative(value: str) -> int:
    """Parse an integer that is zero or more."""
    number = to_int(value)
    if number < 0:
        raise ValueError(f"{number} is negative")
    return number


def to_port(value: str) -> int:
    """Parse a TCP port number."""
    number = to_int(value)
    if not 1 <= number <= 65535:
        raise ValueError(f"{number} is not a TCP port (1-65535)")
    return number


def no_shell_meta(value: str) -> str:
    """Refuse characters that a shell would interpret."""
    bad = sorted({c for c in value if c in SHELL_META})
    if bad:
        shown = " ".join(repr(c) for c in bad)
        raise ValueError(f"contains shell metacharacters ({shown})")
    return value


def to_path(value: str) -> str:
    """Parse an absolute path without shell metacharacters."""
    no_shell_meta(value)
    if " " in value:
        raise ValueError(f"{value!r} contains a space")
    if not value.startswith("/"):
        raise ValueError(f"{value!r} is not an absolute path")
    return value


def to_paths(value: str) -> tuple[str, ...]:
    """Parse a space-separated list of absolute paths."""
    return tuple(to_path(item) for item in value.split())


def to_name(value: str) -> str:
    """Parse a user or group name."""
    if not _is_name(value):
        no_shell_meta(value)
        raise ValueError(f"{value!r} is not a valid user or group name")
    return value


def to_host(value: str) -> str:
    """Parse a host name or an IPv4/IPv6 address."""
    if not consists_of(value, _HOST_CHARS):
        no_shell_meta(value)
        raise ValueError(f"{value!r} is not a host name or address")
    return value


def to_args(value: str) -> tuple[str, ...]:
    """Split extra command-line arguments like a shell would, but run no shell.

    Quoting works as in ``sh``; operators and expansions are refused so that a
    value can never mean more than arguments to the one program.
    """
    try:
        import shlex  # noqa: PLC0415 - only parameters of this kind need it

        words = shlex.split(value, comments=False, posix=True)
    except ValueError as exc:
        raise ValueError(f"cannot split arguments: {exc}") from None
    for word in words:
        bad = sorted({c for c in word if c in ";&|`$<>\n\r"})
        if bad:
            shown = " ".join(repr(c) for c in bad)
            raise ValueError(
                f"argument {word!r} contains shell metacharacters ({shown})"
            )
    return tuple(words)


def to_env(value: str) -> tuple[tuple[str, str], ...]:
    """Parse ``NAME=VALUE`` words (shell-quoted) into environment pairs."""
    pairs = []
    for word in to_args(value):
        name, sep, val = word.partition("=")
        if not sep or not _is_env_name(name):
            raise ValueError(f"{word!r} is not NAME=VALUE")
        if name.startswith("LD_"):
            raise ValueError(f"{name} may not be set for a cluster service")
        pairs.append((name, val))
    return tuple(pairs)


def to_host_map(value: str) -> dict[str, str]:
    """Parse ``node:host;node:host``: Pacemaker node names to service hosts.

    For agents whose peers are addressed by host (Galera's gcomm:// address,
    RabbitMQ's node names) on clusters whose node names are not those hosts.
    ``,`` separates entries too; a host may carry a port.
    """
    mapping: dict[str, str] = {}
    for raw in value.replace(",", ";").split(";"):
        entry = raw.strip()
        if not entry:
            continue
        node, sep, host = (part.strip() for part in entry.partition(":"))
        if not (
            sep
            and node
            and host
            and consists_of(node, _NODE_CHARS)
            and consists_of(host, _MAPPED_HOST_CHARS)
        ):
            raise ValueError(f"{entry!r} is not node:host")
        if node in mapping:
            raise ValueError(f"node {node} is mapped twice")
        mapping[node] = host
    return mapping


def one_of(*choices: str) -> Kind:
    """Build a string kind limited to ``choices``."""

    def convert(value: str) -> str:
        if value not in choices:
            raise ValueError(f"{value!r} is not one of: {', '.join(choices)}")
        return value

    return Kind("string", convert, choices=choices, name="choice")


STRING = Kind("string", to_string, name="string")
BOOLEAN = Kind("boolean", to_bool, name="boolean")
INTEGER = Kind("integer", to_int, name="integer")
SECONDS = Kind("integer", to_non_negative, name="duration in seconds")
PORT = Kind("integer", to_port, name="port")
PATH = Kind("string", to_path, name="path")
PATHS = Kind("string", to_paths, name="list of paths")
NAME = Kind("string", to_name, name="name")
HOST = Kind("string", to_host, name="host")
ARGS = Kind("string", to_args, name="arguments")
ENV = Kind("string", to_env, name="environment")
HOST_MAP = Kind("string", to_host_map, name="node:host list")
