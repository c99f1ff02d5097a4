"""Loggers that import ``logging`` only when a message is really emitted.

``logging`` (with ``threading``, ``traceback`` and friends) costs several
milliseconds of every agent run, and a healthy monitor logs nothing.  Agent
modules take ``log = lazylog.get(__name__)``; the dispatcher calls
:func:`configure` with the threshold and the set-up to run before the first
message.  Below the threshold a call costs a comparison; at or above it the
set-up runs once and the message goes to the real ``logging`` logger.
Without :func:`configure` (tests, other callers) messages go straight to
``logging`` as usual.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing costs ~5 ms of start-up; see STYLE.md section 9
if TYPE_CHECKING:
    import logging
    from typing import Callable

DEBUG, INFO, WARNING, ERROR = 10, 20, 30, 40

_state: dict[str, object] = {"threshold": 0, "setup": None}


def configure(threshold: int, setup: Callable[[], None] | None) -> None:
    """Drop messages below ``threshold``; run ``setup`` before the first other."""
    _state["threshold"] = threshold
    _state["setup"] = setup


def _ready() -> None:
    setup = _state["setup"]
    if setup is not None:
        _state["setup"] = None
        setup()  # type: ignore[operator]


class LazyLogger:
    """The subset of ``logging.Logger`` agents use, resolved on first emit."""

    __slots__ = ("_logger", "name")

    def __init__(self, name: str) -> None:
        """Name the logger; nothing is imported yet."""
        self.name = name
        self._logger: logging.Logger | None = None

    def _real(self) -> logging.Logger:
        _ready()  # also after a re-configure, for loggers resolved earlier
        if self._logger is None:
            import logging  # noqa: PLC0415

            self._logger = logging.getLogger(self.name)
        return self._logger

    def isEnabledFor(self, level: int) -> bool:  # noqa: N802 - logging's name
        """Tell whether a message at ``level`` would be handled."""
        threshold = _state["threshold"]
        assert isinstance(threshold, int)
        return level >= threshold and self._real().isEnabledFor(level)

    def log(self, level: int, msg: object, *args: object, **kwargs: object) -> None:
        """Emit ``msg % args`` at ``level`` unless it is below the threshold."""
        threshold = _state["threshold"]
        assert isinstance(threshold, int)
        if level >= threshold:
            self._real().log(level, msg, *args, **kwargs)  # type: ignore[arg-type]

    def debug(self, msg: object, *args: object, **kwargs: object) -> None:
        """Emit at DEBUG."""
        self.log(DEBUG, msg, *args, **kwargs)

    def info(self, msg: object, *args: object, **kwargs: object) -> None:
        """Emit at INFO."""
        self.log(INFO, msg, *args, **kwargs)

    def warning(self, msg: object, *args: object, **kwargs: object) -> None:
        """Emit at WARNING."""
        self.log(WARNING, msg, *args, **kwargs)

    def error(self, msg: object, *args: object, **kwargs: object) -> None:
        """Emit at ERROR."""
        self.log(ERROR, msg, *args, **kwargs)

    def exception(self, msg: object, *args: object, **kwargs: object) -> None:
        """Emit at ERROR with the current exception's traceback."""
        kwargs.setdefault("exc_info", True)
        self.log(ERROR, msg, *args, **kwargs)


def get(name: str) -> LazyLogger:
    """The lazy logger called ``name``."""
    return LazyLogger(name)


def shutdown() -> None:
    """Flush and close logging's handlers, if logging was ever set up."""
    import sys  # noqa: PLC0415 - built in

    if "logging" in sys.modules:
        sys.modules["logging"].shutdown()
