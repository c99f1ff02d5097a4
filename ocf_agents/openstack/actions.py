"""Actions of the generic OpenStack service agent.

One implementation serves every entry of the service table; the entry and the
resource parameters say what to run and how to tell that it is healthy.
"""

from __future__ import annotations

import time

from ha_common import lazylog
from ocf_agents._runtime import host, http, proc, statefile
from ocf_agents._runtime.context import ActionContext
from ocf_agents._runtime.env import Config
from ocf_agents._runtime.errors import ActionTimeoutError, AgentError, HostSetupError
from ocf_agents._runtime.rc import OcfRc
from ocf_agents.openstack import health
from ocf_agents.openstack.services import Service

log = lazylog.get(__name__)

#: A started service must stay alive this long before start can succeed.
SETTLE = 1.0
POLL = 0.2


def _service(ctx: ActionContext) -> Service:
    svc = ctx.spec.get_extra("service")
    assert isinstance(svc, Service)
    return svc


def _clock(ctx: ActionContext) -> health.DisconnectClock:
    return health.DisconnectClock(statefile.path(ctx, "amqp"))


def _argv(cfg: Config) -> list[str]:
    argv = [cfg.get_str("binary")]
    flag = cfg.get_str("config_flag")
    for path in cfg.get_tuple("config"):
        argv += [flag, path] if flag else [path]
    argv += list(cfg.get_tuple("extra_args"))
    return argv


def _identity(cfg: Config) -> proc.Identity:
    return proc.Identity(cfg.get_str("binary"), cfg.get_tuple("config"))


def validate(cfg: Config, ctx: ActionContext) -> OcfRc:
    """Check what the host must provide: program, configuration, user."""
    host.require_program(cfg.get_str("binary"), "binary")
    for path in cfg.get_tuple("config"):
        host.require_file(path, "configuration file")
    host.require_user(cfg.get_str("user"))
    if cfg.get_str("health") == "amqp" and not _amqp_ports(cfg):
        raise HostSetupError("no AMQP port: set amqp_ports or transport_url")
    return OcfRc.SUCCESS


def _amqp_ports(cfg: Config) -> tuple[int, ...]:
    ports = cfg["amqp_ports"]
    if ports:
        assert isinstance(ports, tuple)
        return ports
    return health.transport_ports(cfg.get_tuple("config")) or (
        health.DEFAULT_AMQP_PORT,
    )


def _check(cfg: Config, ctx: ActionContext, pid: int) -> str:
    """Return "" when the running service is healthy, else the reason."""
    mode = cfg.get_str("health")
    if mode == "http":
        return _check_http(cfg, ctx)
    if mode == "amqp":
        return _check_amqp(cfg, ctx, pid)
    return ""


def _check_http(cfg: Config, ctx: ActionContext) -> str:
    return http.http_problem(
        cfg.get_str("bind_address"),
        cfg.get_int("port"),
        cfg.get_str("healthcheck_path"),
        min(float(cfg.get_int("healthcheck_timeout")), ctx.deadline.remaining()),
        scheme=cfg.get_str("healthcheck_scheme"),
        strict=ctx.check_level >= 10,
    )


def _check_amqp(cfg: Config, ctx: ActionContext, pid: int) -> str:
    ports = _amqp_ports(cfg)
    clock = _clock(ctx)
    if proc.established_ports(pid, ports):
        clock.connected()
        return ""
    shown = ",".join(str(p) for p in ports)
    if ctx.action == "start":
        return f"no AMQP connection to port {shown} yet"
    grace = 0 if ctx.check_level >= 10 else cfg.get_int("amqp_grace")
    lost = clock.disconnected_for()
    if lost >= grace:
        return f"no AMQP connection to port {shown} for {lost:.0f} s (grace {grace} s)"
    log.warning(
        "no AMQP connection to port %s for %.0f s (grace %d s)", shown, lost, grace
    )
    return ""


def monitor(cfg: Config, ctx: ActionContext) -> OcfRc:
    """Report whether the service runs and is healthy.

    A live process is never reported as stopped: if it is unhealthy the
    result is a failure, so Pacemaker recovers it.
    """
    pidfile = statefile.pidfile(cfg, ctx)
    pid = proc.find(pidfile, _identity(cfg))
    if pid is None:
        orphans = proc.orphans(pidfile)
        if orphans:
            raise AgentError(
                f"the main process is gone but its workers {orphans} still run"
            )
        return OcfRc.NOT_RUNNING
    problem = _check(cfg, ctx, pid)
    if problem and cfg.get_str("health") == "http" and ctx.deadline.remaining() > 1:
        time.sleep(0.2)  # one retry: a probe can lose a race with a worker restart
        problem = _check(cfg, ctx, pid)
    if problem:
        raise AgentError(f"{ctx.spec.name} (pid {pid}) is unhealthy: {problem}")
    return OcfRc.SUCCESS


def start(cfg: Config, ctx: ActionContext) -> OcfRc:
    """Start the service and return once it is healthy."""
    validate(cfg, ctx)
    pidfile = statefile.pidfile(cfg, ctx)
    pid = proc.find(pidfile, _identity(cfg))
    if pid is None:
        # The workers of a crashed instance would hold its port.
        proc.stop_orphans(pidfile, ctx.deadline.sub(10))
        _clock(ctx).connected()
        pairs = cfg["environment"]
        env = dict(pairs) if isinstance(pairs, tuple) else {}
        pid = proc.start(
            _argv(cfg),
            pidfile=pidfile,
            user=cfg.get_str("user"),
            env=env,
            log_path=cfg.get_str("console_log"),
        )
        ended = proc.exited_early(pid, min(SETTLE, ctx.deadline.remaining()))
        if ended:
            proc.remove_file(pidfile)
            raise AgentError(_died(cfg, pid, ended))
    else:
        log.info("already running as pid %d", pid)
    problem = "the deadline passed before its first health check"
    began = time.monotonic()
    while not ctx.deadline.expired():
        ended = proc.reap(pid)
        if ended:
            proc.remove_file(pidfile)
            raise AgentError(_died(cfg, pid, ended))
        problem = _check(cfg, ctx, pid)
        if not problem:
            log.info("started: pid %d is healthy", pid)
            return OcfRc.SUCCESS
        if cfg.get_str("health") == "amqp" and time.monotonic() - began >= cfg.get_int(
            "amqp_grace"
        ):
            break
        time.sleep(min(POLL, ctx.deadline.remaining()))
    raise ActionTimeoutError(f"{ctx.spec.name} started as pid {pid} but {problem}")


def _died(cfg: Config, pid: int, how: str) -> str:
    where = cfg.get_str("console_log") or "console_log (not set)"
    binary = cfg.get_str("binary")
    return f"{binary} (pid {pid}) exited during start ({how}); see {where}"


def stop(cfg: Config, ctx: ActionContext) -> OcfRc:
    """Stop the service and its whole process tree; succeed only when all are gone."""
    pidfile = statefile.pidfile(cfg, ctx)
    proc.stop_orphans(pidfile, ctx.deadline, cfg.get_int("stop_grace"))
    ident = _identity(cfg) if cfg.get_str("binary") else None
    proc.stop_service(
        pidfile,
        ident,
        ctx.deadline,
        degraded=ctx.degraded,
        name=ctx.spec.name,
        grace=cfg.get_int("stop_grace"),
    )
    _clock(ctx).connected()
    return OcfRc.SUCCESS
