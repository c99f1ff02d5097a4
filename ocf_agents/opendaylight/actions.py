"""Handlers of ``ocf:hakit:opendaylight``: validate, start, monitor, stop.

A member is *ready* when its Karaf JVM lives, ``/diagstatus`` answers 200
with every service OPERATIONAL and, with ``sync_check``, both datastores'
ShardManager report SyncStatus true.  Start waits for that inside its
deadline; the monitor checks it (SyncStatus at level 10 only).
"""

from __future__ import annotations

import time

from ha_common import lazylog
from ocf_agents._runtime import host, proc
from ocf_agents._runtime.context import ActionContext
from ocf_agents._runtime.env import Config
from ocf_agents._runtime.errors import ActionTimeoutError, AgentError
from ocf_agents._runtime.rc import OcfRc
from ocf_agents.opendaylight import karaf
from ocf_agents.opendaylight.spec import ATTR_ROLE, ATTR_WAITING

log = lazylog.get(__name__)

#: Seconds between readiness checks while starting.
POLL = 1.0
#: Longest wait for the JVM to appear once bin/start returned.
APPEAR = 30.0


def validate(cfg: Config, ctx: ActionContext) -> OcfRc:
    """Check the host: the Karaf home and scripts, the user, Java, credentials."""
    home = cfg.get_str("home")
    host.require_directory(home, "home")
    for name in ("start", "stop"):
        host.require_program(karaf.script(cfg, name), "home")
    host.require_user(cfg.get_str("user"))
    if cfg.get_str("java_home"):
        host.require_directory(cfg.get_str("java_home"), "java_home")
    if cfg.get_str("credentials"):
        host.require_private_file(cfg.get_str("credentials"), "credentials")
    return OcfRc.SUCCESS


def _readiness(cfg: Config, ctx: ActionContext, auth: str, sync: bool) -> str:
    """Say what the member still waits for; "" when it can serve."""
    problem = karaf.diagstatus_problem(cfg, ctx, auth)
    if problem:
        return f"/diagstatus: {problem}"
    if sync:
        behind, _ = karaf.sync_problem(cfg, ctx, auth)
        if behind:
            return f"shard sync: {behind}"
    return ""


def start(cfg: Config, ctx: ActionContext) -> OcfRc:
    """Start Karaf (unless its JVM runs) and return once the member is ready."""
    validate(cfg, ctx)
    auth = karaf.authorization(cfg)
    console = karaf.console_path(ctx)
    offset = karaf.size(console)
    pid = karaf.jvm(cfg)
    if pid is None:
        karaf.publish(ctx, ATTR_WAITING, "starting Karaf")
        done = karaf.run_script(cfg, ctx, "start", console, karaf.SCRIPT_LIMIT)
        if done != 0:
            said = karaf.tail(console, offset) or f"see {console}"
            raise AgentError(f"bin/start failed (exit status {done}): {said}")
        pid = _appeared(cfg, ctx, console, offset)
        log.info("Karaf of %s started as pid %d", cfg.get_str("home"), pid)
    else:
        log.info("Karaf of %s already runs as pid %d", cfg.get_str("home"), pid)
    sync = cfg.get_bool("sync_check")
    waiting = ""
    began = time.monotonic()
    while True:
        if not proc.is_alive(pid):
            said = karaf.tail(console, offset) or f"see {console}"
            raise AgentError(f"the Karaf JVM (pid {pid}) exited during start: {said}")
        problem = _readiness(cfg, ctx, auth, sync)
        if not problem:
            break
        if problem != waiting:
            waiting = problem
            log.info("waiting for %s", problem)
            karaf.publish(ctx, ATTR_WAITING, problem)
        if ctx.deadline.remaining() <= POLL:
            raise ActionTimeoutError(
                f"OpenDaylight (pid {pid}) not ready after "
                f"{time.monotonic() - began:.0f} s: {problem}"
            )
        time.sleep(POLL)
    karaf.publish(ctx, ATTR_WAITING, None)
    log.info("ready: pid %d, every service OPERATIONAL", pid)
    return OcfRc.SUCCESS


def _appeared(cfg: Config, ctx: ActionContext, console: str, offset: int) -> int:
    """Wait for the Karaf JVM that bin/start forked; return its pid."""
    end = time.monotonic() + min(APPEAR, ctx.deadline.remaining())
    while True:
        pid = karaf.jvm(cfg)
        if pid is not None:
            return pid
        if time.monotonic() >= end:
            said = karaf.tail(console, offset) or f"see {console}"
            raise AgentError(
                f"bin/start returned but no Karaf JVM of {cfg.get_str('home')} "
                f"runs: {said}"
            )
        time.sleep(0.2)


def monitor(cfg: Config, ctx: ActionContext) -> OcfRc:
    """Running and ready (0), stopped (7), or failed (1).

    Stopped means no JVM of this home exists; a JVM that does not answer,
    or answers that it is not OPERATIONAL, is a failure.
    """
    pid = karaf.jvm(cfg)
    if pid is None:
        return OcfRc.NOT_RUNNING
    deep = ctx.check_level >= 10  # noqa: PLR2004 - OCF_CHECK_LEVEL 10
    try:
        auth = karaf.authorization(cfg)
    except AgentError as exc:
        if deep:
            raise
        # /diagstatus needs no Jolokia credentials: a broken file must not
        # fail (and so restart) a member that serves.
        log.warning("%s; asking /diagstatus without credentials", exc)
        auth = ""
    problem = karaf.diagstatus_problem(cfg, ctx, auth)
    if problem:
        raise AgentError(f"OpenDaylight (pid {pid}) is not OPERATIONAL: {problem}")
    if deep:
        behind, member = karaf.sync_problem(cfg, ctx, auth)
        if behind and cfg.get_bool("sync_check"):
            raise AgentError(f"OpenDaylight (pid {pid}) is out of sync: {behind}")
        role = karaf.shard_role(cfg, ctx, member, auth)
        if not ctx.is_probe:
            karaf.publish(ctx, ATTR_ROLE, role)
    return OcfRc.SUCCESS


def stop(cfg: Config, ctx: ActionContext) -> OcfRc:
    """Stop Karaf: bin/stop, then SIGTERM/SIGKILL; succeed once the JVM is gone."""
    pid = karaf.jvm(cfg)
    if pid is not None:
        grace = float(cfg.get_int("stop_grace"))
        try:
            karaf.run_script(
                cfg, ctx, "stop", karaf.console_path(ctx), min(30.0, grace + 5)
            )
        except AgentError as exc:
            log.warning("bin/stop: %s; signalling the JVM", exc)
        end = time.monotonic() + min(grace, ctx.deadline.remaining() / 2)
        while proc.is_alive(pid) and time.monotonic() < end:
            time.sleep(0.2)
        proc.stop(pid, ctx.deadline, grace=grace)
        again = karaf.jvm(cfg)
        if again is not None:
            raise AgentError(
                f"a Karaf JVM of {cfg.get_str('home')} runs again (pid {again}); "
                "is it started outside Pacemaker?"
            )
        log.info("Karaf of %s stopped (pid %d)", cfg.get_str("home"), pid)
    karaf.publish(ctx, ATTR_ROLE, None)
    karaf.publish(ctx, ATTR_WAITING, None)
    return OcfRc.SUCCESS
