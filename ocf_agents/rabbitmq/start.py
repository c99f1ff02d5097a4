"""Validate and start: join the running members, or boot first when it is safe.

The boot decision itself is pure (``state.decide``); this module gathers
what it needs from the node attributes and the node's own files, waits
(publishing what for) while nobody may go first, then starts the beam and
waits for the application, bounded by the deadline.  A node whose data the
cluster calls inconsistent (wiped, or forgotten by the members) is reset
and joined again, and only then.
"""

from __future__ import annotations

import os
import time

from ha_common import lazylog
from ocf_agents._runtime import cluster, host, proc, statefile
from ocf_agents._runtime.context import ActionContext
from ocf_agents._runtime.env import Config
from ocf_agents._runtime.errors import ActionTimeoutError, AgentError, ConfigError
from ocf_agents._runtime.rc import OcfRc
from ocf_agents.rabbitmq import node, state
from ocf_agents.rabbitmq.spec import (
    ATTR_FORCE,
    ATTR_REPORT,
    ATTR_RUNNING,
    ATTR_STARTING,
    ATTR_WAITING,
)
from ocf_agents.rabbitmq.state import (
    BOOT,
    BOOTING,
    JOIN,
    STARTING,
    WAIT,
    Decision,
    Report,
)

log = lazylog.get(__name__)

#: Seconds of a start kept for booting the node once it may go on.
BOOT_RESERVE = 60.0
#: Seconds kept back to stop a node that did not boot in time.
STOP_RESERVE = 15.0
#: Seconds between looks at the attributes while waiting.
POLL = 1.0
#: Seconds a start lets the starts issued with it show themselves before it
#: chooses the node that boots first among them.
SETTLE = 5.0
#: Seconds a start waits for a member whose start is not in flight beside it
#: (Pacemaker may issue the starts of one transition a little apart) before
#: it gives up, so that Pacemaker can go on and issue that member's start.
NOT_ISSUED_LIMIT = 20.0
#: What RabbitMQ says when the cluster disagrees with a node's membership.
INCONSISTENT = "inconsistent_cluster"
COOKIE_NAME = ".erlang.cookie"


def validate(cfg: Config, ctx: ActionContext) -> OcfRc:
    """Check the host: programs, cookie, user, directories, credentials."""
    for name in ("rabbitmq-server", "rabbitmqctl"):
        host.require_program(node.program(cfg, name), "bin_dir")
    cookie = cfg.get_str("erlang_cookie")
    if os.path.basename(cookie) != COOKIE_NAME:
        raise ConfigError(
            f"erlang_cookie {cookie} must be a file named {COOKIE_NAME} "
            "(its directory becomes HOME)"
        )
    host.require_private_file(cookie, "erlang_cookie")
    host.require_user(cfg.get_str("user"))
    host.require_directory(cfg.get_str("mnesia_base"), "mnesia_base")
    if cfg.get_str("config_file"):
        host.require_file(cfg.get_str("config_file"), "configuration file")
    if cfg.get_str("management_credentials"):
        host.require_private_file(
            cfg.get_str("management_credentials"), "management_credentials"
        )
    return OcfRc.SUCCESS


def start(cfg: Config, ctx: ActionContext) -> OcfRc:
    """Start the node: join the running members, or boot first when safe."""
    validate(cfg, ctx)
    me = node.nodename(cfg)
    if node.beam_pid(cfg) is not None:
        if not node.amqp_problem(node.amqp_host(cfg), cfg.get_int("node_port")):
            log.info("%s already runs", me)
            started(cfg, ctx, [me])
            return OcfRc.SUCCESS
        raise AgentError(f"{me} runs without its application; stop it first")
    _mark(ctx, STARTING)
    try:
        return _start(cfg, ctx, me)
    finally:
        try:
            cluster.delete_attr(node.attr(ctx, ATTR_STARTING), deadline=ctx.deadline)
        except cluster.ClusterToolError as exc:
            log.warning("could not withdraw %s: %s", node.attr(ctx, ATTR_STARTING), exc)


