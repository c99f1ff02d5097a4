"""Fixed loopback port plan for the test lab, and a free-port helper.

Every port the lab uses lies in 30000-31999 on 127.0.0.1 (LAB.md).  The fixed
plan keeps logs and ``ss`` output readable; :func:`free_port` finds a free
port of the same range for what has no planned port.
"""

from __future__ import annotations

import random
import socket

LOOPBACK = "127.0.0.1"
PORT_MIN = 30000
PORT_MAX = 31999

KEYSTONE_PORT = 30500
PLACEMENT_PORT = 30501

RABBIT_NODE_PORT = 30672
RABBIT_DIST_PORT = 30682
RABBIT_EPMD_PORT = 30369
RABBIT_CTL_DIST_PORT_MIN = 30690
RABBIT_CTL_DIST_PORT_MAX = 30699

# MariaDB Galera, three nodes (LAB.md section 15): node N adds N-1 to the SQL
# port and 10*(N-1) to the Galera ports; IST is gcomm + 1, SST is gcomm + 2.
GALERA_SQL_PORTS = (30306, 30307, 30308)
GALERA_GCOMM_PORTS = (30567, 30577, 30587)
GALERA_IST_PORTS = tuple(port + 1 for port in GALERA_GCOMM_PORTS)
GALERA_SST_PORTS = tuple(port + 2 for port in GALERA_GCOMM_PORTS)

# free_port() never hands out a planned port, so a fallback cannot collide
# with a service that later starts on its planned port.
PLANNED_PORTS = frozenset(
    {
        KEYSTONE_PORT,
        PLACEMENT_PORT,
        RABBIT_NODE_PORT,
        RABBIT_DIST_PORT,
        RABBIT_EPMD_PORT,
        *range(RABBIT_CTL_DIST_PORT_MIN, RABBIT_CTL_DIST_PORT_MAX + 1),
        *GALERA_SQL_PORTS,
        *GALERA_GCOMM_PORTS,
        *GALERA_IST_PORTS,
        *GALERA_SST_PORTS,
    }
)


def port_is_free(port: int, host: str = LOOPBACK) -> bool:
    """Return True when a TCP socket can bind ``host:port`` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # Like the servers themselves: TIME_WAIT leftovers do not block a
        # bind, a listening socket does.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = LOOPBACK, attempts: int = 200) -> int:
    """Return a TCP port in 30000-31999 that is free on ``host``, outside the plan.

    The port is only free at the time of the check; callers bind it soon after.
    Raises RuntimeError when ``attempts`` random candidates are all taken.
    """
    rng = random.SystemRandom()
    for _ in range(attempts):
        port = rng.randint(PORT_MIN, PORT_MAX)
        if port not in PLANNED_PORTS and port_is_free(port, host):
            return port
    raise RuntimeError(f"no free TCP port in {PORT_MIN}-{PORT_MAX} on {host}")
