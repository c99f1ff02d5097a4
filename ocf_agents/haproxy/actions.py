"""Actions of ``ocf:hakit:haproxy``.

The master process (``haproxy -W -db``) is the service: it stays in the
foreground, keeps its pid across reloads, and answers on the agent's master
socket.  Workers come and go under it.
"""

from __future__ import annotations

import os
import time

from ha_common import lazylog
from ocf_agents._runtime import host, proc, statefile
from ocf_agents._runtime.context import ActionContext
from ocf_agents._runtime.env import Config
from ocf_agents._runtime.errors import ActionTimeoutError, AgentError, ConfigError
from ocf_agents._runtime.rc import OcfRc
from ocf_agents.haproxy import cli

log = lazylog.get(__name__)

POLL = 0.1
#: Longest ``haproxy -c`` may take (a configuration with many certificates).
CHECK_LIMIT = 15.0
#: State file kinds under HA_RSCTMP.
APPLIED = "applied"
REFUSED = "refused"


def _socket(cfg: Config, ctx: ActionContext) -> str:
    return cfg.get_str("master_socket") or statefile.path(ctx, "sock")


def _console(cfg: Config, ctx: ActionContext) -> str:
    return cfg.get_str("console_log") or statefile.path(ctx, "log")


def _identity(cfg: Config) -> proc.Identity:
    return proc.Identity(cfg.get_str("binary"), (cfg.get_str("config"),))


def _ask(cfg: Config, ctx: ActionContext, command: str) -> str:
    timeout = min(float(cfg.get_int("socket_timeout")), ctx.deadline.remaining())
    return cli.ask(_socket(cfg, ctx), command, timeout)


def _digest(path: str) -> str:
    import hashlib  # noqa: PLC0415

    try:
        with open(path, "rb") as handle:
            return hashlib.sha256(handle.read()).hexdigest()
    except OSError as exc:
        return f"unreadable: {exc.strerror}"


def _alerts(text: str) -> str:
    """HAProxy's first real complaint in ``text``, on one line."""
    lines = [line for line in text.splitlines() if "[ALERT]" in line]
    summary = ("Error(s) found", "Fatal errors found", "Loading failure")
    useful = [line for line in lines if not any(s in line for s in summary)]
    line = (useful or lines or [" ".join(text.split())])[0]
    # "[ALERT]    (123) : config : parsing [f:3] : unknown keyword ..." -> the end
    parts = [part.strip() for part in line.split(" : ")]
    if len(parts) > 1 and parts[0].startswith("[ALERT]"):
        parts = parts[2:] if parts[1] == "config" and len(parts) > 2 else parts[1:]
    return " : ".join(parts)[:300]


def _refusal(cfg: Config, ctx: ActionContext) -> str:
    """Why ``haproxy -c`` refuses the configuration; "" when it accepts it."""
    from ha_common.command import CommandError, run_cmd  # noqa: PLC0415

    argv = [cfg.get_str("binary"), "-c", "-f", cfg.get_str("config")]
    try:
        done = run_cmd(argv, ctx.deadline, limit=CHECK_LIMIT)
    except CommandError as exc:
        raise AgentError(str(exc)) from None
    if done.returncode == 0:
        return ""
    return _alerts(done.stderr + done.stdout) or f"exit status {done.returncode}"


def validate(cfg: Config, ctx: ActionContext) -> OcfRc:
    """The program and the configuration exist, and HAProxy accepts the latter."""
    host.require_program(cfg.get_str("binary"), "binary")
    config = cfg.get_str("config")
    host.require_file(config, "configuration file")
    refused = _refusal(cfg, ctx)
    if refused:
        raise ConfigError(f"haproxy -c refuses {config}: {refused}")
    return OcfRc.SUCCESS


def _health(cfg: Config, ctx: ActionContext, pid: int) -> str:
    """Return "" when the master and a worker answer, else what is wrong."""
    try:
        procs = cli.parse_proc(_ask(cfg, ctx, "show proc"))
        if procs.master != pid:
            return f"the master socket belongs to pid {procs.master}"
        if not procs.workers:
            return "the master has no worker"
        cli.parse_info(_ask(cfg, ctx, "@1 show info"))
        if ctx.check_level >= 10:
            down = cli.backends_down(cli.parse_stat(_ask(cfg, ctx, "@1 show stat")))
            if down:
                return f"no server UP in backend {', '.join(down)}"
    except cli.CliError as exc:
        return str(exc)
    return ""


def monitor(cfg: Config, ctx: ActionContext) -> OcfRc:
    """Report whether HAProxy runs and answers; apply a changed configuration.

    A live master is never reported as stopped: if it does not answer, or
    has no worker, the result is a failure, so Pacemaker recovers it.
    """
    pidfile = statefile.pidfile(cfg, ctx)
    pid = proc.find(pidfile, _identity(cfg))
    if pid is None:
        orphans = proc.orphans(pidfile)
        if orphans:
            raise AgentError(f"the master is gone but its workers {orphans} still run")
        return OcfRc.NOT_RUNNING
    problem = _health(cfg, ctx, pid)
    if problem:
        raise AgentError(f"haproxy (pid {pid}) is unhealthy: {problem}")
    if cfg.get_bool("watch_config") and not ctx.is_probe:
        _apply_change(cfg, ctx, pid)
    return OcfRc.SUCCESS


