"""Declaration of ``ocf:hakit:haproxy``: parameters, actions, documentation."""

from __future__ import annotations

from ha_common.kinds import BOOLEAN, PATH, SECONDS
from ocf_agents._runtime.spec import (
    AgentSpec,
    Param,
    Timing,
    standard_actions,
    stop_grace,
)

LONGDESC = """\
Runs HAProxy in master-worker mode (haproxy -W -db), usually as a clone on
every controller, in front of the active/active OpenStack APIs and behind
the virtual IPs.

Start checks the configuration with haproxy -c first: a configuration
HAProxy refuses is OCF_ERR_CONFIGURED, with HAProxy's own message.  The
master process runs in the foreground under the agent and listens on a
master CLI socket of the agent's own (master_socket), so the monitor needs
no "stats socket" line in the configuration.

The monitor asks the master for its workers (show proc) and the first
worker for its state (show info): a running master without a worker, or
one that does not answer, is a failure, never "not running".  At
OCF_CHECK_LEVEL 10 every backend must also have a server UP (show stat).

When the configuration file changes, the recurring monitor (watch_config)
checks it with haproxy -c and reloads HAProxy without dropping connections:
the master starts new workers on the same listening sockets and the old
ones finish the connections they serve.  A change HAProxy refuses is logged
once and not applied; the running configuration stays.  Probes never
reload.

Binding to a virtual IP that another node holds needs
net.ipv4.ip_nonlocal_bind=1 (net.ipv6.ip_nonlocal_bind for IPv6) on every
node, or the clone cannot start where the address is not.

Stop sends SIGTERM to the master (the workers close their connections at
once), then SIGKILL to the whole process tree if it makes no progress.
"""

SPEC = AgentSpec(
    name="haproxy",
    shortdesc="HAProxy load balancer in master-worker mode (hakit)",
    longdesc=LONGDESC,
    params=(
        Param(
            "binary",
            PATH,
            "HAProxy program",
            "Absolute path of the haproxy program.",
            default="/usr/sbin/haproxy",
        ),
        Param(
            "config",
            PATH,
            "HAProxy configuration file",
            "The configuration HAProxy runs with (haproxy -f).",
            default="/etc/haproxy/haproxy.cfg",
            unique=True,
        ),
        Param(
            "pidfile",
            PATH,
            "Pid file of the master process",
            "Where the agent records the master's pid. Default: "
            "$HA_RSCTMP/hakit-<resource>.pid.",
        ),
        Param(
            "master_socket",
            PATH,
            "Master CLI socket",
            "Unix socket of HAProxy's master CLI (haproxy -S, mode 600), which "
            "the monitor uses. Default: $HA_RSCTMP/hakit-<resource>.sock.",
        ),
        Param(
            "console_log",
            PATH,
            "File for HAProxy's own messages",
            "HAProxy prints its alerts and warnings here (start failures among "
            "them). Default: $HA_RSCTMP/hakit-<resource>.log.",
        ),
        Param(
            "watch_config",
            BOOLEAN,
            "Reload when the configuration changes",
            "The monitor reloads HAProxy, without dropping connections, when the "
            "configuration file changed and haproxy -c accepts it. false: a "
            "change applies at the next start.",
            default="true",
        ),
        Param(
            "socket_timeout",
            SECONDS,
            "Seconds one question to the master CLI may take",
            default="5",
        ),
        stop_grace(),
    ),
    actions=standard_actions(
        start=30,
        stop=30,
        monitor=Timing(timeout=20, interval=10),
        extra_monitors=(Timing(timeout=20, interval=30, depth=10),),
    ),
    handlers="ocf_agents.haproxy.actions",
)
