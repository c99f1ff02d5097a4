"""Reading a TOML table with every mistake reported by its field path.

The topology reader (:mod:`cib_builder.topology`) walks the parsed TOML with
:class:`Table`: it reports unknown keys and wrong types, converts values with
checks that raise ``ValueError``, and hands every problem to a collector, so
that all of them are reported at once.  Nothing here does I/O.
"""

from __future__ import annotations

import difflib
import ipaddress
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

#: Path of the problems that concern the file as a whole.
FILE = "(file)"
_LABEL = r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)"
_HOSTNAME_RE = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(\.{_LABEL})*\.?$")
_BARE_KEY_RE = re.compile(r"^[A-Za-z0-9_-]+$")
_TOML_TYPES = (
    (bool, "a boolean"),  # before int: bool is an int subclass
    (int, "an integer"),
    (float, "a float"),
    (str, "a string"),
    (list, "an array"),
    (dict, "a table"),
)


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a topology, and where.

    Attributes:
        path: the field, like ``nodes[2].bmc.address``; ``(file)`` for the
            file as a whole.
        message: what is wrong, for a person.
    """

    path: str
    message: str

    def __str__(self) -> str:
        """Render ``path: message``."""
        return f"{self.path}: {self.message}"


class Collector(Protocol):
    """Where a table reports its problems."""

    def error(self, path: str, message: str) -> None:
        """Record a problem with the field at ``path``."""


def join(path: str, key: str) -> str:
    """The path of ``key`` in the table at ``path`` (quoted when TOML needs it)."""
    if not _BARE_KEY_RE.match(key):
        key = '"' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return f"{path}.{key}" if path else key


def toml_type(value: object) -> str:
    """A person's name for the TOML type of ``value`` ("an integer")."""
    for kind, name in _TOML_TYPES:
        if isinstance(value, kind):
            return name
    return "a date or time"


def suggest(word: str, known: tuple[str, ...]) -> str:
    """A hint for a misspelled ``word``: the closest known one, or the list."""
    close = difflib.get_close_matches(word, known, n=1)
    if close:
        return f"did you mean {close[0]!r}?"
    return "known: " + ", ".join(known)


def one_of(*choices: str) -> Callable[[str], str]:
    """A check that accepts only ``choices``."""

    def check(value: str) -> str:
        if value not in choices:
            raise ValueError(f"{value!r} is not one of: {', '.join(choices)}")
        return value

    return check


def matching(pattern: str, message: str) -> Callable[[str], str]:
    """A check that accepts what ``pattern`` matches, else says ``message``."""
    regex = re.compile(pattern)

    def check(value: str) -> str:
        if not regex.match(value):
            raise ValueError(message)
        return value

    return check


def hostname(value: str) -> str:
    """Accept a host name (RFC 1123 labels)."""
    if not _HOSTNAME_RE.match(value):
        raise ValueError("not a valid host name")
    return value


def ip_address(value: str) -> str:
    """Accept a unicast IPv4 or IPv6 address, in its normal form."""
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        raise ValueError("not an IPv4 or IPv6 address") from None
    if address.is_unspecified or address.is_multicast:
        raise ValueError("not a unicast address")
    return str(address)


def host(value: str) -> str:
    """Accept an IP address or a host name."""
    try:
        return ip_address(value)
    except ValueError:
        pass
    try:
        return hostname(value)
    except ValueError:
        raise ValueError("not an IP address or host name") from None


class Table:
    """A TOML table being read: reports unknown keys and wrong types."""

    def __init__(
        self,
        reader: Collector,
        data: Mapping[str, object],
        path: str,
        allowed: tuple[str, ...],
        hints: Mapping[str, str] | None = None,
    ) -> None:
        """Read ``data`` found at ``path``; keys outside ``allowed`` are errors.

        ``hints`` replaces the generic message for some unknown keys.
        """
        self.reader = reader
        self.data = data
        self.path = path
        for key in data:
            if key in allowed:
                continue
            hint = (hints or {}).get(key)
            self.error(key, hint or "unknown key; allowed: " + ", ".join(allowed))

    def sub(self, key: str) -> str:
        """The path of ``key`` in this table."""
        return join(self.path, key)

    def has(self, key: str) -> bool:
        """Tell whether the table sets ``key``."""
        return key in self.data

    def error(self, key: str, message: str) -> None:
        """Report a problem with ``key``."""
        self.reader.error(self.sub(key), message)

    def _get(self, key: str, kind: type, expected: str, required: bool) -> object:
        if key not in self.data:
            if required:
                self.error(key, "required key is missing")
            return None
        value = self.data[key]
        # bool is an int subclass: TOML true is not an integer.
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            self.error(key, f"expected {expected}, got {toml_type(value)}")
            return None
        return value

    def text(
        self,
        key: str,
        check: Callable[[str], str] | None = None,
        required: bool = False,
    ) -> str | None:
        """A string, passed through ``check``; None when missing or wrong."""
        value = self._get(key, str, "a string", required)
        if not isinstance(value, str):
            return None
        if check is None:
            return value
        try:
            return check(value)
        except ValueError as exc:
            self.error(key, str(exc))
            return None

    def integer(
        self, key: str, low: int, high: int | None = None, *, required: bool = False
    ) -> int | None:
        """An integer from ``low`` to ``high``; None when missing or wrong."""
        value = self._get(key, int, "an integer", required)
        if not isinstance(value, int):
            return None
        if value < low or (high is not None and value > high):
            shown = f"{low} to {high}" if high is not None else f"at least {low}"
            self.error(key, f"{value} is out of range ({shown})")
            return None
        return value

    def boolean(self, key: str, default: bool) -> bool:
        """A boolean, ``default`` when missing or wrong."""
        value = self._get(key, bool, "a boolean", False)
        return value if isinstance(value, bool) else default

    def array(self, key: str, *, required: bool = False) -> list[object] | None:
        """An array; None when missing or wrong."""
        value = self._get(key, list, "an array", required)
        return value if isinstance(value, list) else None

    def table(
        self,
        key: str,
        allowed: tuple[str, ...],
        *,
        required: bool = False,
        hints: Mapping[str, str] | None = None,
    ) -> Table | None:
        """A sub-table, read with its own ``allowed`` keys."""
        value = self._get(key, dict, "a table", required)
        if not isinstance(value, dict):
            return None
        return Table(self.reader, value, self.sub(key), allowed, hints)

    def tables(
        self, key: str, allowed: tuple[str, ...], *, required: bool = False
    ) -> list[Table | None]:
        """Read an array of tables; entries of another type are None."""
        items = self.array(key, required=required)
        if items is None:
            return []
        result: list[Table | None] = []
        for index, item in enumerate(items):
            path = f"{self.sub(key)}[{index}]"
            if isinstance(item, dict):
                result.append(Table(self.reader, item, path, allowed))
            else:
                self.reader.error(path, f"expected a table, got {toml_type(item)}")
                result.append(None)
        return result