def _start(cfg: Config, ctx: ActionContext, me: str) -> OcfRc:
    mine = node.publish_report(cfg, ctx)
    decision = _wait_for_turn(cfg, ctx, mine)
    log.info("starting %s: %s", me, decision.reason)
    if decision.action == BOOT:
        _mark(ctx, BOOTING)
    _set_waiting(ctx, f"{decision.action}: {decision.reason}")
    if decision.action == BOOT and mine.has_data:
        others = [n for n in node.seen_at_shutdown(cfg) if n != me]
        if decision.force or others:
            log.warning("force_boot of %s: %s", me, decision.reason)
            node.ctl_ok(cfg, ctx.deadline, "force_boot")
    if decision.action == JOIN and not mine.has_data:
        _boot(cfg, ctx, decision)
        _join(cfg, ctx, list(decision.peers))
    else:
        try:
            _boot(cfg, ctx, decision)
        except InconsistentError as exc:
            _rejoin_reset(cfg, ctx, list(decision.peers), str(exc))
    _apply_policy(cfg, ctx)
    if decision.force:
        _clear_force(ctx)
    started(cfg, ctx, [me, *decision.peers])
    log.info("%s runs", me)
    return OcfRc.SUCCESS


class InconsistentError(AgentError):
    """The cluster says this node's membership is inconsistent."""


def started(cfg: Config, ctx: ActionContext, running: list[str]) -> None:
    """Mark the instance started and publish its view of the running members."""
    view = ",".join(dict.fromkeys(running))
    statefile.write(node.state_path(ctx), view + "\n")
    proc.remove_file(node.last_down_path(ctx))
    cluster.set_attr(node.attr(ctx, ATTR_RUNNING), view, deadline=ctx.deadline)
    node.publish_report(cfg, ctx)
    try:
        cluster.delete_attr(node.attr(ctx, ATTR_WAITING), deadline=ctx.deadline)
    except cluster.ClusterToolError as exc:
        log.warning("could not withdraw %s: %s", node.attr(ctx, ATTR_WAITING), exc)


def _mark(ctx: ActionContext, what: str) -> None:
    """Say (attrd only) that this node's start runs, and whether it boots first."""
    cluster.set_attr(
        node.attr(ctx, ATTR_STARTING),
        f"{int(time.time())} {what}",
        deadline=ctx.deadline,
        private=True,
    )


def _set_waiting(ctx: ActionContext, text: str) -> None:
    cluster.set_attr(node.attr(ctx, ATTR_WAITING), text[:200], deadline=ctx.deadline)


def _clear_force(ctx: ActionContext) -> None:
    try:
        cluster.delete_attr(node.attr(ctx, ATTR_FORCE), deadline=ctx.deadline)
    except cluster.ClusterToolError as exc:
        log.warning("could not remove %s: %s", node.attr(ctx, ATTR_FORCE), exc)


def decide(
    cfg: Config, ctx: ActionContext, mine: Report, settled: bool
) -> tuple[Decision, dict[str, str]]:
    """Gather the attributes and the node's files; decide how to start.

    Returns the decision and the other starts in flight (see :func:`_inflight`).
    """
    here = cluster.this_node(ctx.meta, ctx.deadline)
    views = {
        pcmk: [n for n in view.split(",") if n]
        for pcmk, view in cluster.query_all(
            node.attr(ctx, ATTR_RUNNING), ctx.deadline
        ).items()
        if pcmk != here
    }
    me = node.nodename(cfg)
    named = {n for names in views.values() for n in names if n != me}
    answering = {n for n in named if node.peer_answers(cfg, n)}
    if named - answering:
        log.debug(
            "published as running but not answering: %s",
            ", ".join(sorted(named - answering)),
        )
    running = {
        pcmk: [n for n in names if n in answering] for pcmk, names in views.items()
    }
    reports = {}
    for pcmk, text in cluster.query_all(
        node.attr(ctx, ATTR_REPORT), ctx.deadline
    ).items():
        try:
            reports[pcmk] = Report.decode(text)
        except ValueError:
            log.warning("ignoring %s's malformed report %r", pcmk, text)
    reports[here] = mine
    forced, note = cluster.forced_node(
        node.attr(ctx, ATTR_FORCE), cfg.get_int("force_boot_max"), ctx.deadline
    )
    inflight = _inflight(ctx, here, reports)
    decision = state.decide(
        mine,
        running,
        reports,
        node.members(cfg),
        inflight=inflight,
        settled=settled,
        forced=forced == here,
    )
    if note and decision.action == WAIT:
        decision = Decision(WAIT, f"{decision.reason}; {note}", awaits=decision.awaits)
    return decision, inflight


