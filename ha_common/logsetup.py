"""Logging the way the cluster expects it; called only by the dispatchers."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping

from ha_common.redact import Redactor

_FACILITIES = [
    "kern",
    "user",
    "mail",
    "daemon",
    "auth",
    "syslog",
    "lpr",
    "news",
    "uucp",
    "cron",
    "authpriv",
    "ftp",
    "local0",
    "local1",
    "local2",
    "local3",
    "local4",
    "local5",
    "local6",
    "local7",
]


class RedactingFilter(logging.Filter):
    """A logging filter that renders the message and masks secrets in it."""

    def __init__(self, redactor: Redactor) -> None:
        """Use ``redactor`` on every record."""
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        """Render ``record`` once, masked; never drop it."""
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redactor(record.exc_text)
        record.msg = self.redactor(message)
        record.args = None
        return True


def _debug_enabled(environ: Mapping[str, str]) -> bool:
    value = environ.get("HA_debug", "")
    return value not in ("", "0")


def _syslog_handler(facility: str, ident: str) -> logging.Handler | None:
    import logging.handlers  # noqa: PLC0415 - only when syslog is wanted

    if facility.lower() not in _FACILITIES or not os.path.exists("/dev/log"):
        return None
    code = logging.handlers.SysLogHandler.facility_names[facility.lower()]
    try:
        handler = logging.handlers.SysLogHandler(address="/dev/log", facility=code)
    except OSError:
        return None
    handler.ident = ident
    return handler


def setup_ocf(
    agent: str, instance: str, environ: Mapping[str, str], redactor: Redactor
) -> None:
    """Install the handlers of an OCF agent run.

    Syslog when ``HA_LOGFACILITY``/``PCMK_logfacility`` names a facility, the
    files named by ``HA_LOGFILE`` (info) and ``HA_DEBUGLOG`` (debug), and
    stderr for warnings (everything on a terminal).  ``HA_debug`` other than
    "" or "0" turns on debug messages.
    """
    root = logging.getLogger()
    root.handlers.clear()
    debug = _debug_enabled(environ)
    root.setLevel(logging.DEBUG if debug else logging.INFO)
    redacting = RedactingFilter(redactor)
    ident = f"{agent}({instance})[{os.getpid()}]: "
    text = logging.Formatter(
        "%(asctime)s " + ident + "%(levelname)s: %(message)s", "%b %d %H:%M:%S"
    )

    def add(handler: logging.Handler, level: int, fmt: logging.Formatter) -> None:
        handler.setLevel(level)
        handler.setFormatter(fmt)
        handler.addFilter(redacting)
        root.addHandler(handler)

    facility = environ.get("HA_LOGFACILITY") or environ.get("PCMK_logfacility") or ""
    if facility and facility.lower() != "none":
        syslog = _syslog_handler(facility, ident)
        if syslog is not None:
            add(syslog, logging.DEBUG, logging.Formatter("%(levelname)s: %(message)s"))
    for var, level in (("HA_LOGFILE", logging.INFO), ("HA_DEBUGLOG", logging.DEBUG)):
        path = environ.get(var)
        if path:
            try:
                add(logging.FileHandler(path), level, text)
            except OSError:
                pass
    stderr_level = logging.DEBUG if sys.stderr.isatty() else logging.WARNING
    stderr = logging.StreamHandler(sys.stderr)
    # The exit reason reaches stderr once, as the "ocf-exit-reason:" line.
    stderr.addFilter(lambda record: not getattr(record, "exit_reason", False))
    add(stderr, stderr_level, logging.Formatter(agent + ": %(levelname)s: %(message)s"))


def setup_fence(
    agent: str,
    redactor: Redactor,
    *,
    verbose: bool = False,
    quiet: bool = False,
    debug_file: str = "",
) -> None:
    """Install the handlers of a fence agent run.

    Syslog always (when /dev/log exists), stderr unless ``quiet``, DEBUG with
    ``verbose``, and ``debug_file`` for everything.
    """
    root = logging.getLogger()
    root.handlers.clear()
    root.setLevel(logging.DEBUG if verbose or debug_file else logging.INFO)
    redacting = RedactingFilter(redactor)
    text = logging.Formatter("%(asctime)s %(levelname)s: %(message)s")

    def add(handler: logging.Handler, level: int) -> None:
        handler.setLevel(level)
        handler.setFormatter(text)
        handler.addFilter(redacting)
        root.addHandler(handler)

    syslog = _syslog_handler("daemon", f"{agent}[{os.getpid()}]: ")
    if syslog is not None:
        add(syslog, logging.INFO)
    if debug_file:
        try:
            add(logging.FileHandler(debug_file), logging.DEBUG)
        except OSError:
            pass
    if not quiet:
        stderr = logging.StreamHandler(sys.stderr)
        stderr.addFilter(lambda record: not getattr(record, "exit_reason", False))
        add(stderr, logging.DEBUG if verbose else logging.WARNING)
