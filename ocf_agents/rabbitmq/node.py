"""This instance's RabbitMQ node: its name, environment, files, beam and probes.

Shared by every phase.  The node runs straight from ``bin_dir`` as root
(dropping to ``user``), with an environment the agent builds from the
parameters; the Erlang cookie is found through ``HOME``, so no secret is on
a command line.  The cheap probes live here too: the AMQP 0-9-1 handshake
and the management API's ``/api/nodes``.
"""

from __future__ import annotations

import os

from ha_common import lazylog
from ha_common.command import CommandError, CommandTimeoutError, run_cmd
from ocf_agents._runtime import cluster, proc, statefile
from ocf_agents._runtime.errors import ActionTimeoutError, AgentError, NotInstalledError
from ocf_agents.rabbitmq import state
from ocf_agents.rabbitmq.state import Report

TYPE_CHECKING = False  # typing costs ~5 ms of start-up; see STYLE.md section 9
if TYPE_CHECKING:
    from ha_common.command import Completed
    from ha_common.deadline import Deadline
    from ocf_agents._runtime.context import ActionContext
    from ocf_agents._runtime.env import Config

log = lazylog.get(__name__)

#: The AMQP 0-9-1 protocol header a client opens a connection with.
AMQP_HEADER = b"AMQP\x00\x00\x09\x01"
#: Longest one probe (handshake, HTTP request) may take.
PROBE_TIMEOUT = 5.0
#: Seconds a start gives a peer to answer before it counts as not running.
PEER_TIMEOUT = 2.0
#: Longest one rabbitmqctl call may take unless it waits on purpose.
CTL_TIMEOUT = 60.0
_WILDCARDS = ("", "0.0.0.0", "::", "[::]")


def nodename(cfg: Config) -> str:
    """``nodename``, else ``rabbit@<short host name>``."""
    if cfg.get_str("nodename"):
        return cfg.get_str("nodename")
    import socket  # noqa: PLC0415

    return "rabbit@" + socket.gethostname().split(".", 1)[0]


def attr(ctx: ActionContext, what: str) -> str:
    """The node attribute ``<resource>-<what>`` (see ``spec.ATTR_*``)."""
    return f"{ctx.resource}-{what}"


def program(cfg: Config, name: str) -> str:
    """The path of RabbitMQ program ``name`` in ``bin_dir``."""
    return os.path.join(cfg.get_str("bin_dir"), name)


def data_dir(cfg: Config) -> str:
    """``<mnesia_base>/<nodename>``: the node's database."""
    return os.path.join(cfg.get_str("mnesia_base"), nodename(cfg))


def beam_pidfile(cfg: Config) -> str:
    """Where RabbitMQ writes its beam's pid (RABBITMQ_PID_FILE)."""
    return data_dir(cfg) + ".pid"


def wrapper_pidfile(ctx: ActionContext) -> str:
    """The pid of the ``rabbitmq-server`` script the agent started (its session)."""
    return statefile.path(ctx, "pid")


def state_path(ctx: ActionContext) -> str:
    """Exists while the instance is started; holds its last published view."""
    return statefile.path(ctx, "rabbitmq")


def last_down_path(ctx: ActionContext) -> str:
    """Written by stop: how many members ran when this node stopped."""
    return statefile.path(ctx, "last-down")


def environment(cfg: Config) -> dict[str, str]:
    """The whole environment of the node and of every program run for it."""
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "HOME": os.path.dirname(cfg.get_str("erlang_cookie")) or "/",
        "RABBITMQ_CONF_ENV_FILE": cfg.get_str("env_file"),
        "RABBITMQ_NODENAME": nodename(cfg),
        "RABBITMQ_NODE_PORT": str(cfg.get_int("node_port")),
        "RABBITMQ_DIST_PORT": str(cfg.get_int("dist_port")),
        "ERL_EPMD_PORT": str(cfg.get_int("epmd_port")),
        "RABBITMQ_MNESIA_BASE": cfg.get_str("mnesia_base"),
        "RABBITMQ_LOG_BASE": cfg.get_str("log_base"),
        "RABBITMQ_PID_FILE": beam_pidfile(cfg),
    }
    if cfg.get_str("node_ip"):
        env["RABBITMQ_NODE_IP_ADDRESS"] = cfg.get_str("node_ip")
    if cfg.get_str("config_file"):
        env["RABBITMQ_CONFIG_FILE"] = cfg.get_str("config_file")
    extra = cfg["environment"]
    if isinstance(extra, tuple):
        env.update(dict(extra))
    return env


