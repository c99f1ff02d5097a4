"""Declaration of ``ocf:hakit:galera``: parameters, actions, documentation."""

from __future__ import annotations

from ha_common.kinds import BOOLEAN, HOST_MAP, NAME, PATH, SECONDS, Kind
from ocf_agents._runtime.spec import (
    AgentSpec,
    Param,
    Timing,
    standard_actions,
    stop_grace,
)
from ocf_agents.galera.state import parse_cluster_address


def _address(value: str) -> str:
    parse_cluster_address(value)
    return value


CLUSTER_ADDRESS = Kind("string", _address, name="gcomm:// address")

#: Node attributes the agent publishes or reads, after the resource name.
ATTR_POSITION = "position"
ATTR_WAITING = "waiting"
ATTR_FORCE = "force-bootstrap"
ATTR_PRIMARY = "primary"

LONGDESC = """\
Runs a MariaDB Galera node as an instance of a promotable clone.

Unpromoted: mariadbd is stopped and the node's last committed position is
known.  Start recovers it (grastate.dat, else mariadbd --wsrep-recover) and
publishes it as the node attribute <resource>-position (uuid:seqno, plus
":safe" when grastate.dat says safe_to_bootstrap).

Promoted: mariadbd runs, is Synced (or Donor) and in the Primary Component.
If a Primary Component runs on a peer, promotion joins it from the recovered
position (IST when the donor still has the writesets).  Otherwise the agent
bootstraps only on the node with the highest seqno (ties: safe_to_bootstrap,
then the lowest node name), and only once every node of
wsrep_cluster_address has reported; it then marks grastate.dat safe and starts
with --wsrep-new-cluster from the recovered position, so the cluster uuid is
kept.  What promotion waits for is published in <resource>-waiting (crm_mon
-A shows it).  A promoted node announces the Primary Component it serves in
the private attribute <resource>-primary (its cluster uuid); a node never
joins a Primary Component of another cluster uuid than the data it holds,
because the full state transfer would wipe that data.

Operator override, when a member is lost for good: name the node that may
bootstrap and until when, as a transient attribute on that node:
  attrd_updater -N ctl2 -n <resource>-force-bootstrap -U 2026-11-22T15:30:00Z
The value is an expiry time (UTC, ISO 8601 or seconds since the epoch) at most
force_bootstrap_max seconds ahead; an expired, too distant or ambiguous
override is ignored and the reason is shown in <resource>-waiting.  The agent
removes the attribute after the bootstrap it allowed.

The monitor reads SHOW GLOBAL STATUS over the local socket with MariaDB's
own client (client_binary): a live mariadbd that is not Primary, not Synced
or not ready is a failure, never "not running".  Stop and demote send
SIGTERM, then SIGKILL before the deadline, fail if mariadbd still lives, and
record the final position.  Credentials come from check_defaults_file (an
option file with [client] user and password, mode 0600, passed to the
client as --defaults-extra-file), never the command line; without it the
client connects as root through the unix socket (unix_socket
authentication).  The client handles every authentication plugin of its
MariaDB version, so an upgrade that changes the default one does not make a
healthy node look failed.
"""


def _params() -> tuple[Param, ...]:
    return (
        Param(
            "wsrep_cluster_address",
            CLUSTER_ADDRESS,
            "Galera cluster address",
            "gcomm://host1,host2,host3: every member; the election waits for "
            "all of them. Passed to mariadbd, overriding the configuration.",
            required=True,
        ),
        Param(
            "cluster_host_map",
            HOST_MAP,
            "Pacemaker node name to Galera host",
            "node:host pairs separated by ';' (ctl1:192.168.77.11;ctl2:...), "
            "for clusters where node names are not the hosts of "
            "wsrep_cluster_address.",
        ),
        Param(
            "binary",
            PATH,
            "MariaDB server program",
            default="/usr/sbin/mariadbd",
        ),
        Param(
            "client_binary",
            PATH,
            "MariaDB client program",
            "The client the monitor runs to read the server's status "
            "(Debian package mariadb-client).",
            default="/usr/bin/mariadb",
        ),
        Param(
            "config",
            PATH,
            "MariaDB configuration file",
            "Passed as --defaults-file; its includes are read as usual.",
            default="/etc/mysql/my.cnf",
        ),
        Param(
            "datadir",
            PATH,
            "Data directory",
            default="/var/lib/mysql",
        ),
        Param(
            "user",
            NAME,
            "User mariadbd runs as",
            default="mysql",
        ),
        Param(
            "socket",
            PATH,
            "Server socket",
            "The unix socket mariadbd listens on and the monitor connects to.",
            default="/run/mysqld/mysqld.sock",
        ),
        Param(
            "log",
            PATH,
            "Error log",
            "Passed as --log-error. Default: what the configuration says.",
        ),
        Param(
            "pidfile",
            PATH,
            "Pid file",
            "Where the agent records mariadbd's pid. Default: "
            "$HA_RSCTMP/hakit-<resource>.pid.",
        ),
        Param(
            "check_defaults_file",
            PATH,
            "Option file with the monitor's credentials",
            "A MariaDB option file whose [client] group holds user and "
            "password of the account the monitor uses (no privileges needed), "
            "read by the client after the system option files. It must not be "
            "readable by group or others. Default: root over the unix socket.",
        ),
        Param(
            "enable_creation",
            BOOLEAN,
            "Create an empty data directory",
            "Initialise the data directory with mariadb-install-db when it "
            "holds no database. Off: an empty data directory is an error.",
            default="false",
        ),
        Param(
            "sst_timeout",
            SECONDS,
            "Longest wait for a state transfer",
            "How long promotion waits for SST/IST to finish, in seconds; "
            "0 means until the promote timeout (minus a margin).",
            default="0",
        ),
        stop_grace(),
        Param(
            "allow_donor",
            BOOLEAN,
            "A donating node is healthy",
            "The monitor accepts the Donor/Desynced state (a node serving a "
            "state transfer). Off: only Synced counts.",
            default="true",
        ),
        Param(
            "force_bootstrap_max",
            SECONDS,
            "Longest accepted force-bootstrap window",
            "A force-bootstrap attribute that expires later than this many "
            "seconds from now is ignored.",
            default="3600",
        ),
    )


SPEC = AgentSpec(
    name="galera",
    shortdesc="MariaDB Galera node in a promotable clone (hakit)",
    longdesc=LONGDESC,
    params=_params(),
    actions=standard_actions(
        start=120,
        stop=120,
        monitor=Timing(timeout=30, interval=20, role="Unpromoted"),
        extra_monitors=(Timing(timeout=30, interval=10, role="Promoted"),),
        promote=300,
        demote=120,
        notify=30,
    ),
    handlers="ocf_agents.galera.actions",
)
