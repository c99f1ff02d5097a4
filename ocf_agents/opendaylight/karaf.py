"""The member on this host: its Karaf JVM, its scripts, its REST answers.

The JVM is found through Karaf's own record (``instances/instance.properties``,
``item.0.pid``) and accepted only when its command line is the Karaf of this
home (``status.is_karaf_of``); when the record is missing or stale, the
process table is scanned, so a live JVM is never reported as stopped.  HTTP
goes over the runtime's plain-socket client; the credentials file is read
here and its content never leaves the ``Authorization`` header.
"""

from __future__ import annotations

import os

from ha_common import lazylog
from ocf_agents._runtime import proc, statefile
from ocf_agents._runtime.errors import (
    ActionTimeoutError,
    AgentError,
)
from ocf_agents.opendaylight import status

TYPE_CHECKING = False  # typing costs ~5 ms of start-up; see STYLE.md section 9
if TYPE_CHECKING:
    from ocf_agents._runtime.context import ActionContext
    from ocf_agents._runtime.env import Config

log = lazylog.get(__name__)

#: Parameters exported to Karaf's scripts, and as what.
JAVA_VARIABLES = (("java_opts", "JAVA_OPTS"), ("extra_java_opts", "EXTRA_JAVA_OPTS"))
#: Longest bin/start or bin/stop may take (both return once Karaf is told).
SCRIPT_LIMIT = 60.0


def homes(cfg: Config) -> tuple[str, ...]:
    """The home as given and resolved: Karaf's scripts pass either."""
    home = cfg.get_str("home")
    return tuple(dict.fromkeys((home, os.path.realpath(home))))


def script(cfg: Config, name: str) -> str:
    """``<home>/bin/<name>``."""
    return os.path.join(cfg.get_str("home"), "bin", name)


def jvm(cfg: Config) -> int | None:
    """The pid of this home's Karaf JVM, or None when none runs.

    ``item.0.pid`` counts only if that process is alive and is the Karaf of
    this home; otherwise the process table is scanned.
    """
    wanted = homes(cfg)
    record = statefile.read(os.path.join(wanted[0], "instances", "instance.properties"))
    pid = status.karaf_pid(record or "")
    if (
        pid is not None
        and proc.is_alive(pid)
        and status.is_karaf_of(proc.cmdline(pid), wanted)
    ):
        return pid
    found = proc.scan(lambda argv: status.is_karaf_of(argv, wanted))
    if len(found) > 1:
        log.warning("several Karaf JVMs of %s: %s", wanted[0], found)
    return found[0] if found else None


def environment(cfg: Config) -> dict[str, str]:
    """What bin/start and bin/stop run with: a clean PATH plus the Java settings."""
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin",
        "LANG": "C.UTF-8",
    }
    if cfg.get_str("java_home"):
        env["JAVA_HOME"] = cfg.get_str("java_home")
        env["PATH"] = os.path.join(cfg.get_str("java_home"), "bin") + ":" + env["PATH"]
    for name, var in (
        ("java_opts", "JAVA_OPTS"),
        ("extra_java_opts", "EXTRA_JAVA_OPTS"),
    ):
        words = cfg.get_tuple(name)
        if words:
            env[var] = " ".join(words)
    return env


def run_script(
    cfg: Config, ctx: ActionContext, name: str, console: str, limit: float
) -> int:
    """Run ``bin/<name>`` as the ODL user; return its exit status.

    Its output goes to ``console``, never to a pipe: bin/start forks the JVM,
    which inherits the descriptors and would keep a pipe open for ever.  On
    timeout only the script is killed, never what it started.

    Raises:
        NotInstalledError: the script is missing.
        PermissionDeniedError: switching to the user is not allowed.
        ActionTimeoutError: it did not return within ``limit`` or the deadline.
    """
    import subprocess  # noqa: PLC0415

    path = script(cfg, name)
    timeout = max(0.1, min(limit, ctx.deadline.remaining()))
    child = proc.spawn(
        [path],
        user=cfg.get_str("user"),
        env=environment(cfg),
        cwd=cfg.get_str("home"),
        log_path=console,
    )
    try:
        return child.wait(timeout)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()
        raise ActionTimeoutError(
            f"{path} did not return within {timeout:.0f} s"
        ) from None


def console_path(ctx: ActionContext) -> str:
    """Where the scripts' output goes: ``$HA_RSCTMP/hakit-<resource>.log``."""
    return statefile.path(ctx, "log")


