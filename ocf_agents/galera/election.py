"""Who may be promoted: join a running Primary Component, or bootstrap one.

As seen from this node: the Primary Component its peers announce (checked
on their group port), the positions every node published, and the
operator's force-bootstrap override.  The rules themselves are pure and
live in ``state.elect``; this module reads and writes the node attributes
and sets the promotion scores Pacemaker acts on.
"""

from __future__ import annotations

from ha_common import lazylog
from ocf_agents._runtime import cluster, proc, statefile
from ocf_agents._runtime.context import ActionContext
from ocf_agents._runtime.env import Config
from ocf_agents._runtime.errors import AgentError
from ocf_agents._runtime.rc import OcfRc
from ocf_agents.galera import member, state
from ocf_agents.galera.spec import ATTR_FORCE, ATTR_POSITION, ATTR_PRIMARY, ATTR_WAITING
from ocf_agents.galera.state import Decision, Report

log = lazylog.get(__name__)

#: Promotion score of a node allowed to be promoted.
PROMOTE_SCORE = 100
#: Galera's default group communication port (gmcast.listen_addr).
GROUP_PORT = 4567
#: Seconds a connection to a peer's group port may take to be accepted.
PEER_CONNECT_TIMEOUT = 2.0


def refresh(cfg: Config, ctx: ActionContext, me: str) -> None:
    """Unpromoted: say who may be promoted now, and what this node waits for."""
    peers = primary_peers(cfg, ctx, me)
    if peers:
        report = member.saved_report(ctx)
        refusal = join_refusal(report, peers)
        if refusal:
            cluster.clear_promotion(ctx.resource, deadline=ctx.deadline)
            set_waiting(ctx, refusal)
            log.error("%s", refusal)
            return
        cluster.set_promotion(ctx.resource, PROMOTE_SCORE, deadline=ctx.deadline)
        set_waiting(ctx, f"joining the Primary Component on {', '.join(peers)}")
        return
    decision, _ = decide(cfg, ctx)
    if decision.winner is None:
        cluster.clear_promotion(ctx.resource, deadline=ctx.deadline)
        set_waiting(ctx, decision.reason)
        log.info("no bootstrap yet: %s", decision.reason)
        return
    cluster.set_promotion(
        ctx.resource, PROMOTE_SCORE, node=decision.winner, deadline=ctx.deadline
    )
    if decision.winner == me:
        set_waiting(ctx, f"bootstrapping: {decision.reason}")
    else:
        cluster.clear_promotion(ctx.resource, deadline=ctx.deadline)
        set_waiting(
            ctx, f"waiting for {decision.winner} to bootstrap ({decision.reason})"
        )


def decide(cfg: Config, ctx: ActionContext) -> tuple[Decision, str]:
    """Run the election; return its decision and why an override was ignored."""
    forced, note = _forced(cfg, ctx)
    decision = state.elect(member.expected_nodes(cfg), _reports(ctx), forced)
    if note and decision.winner is None:
        decision = Decision(None, f"{decision.reason}; {note}")
    return decision, note


def _forced(cfg: Config, ctx: ActionContext) -> tuple[str | None, str]:
    """The node an operator allowed to bootstrap, and a note when ignored."""
    node, note = cluster.forced_node(
        member.attr(ctx, ATTR_FORCE), cfg.get_int("force_bootstrap_max"), ctx.deadline
    )
    prefix = member.attr(ctx, ATTR_FORCE)
    return node, note.replace(prefix, "force-bootstrap")


def _reports(ctx: ActionContext) -> dict[str, Report]:
    reports = {}
    for node, text in cluster.query_all(
        member.attr(ctx, ATTR_POSITION), ctx.deadline
    ).items():
        try:
            reports[node] = Report.decode(text)
        except ValueError:
            log.warning("ignoring %s's malformed position %r", node, text)
    return reports


