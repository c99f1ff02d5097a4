"""Promote: start mariadbd, joining the Primary Component or bootstrapping it.

A node joins when a peer serves a Primary Component of its own cluster
uuid, from its recovered position (IST when the donor still has the
writesets), or bootstraps when the election names it.  Promotion returns
once mariadbd is a Synced member, and stops it again when that does not
happen in time.
"""

from __future__ import annotations

import os
import time

from ha_common import lazylog
from ocf_agents._runtime import cluster, proc, statefile
from ocf_agents._runtime.context import ActionContext
from ocf_agents._runtime.env import Config
from ocf_agents._runtime.errors import ActionTimeoutError, AgentError
from ocf_agents._runtime.rc import OcfRc
from ocf_agents.galera import client, election, member, start, state
from ocf_agents.galera.spec import ATTR_FORCE, ATTR_POSITION, ATTR_PRIMARY, ATTR_WAITING
from ocf_agents.galera.state import Position, Report

log = lazylog.get(__name__)

#: Seconds of a promote kept back to stop mariadbd when the join fails.
STOP_RESERVE = 20.0
#: Seconds between progress lines while a state transfer runs.
PROGRESS_EVERY = 10.0
#: Seconds between checks that the Primary Component being joined still runs.
PEER_CHECK_EVERY = 5.0
#: A member that answers but stays outside any Primary Component this long
#: has nothing to join (a state transfer happens inside the component).
NO_PRIMARY_GIVE_UP = 20.0
#: Seconds between status readings while waiting for Synced.
POLL = 0.25


def promote(cfg: Config, ctx: ActionContext) -> OcfRc:
    """Join the running Primary Component, or bootstrap it if this node may."""
    client.require(cfg)
    pid = member.running(cfg, ctx)
    if pid is not None:
        problem = client.problem(cfg, client.status(cfg, ctx.deadline))
        if not problem:
            return OcfRc.SUCCESS
        raise AgentError(f"mariadbd (pid {pid}) already runs but is {problem}")
    report = member.saved_report(ctx) or start.recover(cfg, ctx)
    me = member.this_node(ctx)
    peers = election.primary_peers(cfg, ctx, me)
    forced = False
    if peers:
        refusal = election.join_refusal(report, peers)
        if refusal:
            election.set_waiting(ctx, refusal)
            raise AgentError(refusal)
        log.info(
            "joining the Primary Component on %s from %s",
            ", ".join(peers),
            report.position,
        )
        bootstrap = False
    else:
        decision, _ = election.decide(cfg, ctx)
        if decision.winner != me:
            why = (
                decision.reason
                if decision.winner is None
                else f"{decision.reason}, not {me}"
            )
            election.set_waiting(ctx, why)
            raise AgentError(f"will not bootstrap on {me}: {why}")
        log.warning("bootstrapping a new Primary Component: %s", decision.reason)
        bootstrap, forced = True, decision.forced
        _prepare_bootstrap(cfg)
    election.set_waiting(
        ctx, "bootstrapping" if bootstrap else f"joining {', '.join(peers)}"
    )
    pid = _start_mariadbd(cfg, ctx, report.position, bootstrap)
    status = _wait_synced(cfg, ctx, pid, joining=not bootstrap)
    if forced:
        cluster.delete_attr(
            member.attr(ctx, ATTR_FORCE), node=me, deadline=ctx.deadline
        )
    uuid = status.get("wsrep_cluster_state_uuid", "?")
    cluster.set_attr(
        member.attr(ctx, ATTR_PRIMARY), uuid, deadline=ctx.deadline, private=True
    )
    # While it runs, this node's position moves on: what start published is
    # stale, and an election must not count it (demote publishes the real one).
    running = Report(Position(uuid, -1), False)
    cluster.set_attr(
        member.attr(ctx, ATTR_POSITION), running.encode(), deadline=ctx.deadline
    )
    cluster.set_promotion(ctx.resource, election.PROMOTE_SCORE, deadline=ctx.deadline)
    cluster.delete_attr(member.attr(ctx, ATTR_WAITING), deadline=ctx.deadline)
    return OcfRc.SUCCESS