def _inflight(
    ctx: ActionContext, here: str, reports: dict[str, Report]
) -> dict[str, str]:
    """RabbitMQ node -> ``starting``/``booting`` for the other starts running now.

    A marker older than this start's own timeout is what a killed start
    left behind, and is ignored.
    """
    now = time.time()
    found = {}
    for pcmk, text in cluster.query_all(
        node.attr(ctx, ATTR_STARTING), ctx.deadline
    ).items():
        stamp, _, what = text.partition(" ")
        if pcmk == here or pcmk not in reports or not stamp.isdigit():
            continue
        if now - int(stamp) < ctx.deadline.total:
            found[reports[pcmk].node] = what
    return found


def _wait_for_turn(cfg: Config, ctx: ActionContext, mine: Report) -> Decision:
    """Decide, and while the answer is "wait", say so and look again.

    A start waits as long as its deadline allows for members whose start
    runs beside it.  For a member whose start Pacemaker has not issued, it
    waits only :data:`NOT_ISSUED_LIMIT` seconds, and without touching the
    CIB (a CIB change would make Pacemaker hold back the rest of the
    transition): while this start runs, Pacemaker issues no new action, so
    that member can only come once this start has ended.  Giving up names
    what it waited for, in ``rabbitmq-waiting`` too.
    """
    began = time.monotonic()
    shown = ""
    while True:
        waited = time.monotonic() - began
        decision, inflight = decide(cfg, ctx, mine, settled=waited >= SETTLE)
        if decision.action != WAIT:
            return decision
        absent = [n for n in decision.awaits if n not in inflight]
        if absent and waited >= NOT_ISSUED_LIMIT:
            _set_waiting(ctx, decision.reason)
            raise AgentError(
                f"gave up waiting: {decision.reason}; the start of "
                f"{', '.join(absent)} does not run beside this one (Pacemaker "
                "starts this node again after the clone's failure-timeout)"
            )
        if decision.reason != shown:
            log.info("not starting yet: %s", decision.reason)
            if decision.awaits and not absent:
                _set_waiting(ctx, decision.reason)
            shown = decision.reason
        if ctx.deadline.remaining() <= BOOT_RESERVE:
            _set_waiting(ctx, decision.reason)
            raise ActionTimeoutError(f"gave up waiting: {decision.reason}")
        time.sleep(max(0.0, min(POLL, ctx.deadline.remaining() - BOOT_RESERVE)))


def _boot(cfg: Config, ctx: ActionContext, decision: Decision) -> None:
    """Start the beam and wait until the application runs.

    A node that does not boot in time is stopped again, so no half-started
    node waits in Mnesia's table wait after the start failed.

    Raises:
        InconsistentError: RabbitMQ refused to boot: the members disagree
            with this node's idea of the cluster.
    """
    me = node.nodename(cfg)
    env = node.environment(cfg)
    console = statefile.path(ctx, "console.log")
    proc.remove_file(node.beam_pidfile(cfg))
    try:
        size = os.path.getsize(console)
    except OSError:
        size = 0
    proc.start(
        [node.program(cfg, "rabbitmq-server")],
        pidfile=node.wrapper_pidfile(ctx),
        user=cfg.get_str("user"),
        env=env,
        cwd=cfg.get_str("mnesia_base"),
        log_path=console,
    )
    waits = [m for m in node.members(cfg) if m != me and m not in decision.peers]
    if decision.action == JOIN or waits:
        _set_waiting(
            ctx,
            f"booting {me}"
            + (f"; Mnesia may wait for {', '.join(waits)}" if waits else ""),
        )
    budget = ctx.deadline.remaining() - STOP_RESERVE
    done = None
    if budget > 0:
        try:
            done = node.ctl(
                cfg, ctx.deadline, "wait", node.beam_pidfile(cfg), limit=budget
            )
        except ActionTimeoutError:
            done = None
    if (
        done is not None
        and done.returncode == 0
        and not node.amqp_problem(node.amqp_host(cfg), cfg.get_int("node_port"))
    ):
        return
    hint = _console_hint(console, size)
    node.stop_beam(cfg, ctx, node.beam_pid(cfg))
    if INCONSISTENT in hint:
        raise InconsistentError(hint)
    if done is None:
        raise ActionTimeoutError(
            f"{me} did not boot in time"
            + (f" (Mnesia waits for {', '.join(waits)})" if waits else "")
            + (f": {hint}" if hint else "")
        )
    raise AgentError(f"{me} did not boot: {hint or done.detail()}")