def tail(path: str, offset: int) -> str:
    """The last line written to ``path`` after ``offset``, for an exit reason."""
    try:
        with open(path, "rb") as handle:
            handle.seek(offset)
            text = handle.read(65536).decode("utf-8", "replace")
    except OSError:
        return ""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1][:200] if lines else ""


def size(path: str) -> int:
    """The size of ``path`` (0 when missing)."""
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


# -- REST ---------------------------------------------------------------------


def authorization(cfg: Config) -> str:
    """The ``Authorization`` value from the credentials file ("" without one)."""
    path = cfg.get_str("credentials")
    if not path:
        return ""
    text = statefile.read(path)
    if text is None:
        raise AgentError(f"credentials {path} cannot be read")
    try:
        return status.basic_authorization(text, path)
    except status.AnswerError as exc:
        raise AgentError(str(exc)) from None


def get(cfg: Config, ctx: ActionContext, path: str, auth: str) -> tuple[int, bytes]:
    """``GET path`` on the REST port.

    Raises:
        AgentError: no HTTP answer in time (the message says why).
    """
    from ocf_agents._runtime.http import HttpProbeError, http_get  # noqa: PLC0415

    timeout = min(float(cfg.get_int("http_timeout")), ctx.deadline.remaining())
    try:
        return http_get(
            cfg.get_str("rest_address"),
            cfg.get_int("rest_port"),
            path,
            max(0.1, timeout),
            authorization=auth,
        )
    except HttpProbeError as exc:
        raise AgentError(str(exc)) from None


def diagstatus_problem(cfg: Config, ctx: ActionContext, auth: str) -> str:
    """Say which services /diagstatus calls not OPERATIONAL; "" when none."""
    try:
        code, body = get(cfg, ctx, "/diagstatus", auth)
    except AgentError as exc:
        return str(exc)
    if code == 401:  # noqa: PLR2004
        return "/diagstatus refused the credentials (HTTP 401)"
    return status.diagstatus_problem(code, body)


def read_mbean(
    cfg: Config, ctx: ActionContext, mbean: str, auth: str
) -> dict[str, object]:
    """The value of a Jolokia read of ``mbean``.

    Raises:
        AgentError: no answer, refused credentials, a Jolokia error.
    """
    code, body = get(cfg, ctx, "/jolokia/read/" + mbean, auth)
    try:
        return status.jolokia_value(code, body, mbean)
    except status.AnswerError as exc:
        raise AgentError(str(exc)) from None


def sync_problem(cfg: Config, ctx: ActionContext, auth: str) -> tuple[str, str]:
    """Read both ShardManagers: ("" or what is out of sync, the member name)."""
    member = ""
    behind = []
    for datastore, _ in status.DATASTORES:
        mbean = status.shard_manager_mbean(datastore)
        try:
            synced, named = status.sync_status(read_mbean(cfg, ctx, mbean, auth))
        except (AgentError, status.AnswerError) as exc:
            return f"{datastore} datastore: {exc}", member
        member = member or named
        if not synced:
            behind.append(datastore)
    if behind:
        return f"SyncStatus false for the {' and '.join(behind)} datastore", member
    return "", member


def shard_role(cfg: Config, ctx: ActionContext, member: str, auth: str) -> str:
    """RaftState of ``member``'s replica of the default config shard."""
    if not member:
        raise AgentError("the ShardManager names no member (MemberName)")
    mbean = status.shard_mbean(member, status.ROLE_SHARD, "config")
    try:
        return status.raft_state(read_mbean(cfg, ctx, mbean, auth))
    except status.AnswerError as exc:
        raise AgentError(str(exc)) from None


# -- node attributes ----------------------------------------------------------


def publish(ctx: ActionContext, name: str, value: str | None) -> None:
    """Set (or, with None, remove) node attribute ``name``, best effort.

    The attributes inform operators and placement; a cluster tool that
    fails must not fail the member, so the failure is logged only.  The
    last value is kept in a state file, so an unchanged one costs nothing.
    """
    memo = statefile.path(ctx, name)
    if (statefile.read(memo) or None) == value:
        return
    from ocf_agents._runtime import cluster  # noqa: PLC0415 - on a change only

    try:
        if value is None:
            cluster.delete_attr(name, deadline=ctx.deadline.sub(5))
            proc.remove_file(memo)
        else:
            cluster.set_attr(name, value[:200], deadline=ctx.deadline.sub(5))
            statefile.write(memo, value)
    except cluster.ClusterToolError as exc:
        log.warning("node attribute %s not updated: %s", name, exc)
