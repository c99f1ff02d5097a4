"""Declaration of ``ocf:hakit:rabbitmq``: parameters, actions, documentation."""

from __future__ import annotations

from ha_common.kinds import BOOLEAN, ENV, HOST, NAME, PATH, PORT, SECONDS, Kind
from ocf_agents._runtime.spec import (
    AgentSpec,
    Param,
    Timing,
    standard_actions,
    stop_grace,
)
from ocf_agents.rabbitmq.state import check_nodename, parse_policy

#: Node attributes the agent publishes or reads, after the resource name.
ATTR_RUNNING = "running"
ATTR_REPORT = "report"
ATTR_WAITING = "waiting"
ATTR_FORCE = "force-boot"
#: Private (attrd only, never in the CIB): "<epoch> starting|booting" while a
#: start runs, so peers know whose start is in flight beside theirs.
ATTR_STARTING = "starting"


def _policy(value: str) -> str:
    parse_policy(value)
    return value


def _url(value: str) -> str:
    from ocf_agents.rabbitmq.state import WORD, consists_of  # noqa: PLC0415

    scheme, sep, rest = value.partition("://")
    if scheme not in ("http", "https") or not sep:
        raise ValueError(f"{value!r} is not an http:// or https:// URL")
    hostport = rest.split("/", 1)[0]
    if not consists_of(hostport, WORD | {".", ":", "-", "[", "]"}):
        raise ValueError(f"{value!r} has no valid host[:port]")
    if "@" in rest or "?" in rest or "#" in rest:
        raise ValueError("the URL carries no credentials, query or fragment")
    return value


NODENAME = Kind("string", check_nodename, name="Erlang node name")
POLICY = Kind("string", _policy, name="policy")
URL = Kind("string", _url, name="URL")

LONGDESC = """\
Runs one RabbitMQ node as an instance of an anonymous clone (notify=true,
interleave=true): every instance manages the node "nodename" of its host.

Start joins the members that run: their monitors publish the running
members they see in the node attribute <resource>-running, and each must
answer an AMQP handshake on its host's node_port (a view can be stale).
A node that restarts with its data rejoins with its data (durable queues
and persistent messages survive).  The node is reset only when the cluster
says it is inconsistent (its data was wiped, or the members forgot it): a
running member forgets it, it is reset and joins again, and the log says
why.

When no member runs, a node boots first only when that is safe: it was the
last member down (RabbitMQ's nodes_running_at_shutdown, and what stop
recorded), or every member of its cluster has reported (<resource>-report:
node name, whether it holds data, how many members ran when it stopped) and
it is the chosen one (the fewest members running at its stop, then a
member whose start runs now, then the lowest name), or an operator allowed
it, with a time-limited transient attribute holding an expiry time (UTC ISO
8601 or seconds since the epoch):
  attrd_updater -N ctl2 -n <resource>-force-boot -U 2026-11-22T15:30:00Z
Empty nodes create a cluster: the lowest-named of the starts that run
together.  A start never waits on a start Pacemaker has not issued (no new
action is issued while one runs): each start marks itself in the private
attribute <resource>-starting; a start waits within its deadline for
members whose start runs beside it, for any other at most 20 s, then fails
so that Pacemaker can go on (it starts the node again after the
failure-timeout).  What it waits for is in <resource>-waiting
(crm_mon -A).  It never hangs in RabbitMQ's Mnesia table wait.

The monitor runs no Erlang program: the node's beam process must live, its
AMQP listener must answer an AMQP 0-9-1 handshake (proof that the broker
accepts clients), and, with management_url, the management API says which
members run, whether this node sees a partition and whether an alarm is
raised.  A partition is a failure, and so is a minority (fewer running
members than half of the cluster) while other members publish that they run
without this node; a node alone because it booted first after a full crash
is the one the others join, not a failure.  A beam without its application
is a failure.  A live beam is never reported as stopped.
OCF_CHECK_LEVEL=10 adds "rabbitmq-diagnostics check_running" (one Erlang VM
boot).

Stop stops the application, then the node (SIGTERM, SIGKILL within the
deadline), fails if the node still runs, and records whether it was the
last member down.  Quorum queues are the recommended replication (oslo.messaging:
rabbit_quorum_queue = true); the policy parameter applies a policy
idempotently, for example classic mirroring on RabbitMQ 3.x only when asked.
"""


