"""Monitor: promoted when mariadbd runs healthy, unpromoted when it is down.

A live mariadbd is never reported as stopped: if it is not a healthy member
of the Primary Component the result is ``OCF_FAILED_PROMOTED``.
"""

from __future__ import annotations

from ocf_agents._runtime.context import ActionContext
from ocf_agents._runtime.env import Config
from ocf_agents._runtime.errors import AgentError, NotInstalledError
from ocf_agents._runtime.rc import OcfRc
from ocf_agents.galera import client, election, member


class FailedPromotedError(AgentError):
    """mariadbd runs but is not a healthy member (OCF_FAILED_PROMOTED)."""

    rc = OcfRc.FAILED_PROMOTED


def monitor(cfg: Config, ctx: ActionContext) -> OcfRc:
    """Promoted when mariadbd runs healthy; started unpromoted when it is down.

    A live mariadbd is never "not running": unhealthy means failed promoted.
    """
    pid = member.running(cfg, ctx)
    if pid is not None:
        try:
            problem = client.problem(cfg, client.status(cfg, ctx.deadline))
        except NotInstalledError as exc:
            if not ctx.is_probe:
                raise
            # A probe's rc 5 would read "not running" (see runner): a live
            # mariadbd that cannot be checked is a failed one.
            problem = f"cannot be checked: {exc}"
        except AgentError as exc:
            problem = str(exc)
        if problem:
            raise FailedPromotedError(f"mariadbd (pid {pid}) runs but is {problem}")
        return OcfRc.RUNNING_PROMOTED
    if member.saved_report(ctx) is None:
        return OcfRc.NOT_RUNNING
    if ctx.meta.get("role") in ("Promoted", "Master"):
        raise FailedPromotedError(f"mariadbd is not running ({member.log_hint(cfg)})")
    if not ctx.is_probe:
        election.refresh(cfg, ctx, member.this_node(ctx))
    return OcfRc.SUCCESS
