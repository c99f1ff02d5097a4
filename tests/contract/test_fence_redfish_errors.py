"""fence_hakit_redfish's failures against real sockets on 127.0.0.1.

The DMTF library, requests and urllib3 run for real against a closed port, an
HTTPS server that is no Redfish service (it answers an HTML page), and a
plain-HTTP server; the agent runs in-process, as its launcher would run it.
Each failure must be one line naming host:port and the cause, at once, and
never quote the page.
"""

from __future__ import annotations

import http.server
import os
import shutil
import socket
import ssl
import subprocess
import threading
import time
from pathlib import Path

import pytest

from fence_agents._runtime import driver
from fence_agents.redfish import RedfishFence
from fence_agents.redfish.device import SYSTEM_CA_BUNDLE

pytest.importorskip("redfish")

PAGE = b"<html><body><h1>Welcome to nginx!</h1><p>certificate SSL</p></body></html>"


@pytest.fixture(autouse=True)
def _no_handlers_of_earlier_tests():
    """An agent run starts without logging set up, as a fresh process does.

    Earlier in-process runs leave root handlers on streams pytest has closed
    since; the library's INFO lines would reach them.
    """
    import logging

    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    root.handlers.clear()
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


class PageHandler(http.server.BaseHTTPRequestHandler):
    """A web server that is no Redfish service: an HTML page everywhere."""

    status = 200

    def do_GET(self):  # noqa: N802 - http.server's name
        self.send_response(self.status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(PAGE)))
        self.end_headers()
        self.wfile.write(PAGE)

    def log_message(self, *args):
        pass


class NotFoundHandler(PageHandler):
    status = 404


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    openssl = shutil.which("openssl")
    if openssl is None:
        message = "openssl is missing"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt"]
        + ["ec_paramgen_curve:prime256v1", "-nodes", "-days", "2"]
        + ["-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"]
        + ["-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
        timeout=30,
    )
    return cert, key


def serve(handler, certificate=None):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    if certificate is not None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*map(str, certificate))
        server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server


@pytest.fixture
def html_https(certificate):
    server = serve(PageHandler, certificate)
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def fence(capsys, port: int, *extra: str) -> tuple[int, str, float]:
    argv = ["-a", "127.0.0.1", "-u", str(port), "-l", "admin", "-p", "pw"]
    argv += ["--systems-uri", "/redfish/v1/Systems/1", "-o", "status", *extra]
    started = time.perf_counter()
    with pytest.raises(SystemExit) as info:
        driver.main(RedfishFence(), argv=argv)
    seconds = time.perf_counter() - started
    out, err = capsys.readouterr()
    assert out == ""
    return int(info.value.code), err, seconds


def one_line(err: str) -> str:
    lines = err.splitlines()
    assert len(lines) == 1, err  # nothing else: no page, no library log line
    assert lines[0].startswith("Failed: ")
    return lines[0][len("Failed: ") :]


def test_a_closed_port_fails_at_once_naming_host_port_and_cause(capsys):
    import redfish  # noqa: F401 - its import is not what is timed

    port = closed_port()
    rc, err, seconds = fence(capsys, port, "--ssl-insecure")
    assert rc == 1
    assert one_line(err) == (
        f"GET /redfish/v1/: cannot reach the BMC at 127.0.0.1:{port}: "
        "connection refused"
    )
    # The library's retry would sleep 1 s first (1.2 s in all, issue #11).
    assert seconds < 0.5


@pytest.mark.parametrize("trust", ["ca_file", "insecure"])
def test_an_https_server_that_is_not_redfish_is_named_so(
    capsys, html_https, certificate, trust, recwarn
):
    extra = (
        ["--ssl-ca-file", str(certificate[0])]
        if trust == "ca_file"
        else ["--ssl-insecure"]
    )
    rc, err, seconds = fence(capsys, html_https, *extra)
    assert rc == 1
    assert one_line(err) == (
        f"127.0.0.1:{html_https} is not a Redfish service: GET /redfish/v1/ "
        "answered HTTP 200 (text/html)"
    )
    assert seconds < 2
    # ssl_insecure was asked for: no InsecureRequestWarning on stderr.
    assert not [w for w in recwarn if "Unverified HTTPS" in str(w.message)]


def test_a_404_page_is_not_redfish_either(capsys, certificate):
    server = serve(NotFoundHandler, certificate)
    try:
        rc, err, _ = fence(capsys, server.server_address[1], "--ssl-insecure")
    finally:
        server.shutdown()
        server.server_close()
    assert rc == 1
    assert "is not a Redfish service" in err
    assert "HTTP 404 (text/html)" in err


def test_an_untrusted_certificate_says_why(capsys, html_https):
    if not Path(SYSTEM_CA_BUNDLE).exists():
        pytest.skip(f"{SYSTEM_CA_BUNDLE} is missing")
    rc, err, _ = fence(capsys, html_https)
    assert rc == 1
    assert one_line(err) == (
        f"GET /redfish/v1/: TLS verification failed for 127.0.0.1:{html_https}: "
        "self-signed certificate"
    )


def test_plain_http_on_the_port_is_a_tls_handshake_failure(capsys):
    server = serve(PageHandler)
    try:
        port = server.server_address[1]
        rc, err, _ = fence(capsys, port, "--ssl-insecure")
    finally:
        server.shutdown()
        server.server_close()
    assert rc == 1
    assert one_line(err).startswith(
        f"GET /redfish/v1/: TLS handshake with 127.0.0.1:{port} failed ("
    )