def _prepare_bootstrap(cfg: Config) -> None:
    datadir = cfg.get_str("datadir")
    if state.mark_safe_to_bootstrap(datadir):
        log.info("marked %s/grastate.dat safe_to_bootstrap", datadir)
    gvwstate = os.path.join(datadir, "gvwstate.dat")
    try:
        if os.path.getsize(gvwstate) == 0:
            os.unlink(gvwstate)
    except OSError:
        pass


def _start_mariadbd(
    cfg: Config, ctx: ActionContext, position: Position, bootstrap: bool
) -> int:
    argv = [
        cfg.get_str("binary"),
        f"--defaults-file={cfg.get_str('config')}",
        f"--datadir={cfg.get_str('datadir')}",
        f"--user={cfg.get_str('user')}",
        f"--socket={cfg.get_str('socket')}",
        f"--wsrep-cluster-address={cfg.get_str('wsrep_cluster_address')}",
    ]
    if cfg.get_str("log"):
        argv.append(f"--log-error={cfg.get_str('log')}")
    if not position.empty:
        argv.append(f"--wsrep-start-position={position}")
    if bootstrap:
        argv.append("--wsrep-new-cluster")
    return proc.start(argv, pidfile=statefile.pidfile(cfg, ctx))


def _wait_synced(
    cfg: Config, ctx: ActionContext, pid: int, joining: bool
) -> dict[str, str]:
    """Wait until mariadbd is a healthy member; stop it if that does not happen.

    A joiner gives up early when no node announces a Primary Component any
    more (it went away while we joined): waiting longer cannot succeed.
    """
    remaining = ctx.deadline.remaining()
    budget = max(1.0, remaining - min(STOP_RESERVE, remaining / 2))
    if cfg.get_int("sst_timeout"):
        budget = min(budget, float(cfg.get_int("sst_timeout")))
    began = time.monotonic()
    end = began + budget
    last_state, last_note, last_peer_check = "", began, began
    outside_since: float | None = None
    problem = "it did not answer yet"
    while time.monotonic() < end:
        ended = proc.reap(pid)
        if ended is not None or not proc.is_alive(pid):
            proc.remove_file(statefile.pidfile(cfg, ctx))
            hint = member.log_hint(cfg)
            raise AgentError(
                f"mariadbd exited while joining ({ended or 'gone'}); {hint}"
            )
        try:
            status = client.status(cfg, ctx.deadline)
        except AgentError as exc:
            problem, current = str(exc), "starting"
        else:
            problem = client.problem(cfg, status)
            current = status.get("wsrep_local_state_comment", "?")
            if not problem:
                log.info("Synced after %.1f s", time.monotonic() - began)
                return status
            if status.get("wsrep_cluster_status") == "Primary":
                outside_since = None
            elif outside_since is None:
                outside_since = time.monotonic()
            elif time.monotonic() - outside_since >= NO_PRIMARY_GIVE_UP:
                problem = (
                    f"no Primary Component reachable for {NO_PRIMARY_GIVE_UP:.0f} s "
                    f"(wsrep_cluster_status={status.get('wsrep_cluster_status')})"
                )
                break
        now = time.monotonic()
        if joining and now - last_peer_check >= PEER_CHECK_EVERY:
            last_peer_check = now
            if not election.primary_peers(cfg, ctx, member.this_node(ctx)):
                problem = "the Primary Component it joined is gone"
                break
        if current != last_state or now - last_note >= PROGRESS_EVERY:
            log.info("waiting for Synced (%.0f s): %s", now - began, current)
            last_state, last_note = current, now
        time.sleep(POLL)
    waited = time.monotonic() - began
    log.error("not Synced after %.0f s (%s); stopping mariadbd", waited, problem)
    proc.stop(pid, ctx.deadline)
    proc.remove_file(statefile.pidfile(cfg, ctx))
    raise ActionTimeoutError(f"mariadbd was not Synced after {waited:.0f} s: {problem}")
