"""Demote and stop: stop mariadbd for sure and publish where it stopped.

Both withdraw this node's Primary Component announcement first, so no peer
starts joining a node that is going away.  Demote publishes the final
position for the next election; stop withdraws every attribute.
"""

from __future__ import annotations

import time

from ha_common import lazylog
from ocf_agents._runtime import cluster, proc, statefile
from ocf_agents._runtime.context import ActionContext
from ocf_agents._runtime.env import Config
from ocf_agents._runtime.errors import AgentError
from ocf_agents._runtime.rc import OcfRc
from ocf_agents.galera import election, member, start
from ocf_agents.galera.spec import ATTR_PRIMARY

log = lazylog.get(__name__)


def demote(cfg: Config, ctx: ActionContext) -> OcfRc:
    """Stop mariadbd and publish the position it stopped at."""
    _withdraw_primary(ctx)
    _stop_mariadbd(cfg, ctx)
    report = start.final_position(cfg, ctx) or start.recover(cfg, ctx)
    log.info("demoted at %s", report.encode())
    election.publish(ctx, report)
    cluster.clear_promotion(ctx.resource, deadline=ctx.deadline)
    return OcfRc.SUCCESS


def stop(cfg: Config, ctx: ActionContext) -> OcfRc:
    """Stop mariadbd if it runs and withdraw this node's reports."""
    _withdraw_primary(ctx)
    _stop_mariadbd(cfg, ctx)
    report = start.final_position(cfg, ctx)
    if report is not None:
        log.info("stopped at %s", report.encode())
    proc.remove_file(member.state_path(ctx))
    try:
        election.unpublish(ctx)
    except cluster.ClusterToolError as exc:
        log.warning("could not withdraw node attributes: %s", exc)
    return OcfRc.SUCCESS


def _stop_mariadbd(cfg: Config, ctx: ActionContext) -> None:
    ident = member.identity(cfg) if cfg.get_str("binary") else None
    proc.stop_service(
        statefile.pidfile(cfg, ctx),
        ident,
        ctx.deadline,
        degraded=ctx.degraded,
        name="mariadbd",
        grace=cfg.get_int("stop_grace"),
    )
    datadir = cfg.get_str("datadir")
    if datadir:
        _wait_unlocked(datadir, ctx)


def _wait_unlocked(datadir: str, ctx: ActionContext) -> None:
    """Wait until InnoDB's lock on ``datadir`` is released, within the deadline.

    A killed mariadbd releases it when its last thread ends, which can come
    after the process is reaped (threads in uninterruptible I/O); only the
    deadline makes it a failure, naming who holds it.
    """
    while member.datadir_locked(datadir):
        if ctx.deadline.expired():
            holder = member.lock_holder(datadir)
            who = f" by pid {holder}" if holder else ""
            raise AgentError(f"{datadir} is still locked{who} at the deadline")
        time.sleep(0.1)


def _withdraw_primary(ctx: ActionContext) -> None:
    """No node may start joining this one any more (best effort: stopping wins)."""
    try:
        cluster.delete_attr(
            member.attr(ctx, ATTR_PRIMARY), deadline=ctx.deadline.sub(5)
        )
    except cluster.ClusterToolError as exc:
        log.warning("could not withdraw %s: %s", member.attr(ctx, ATTR_PRIMARY), exc)
