"""Where option values come from: argv flags or Pacemaker's stdin ``key=value``.

One resolver serves both and records each value's source.  Unknown argv flags
are usage errors; unknown stdin keys are warned about and ignored, because
Pacemaker's fencer passes extra keys (``nodename`` and ``pcmk_*`` silently).
Unlike ClusterLabs agents, no input defaults to a reboot: without an action
the agent refuses to act.
"""

from __future__ import annotations

from fence_agents._runtime.errors import FenceUsageError, UndeclaredOptionError
from fence_agents._runtime.options import DESCRIBING, FLAG, SWITCHES
from ha_common.lazylog import DEBUG, WARNING

TYPE_CHECKING = False  # typing costs start-up time; see STYLE.md section 9
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping, Sequence

    from fence_agents._runtime.options import Option

SILENT_KEYS = frozenset({"nodename", "agent"})


class Options:
    """Converted option values, where each came from, and secrets to mask.

    ``values`` holds every declared option (None when unset); reading any
    other name raises :class:`UndeclaredOptionError`.  A plain class rather
    than a dataclass: ``dataclasses`` would cost every fence action its
    import (with ``inspect``) at start-up.
    """

    __slots__ = ("notes", "on_secret", "secrets", "sources", "switch", "values")

    def __init__(
        self,
        values: dict[str, object],
        sources: dict[str, str],
        secrets: list[str] | None = None,
        switch: str = "",
    ) -> None:
        """Hold the resolved options; ``secrets`` is extended as they are found.

        Args:
            values: every declared option's converted value (None when unset).
            sources: where each set value came from (argv, stdin, default).
            secrets: secret values seen so far, for masking.
            switch: "help" or "version" when argv asked for one, else "".
        """
        self.values = values
        self.sources = sources
        self.secrets: list[str] = [] if secrets is None else secrets
        self.switch = switch
        #: (level, message) found while parsing, logged once logging is set up.
        self.notes: list[tuple[int, str]] = []
        #: Called with every secret found later (the driver's redactor).
        self.on_secret: Callable[[str], None] | None = None

    def add_secret(self, value: str) -> None:
        """Register a secret found while acting (a scripted password, a token)."""
        if value and value not in self.secrets:
            self.secrets.append(value)
        if value and self.on_secret is not None:
            self.on_secret(value)

    def __repr__(self) -> str:
        """Show the sources, never the values (they may hold secrets)."""
        return f"Options(sources={self.sources!r}, switch={self.switch!r})"

    def __getitem__(self, name: str) -> object:
        """The converted value of ``name`` (None when unset).

        Raises:
            UndeclaredOptionError: the agent does not declare ``name``.
        """
        try:
            return self.values[name]
        except KeyError:
            raise UndeclaredOptionError(
                f"option {name!r} is read but not declared by this agent"
            ) from None

    def text(self, name: str) -> str:
        """A string option, '' when unset."""
        value = self[name]
        return "" if value is None else str(value)

    def number(self, name: str) -> int:
        """An integer option ('' or unset is an error: declare a default).

        Raises:
            UndeclaredOptionError: the agent does not declare ``name``.
            TypeError: the option is unset or not an integer.
        """
        value = self[name]
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"option {name!r} has no integer value")
        return value

    def flag(self, name: str) -> bool:
        """A boolean option."""
        return bool(self[name])

    def declares(self, name: str) -> bool:
        """Tell whether the agent declares option ``name``."""
        return name in self.values


def _index(options: Sequence[Option]) -> dict[str, Option]:
    index: dict[str, Option] = {}
    for opt in options:
        index[opt.name] = opt
        for alias in opt.aliases:
            index[alias] = opt
    return index