def _apply_change(cfg: Config, ctx: ActionContext, pid: int) -> None:
    """Reload HAProxy if its configuration changed and HAProxy accepts it.

    A refused change is logged once per content and leaves the running
    configuration in place; the monitor still succeeds, because the running
    HAProxy serves.
    """
    config = cfg.get_str("config")
    digest = _digest(config)
    applied = statefile.path(ctx, APPLIED)
    if statefile.read(applied) in (None, digest):
        if statefile.read(applied) is None:
            statefile.write(applied, digest)  # started before the agent kept it
        return
    refused_file = statefile.path(ctx, REFUSED)
    refused = _refusal(cfg, ctx)
    if refused:
        if statefile.read(refused_file) != digest:
            log.warning("%s changed but haproxy -c refuses it: %s", config, refused)
            statefile.write(refused_file, digest)
        return
    before = cli.parse_proc(_ask(cfg, ctx, "show proc"))
    try:
        _ask(cfg, ctx, "reload")
    except cli.CliError as exc:
        log.warning("%s changed; reload not sent: %s", config, exc)
        return
    after = _await_reload(cfg, ctx, before)
    if after.failed_reloads > before.failed_reloads:
        log.warning("%s changed; HAProxy refused to reload it", config)
        statefile.write(refused_file, digest)
        return
    statefile.write(applied, digest)
    log.info("%s changed: reloaded (pid %d, reload %d)", config, pid, after.reloads)


def _await_reload(
    cfg: Config, ctx: ActionContext, before: cli.Processes
) -> cli.Processes:
    """Wait until the master counts one more reload; return what it then says."""
    latest = before
    while not ctx.deadline.expired():
        try:
            latest = cli.parse_proc(_ask(cfg, ctx, "show proc"))
        except cli.CliError:
            pass  # the master is re-executing itself
        else:
            if latest.reloads > before.reloads and latest.workers:
                return latest
        time.sleep(min(POLL, ctx.deadline.remaining()))
    raise ActionTimeoutError("HAProxy did not finish its reload in time")


def start(cfg: Config, ctx: ActionContext) -> OcfRc:
    """Start the master and return once a worker answers."""
    validate(cfg, ctx)
    pidfile = statefile.pidfile(cfg, ctx)
    pid = proc.find(pidfile, _identity(cfg))
    sock = _socket(cfg, ctx)
    console = _console(cfg, ctx)
    if pid is None:
        proc.stop_orphans(pidfile, ctx.deadline.sub(5))
        digest = _digest(cfg.get_str("config"))
        argv = [
            cfg.get_str("binary"),
            "-W",
            "-db",
            "-f",
            cfg.get_str("config"),
            "-S",
            f"{sock},mode,600",
        ]
        offset = _size(console)
        pid = proc.start(argv, pidfile=pidfile, log_path=console)
        statefile.write(statefile.path(ctx, APPLIED), digest)
    else:
        log.info("already running as pid %d", pid)
        offset = _size(console)
    problem = "the deadline passed before its first check"
    while not ctx.deadline.expired():
        ended = proc.reap(pid)
        if ended:
            proc.remove_file(pidfile)
            raise AgentError(_died(console, offset, pid, ended))
        problem = _health(cfg, ctx, pid)
        if not problem:
            log.info("started: master pid %d, a worker answers", pid)
            return OcfRc.SUCCESS
        time.sleep(min(POLL, ctx.deadline.remaining()))
    raise ActionTimeoutError(f"haproxy started as pid {pid} but {problem}")


def _size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def _died(console: str, offset: int, pid: int, how: str) -> str:
    """Why the master exited during start, from what it wrote to ``console``."""
    try:
        with open(console, "rb") as handle:
            handle.seek(offset)
            text = handle.read(65536).decode("utf-8", "replace")
    except OSError:
        text = ""
    said = _alerts(text) if text.strip() else ""
    said = said or f"see {console}"
    return f"haproxy (pid {pid}) exited during start ({how}): {said}"


def stop(cfg: Config, ctx: ActionContext) -> OcfRc:
    """Stop the master and its workers; succeed only when every one is gone."""
    pidfile = statefile.pidfile(cfg, ctx)
    grace = cfg.get_int("stop_grace")
    proc.stop_orphans(pidfile, ctx.deadline, grace)
    ident = _identity(cfg) if cfg.get_str("binary") else None
    proc.stop_service(
        pidfile,
        ident,
        ctx.deadline,
        degraded=ctx.degraded,
        name="haproxy",
        grace=grace,
    )
    if not ctx.degraded:
        proc.remove_file(_socket(cfg, ctx))
    return OcfRc.SUCCESS
