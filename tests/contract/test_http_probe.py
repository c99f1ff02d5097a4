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