def _from_argv(
    options: Sequence[Option], argv: Sequence[str]
) -> tuple[dict[str, str], str]:
    """The raw values on argv, and the switch ("help", "version") if one came."""
    flags: dict[str, Option] = {}
    for opt in options:
        flags[opt.long] = opt
        if opt.short:
            flags[opt.short] = opt
        for alias in opt.aliases:
            flags["--" + alias.replace("_", "-")] = opt
    switches = {}
    for short, long, _ in SWITCHES:
        switches[short] = switches[long] = long[2:]
    raw: dict[str, str] = {}
    words = list(argv)
    while words:
        word = words.pop(0)
        if word in switches:
            return raw, switches[word]
        name, eq, inline = word.partition("=")
        if (
            not eq
            and word.startswith("-")
            and not word.startswith("--")
            and len(word) > 2
        ):
            name, inline, eq = word[:2], word[2:], "="  # -a10.0.0.1
        found = flags.get(name)
        if found is None:
            raise FenceUsageError(f"unknown option {name!r}")
        opt = found
        if opt.kind is FLAG:
            raw[opt.name] = inline if eq else "1"
            continue
        if eq:
            raw[opt.name] = inline
        elif words:
            raw[opt.name] = words.pop(0)
        else:
            raise FenceUsageError(f"option {name} needs a value")
    return raw, ""


def _from_stdin(
    options: Sequence[Option], lines: Iterable[str], notes: list[tuple[int, str]]
) -> dict[str, str]:
    index = _index(options)
    raw: dict[str, str] = {}
    for number, line in enumerate(lines, start=1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        key, eq, value = text.partition("=")
        key = key.strip()
        if not eq:
            raise FenceUsageError(f"stdin line {number} is not key=value")
        opt = index.get(key)
        if opt is None:
            if key not in SILENT_KEYS and not key.startswith("pcmk_"):
                notes.append((WARNING, f"ignoring unknown key {key!r} on stdin"))
            continue
        if key not in (opt.name, "option"):
            note = f"stdin key {key} is the deprecated name of {opt.name}"
            notes.append((DEBUG, note))
        raw[opt.name] = value.strip()
    return raw


def _convert(
    options: Sequence[Option], raw: Mapping[str, str], source: str
) -> tuple[dict[str, object], dict[str, str], list[str]]:
    """Every declared option's value (None when unset), its source, the problems.

    An option whose value cannot be converted is left out of the sources.
    """
    values: dict[str, object] = {}
    sources: dict[str, str] = {}
    problems = []
    for opt in options:
        values[opt.name] = None
        text = raw.get(opt.name)
        origin = source
        if opt.kind is FLAG and text == "":
            text = "1"  # "ssl_insecure=" on stdin, as fence-agents reads it
        if not text:
            text, origin = opt.default, "default"
        if text is None:
            continue
        try:
            values[opt.name] = opt.kind.convert(text)
        except ValueError as exc:
            if opt.secret:  # the reason may quote the value
                problems.append(f"{opt.name}: not a valid {opt.kind.name}")
            else:
                problems.append(f"{opt.name}={text!r}: {exc}")
            continue
        sources[opt.name] = origin
    return values, sources, problems


def _missing(opt: Option) -> str:
    """The problem of a required option left unset, naming how to give it."""
    flags = ", ".join(flag for flag in (opt.short, opt.long) if flag)
    return f"{opt.name} is required ({flags} or {opt.name}= on stdin)"


def resolve(
    options: Sequence[Option],
    argv: Sequence[str],
    stdin_lines: Iterable[str] | None,
    environ: Mapping[str, str] | None = None,
) -> Options:
    """Parse argv, or stdin when argv is empty; convert, apply defaults.

    An empty value (``ipport=``) counts as unset: the default applies.  The
    declaration's ``required`` is enforced here, except for the actions that
    only describe the agent (metadata, manpage) and the -h/-V switches.

    Raises:
        FenceUsageError: unknown flags, unusable values, a required option
            unset, or no action.
    """
    del environ
    notes: list[tuple[int, str]] = []
    if argv:
        raw, switch = _from_argv(options, argv)
        source = "argv"
    else:
        raw, switch = _from_stdin(options, stdin_lines or (), notes), ""
        source = "stdin"
    secrets = [raw[o.name] for o in options if o.secret and raw.get(o.name)]
    values, sources, problems = _convert(options, raw, source)
    if not switch:
        if not raw.get("action"):
            problems.insert(
                0, "no action given (use -o ACTION or action=ACTION); refusing to act"
            )
        if values.get("action") not in DESCRIBING:
            problems += [
                _missing(opt)
                for opt in options
                # Neither given nor defaulted (a value that failed to convert
                # is reported already).
                if opt.required and not raw.get(opt.name) and opt.name not in sources
            ]
    if problems:
        raise FenceUsageError("; ".join(problems))
    resolved = Options(values, sources, secrets, switch)
    resolved.notes = notes
    return resolved
