"""Run one action: load parameters, call the handler, map errors to OCF codes.

Only ``dispatch.main`` calls this, after meta-data and usage are ruled out, so
logging and the parsing machinery are never imported for meta-data.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from types import ModuleType

from ha_common import lazylog, modules
from ocf_agents._runtime import context, env
from ocf_agents._runtime.errors import (
    AgentError,
    ConfigError,
    HostSetupError,
    MissingLibraryError,
    NotInstalledError,
    UnimplementedError,
)
from ocf_agents._runtime.rc import OcfRc
from ocf_agents._runtime.spec import AgentSpec

log = lazylog.get(__name__)

#: Characters of an exit reason at most.  Pacemaker shows it in ``crm_mon``
#: and keeps it in the CIB's status section; one line must stay readable.
MAX_REASON = 400

#: Errors that mean "cannot run here", which a probe reports as not running.
_SETUP_ERRORS = (ConfigError, HostSetupError, NotInstalledError)

TYPE_CHECKING = False  # typing costs ~5 ms of start-up; see STYLE.md section 9
if TYPE_CHECKING:
    from typing import Callable

    Handler = Callable[[env.Config, context.ActionContext], OcfRc]


class Outcome:
    """An exit code and an optional exit reason."""

    def __init__(self, rc: OcfRc, reason: str = "") -> None:
        self.rc = rc
        self.reason = reason


def _handlers(spec: AgentSpec) -> ModuleType:
    return modules.load(spec.handlers)


def _handler(module: ModuleType, action: str) -> Handler | None:
    name = action.replace("-", "_")
    if action == "validate-all":
        name = "validate"
    if action in ("meta-data", "usage"):
        return None
    handler: Handler | None = getattr(module, name, None)
    return handler


def _load(
    spec: AgentSpec, action: str, environ: Mapping[str, str]
) -> tuple[env.Config, bool]:
    """Load parameters; ``stop`` falls back to a lenient load (degraded)."""
    try:
        return env.load(spec, environ), False
    except ConfigError:
        if action != "stop":
            raise
        return env.load(spec, environ, lenient=True), True


def _call(spec: AgentSpec, action: str, environ: Mapping[str, str]) -> OcfRc:
    try:
        return _call_handler(spec, action, environ)
    except ModuleNotFoundError as exc:
        from ha_common import modules  # noqa: PLC0415

        raise MissingLibraryError(modules.describe(exc)) from None


def _call_handler(spec: AgentSpec, action: str, environ: Mapping[str, str]) -> OcfRc:
    cfg, degraded = _load(spec, action, environ)
    ctx = context.build(spec, action, environ, degraded=degraded)
    handler = _handler(_handlers(spec), action)
    if handler is None:
        if action == "validate-all":
            return OcfRc.SUCCESS  # env.load above was the whole validation
        raise UnimplementedError(f"action {action} is not implemented")
    return OcfRc(handler(cfg, ctx))


def run_action(spec: AgentSpec, action: str, environ: Mapping[str, str]) -> Outcome:
    """Run ``action`` and map the result to an exit code, per OCF rules."""
    interval = environ.get("OCF_RESKEY_CRM_meta_interval", "0")
    is_probe = action == "monitor" and interval in ("", "0")
    try:
        return Outcome(_call(spec, action, environ))
    except _SETUP_ERRORS as exc:
        if is_probe:
            log.info("probe: %s; reporting not running", exc)
            return Outcome(OcfRc.NOT_RUNNING)
        if action == "stop" and isinstance(exc, NotInstalledError):
            log.warning("stop: %s; the service cannot be running", exc)
            return Outcome(OcfRc.SUCCESS)
        return Outcome(exc.rc, str(exc))
    except AgentError as exc:
        return Outcome(exc.rc, str(exc))
    except Exception as exc:  # noqa: BLE001 - the one place that must not crash
        log.debug("internal error in %s", action, exc_info=True)
        return Outcome(OcfRc.ERR_GENERIC, f"internal error: {type(exc).__name__}")


def cut_reason(reason: str) -> str:
    """Cut an over-long exit reason at a word boundary and say that it was cut.

    Values are cut where they are shown (``env.shown``); this is the net
    for every other message.  It runs after redaction, so a secret is
    masked before the cut could leave a part of it unmatched.
    """
    if len(reason) <= MAX_REASON:
        return reason
    head = reason[:MAX_REASON]
    space = head.rfind(" ")
    if space > MAX_REASON // 2:
        head = head[:space]
    return f"{head.rstrip()}... (cut: {len(reason)} characters in all)"


def logsetup_threshold(environ: Mapping[str, str]) -> int:
    """The lowest level an OCF run logs: DEBUG with ``HA_debug``, else INFO."""
    debug = environ.get("HA_debug", "") not in ("", "0")
    return lazylog.DEBUG if debug else lazylog.INFO


def execute(
    spec: AgentSpec, action: str, environ: Mapping[str, str]
) -> tuple[int, str]:
    """Set up logging, run ``action``; return the exit code and the exit reason."""
    from ha_common.redact import Redactor  # noqa: PLC0415

    redactor = Redactor(env.secrets_of(spec, environ))
    instance = environ.get("OCF_RESOURCE_INSTANCE") or spec.name

    def setup() -> None:
        from ha_common import logsetup  # noqa: PLC0415

        logsetup.setup_ocf(spec.name, instance, environ, redactor)

    # logging is imported only if a message is emitted (a healthy monitor
    # emits none); see ha_common.lazylog.
    lazylog.configure(logsetup_threshold(environ), setup)
    if action not in spec.action_names() and action not in ("status", "reload"):
        outcome = Outcome(
            OcfRc.ERR_UNIMPLEMENTED, f"action {action!r} is not implemented"
        )
    else:
        outcome = run_action(spec, "monitor" if action == "status" else action, environ)
    reason = ""
    if outcome.reason:
        reason = cut_reason(redactor(" ".join(outcome.reason.split())))
        log.error("%s: %s", action, reason, extra={"exit_reason": True})
    if "logging" in sys.modules:
        sys.modules["logging"].shutdown()
    return int(outcome.rc), reason