def _params() -> tuple[Param, ...]:
    return (
        Param(
            "nodename",
            NODENAME,
            "RabbitMQ node name",
            "name@host of the node this instance runs (RABBITMQ_NODENAME). "
            "Default: rabbit@<short host name>.",
        ),
        Param(
            "bin_dir",
            PATH,
            "Directory of RabbitMQ's programs",
            "Where rabbitmq-server, rabbitmqctl and rabbitmq-diagnostics are. "
            "The agent runs them directly as root (the /usr/sbin wrappers "
            "switch users and HOME).",
            default="/usr/lib/rabbitmq/bin",
        ),
        Param(
            "user",
            NAME,
            "User the node runs as",
            default="rabbitmq",
        ),
        Param(
            "env_file",
            PATH,
            "RabbitMQ environment file",
            "Passed as RABBITMQ_CONF_ENV_FILE; the agent's own settings "
            "(node name, ports, directories) take precedence.",
            default="/etc/rabbitmq/rabbitmq-env.conf",
        ),
        Param(
            "config_file",
            PATH,
            "RabbitMQ configuration file",
            "Passed as RABBITMQ_CONFIG_FILE. Default: RabbitMQ's own "
            "(/etc/rabbitmq/rabbitmq.conf).",
        ),
        Param(
            "mnesia_base",
            PATH,
            "Directory of the nodes' databases",
            "RABBITMQ_MNESIA_BASE: the node keeps its data in "
            "<mnesia_base>/<nodename> and its pid in <mnesia_base>/<nodename>.pid.",
            default="/var/lib/rabbitmq/mnesia",
        ),
        Param(
            "log_base",
            PATH,
            "Log directory",
            "RABBITMQ_LOG_BASE.",
            default="/var/log/rabbitmq",
        ),
        Param(
            "node_ip",
            HOST,
            "Address of the AMQP listener",
            "RABBITMQ_NODE_IP_ADDRESS; the monitor's handshake goes there "
            "(127.0.0.1 when unset or a wildcard).",
        ),
        Param(
            "node_port",
            PORT,
            "AMQP port",
            "RABBITMQ_NODE_PORT; the monitor's handshake goes there.",
            default="5672",
        ),
        Param(
            "dist_port",
            PORT,
            "Erlang distribution port",
            "RABBITMQ_DIST_PORT: where the peers reach this node.",
            default="25672",
        ),
        Param(
            "epmd_port",
            PORT,
            "Erlang port mapper port",
            "ERL_EPMD_PORT, for the node and for every RabbitMQ program the "
            "agent runs.",
            default="4369",
        ),
        Param(
            "erlang_cookie",
            PATH,
            "Erlang cookie file",
            "A file named .erlang.cookie, readable by its owner only; its "
            "directory becomes HOME of the node and of the programs the "
            "agent runs, so the cookie never appears on a command line.",
            default="/var/lib/rabbitmq/.erlang.cookie",
        ),
        Param(
            "environment",
            ENV,
            "Extra environment of the node and its programs",
            "NAME=VALUE words (shell quoting), for example "
            "RABBITMQ_CTL_DIST_PORT_MIN=... or RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS"
            "=...; they override the agent's own settings.",
        ),
        Param(
            "management_url",
            URL,
            "Management API base URL",
            "http://127.0.0.1:15672 when the rabbitmq_management plugin is "
            "enabled: the monitor reads membership, partitions and alarms "
            "from <url>/api/nodes. Without it the monitor checks the process "
            "and the AMQP handshake only.",
        ),
        Param(
            "management_credentials",
            PATH,
            "File with the management API credentials",
            "One line user:password, mode 0600; sent as HTTP Basic "
            "authentication, never on a command line.",
        ),
        Param(
            "policy",
            POLICY,
            "Policy to apply",
            "name;pattern;{definition JSON}[;apply-to], applied with "
            "rabbitmqctl set_policy when the node starts, only when it "
            "differs from what the cluster has. Example (classic mirroring, "
            'RabbitMQ 3.x only): ha-all;^(?!amq\\.).*;{"ha-mode":"all"}. '
            "Default: none; prefer quorum queues.",
        ),
        Param(
            "forget_on_removal",
            BOOLEAN,
            "Forget members removed from the cluster",
            "A post-stop notification marks the stopped members; a running "
            "instance makes RabbitMQ forget such a member once its node is no "
            "longer a Pacemaker node (crm_node -R took it out of the CIB's "
            "nodes and it is not a member), at the notification or at a later "
            "monitor. "
            "A member that runs again is not forgotten. Off: removed members "
            "stay known.",
            default="false",
        ),
        Param(
            "force_boot_max",
            SECONDS,
            "Longest accepted force-boot window",
            "A force-boot attribute that expires later than this many "
            "seconds from now is ignored.",
            default="3600",
        ),
        stop_grace(),
    )


SPEC = AgentSpec(
    name="rabbitmq",
    shortdesc="RabbitMQ node in a clustered clone (hakit)",
    longdesc=LONGDESC,
    params=_params(),
    actions=standard_actions(
        start=300,
        stop=120,
        monitor=Timing(timeout=30, interval=10),
        notify=30,
    ),
    handlers="ocf_agents.rabbitmq.actions",
)
