"""Start (and validate): recover this node's position and publish it.

Starting an instance leaves mariadbd stopped: the node's last committed
position comes from ``grastate.dat`` or, after a crash, from ``mariadbd
--wsrep-recover``, and is published for the election.  An empty data
directory is initialised first when ``enable_creation`` allows it.
"""

from __future__ import annotations

import os

from ha_common import lazylog
from ha_common.command import CommandError, CommandTimeoutError, run_cmd
from ocf_agents._runtime import host, proc, statefile
from ocf_agents._runtime.context import ActionContext
from ocf_agents._runtime.env import Config
from ocf_agents._runtime.errors import (
    ActionTimeoutError,
    AgentError,
    HostSetupError,
    NotInstalledError,
)
from ocf_agents._runtime.rc import OcfRc
from ocf_agents.galera import client, election, member, state
from ocf_agents.galera.state import EMPTY, Position, Report

log = lazylog.get(__name__)

#: The program that initialises an empty data directory (enable_creation).
INSTALL_DB = "mariadb-install-db"


def validate(cfg: Config, ctx: ActionContext) -> OcfRc:
    """Check the host: program, configuration, data directory, user, credentials."""
    host.require_program(cfg.get_str("binary"), "binary")
    client.require(cfg)
    host.require_file(cfg.get_str("config"), "configuration file")
    host.require_directory(cfg.get_str("datadir"), "datadir")
    host.require_user(cfg.get_str("user"))
    if cfg.get_str("check_defaults_file"):
        host.require_private_file(
            cfg.get_str("check_defaults_file"), "check_defaults_file"
        )
        client.check_option_file(cfg, ctx.deadline)
    if not member.expected_nodes(cfg):
        raise HostSetupError(
            "no Pacemaker node matches a host of wsrep_cluster_address; "
            "set cluster_host_map"
        )
    return OcfRc.SUCCESS


def start(cfg: Config, ctx: ActionContext) -> OcfRc:
    """Start unpromoted: recover and publish the position; mariadbd stays down."""
    validate(cfg, ctx)
    pid = member.running(cfg, ctx)
    if pid is not None:
        raise AgentError(
            f"mariadbd already runs as pid {pid}; "
            "it must be stopped to start unpromoted"
        )
    if not member.has_database(cfg.get_str("datadir")):
        if not cfg.get_bool("enable_creation"):
            raise HostSetupError(
                f"{cfg.get_str('datadir')} holds no database; "
                "set enable_creation=true to create one"
            )
        _create(cfg, ctx)
    report = recover(cfg, ctx)
    election.publish(ctx, report)
    me = member.this_node(ctx)
    log.info("started unpromoted on %s at %s", me, report.encode())
    election.refresh(cfg, ctx, me)
    return OcfRc.SUCCESS


def _create(cfg: Config, ctx: ActionContext) -> None:
    import shutil  # noqa: PLC0415

    installer = shutil.which(
        INSTALL_DB, path=os.path.dirname(cfg.get_str("binary")) + ":/usr/bin:/usr/sbin"
    )
    if installer is None:
        raise NotInstalledError(f"{INSTALL_DB} is not installed")
    argv = [
        installer,
        f"--defaults-file={cfg.get_str('config')}",
        f"--datadir={cfg.get_str('datadir')}",
        f"--user={cfg.get_str('user')}",
        "--skip-test-db",
        "--auth-root-authentication-method=socket",
    ]
    log.info("creating the database in %s", cfg.get_str("datadir"))
    try:
        done = run_cmd(argv, ctx.deadline)
    except CommandTimeoutError as exc:
        raise ActionTimeoutError(str(exc)) from None
    except CommandError as exc:
        raise NotInstalledError(str(exc)) from None
    if done.returncode != 0:
        lines = (done.stderr or done.stdout).strip().splitlines()
        raise AgentError(
            f"{INSTALL_DB} failed: {lines[-1] if lines else done.returncode}"
        )


def recover(cfg: Config, ctx: ActionContext) -> Report:
    """The node's last committed position, with mariadbd stopped."""
    datadir = cfg.get_str("datadir")
    try:
        grastate = state.read_grastate(datadir)
    except (OSError, ValueError) as exc:
        raise AgentError(f"cannot read grastate.dat: {exc}") from None
    if grastate is not None and grastate.position.known:
        log.info("position from grastate.dat: %s", grastate.position)
        return Report(grastate.position, grastate.safe_to_bootstrap)
    if grastate is None and not member.has_database(datadir):
        return Report(EMPTY, False)
    safe = grastate.safe_to_bootstrap if grastate else False
    position = _wsrep_recover(cfg, ctx)
    log.info("position from --wsrep-recover: %s", position)
    return Report(position, safe)


def _wsrep_recover(cfg: Config, ctx: ActionContext) -> Position:
    user = cfg.get_str("user")
    log_path = statefile.path(ctx, "recover.log")
    proc.remove_file(log_path)
    with open(log_path, "w", encoding="utf-8"):
        pass
    uid, gid, _ = host.user_ids(user)
    os.chown(log_path, uid, gid)
    argv = [
        cfg.get_str("binary"),
        f"--defaults-file={cfg.get_str('config')}",
        f"--datadir={cfg.get_str('datadir')}",
        f"--user={user}",
        "--wsrep-recover",
        f"--log-error={log_path}",
    ]
    try:
        run_cmd(argv, ctx.deadline)
    except CommandTimeoutError as exc:
        raise ActionTimeoutError(f"mariadbd --wsrep-recover: {exc}") from None
    except CommandError as exc:
        raise NotInstalledError(str(exc)) from None
    try:
        with open(log_path, encoding="utf-8", errors="replace") as handle:
            text = handle.read()
    except OSError as exc:
        raise AgentError(f"cannot read {log_path}: {exc.strerror}") from None
    position = state.recovered_position(text)
    if position is None:
        last = [line for line in text.splitlines() if "[ERROR]" in line]
        detail = last[-1].split("[ERROR]", 1)[1].strip() if last else f"see {log_path}"
        raise AgentError(f"mariadbd --wsrep-recover found no position: {detail}")
    return position


def final_position(cfg: Config, ctx: ActionContext) -> Report | None:
    """The position grastate.dat holds after a stop (None when unknown)."""
    try:
        grastate = state.read_grastate(cfg.get_str("datadir"))
    except (OSError, ValueError):
        return None
    if grastate is None or not grastate.position.known:
        return None
    return Report(grastate.position, grastate.safe_to_bootstrap)
