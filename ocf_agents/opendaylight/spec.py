"""Declaration of ``ocf:hakit:opendaylight``: parameters, actions, documentation."""

from __future__ import annotations

from ha_common.kinds import ARGS, BOOLEAN, HOST, NAME, PATH, PORT, SECONDS
from ocf_agents._runtime.spec import (
    AgentSpec,
    Param,
    Timing,
    standard_actions,
    stop_grace,
)

#: Node attribute holding what a start waits for (removed once ready).
ATTR_WAITING = "odl-waiting"
#: Node attribute holding this member's shard role (Leader, Follower...).
ATTR_ROLE = "odl-shard-role"

LONGDESC = """\
Runs one OpenDaylight cluster member (Apache Karaf) as an instance of an
anonymous clone (interleave=true): every instance manages the Karaf home
"home" of its host.  The cluster's own configuration (akka.conf,
module-shards.conf) is left as it is: the agent starts and watches the
member, it does not form the cluster.

Start runs bin/start as "user" with JAVA_HOME, JAVA_OPTS and
EXTRA_JAVA_OPTS set from the parameters, finds the Karaf JVM through
instances/instance.properties (item.0.pid) and accepts it only when its
command line holds org.apache.karaf.main.Main and -Dkaraf.home=<home>, so a
recycled pid is never taken for it.  Start then waits, inside its timeout,
until the member can serve: GET /diagstatus on the REST port answers 200
with every service OPERATIONAL and, with sync_check, the ShardManager
SyncStatus of the config and operational datastores is true (read through
Jolokia).  What it waits for is published in the node attribute
odl-waiting (crm_mon -A shows it); a member that never syncs fails its
start with the reason.

The monitor (level 0) checks the JVM and /diagstatus.  OCF_CHECK_LEVEL=10
adds both SyncStatus reads and publishes the RaftState of this member's
replica of the default config shard (Leader, Follower) in the node
attribute odl-shard-role, so a virtual IP can follow the shard leader.  A
live JVM that is not OPERATIONAL is a failure, never "not running".

Stop runs bin/stop, then sends SIGTERM and, once it makes no progress,
SIGKILL to the JVM's process tree; it succeeds only when the JVM is gone.

RESTCONF and Jolokia credentials come from a file (one user:password line,
mode 0600) and go out as HTTP Basic authentication, never on a command line.
"""


def _params() -> tuple[Param, ...]:
    return (
        Param(
            "home",
            PATH,
            "Karaf home of the member",
            "The OpenDaylight distribution directory (bin/start, "
            "instances/instance.properties).",
            default="/opt/opendaylight",
            unique=True,
        ),
        Param(
            "user",
            NAME,
            "User Karaf runs as",
            "bin/start and bin/stop run as this user (the owner of home).",
            default="odl",
        ),
        Param(
            "rest_address",
            HOST,
            "Address of the REST port",
            "Where /diagstatus and Jolokia answer on this node (the HTTP "
            "listener of etc/org.ops4j.pax.web.cfg).",
            default="127.0.0.1",
        ),
        Param(
            "rest_port",
            PORT,
            "REST port",
            "org.osgi.service.http.port of etc/org.ops4j.pax.web.cfg.",
            default="8181",
        ),
        Param(
            "credentials",
            PATH,
            "File with the RESTCONF/Jolokia credentials",
            "One line user:password, mode 0600, readable by root; sent as "
            "HTTP Basic authentication. Without it no credentials are sent "
            "(Jolokia then usually answers 401).",
        ),
        Param(
            "java_home",
            PATH,
            "JAVA_HOME of Karaf",
            "Exported as JAVA_HOME for bin/start and bin/stop. Default: "
            "what Karaf's own scripts find.",
        ),
        Param(
            "java_opts",
            ARGS,
            "JAVA_OPTS of Karaf",
            "Exported as JAVA_OPTS (replaces Karaf's default heap options).",
        ),
        Param(
            "extra_java_opts",
            ARGS,
            "EXTRA_JAVA_OPTS of Karaf",
            "Exported as EXTRA_JAVA_OPTS (added to Karaf's options).",
        ),
        Param(
            "sync_check",
            BOOLEAN,
            "Require shard sync to be ready",
            "Start waits for, and the level 10 monitor requires, SyncStatus "
            "true on both datastores' ShardManager (Jolokia). false: "
            "/diagstatus alone decides.",
            default="true",
        ),
        Param(
            "http_timeout",
            SECONDS,
            "Seconds one HTTP request may take",
            default="5",
        ),
        stop_grace("10"),
    )


SPEC = AgentSpec(
    name="opendaylight",
    shortdesc="OpenDaylight (Karaf) cluster member in a clone (hakit)",
    longdesc=LONGDESC,
    params=_params(),
    actions=standard_actions(
        start=300,
        stop=120,
        monitor=Timing(timeout=30, interval=10),
        extra_monitors=(Timing(timeout=30, interval=30, depth=10),),
    ),
    handlers="ocf_agents.opendaylight.actions",
)
