"""What a handler knows about the action it runs: ``ActionContext``."""

from __future__ import annotations

from collections.abc import Mapping

from ha_common import lazylog
from ha_common.deadline import Deadline
from ha_common.record import record
from ocf_agents._runtime.errors import InvocationError
from ocf_agents._runtime.spec import AgentSpec

log = lazylog.get(__name__)

#: Time kept back from Pacemaker's timeout so the agent can still report.
MAX_MARGIN = 2.0


@record
class ActionContext:
    """The action being run and its environment.

    Attributes:
        spec: the agent's declaration.
        action: the action name (``start``, ``monitor``...).
        instance: ``OCF_RESOURCE_INSTANCE`` as given (``rsc:2`` for clones).
        resource: the instance without a clone suffix: stable across restarts,
            so it names pid and state files.
        interval_ms: ``CRM_meta_interval`` (0 for one-shot actions and probes).
        check_level: ``OCF_CHECK_LEVEL`` (0, 10, 20).
        deadline: Pacemaker's timeout minus a safety margin.
        meta: every ``OCF_RESKEY_CRM_meta_*`` value, without the prefix.
        rsctmp: the directory for runtime state (``HA_RSCTMP``).
        degraded: the configuration could not be fully loaded (stop only).
        environ: the process environment.
    """

    spec: AgentSpec
    action: str
    instance: str
    resource: str
    interval_ms: int
    check_level: int
    deadline: Deadline
    meta: Mapping[str, str]
    rsctmp: str
    degraded: bool
    environ: Mapping[str, str]

    @property
    def is_probe(self) -> bool:
        """A probe is a monitor with interval 0: it must be exact."""
        return self.action == "monitor" and self.interval_ms == 0


def _without_clone_suffix(instance: str) -> str:
    """``galera:2`` -> ``galera``: clone instances share pid and state files."""
    head, sep, tail = instance.rpartition(":")
    return head if sep and tail.isdigit() else instance


def _int(text: str | None, default: int) -> int:
    if not text:
        return default
    try:
        return int(text)
    except ValueError:
        return default


def _timeout_seconds(
    spec: AgentSpec, action: str, interval_ms: int, given: str | None
) -> float:
    """Pacemaker's timeout of this run in seconds, or the declared one.

    Pacemaker always passes a positive ``CRM_meta_timeout`` (milliseconds).
    Anything else (unset, not a number, zero or negative) gives no usable
    deadline: the action gets its declared timeout instead, and the log says
    so, because a deadline that has passed before the action began would
    make it fail without trying.
    """
    declared = spec.default_timeout(action, interval_ms // 1000)
    if given is None or given == "":
        return float(declared)
    try:
        timeout_ms = int(given)
    except ValueError:
        timeout_ms = 0
    if timeout_ms <= 0:
        log.warning(
            "CRM_meta_timeout=%r is no usable timeout; using the declared %d s of %s",
            given,
            declared,
            action,
        )
        return float(declared)
    return timeout_ms / 1000.0


#: Actions that need ``OCF_RESOURCE_INSTANCE``: it names the pid and state
#: files and the node attributes of the resource.  Only ``validate-all``
#: (which ``crm_resource --validate`` may run for an agent, not a resource)
#: works without it; ``meta-data`` and ``usage`` never get this far.
WITHOUT_INSTANCE = ("validate-all",)


def _instance(spec: AgentSpec, action: str, environ: Mapping[str, str]) -> str:
    """``OCF_RESOURCE_INSTANCE``; refused when missing, except for validate-all.

    Pacemaker (and ``ocf-tester -n``) always set it.  Falling back to the
    agent's name would make two resources of one agent share a pid file, so
    actions that touch the resource's state refuse to run without it.

    Raises:
        InvocationError: ``action`` needs the instance and it is not set.
    """
    instance = environ.get("OCF_RESOURCE_INSTANCE", "")
    if instance:
        return instance
    if action not in WITHOUT_INSTANCE:
        raise InvocationError(
            f"OCF_RESOURCE_INSTANCE is not set: {action} needs the resource's name"
            " (Pacemaker sets it; by hand, set it to the resource id)"
        )
    log.info("OCF_RESOURCE_INSTANCE is not set; using the agent name %s", spec.name)
    return spec.name


def build(
    spec: AgentSpec, action: str, environ: Mapping[str, str], degraded: bool = False
) -> ActionContext:
    """Build the context of ``action`` from the environment Pacemaker set.

    Raises:
        InvocationError: ``OCF_RESOURCE_INSTANCE`` is missing and ``action``
            needs it.
    """
    prefix = "OCF_RESKEY_CRM_meta_"
    meta = {k[len(prefix) :]: v for k, v in environ.items() if k.startswith(prefix)}
    interval_ms = _int(meta.get("interval"), 0)
    seconds = _timeout_seconds(spec, action, interval_ms, meta.get("timeout"))
    margin = min(MAX_MARGIN, seconds * 0.1)
    instance = _instance(spec, action, environ)
    return ActionContext(
        spec=spec,
        action=action,
        instance=instance,
        resource=_without_clone_suffix(instance),
        interval_ms=interval_ms,
        check_level=_int(environ.get("OCF_CHECK_LEVEL"), 0),
        deadline=Deadline(seconds - margin),
        meta=meta,
        rsctmp=environ.get("HA_RSCTMP") or "/run/resource-agents",
        degraded=degraded,
        environ=environ,
    )
