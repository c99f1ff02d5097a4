"""This Galera member's own facts: its files, its mariadbd, its data directory.

Shared by every phase: where the instance keeps its report, how its
mariadbd is recognised and whether it runs, which Pacemaker nodes the
cluster address names, and the hint the error log gives when mariadbd died.
"""

from __future__ import annotations

import os

from ha_common import lazylog
from ocf_agents._runtime import cluster, proc, statefile
from ocf_agents._runtime.context import ActionContext
from ocf_agents._runtime.env import Config
from ocf_agents._runtime.errors import AgentError
from ocf_agents.galera import state
from ocf_agents.galera.state import Report

log = lazylog.get(__name__)


def state_path(ctx: ActionContext) -> str:
    """Exists while the instance is started; holds the last known report."""
    return statefile.path(ctx, "galera")


def attr(ctx: ActionContext, what: str) -> str:
    """The node attribute ``<resource>-<what>`` (see ``spec.ATTR_*``)."""
    return f"{ctx.resource}-{what}"


def identity(cfg: Config) -> proc.Identity:
    """How this instance's mariadbd is recognised: program and configuration."""
    return proc.Identity(
        cfg.get_str("binary"), (f"--defaults-file={cfg.get_str('config')}",)
    )


def this_node(ctx: ActionContext) -> str:
    """The Pacemaker node this action runs on."""
    return cluster.this_node(ctx.meta, ctx.deadline)


def expected_nodes(cfg: Config) -> list[str]:
    """The Pacemaker nodes of ``wsrep_cluster_address``: all must report."""
    hosts = state.parse_cluster_address(cfg.get_str("wsrep_cluster_address"))
    mapping = cfg["cluster_host_map"]
    return state.expected_nodes(hosts, mapping if isinstance(mapping, dict) else {})


def save_report(ctx: ActionContext, report: Report) -> None:
    """Keep ``report`` in the state file (it also marks the instance started)."""
    statefile.write(state_path(ctx), report.encode() + "\n")


def saved_report(ctx: ActionContext) -> Report | None:
    """The report kept by start or demote; None when the instance is stopped."""
    text = statefile.read(state_path(ctx))
    if text is None:
        return None
    try:
        return Report.decode(text.strip())
    except ValueError:
        log.warning("ignoring a malformed state file %s", state_path(ctx))
        return None


def has_database(datadir: str) -> bool:
    """Tell whether ``datadir`` holds a database (its ``mysql`` schema)."""
    return os.path.isdir(os.path.join(datadir, "mysql"))


def datadir_locked(datadir: str) -> bool:
    """Tell whether some process holds InnoDB's lock on the data directory."""
    import fcntl  # noqa: PLC0415

    path = os.path.join(datadir, "ibdata1")
    try:
        fd = os.open(path, os.O_RDWR)
    except OSError:
        return False
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True
    else:
        fcntl.lockf(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def lock_holder(datadir: str) -> int | None:
    """The pid holding a POSIX lock on ``datadir``'s ibdata1 (``/proc/locks``)."""
    try:
        inode = os.stat(os.path.join(datadir, "ibdata1")).st_ino
        with open("/proc/locks", encoding="ascii", errors="replace") as handle:
            lines = handle.readlines()
    except OSError:
        return None
    for line in lines:
        fields = line.split()
        # "1: POSIX  ADVISORY  WRITE 1234 08:01:5678 0 EOF"
        if len(fields) > 5 and fields[5].rsplit(":", 1)[-1] == str(inode):  # noqa: PLR2004
            return int(fields[4]) if fields[4].isdigit() else None
    return None


def running(cfg: Config, ctx: ActionContext) -> int | None:
    """Return mariadbd's pid; raise if a mariadbd we did not start holds datadir."""
    pid = proc.find(statefile.pidfile(cfg, ctx), identity(cfg))
    if (
        pid is None
        and cfg.get_str("datadir")
        and datadir_locked(cfg.get_str("datadir"))
    ):
        raise AgentError(
            f"a process outside this agent's control holds "
            f"{cfg.get_str('datadir')}; stop it"
        )
    return pid


def log_hint(cfg: Config) -> str:
    """What the error log says went wrong in mariadbd's last run, in one line."""
    path = cfg.get_str("log")
    if not path:
        return "see the MariaDB error log"
    try:
        with open(path, "rb") as handle:
            handle.seek(max(0, os.path.getsize(path) - 16384))
            lines = handle.read().decode("utf-8", "replace").splitlines()
    except OSError:
        return f"see {path}"
    starts = [i for i, line in enumerate(lines) if "Starting MariaDB" in line]
    lines = lines[starts[-1] :] if starts else lines
    errors = [
        line.split("[ERROR]", 1)[1].strip() for line in lines if "[ERROR]" in line
    ]
    # The first WSREP error is the cause; "Aborting" and the like follow any.
    telling = [e for e in errors if "WSREP" in e] or errors
    return f"error log: {telling[0]}" if telling else f"see {path}"
