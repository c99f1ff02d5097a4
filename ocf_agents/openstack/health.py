"""What the AMQP health check of OpenStack RPC workers needs.

The ports to look for (``transport_url`` in the oslo configuration) and a
clock of how long a worker has been disconnected.  The HTTP probe of API
services is the runtime's (``ocf_agents._runtime.http``).
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence

from ocf_agents._runtime import statefile

DEFAULT_AMQP_PORT = 5672


def transport_ports(config_files: Sequence[str]) -> tuple[int, ...]:
    """Ports named by ``[DEFAULT] transport_url`` in oslo configuration files.

    The last file that sets it wins, as in oslo.config.  Credentials in the
    URL are never returned or logged.
    """
    import configparser  # noqa: PLC0415 - only RPC workers need it

    url: str | None = None
    for path in config_files:
        parser = configparser.RawConfigParser(strict=False, interpolation=None)
        try:
            with open(path, encoding="utf-8") as handle:
                parser.read_file(handle)
        except (OSError, configparser.Error, UnicodeDecodeError):
            continue
        value = parser.defaults().get("transport_url")
        if value:
            url = value.strip()
    if not url or "://" not in url:
        return ()
    rest = url.split("://", 1)[1]
    netlocs = rest.split("/", 1)[0]
    ports = []
    for netloc in netlocs.split(","):
        hostport = netloc.rpartition("@")[2]
        if hostport.startswith("["):
            _, _, tail = hostport.partition("]")
            port_text = tail[1:] if tail.startswith(":") else ""
        else:
            port_text = hostport.rpartition(":")[2] if ":" in hostport else ""
        port = int(port_text) if port_text.isdigit() else DEFAULT_AMQP_PORT
        if port not in ports:
            ports.append(port)
    return tuple(ports)


def boottime() -> float:
    """Seconds since boot, including suspend: immune to wall-clock changes."""
    return time.clock_gettime(time.CLOCK_BOOTTIME)


class DisconnectClock:
    """Remember, across monitor runs, since when an RPC worker is disconnected.

    The time of the first failed check is kept in a state file under
    ``HA_RSCTMP`` (tmpfs: it does not survive a reboot, nor should it).
    """

    def __init__(self, path: str) -> None:
        """Keep the state in ``path``."""
        self.path = path

    def connected(self) -> None:
        """Forget any disconnection."""
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass

    def disconnected_for(self) -> float:
        """Record a failed check; return seconds since the first one in a row."""
        now = boottime()
        try:
            with open(self.path, encoding="ascii") as handle:
                since = float(handle.read().strip())
        except (OSError, ValueError):
            since = now
            statefile.write(self.path, f"{since:.3f}\n")
        return max(0.0, now - since)
