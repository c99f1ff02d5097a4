"""What a handler knows about the action it runs: ``ActionContext``."""

from __future__ import annotations

from collections.abc import Mapping

from ha_common.deadline import Deadline
from ha_common.record import record
from ocf_agents._runtime.spec import AgentSpec

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


def build(
    spec: AgentSpec, action: str, environ: Mapping[str, str], degraded: bool = False
) -> ActionContext:
    """Build the context of ``action`` from the environment Pacemaker set."""
    prefix = "OCF_RESKEY_CRM_meta_"
    meta = {k[len(prefix) :]: v for k, v in environ.items() if k.startswith(prefix)}
    timeout_ms = _int(meta.get("timeout"), spec.default_timeout(action) * 1000)
    seconds = timeout_ms / 1000.0
    margin = min(MAX_MARGIN, seconds * 0.1)
    instance = environ.get("OCF_RESOURCE_INSTANCE", "") or spec.name
    return ActionContext(
        spec=spec,
        action=action,
        instance=instance,
        resource=_without_clone_suffix(instance),
        interval_ms=_int(meta.get("interval"), 0),
        check_level=_int(environ.get("OCF_CHECK_LEVEL"), 0),
        deadline=Deadline(seconds - margin),
        meta=meta,
        rsctmp=environ.get("HA_RSCTMP") or "/run/resource-agents",
        degraded=degraded,
        environ=environ,
    )
