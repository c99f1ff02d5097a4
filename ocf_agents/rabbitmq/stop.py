"""Stop and notify: stop the node for sure, recording if it was the last one down.

Stop withdraws the node's running view first (no peer starts joining a
node that is going away), asks who else runs, stops the application, then
the beam (SIGTERM, SIGKILL within the deadline), and records how many
members ran: 1 means this node was the last one down and may boot first.
"""

from __future__ import annotations

from collections.abc import Sequence

from ha_common import lazylog
from ocf_agents._runtime import cluster, proc, statefile
from ocf_agents._runtime.context import ActionContext
from ocf_agents._runtime.env import Config
from ocf_agents._runtime.errors import AgentError
from ocf_agents._runtime.rc import OcfRc
from ocf_agents.rabbitmq import node
from ocf_agents.rabbitmq.spec import (
    ATTR_REPORT,
    ATTR_RUNNING,
    ATTR_STARTING,
    ATTR_WAITING,
)
from ocf_agents.rabbitmq.state import Report

log = lazylog.get(__name__)

#: Longest ``stop_app`` may take before the beam gets SIGTERM anyway.
STOP_APP_LIMIT = 30.0


def stop(cfg: Config, ctx: ActionContext) -> OcfRc:
    """Stop the node if it runs; fail only when it demonstrably still does."""
    for what in (ATTR_RUNNING, ATTR_WAITING, ATTR_STARTING):
        try:
            cluster.delete_attr(node.attr(ctx, what), deadline=ctx.deadline.sub(5))
        except cluster.ClusterToolError as exc:
            log.warning("could not withdraw %s: %s", node.attr(ctx, what), exc)
    me = node.nodename(cfg)
    pid = node.beam_pid(cfg)
    others: list[str] | None = None
    if pid is not None:
        others = _others_running(cfg, ctx, me)
        if not ctx.degraded:
            try:
                done = node.ctl(
                    cfg,
                    ctx.deadline.sub(STOP_APP_LIMIT),
                    "stop_app",
                    limit=STOP_APP_LIMIT,
                )
                if done.returncode != 0:
                    log.warning("stop_app of %s failed: %s", me, done.detail())
            except AgentError as exc:
                log.warning("stop_app of %s: %s", me, exc)
    node.stop_beam(cfg, ctx, pid)
    still = node.beam_pid(cfg)
    if still is not None:
        raise AgentError(f"{me} still runs (beam pid {still})")
    proc.remove_file(node.state_path(ctx))
    if others is not None:
        seen = len(others) + 1
        statefile.write(node.last_down_path(ctx), f"{seen}\n")
        if not others:
            log.info("%s was the last member down", me)
        else:
            log.info("%s stopped; still running: %s", me, ", ".join(others))
    if cfg.get_str("mnesia_base"):
        try:
            node.publish_report(cfg, ctx)
        except (cluster.ClusterToolError, OSError) as exc:
            log.warning("could not publish the report: %s", exc)
    return OcfRc.SUCCESS


def _others_running(cfg: Config, ctx: ActionContext, me: str) -> list[str] | None:
    """The other members that run now (None when nobody can tell)."""
    if cfg.get_str("management_url"):
        try:
            nodes = node.management_nodes(cfg, node.PROBE_TIMEOUT)
            return sorted(
                str(n.get("name"))
                for n in nodes
                if n.get("running") and n.get("name") != me
            )
        except AgentError as exc:
            log.info("management API: %s; asking rabbitmqctl", exc)
    import json  # noqa: PLC0415

    try:
        done = node.ctl(
            cfg, ctx.deadline.sub(20), "cluster_status", "--formatter", "json", limit=20
        )
        status = json.loads(done.stdout) if done.returncode == 0 else {}
    except (AgentError, ValueError) as exc:
        log.info("cannot tell who else runs: %s", exc)
        return None
    running = status.get("running_nodes") if isinstance(status, dict) else None
    if not isinstance(running, list):
        return None
    return sorted(str(n) for n in running if n != me)


def notify(cfg: Config, ctx: ActionContext) -> OcfRc:
    """After a stop, note members that may be leaving for good (opt-in).

    A node being removed stops its instance while Pacemaker still knows it;
    the removal (``crm_node -R``) comes later.  So a post-stop notification
    forgets at once only a member whose node is already removed, and keeps
    the others as candidates that :func:`forget_removed` (run by the
    monitor) forgets once their node is removed from the cluster.
    """
    kind = ctx.meta.get("notify_type", "")
    operation = ctx.meta.get("notify_operation", "")
    log.debug("notify %s-%s", kind, operation)
    if not (
        kind == "post" and operation == "stop" and cfg.get_bool("forget_on_removal")
    ):
        return OcfRc.SUCCESS
    if node.beam_pid(cfg) is None:
        return OcfRc.SUCCESS
    stopped = ctx.meta.get("notify_stop_uname", "").split()
    try:
        reports = cluster.query_all(node.attr(ctx, ATTR_REPORT), ctx.deadline)
    except cluster.ClusterToolError as exc:
        log.warning("notify: %s", exc)
        return OcfRc.SUCCESS
    candidates = _candidates(ctx)
    for uname in stopped:
        try:
            name = Report.decode(reports[uname]).node
        except (KeyError, ValueError):
            name = "rabbit@" + uname.split(".", 1)[0]
        if name != node.nodename(cfg):
            candidates[uname] = name
    _keep_candidates(ctx, candidates)
    forget_removed(cfg, ctx)
    return OcfRc.SUCCESS


def forget_removed(
    cfg: Config, ctx: ActionContext, running: Sequence[str] = ()
) -> None:
    """Forget candidate members whose Pacemaker node is no longer known.

    ``running`` is who runs now (the monitor's view): a candidate that runs
    again was only restarted and is dropped.  RabbitMQ itself refuses to
    forget a member that runs.  Best effort: nothing here fails an action.
    """
    candidates = _candidates(ctx)
    if not candidates:
        return
    try:
        gone = cluster.removed(candidates, ctx.deadline)
    except cluster.ClusterToolError as exc:
        log.warning("cannot tell which nodes left: %s", exc)
        return
    left = {}
    for uname, name in candidates.items():
        if name in running:
            continue
        if uname not in gone:
            left[uname] = name
            continue
        done = node.ctl(cfg, ctx.deadline, "forget_cluster_node", name)
        if done.returncode == 0:
            log.warning(
                "%s left the Pacemaker cluster: RabbitMQ forgot %s", uname, name
            )
        else:
            log.warning("forget_cluster_node %s: %s", name, done.detail())
    _keep_candidates(ctx, left)


def _candidates_path(ctx: ActionContext) -> str:
    return statefile.path(ctx, "leaving")


def _candidates(ctx: ActionContext) -> dict[str, str]:
    """Pacemaker node -> RabbitMQ member that stopped there, from the notifications."""
    text = statefile.read(_candidates_path(ctx)) or ""
    pairs = (line.split() for line in text.splitlines())
    return {words[0]: words[1] for words in pairs if len(words) == 2}  # noqa: PLR2004


def _keep_candidates(ctx: ActionContext, candidates: dict[str, str]) -> None:
    if candidates:
        lines = "".join(f"{u} {n}\n" for u, n in sorted(candidates.items()))
        statefile.write(_candidates_path(ctx), lines)
    else:
        proc.remove_file(_candidates_path(ctx))