def ctl(
    cfg: Config,
    deadline: Deadline,
    *args: str,
    node: str = "",
    limit: float = CTL_TIMEOUT,
    tool: str = "rabbitmqctl",
) -> Completed:
    """Run ``rabbitmqctl -n NODE ARGS`` (this node by default) within ``deadline``.

    Raises:
        ActionTimeoutError: it did not finish in time (it was killed).
        NotInstalledError: the program is missing.
    """
    argv = [program(cfg, tool), "-n", node or nodename(cfg), *args]
    try:
        done = run_cmd(argv, deadline, limit=limit, env=environment(cfg))
    except CommandTimeoutError as exc:
        raise ActionTimeoutError(f"{tool} {args[0]}: {exc}") from None
    except CommandError as exc:
        raise NotInstalledError(str(exc)) from None
    log.debug("%s %s: exit %d", tool, " ".join(args), done.returncode)
    return done


def ctl_ok(cfg: Config, deadline: Deadline, *args: str, node: str = "") -> str:
    """Run :func:`ctl` and return its output; raise AgentError when it fails."""
    done = ctl(cfg, deadline, *args, node=node)
    if done.returncode != 0:
        raise AgentError(
            f"rabbitmqctl {args[0]} on {node or nodename(cfg)} failed "
            f"(exit {done.returncode}): {done.detail()}"
        )
    return done.stdout


def beam_pid(cfg: Config) -> int | None:
    """The pid of this node's Erlang VM, or None when it does not run.

    RabbitMQ's own pid file first; then the process table: a beam whose
    command line names this node (a lost pid file must not make a live node
    look stopped).
    """
    name = nodename(cfg)
    pid = proc.read_pidfile(beam_pidfile(cfg))
    if pid is not None and proc.is_alive(pid) and _is_beam_of(pid, name):
        return pid
    for entry in os.listdir("/proc"):
        if (
            entry.isdigit()
            and _is_beam_of(int(entry), name)
            and proc.is_alive(int(entry))
        ):
            return int(entry)
    return None


def _is_beam_of(pid: int, name: str) -> bool:
    """Tell whether ``pid`` is a beam started with ``RABBITMQ_NODENAME=name`` here.

    RabbitMQ 3.10 puts the node name in no argument: the VM takes it from
    its environment.  A beam of the same name in another network namespace
    (a container, or another lab on the same kernel) is another host's
    node: its listeners are not this host's.  When the namespace cannot be
    read, the beam counts as this node's (never call a live node stopped).
    """
    argv = proc.cmdline(pid)
    if not argv or not os.path.basename(argv[0]).startswith("beam"):
        return False
    try:
        with open(f"/proc/{pid}/environ", "rb") as handle:
            environ = handle.read().split(b"\0")
    except OSError:
        return False
    if f"RABBITMQ_NODENAME={name}".encode() not in environ:
        return False
    try:
        return os.readlink(f"/proc/{pid}/ns/net") == os.readlink("/proc/self/ns/net")
    except OSError:
        return True


def has_data(cfg: Config) -> bool:
    """The node's database exists (its Mnesia schema)."""
    return os.path.isfile(os.path.join(data_dir(cfg), "schema.DAT"))


def _read_terms(cfg: Config, filename: str) -> str | None:
    return statefile.read(os.path.join(data_dir(cfg), filename))


def members(cfg: Config) -> list[str]:
    """The cluster's disc nodes as this node's data records them."""
    text = _read_terms(cfg, "cluster_nodes.config")
    if text is None:
        return [nodename(cfg)] if has_data(cfg) else []
    try:
        return state.cluster_members(text)
    except ValueError:
        return [nodename(cfg)]


def seen_at_shutdown(cfg: Config) -> list[str]:
    """Who ran when this node last stopped or lost its peers (RabbitMQ's record)."""
    text = _read_terms(cfg, "nodes_running_at_shutdown")
    if text is None:
        return []
    try:
        return state.running_at_shutdown(text)
    except ValueError:
        return []


def report(cfg: Config, ctx: ActionContext) -> Report:
    """This node's report: its data, and how many ran when it stopped."""
    name = nodename(cfg)
    if not has_data(cfg):
        return Report(name, False)
    seen = len(seen_at_shutdown(cfg)) or len(members(cfg))
    recorded = statefile.read(last_down_path(ctx))
    if recorded is not None and recorded.strip() == "1":
        seen = 1
    return Report(name, True, seen)


def publish_report(cfg: Config, ctx: ActionContext) -> Report:
    """Publish this node's report for its peers' boot decisions."""
    mine = report(cfg, ctx)
    cluster.set_attr(attr(ctx, "report"), mine.encode(), deadline=ctx.deadline)
    return mine


def amqp_host(cfg: Config) -> str:
    """Where the AMQP handshake goes: node_ip, or 127.0.0.1 for a wildcard."""
    host = cfg.get_str("node_ip")
    return "127.0.0.1" if host in _WILDCARDS else host.strip("[]")


