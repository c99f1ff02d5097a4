"""Health probes of OpenStack services: an HTTP request, an AMQP connection.

The HTTP probe speaks HTTP/1.0 over a plain socket: it needs one status line,
and ``http.client`` would cost a monitor ~17 ms of imports.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Sequence

from ha_common import lazylog

log = lazylog.get(__name__)

DEFAULT_AMQP_PORT = 5672


class ProbeFailed(Exception):  # noqa: N818 - a result, not a programming error
    """The service did not answer as a healthy one would."""


def http_status(
    host: str, port: int, path: str, timeout: float, scheme: str = "http"
) -> int:
    """Send ``GET path`` and return the HTTP status code.

    Raises:
        ProbeFailed: no connection, no answer within ``timeout``, or not HTTP.
    """
    end = time.monotonic() + timeout
    try:
        sock = socket.create_connection((host, port), timeout=max(0.05, timeout))
    except OSError as exc:
        raise ProbeFailed(
            f"cannot connect to {host}:{port}: {exc.strerror or exc}"
        ) from None
    try:
        if scheme == "https":
            import ssl  # noqa: PLC0415

            context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE  # liveness of the local service only
            sock = context.wrap_socket(sock, server_hostname=host)
        hostport = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        request = (
            f"GET {path} HTTP/1.0\r\nHost: {hostport}\r\n"
            "User-Agent: hakit-monitor\r\nAccept: application/json\r\n"
            "Connection: close\r\n\r\n"
        )
        sock.sendall(request.encode("ascii"))
        data = b""
        while b"\r\n" not in data and len(data) < 4096:
            sock.settimeout(max(0.05, end - time.monotonic()))
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
    except socket.timeout:
        raise ProbeFailed(
            f"no answer from {host}:{port} within {timeout:g} s"
        ) from None
    except OSError as exc:
        raise ProbeFailed(f"{host}:{port}: {exc.strerror or exc}") from None
    finally:
        sock.close()
    line = data.split(b"\r\n", 1)[0].decode("latin-1")
    parts = line.split()
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        raise ProbeFailed(f"{host}:{port} did not answer HTTP (got {line[:40]!r})")
    return int(parts[1])


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
            os.makedirs(os.path.dirname(self.path) or ".", exist_ok=True)
            tmp = f"{self.path}.{os.getpid()}"
            with open(tmp, "w", encoding="ascii") as handle:
                handle.write(f"{since:.3f}\n")
            os.replace(tmp, self.path)
        return max(0.0, now - since)