def set_waiting(ctx: ActionContext, text: str) -> None:
    """Publish what this node's promotion waits for (``crm_mon -A`` shows it)."""
    cluster.set_attr(member.attr(ctx, ATTR_WAITING), text[:200], deadline=ctx.deadline)


def primary_peers(cfg: Config, ctx: ActionContext, me: str) -> dict[str, str]:
    """Other nodes serving a Primary Component, with its cluster uuid.

    An announcement outlives a mariadbd killed a moment ago (its node is
    demoted only later), so a peer counts only while its group port accepts
    connections.
    """
    found = cluster.query_all(member.attr(ctx, ATTR_PRIMARY), ctx.deadline)
    endpoints = _group_endpoints(cfg)
    peers = {}
    for node, uuid in sorted(found.items()):
        if node == me:
            continue
        endpoint = endpoints.get(node)
        if endpoint is not None and not _accepts(endpoint, ctx):
            log.info(
                "%s announces a Primary Component but %s:%d refuses", node, *endpoint
            )
            continue
        peers[node] = uuid
    return peers


def _group_endpoints(cfg: Config) -> dict[str, tuple[str, int]]:
    """Pacemaker node -> (host, group communication port) of its member."""
    hosts = state.parse_cluster_address(cfg.get_str("wsrep_cluster_address"))
    mapping = cfg["cluster_host_map"]
    by_node = dict(mapping) if isinstance(mapping, dict) else {}
    endpoints = {}
    for entry in hosts:
        host, port = state.split_host_port(entry, GROUP_PORT)
        nodes = [n for n, h in by_node.items() if h in (entry, host)] or [host]
        for node in nodes:
            endpoints[node] = (host, port)
    return endpoints


def _accepts(endpoint: tuple[str, int], ctx: ActionContext) -> bool:
    import socket  # noqa: PLC0415

    timeout = max(0.2, min(PEER_CONNECT_TIMEOUT, ctx.deadline.remaining()))
    try:
        with socket.create_connection(endpoint, timeout=timeout):
            return True
    except OSError:
        return False


def join_refusal(report: Report | None, peers: dict[str, str]) -> str:
    """Why joining ``peers`` would lose this node's data ("" when it would not)."""
    if report is None or report.position.empty:
        return ""
    foreign = {uuid for uuid in peers.values() if uuid != report.position.uuid}
    if not foreign:
        return ""
    return (
        f"will not join: this node holds cluster {report.position.uuid} but the "
        f"Primary Component on {', '.join(peers)} runs {', '.join(sorted(foreign))}; "
        "a state transfer would wipe this node's data"
    )


def publish(ctx: ActionContext, report: Report) -> None:
    """Keep ``report`` and publish it as this node's position."""
    member.save_report(ctx, report)
    cluster.set_attr(
        member.attr(ctx, ATTR_POSITION), report.encode(), deadline=ctx.deadline
    )


def unpublish(ctx: ActionContext) -> None:
    """Withdraw every attribute of this node and its promotion score."""
    for what in (ATTR_POSITION, ATTR_WAITING, ATTR_PRIMARY):
        cluster.delete_attr(member.attr(ctx, what), deadline=ctx.deadline)
    cluster.clear_promotion(ctx.resource, deadline=ctx.deadline)


def notify(cfg: Config, ctx: ActionContext) -> OcfRc:
    """After a clone event, an unpromoted node re-checks what it may do."""
    kind = ctx.meta.get("notify_type", "")
    operation = ctx.meta.get("notify_operation", "")
    log.debug("notify %s-%s", kind, operation)
    if kind != "post" or member.saved_report(ctx) is None:
        return OcfRc.SUCCESS
    if proc.find(statefile.pidfile(cfg, ctx), member.identity(cfg)) is not None:
        return OcfRc.SUCCESS
    try:
        refresh(cfg, ctx, member.this_node(ctx))
    except AgentError as exc:
        log.warning("notify: %s", exc)
    return OcfRc.SUCCESS