def _console_hint(path: str, offset: int) -> str:
    """The telling line of what the node printed since ``offset``."""
    try:
        with open(path, "rb") as handle:
            handle.seek(offset)
            text = handle.read()[-65536:].decode("utf-8", "replace")
    except OSError:
        return ""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for line in lines:
        if INCONSISTENT in line:
            return line[:300]
    errors = [line for line in lines if "error" in line.lower()]
    return (errors[-1] if errors else "")[:300]


def _join(cfg: Config, ctx: ActionContext, peers: list[str]) -> None:
    """Join a running member from a freshly booted node (its app is stopped)."""
    me = node.nodename(cfg)
    node.ctl_ok(cfg, ctx.deadline, "stop_app")
    problems = []
    for peer in peers:
        done = node.ctl(cfg, ctx.deadline, "join_cluster", peer)
        text = done.stdout + done.stderr
        if done.returncode == 0 or "already_member" in text:
            break
        if INCONSISTENT in text:
            log.warning(
                "%s is inconsistent with the cluster (%s): %s forgets it, then it "
                "is reset and joins again",
                me,
                done.detail(),
                peer,
            )
            node.ctl_ok(cfg, ctx.deadline, "forget_cluster_node", me, node=peer)
            node.ctl_ok(cfg, ctx.deadline, "reset")
            node.ctl_ok(cfg, ctx.deadline, "join_cluster", peer)
            break
        problems.append(f"{peer}: {done.detail()}")
    else:
        raise AgentError(f"{me} could not join {'; '.join(problems)}")
    node.ctl_ok(cfg, ctx.deadline, "start_app")


def _rejoin_reset(cfg: Config, ctx: ActionContext, peers: list[str], why: str) -> None:
    """The members forgot this node: reset it and join again (logged with why).

    A node whose application refuses to boot cannot be reset by rabbitmqctl
    (``reset`` needs the node up, and a node-only boot is not honoured by
    RabbitMQ 3.8+), so the reset is done as ``reset`` does it: the node's
    database goes, here moved aside (``<dir>.reset-<time>``) for an operator,
    and the node boots empty and joins.
    """
    me = node.nodename(cfg)
    if not peers:
        raise AgentError(f"{me} is inconsistent with its cluster and none runs: {why}")
    data = node.data_dir(cfg)
    kept = f"{data}.reset-{time.strftime('%Y%m%dT%H%M%S')}"
    log.warning(
        "%s is inconsistent with the cluster (%s): forgetting it on %s, moving "
        "its database to %s, and joining again as a new member",
        me,
        why,
        peers[0],
        kept,
    )
    node.ctl(cfg, ctx.deadline, "forget_cluster_node", me, node=peers[0])
    try:
        os.rename(data, kept)
    except OSError as exc:
        raise AgentError(f"cannot move {data} aside: {exc.strerror}") from None
    _boot(cfg, ctx, Decision(BOOT, "reset"))
    _join(cfg, ctx, peers)


def _apply_policy(cfg: Config, ctx: ActionContext) -> None:
    """Set the ``policy`` parameter's policy unless the cluster has it already."""
    if not cfg.get_str("policy"):
        return
    policy = state.parse_policy(cfg.get_str("policy"))
    import json  # noqa: PLC0415

    listed = node.ctl_ok(
        cfg, ctx.deadline, "list_policies", "--formatter", "json", "-q"
    )
    try:
        current = json.loads(listed or "[]")
    except ValueError:
        current = []
    for item in current if isinstance(current, list) else []:
        if (
            isinstance(item, dict)
            and item.get("name") == policy.name
            and item.get("pattern") == policy.pattern
            and item.get("apply-to") == policy.apply_to
            and _same_json(item.get("definition"), policy.definition)
        ):
            log.debug("policy %s is already set", policy.name)
            return
    node.ctl_ok(cfg, ctx.deadline, *policy.argv())
    log.info("policy %s set", policy.name)


def _same_json(given: object, wanted: str) -> bool:
    import json  # noqa: PLC0415

    if isinstance(given, str):
        try:
            given = json.loads(given)
        except ValueError:
            return False
    return given == json.loads(wanted)