def peer_answers(cfg: Config, name: str, timeout: float = PEER_TIMEOUT) -> bool:
    """Member ``name`` accepts AMQP clients (its host's ``node_port``).

    A peer's published running view can be stale (its monitor has not yet
    seen its beam die); joining a dead member would leave this node in
    Mnesia's table wait until its start times out.  The clone's members
    share their parameters, so the peer listens on the same port, on the
    host its node name resolves to (as RabbitMQ's own distribution does).
    """
    host = name.partition("@")[2]
    return bool(host) and not amqp_problem(host, cfg.get_int("node_port"), timeout)


def amqp_problem(host: str, port: int, timeout: float = PROBE_TIMEOUT) -> str:
    """Open an AMQP 0-9-1 connection up to Connection.Start; "" when it answers.

    The broker answers the protocol header with a method frame on channel
    0 carrying Connection.Start (class 10, method 10) only when its
    application runs and accepts clients.  The connection is then closed:
    no credentials are sent.
    """
    import socket  # noqa: PLC0415

    try:
        sock = socket.create_connection((host, port), timeout=timeout)
    except OSError as exc:
        return f"AMQP port {host}:{port} refuses: {exc.strerror or exc}"
    try:
        sock.sendall(AMQP_HEADER)
        data = b""
        while len(data) < 11:  # noqa: PLR2004 - frame header + class + method
            chunk = sock.recv(64)
            if not chunk:
                break
            data += chunk
    except OSError as exc:
        return f"no AMQP answer from {host}:{port}: {exc.strerror or exc}"
    finally:
        sock.close()
    # Frame type 1 (method) on channel 0; class 10 method 10: Connection.Start.
    if data[:3] == b"\x01\x00\x00" and data[7:11] == b"\x00\x0a\x00\x0a":
        return ""
    return f"{host}:{port} did not answer Connection.Start (got {data[:16]!r})"


def management_nodes(cfg: Config, timeout: float) -> list[dict[str, object]]:
    """``GET /api/nodes`` of the management API: one dict per member.

    Raises:
        AgentError: no answer, refused credentials, or not the expected JSON.
    """
    from ocf_agents._runtime.http import HttpProbeError, http_get  # noqa: PLC0415

    url = cfg.get_str("management_url")
    scheme, _, rest = url.partition("://")
    hostport, _, prefix = rest.partition("/")
    host, port = _split(hostport, 443 if scheme == "https" else 80)
    path = "/" + prefix.strip("/") + "/api/nodes" if prefix.strip("/") else "/api/nodes"
    path += "?columns=name,running,partitions,mem_alarm,disk_free_alarm"
    try:
        status, body = http_get(
            host,
            port,
            path,
            timeout,
            scheme=scheme,
            authorization=_basic(cfg.get_str("management_credentials")),
        )
    except HttpProbeError as exc:
        raise AgentError(f"management API: {exc}") from None
    if status != 200:  # noqa: PLR2004
        raise AgentError(f"management API {host}:{port} answered HTTP {status}")
    import json  # noqa: PLC0415

    try:
        nodes = json.loads(body)
    except ValueError:
        raise AgentError("management API answered no JSON") from None
    if not isinstance(nodes, list) or not all(isinstance(n, dict) for n in nodes):
        raise AgentError("management API answered no node list")
    return nodes


def _split(hostport: str, default: int) -> tuple[str, int]:
    if hostport.startswith("["):
        host, _, rest = hostport[1:].partition("]")
        return host, int(rest[1:]) if rest[1:].isdigit() else default
    host, sep, port = hostport.rpartition(":")
    if sep and port.isdigit():
        return host, int(port)
    return hostport, default


def _basic(path: str) -> str:
    """``Basic <base64>`` from the credentials file; "" without one."""
    if not path:
        return ""
    text = statefile.read(path)
    if text is None:
        raise AgentError(f"management_credentials {path} cannot be read")
    line = text.strip().splitlines()[0] if text.strip() else ""
    if ":" not in line:
        raise AgentError(f"management_credentials {path} holds no user:password line")
    import base64  # noqa: PLC0415

    return "Basic " + base64.b64encode(line.encode("utf-8")).decode("ascii")


def stop_beam(cfg: Config, ctx: ActionContext, pid: int | None) -> None:
    """End the beam ``pid`` (SIGTERM, SIGKILL after stop_grace) and its wrapper."""
    grace = cfg.get_int("stop_grace")
    if pid is not None:
        proc.stop(pid, ctx.deadline, grace=grace)
    proc.stop_service(
        wrapper_pidfile(ctx),
        None,
        ctx.deadline,
        degraded=True,
        name="rabbitmq-server",
        grace=grace,
    )
