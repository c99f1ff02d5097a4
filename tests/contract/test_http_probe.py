"""The runtime's HTTP probe against canned loopback servers."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from ocf_agents._runtime import http


@pytest.fixture
def server():
    """A loopback server; ``server.answer`` is what it sends (None: stay silent)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    state = {"answer": b"HTTP/1.1 200 OK\r\n\r\n", "requests": []}
    stop = threading.Event()

    def serve():
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(2)
                state["requests"].append(conn.recv(4096))
                if state["answer"] is None:
                    stop.wait(2)
                else:
                    conn.sendall(state["answer"])

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    state["port"] = listener.getsockname()[1]
    yield state
    stop.set()
    thread.join(5)
    listener.close()


def test_status_and_request(server):
    assert http.http_status("127.0.0.1", server["port"], "/v3", 2) == 200
    request = server["requests"][0].decode()
    assert request.startswith("GET /v3 HTTP/1.0\r\n")
    assert f"Host: 127.0.0.1:{server['port']}\r\n" in request


@pytest.mark.parametrize(
    ("answer", "strict", "problem"),
    [
        (b"HTTP/1.1 200 OK\r\n\r\n", False, ""),
        (b"HTTP/1.1 401 Unauthorized\r\n\r\n", False, ""),
        (b"HTTP/1.1 401 Unauthorized\r\n\r\n", True, "answered HTTP 401"),
        (b"HTTP/1.0 302 Found\r\n\r\n", True, ""),
        (b"HTTP/1.0 503 Service Unavailable\r\n\r\n", False, "answered HTTP 503"),
        (b"SSH-2.0-OpenSSH\r\n", False, "did not answer HTTP"),
        (b"", False, "did not answer HTTP"),
    ],
)
def test_problem(server, answer, strict, problem):
    server["answer"] = answer
    found = http.http_problem("127.0.0.1", server["port"], "/", 2, strict=strict)
    if problem:
        assert problem in found
    else:
        assert found == ""


def test_silent_server_times_out(server):
    server["answer"] = None
    began = time.monotonic()
    with pytest.raises(http.HttpProbeError, match="no answer .* within 0.3 s"):
        http.http_status("127.0.0.1", server["port"], "/", 0.3)
    assert time.monotonic() - began < 2


def test_nothing_listening():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # bound, never listening: refused
        found = http.http_problem("127.0.0.1", port, "/", 1)
    assert found.startswith(f"cannot connect to 127.0.0.1:{port}")


def test_a_name_with_a_refusing_first_address_falls_through_to_the_next(server):
    """``localhost`` may resolve to ::1 first; the server listens on 127.0.0.1 only."""
    addresses = [a[4][0] for a in socket.getaddrinfo("localhost", server["port"])]
    assert "127.0.0.1" in addresses
    assert http.http_status("localhost", server["port"], "/", 2) == 200


def _self_signed(directory):
    """Write a self-signed certificate and key for 127.0.0.1; return their paths."""
    import datetime  # noqa: PLC0415
    import ipaddress  # noqa: PLC0415

    from cryptography import x509  # noqa: PLC0415
    from cryptography.hazmat.primitives import hashes, serialization  # noqa: PLC0415
    from cryptography.hazmat.primitives.asymmetric import ec  # noqa: PLC0415
    from cryptography.x509.oid import NameOID  # noqa: PLC0415

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hakit-probe-test")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def test_https_probe_speaks_tls_to_a_self_signed_service(tmp_path):
    """A local API behind TLS (self-signed, as often on a controller) is probed."""
    import ssl  # noqa: PLC0415

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*_self_signed(tmp_path))
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    requests = []

    def serve():
        conn, _ = listener.accept()
        with context.wrap_socket(conn, server_side=True) as tls:
            requests.append(tls.recv(4096))
            tls.sendall(b"HTTP/1.1 204 No Content\r\n\r\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        port = listener.getsockname()[1]
        assert http.http_status("127.0.0.1", port, "/healthcheck", 5, "https") == 204
    finally:
        thread.join(5)
        listener.close()
    assert requests[0].startswith(b"GET /healthcheck HTTP/1.0\r\n")
