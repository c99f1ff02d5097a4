"""Where option values come from: argv flags or Pacemaker's stdin ``key=value``.

One resolver serves both and records each value's source.  Unknown argv flags
are usage errors; unknown stdin keys are warned about and ignored, because
Pacemaker's fencer passes extra keys (``nodename`` and ``pcmk_*`` silently).
Unlike ClusterLabs agents, no input defaults to a reboot: without an action
the agent refuses to act.
"""

from __future__ import annotations

from fence_agents._runtime.errors import FenceUsageError
from fence_agents._runtime.options import FLAG
from ha_common.lazylog import DEBUG, WARNING

TYPE_CHECKING = False  # typing costs start-up time; see STYLE.md section 9
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping, Sequence

    from fence_agents._runtime.options import Option

SILENT_KEYS = frozenset({"nodename", "agent"})


class Options:
    """Converted option values, where each came from, and secrets to mask.

    A plain class rather than a dataclass: ``dataclasses`` would cost every
    fence action its import (with ``inspect``) at start-up.
    """

    __slots__ = ("help", "notes", "on_secret", "secrets", "sources", "values")

    def __init__(
        self,
        values: dict[str, object],
        sources: dict[str, str],
        secrets: list[str] | None = None,
        help: bool = False,
    ) -> None:
        """Hold the resolved options; ``secrets`` is extended as they are found."""
        self.values = values
        self.sources = sources
        self.secrets: list[str] = [] if secrets is None else secrets
        self.help = help
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
        return f"Options(sources={self.sources!r}, help={self.help!r})"

    def __getitem__(self, name: str) -> object:
        """The converted value of ``name`` (None when unset)."""
        return self.values.get(name)

    def text(self, name: str) -> str:
        """A string option, '' when unset."""
        value = self.values.get(name)
        return "" if value is None else str(value)

    def number(self, name: str) -> int:
        """An integer option (declared with a default)."""
        value = self.values.get(name)
        return value if isinstance(value, int) else 0

    def flag(self, name: str) -> bool:
        """A boolean option."""
        return bool(self.values.get(name))

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
) -> tuple[dict[str, str], bool]:
    flags: dict[str, Option] = {}
    for opt in options:
        flags[opt.long] = opt
        if opt.short:
            flags[opt.short] = opt
        for alias in opt.aliases:
            flags["--" + alias.replace("_", "-")] = opt
    raw: dict[str, str] = {}
    words = list(argv)
    while words:
        word = words.pop(0)
        if word in ("-h", "--help"):
            return raw, True
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
    return raw, False


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


def resolve(
    options: Sequence[Option],
    argv: Sequence[str],
    stdin_lines: Iterable[str] | None,
    environ: Mapping[str, str] | None = None,
) -> Options:
    """Parse argv, or stdin when argv is empty; convert, apply defaults.

    Raises:
        FenceUsageError: unknown flags, unusable values, or no action.
    """
    del environ
    notes: list[tuple[int, str]] = []
    if argv:
        raw, want_help = _from_argv(options, argv)
        source = "argv"
    else:
        raw, want_help = _from_stdin(options, stdin_lines or (), notes), False
        source = "stdin"
    values: dict[str, object] = {}
    sources: dict[str, str] = {}
    secrets = [raw[o.name] for o in options if o.secret and raw.get(o.name)]
    problems = []
    for opt in options:
        text = raw.get(opt.name)
        origin = source
        if text is None:
            text, origin = opt.default, "default"
        if text is None:
            values[opt.name] = None
            continue
        try:
            if opt.kind is FLAG:
                values[opt.name] = opt.kind.convert(text or "1")  # "ssl_insecure="
            else:
                values[opt.name] = opt.kind.convert(text) if text != "" else None
        except ValueError as exc:
            shown = "<secret>" if opt.secret else repr(text)
            problems.append(f"{opt.name}={shown}: {exc}")
            continue
        sources[opt.name] = origin
    if not want_help and "action" not in raw:
        problems.append(
            "no action given (use -o ACTION or action=ACTION); refusing to act"
        )
    if problems:
        raise FenceUsageError("; ".join(problems))
    resolved = Options(values, sources, secrets, want_help)
    resolved.notes = notes
    return resolved
