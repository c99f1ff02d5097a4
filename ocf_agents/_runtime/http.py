"""The HTTP health probe: one ``GET`` to a local service, judged by its status.

API services (OpenStack), management endpoints (RabbitMQ's
``/api/health/checks/alarms``) and status pages (OpenDaylight's
``/diagstatus``) all answer a health question with an HTTP status.  The probe
speaks HTTP/1.0 over a plain socket: it needs one status line, and
``http.client`` would cost a monitor ~17 ms of imports.  The socket is the
interpreter's own ``_socket``: the ``socket`` module around it adds ~3 ms
of imports (``selectors``, its enums) to every HTTP monitor for nothing a
probe uses; https wraps it in a ``socket.socket`` when it needs one.
"""

from __future__ import annotations

import _socket
import time

from ha_common import lazylog

log = lazylog.get(__name__)

#: A status at or above this is a failure (any answer below it means alive).
SERVER_ERROR = 500
#: The stricter bound of ``OCF_CHECK_LEVEL`` 10: only 2xx and 3xx count.
CLIENT_ERROR = 400


class HttpProbeError(Exception):
    """The service did not answer as a live HTTP server would."""


def http_status(
    host: str, port: int, path: str, timeout: float, scheme: str = "http"
) -> int:
    """Send ``GET path`` and return the HTTP status code.

    With ``scheme="https"`` the certificate is not verified: the probe asks a
    local service whether it is alive, it sends nothing secret.

    Raises:
        HttpProbeError: no connection, no answer within ``timeout``, or not HTTP.
    """
    return _get(host, port, path, timeout, scheme, "", whole=False)[0]


def http_get(
    host: str,
    port: int,
    path: str,
    timeout: float,
    *,
    scheme: str = "http",
    authorization: str = "",
    limit: int = 1 << 20,
) -> tuple[int, bytes]:
    """Send ``GET path`` and return the status and the body (at most ``limit``).

    ``authorization`` is the value of an ``Authorization`` header; it is
    never logged nor put in an error message.  As with :func:`http_status`,
    an https certificate is not verified: use it for local services only.

    Raises:
        HttpProbeError: no connection, no answer within ``timeout``, or not HTTP.
    """
    return _get(
        host, port, path, timeout, scheme, authorization, whole=True, limit=limit
    )


def _get(  # noqa: PLR0913, PLR0917 - the two public forms share one exchange
    host: str,
    port: int,
    path: str,
    timeout: float,
    scheme: str,
    authorization: str,
    *,
    whole: bool,
    limit: int = 4096,
) -> tuple[int, bytes]:
    end = time.monotonic() + timeout
    sock = _connect(host, port, max(0.05, timeout))
    try:
        if scheme == "https":
            import socket  # noqa: PLC0415
            import ssl  # noqa: PLC0415

            context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE  # liveness of the local service only
            sock = context.wrap_socket(
                socket.socket(fileno=sock.detach()), server_hostname=host
            )
        hostport = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        request = (
            f"GET {path} HTTP/1.0\r\nHost: {hostport}\r\n"
            "User-Agent: hakit-monitor\r\nAccept: application/json\r\n"
            + (f"Authorization: {authorization}\r\n" if authorization else "")
            + "Connection: close\r\n\r\n"
        )
        sock.sendall(request.encode("latin-1"))
        data = b""
        while (whole or b"\r\n" not in data) and len(data) < limit:
            sock.settimeout(max(0.05, end - time.monotonic()))
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
    except _socket.timeout:
        raise HttpProbeError(
            f"no answer from {host}:{port} within {timeout:g} s"
        ) from None
    except OSError as exc:
        raise HttpProbeError(f"{host}:{port}: {exc.strerror or exc}") from None
    finally:
        sock.close()
    head, _, body = data.partition(b"\r\n\r\n")
    line = head.split(b"\r\n", 1)[0].decode("latin-1")
    parts = line.split()
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        raise HttpProbeError(f"{host}:{port} did not answer HTTP (got {line[:40]!r})")
    return int(parts[1]), body


def _connect(host: str, port: int, timeout: float) -> _socket.socket:
    """Connect to ``host:port`` (each of its addresses in turn) within ``timeout``.

    Raises:
        HttpProbeError: no address of ``host`` accepted the connection.
    """
    # An ASCII host goes as bytes (getaddrinfo takes both; typeshed knows
    # str only): a str one is IDNA-encoded on every call, which imports
    # encodings.idna and re (~2.5 ms of a monitor).
    target = host.encode("ascii") if host.isascii() else host
    problem = "no address"
    try:
        infos = _socket.getaddrinfo(target, port, 0, _socket.SOCK_STREAM)
    except OSError as exc:
        infos, problem = [], exc.strerror or str(exc)
    for family, kind, proto, _, address in infos:
        sock = _socket.socket(family, kind, proto)
        try:
            sock.settimeout(timeout)
            sock.connect(address)
        except OSError as exc:
            sock.close()
            problem = exc.strerror or str(exc)
            continue
        return sock
    raise HttpProbeError(f"cannot connect to {host}:{port}: {problem}")


def http_problem(
    host: str,
    port: int,
    path: str,
    timeout: float,
    *,
    scheme: str = "http",
    strict: bool = False,
) -> str:
    """Probe ``GET path``; return "" when healthy, else what is wrong.

    Healthy is any status below 500 (the server is alive and routes
    requests), or below 400 when ``strict`` (``OCF_CHECK_LEVEL`` 10 and up).
    """
    try:
        status = http_status(host, port, path, timeout, scheme=scheme)
    except HttpProbeError as exc:
        return str(exc)
    if status >= (CLIENT_ERROR if strict else SERVER_ERROR):
        return f"GET {path} on {host}:{port} answered HTTP {status}"
    log.debug("GET %s on %s:%d answered %d", path, host, port, status)
    return ""
