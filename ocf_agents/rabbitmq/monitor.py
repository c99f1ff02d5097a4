"""Monitor: the beam lives, answers AMQP, and is in the majority.

No Erlang program runs on the normal path: the beam is found in ``/proc``,
the AMQP listener answers a protocol handshake in-process, and the
management API (when configured) says who runs.  A live beam is never
reported as stopped.
"""

from __future__ import annotations

from ha_common import lazylog
from ocf_agents._runtime import cluster, statefile
from ocf_agents._runtime.context import ActionContext
from ocf_agents._runtime.env import Config
from ocf_agents._runtime.errors import AgentError
from ocf_agents._runtime.rc import OcfRc
from ocf_agents.rabbitmq import node, state
from ocf_agents.rabbitmq.spec import ATTR_RUNNING
from ocf_agents.rabbitmq.stop import forget_removed

log = lazylog.get(__name__)


def monitor(cfg: Config, ctx: ActionContext) -> OcfRc:
    """Running and healthy (0), stopped (7), or failed (1)."""
    me = node.nodename(cfg)
    pid = node.beam_pid(cfg)
    if pid is None:
        if ctx.is_probe:
            _report(cfg, ctx)
        elif statefile.read(node.state_path(ctx)) is not None:
            _withdraw(ctx)
        return OcfRc.NOT_RUNNING
    timeout = min(node.PROBE_TIMEOUT, max(0.5, ctx.deadline.remaining() / 2))
    problem = node.amqp_problem(node.amqp_host(cfg), cfg.get_int("node_port"), timeout)
    if problem:
        raise AgentError(
            f"{me} (beam pid {pid}) runs without its application: {problem}"
        )
    view = [me]
    if cfg.get_str("management_url"):
        view = _membership(cfg, ctx, me, timeout)
    if ctx.check_level >= 10:  # noqa: PLR2004 - OCF_CHECK_LEVEL 10
        done = node.ctl(cfg, ctx.deadline, "check_running", tool="rabbitmq-diagnostics")
        if done.returncode != 0:
            raise AgentError(f"rabbitmq-diagnostics check_running: {done.detail()}")
    if cfg.get_bool("forget_on_removal"):
        forget_removed(cfg, ctx, view)
    published = ",".join(view)
    if (statefile.read(node.state_path(ctx)) or "").strip() != published:
        cluster.set_attr(node.attr(ctx, ATTR_RUNNING), published, deadline=ctx.deadline)
        statefile.write(node.state_path(ctx), published + "\n")
        log.info("running members: %s", published)
    return OcfRc.SUCCESS


def _membership(cfg: Config, ctx: ActionContext, me: str, timeout: float) -> list[str]:
    """This node's view from the management API; raise when it is unhealthy."""
    nodes = node.management_nodes(cfg, timeout)
    by_name = {str(n.get("name")): n for n in nodes}
    mine = by_name.get(me)
    if mine is None:
        raise AgentError(f"the management API does not list {me}")
    partitions = mine.get("partitions") or []
    if partitions:
        shown = ", ".join(str(p) for p in partitions)  # type: ignore[attr-defined]
        raise AgentError(f"{me} sees a network partition from {shown}")
    running = sorted(name for name, n in by_name.items() if n.get("running"))
    if state.minority(len(running), len(by_name)) and _run_without(ctx, me):
        raise AgentError(
            f"{me} is in a minority: {len(running)} of {len(by_name)} members run "
            f"({', '.join(running)}), and others run without it"
        )
    alarms = [
        f"{name} {kind}"
        for name, n in sorted(by_name.items())
        for kind in ("mem_alarm", "disk_free_alarm")
        if n.get(kind)
    ]
    if alarms:
        log.warning("resource alarm: %s (publishers are blocked)", ", ".join(alarms))
    return [me, *(name for name in running if name != me)]


def _run_without(ctx: ActionContext, me: str) -> bool:
    """Other members publish a running view without ``me``: a partition.

    A node that booted first after a full crash sees the others down too,
    but they publish no such view (a stopped instance withdraws its own, and
    a view from before the crash names ``me``): it is the seed the others
    join, not a minority to stop.  Only this rare path asks attrd.
    """
    here = cluster.this_node(ctx.meta, ctx.deadline)
    views = cluster.query_all(node.attr(ctx, ATTR_RUNNING), ctx.deadline)
    return any(
        view and me not in view.split(",")
        for pcmk, view in views.items()
        if pcmk != here
    )


def _report(cfg: Config, ctx: ActionContext) -> None:
    """A probe publishes the node's report, so starts find every online node's.

    Pacemaker probes a node as it joins, before it issues any start there;
    a start that needs this node's data to decide then need not wait for
    this node's own start.  Best effort: a probe never fails on it.
    """
    try:
        node.publish_report(cfg, ctx)
    except (cluster.ClusterToolError, OSError, AgentError) as exc:
        log.warning("could not publish the report: %s", exc)


def _withdraw(ctx: ActionContext) -> None:
    """No peer may try to join a node that is gone (best effort)."""
    try:
        cluster.delete_attr(node.attr(ctx, ATTR_RUNNING), deadline=ctx.deadline)
    except cluster.ClusterToolError as exc:
        log.warning("could not withdraw %s: %s", node.attr(ctx, ATTR_RUNNING), exc)
