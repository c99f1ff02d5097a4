"""The one entry point of every OCF agent: action in, exit code out.

``main(name)`` is what an installed launcher calls.  It is the only place that
prints exit reasons and exits; handlers return an ``OcfRc`` or raise a typed
``AgentError``.  ``meta-data`` and ``usage`` read no environment and import
nothing beyond the declaration.
"""

from __future__ import annotations

import importlib
import logging
import os
import sys
from collections.abc import Mapping, Sequence
from types import ModuleType
from typing import Callable, NoReturn, Optional

from ha_common.redact import Redactor
from ocf_agents._runtime import context, env, registry
from ocf_agents._runtime.errors import (
    AgentError,
    ConfigError,
    HostSetupError,
    NotInstalledError,
    UnimplementedError,
)
from ocf_agents._runtime.rc import OcfRc
from ocf_agents._runtime.spec import AgentSpec

log = logging.getLogger(__name__)

#: Errors that mean "cannot run here", which a probe reports as not running.
_SETUP_ERRORS = (ConfigError, HostSetupError, NotInstalledError)

Handler = Callable[[env.Config, context.ActionContext], OcfRc]


def usage(spec: AgentSpec) -> str:
    """One usage line listing the agent's actions."""
    return f"usage: {spec.name} {{{'|'.join(spec.action_names())}}}"


class _Outcome:
    """An exit code and an optional exit reason."""

    def __init__(self, rc: OcfRc, reason: str = "") -> None:
        self.rc = rc
        self.reason = reason


def _handlers(spec: AgentSpec) -> ModuleType:
    return importlib.import_module(spec.handlers)


def _handler(module: ModuleType, action: str) -> Optional[Handler]:
    name = action.replace("-", "_")
    if action == "validate-all":
        name = "validate"
    if action in ("meta-data", "usage"):
        return None
    handler: Optional[Handler] = getattr(module, name, None)
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
    cfg, degraded = _load(spec, action, environ)
    ctx = context.build(spec, action, environ, degraded=degraded)
    handler = _handler(_handlers(spec), action)
    if handler is None:
        if action == "validate-all":
            return OcfRc.SUCCESS  # env.load above was the whole validation
        raise UnimplementedError(f"action {action} is not implemented")
    return OcfRc(handler(cfg, ctx))


def run_action(spec: AgentSpec, action: str, environ: Mapping[str, str]) -> _Outcome:
    """Run ``action`` and map the result to an exit code, per OCF rules."""
    interval = environ.get("OCF_RESKEY_CRM_meta_interval", "0")
    is_probe = action == "monitor" and interval in ("", "0")
    try:
        return _Outcome(_call(spec, action, environ))
    except _SETUP_ERRORS as exc:
        if is_probe:
            log.info("probe: %s; reporting not running", exc)
            return _Outcome(OcfRc.NOT_RUNNING)
        if action == "stop" and isinstance(exc, NotInstalledError):
            log.warning("stop: %s; the service cannot be running", exc)
            return _Outcome(OcfRc.SUCCESS)
        return _Outcome(exc.rc, str(exc))
    except AgentError as exc:
        return _Outcome(exc.rc, str(exc))
    except Exception as exc:  # noqa: BLE001 - the one place that must not crash
        log.debug("internal error in %s", action, exc_info=True)
        return _Outcome(OcfRc.ERR_GENERIC, f"internal error: {type(exc).__name__}")


def main(
    name: str,
    argv: Optional[Sequence[str]] = None,
    environ: Optional[Mapping[str, str]] = None,
) -> NoReturn:
    """Run the action named in ``argv[1]`` for agent ``name`` and exit."""
    argv = sys.argv if argv is None else argv
    spec = registry.spec(name)
    action = argv[1] if len(argv) > 1 else ""
    if action == "meta-data":
        from ocf_agents._runtime import metadata  # noqa: PLC0415

        sys.stdout.write(metadata.render(spec))
        sys.exit(OcfRc.SUCCESS)
    if action in ("usage", "help", "-h", "--help"):
        print(usage(spec))
        sys.exit(OcfRc.SUCCESS)
    if not action:
        print(usage(spec), file=sys.stderr)
        sys.exit(OcfRc.ERR_ARGS)
    environ = os.environ if environ is None else environ
    redactor = Redactor(env.secrets_of(spec, environ))
    from ha_common import logsetup  # noqa: PLC0415

    instance = environ.get("OCF_RESOURCE_INSTANCE", spec.name)
    logsetup.setup_ocf(spec.name, instance, environ, redactor)
    if action not in spec.action_names() and action not in ("status", "reload"):
        outcome = _Outcome(
            OcfRc.ERR_UNIMPLEMENTED, f"action {action!r} is not implemented"
        )
    else:
        outcome = run_action(spec, "monitor" if action == "status" else action, environ)
    if outcome.reason:
        reason = redactor(" ".join(outcome.reason.split()))
        log.error("%s: %s", action, reason, extra={"exit_reason": True})
        prefix = environ.get("OCF_EXIT_REASON_PREFIX", "ocf-exit-reason:")
        sys.stderr.write(f"{prefix}{reason}\n")
    logging.shutdown()
    sys.exit(int(outcome.rc))
