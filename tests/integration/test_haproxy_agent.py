"""``ocf:hakit:haproxy`` on Debian's real HAProxy, driven as pacemaker-execd does.

A real HTTP server stands behind the proxy; clients go through HAProxy's
frontend, so "serves" means a request answered end to end.
"""

from __future__ import annotations

import http.client
import http.server
import os
import shutil
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from tests.integration.test_ocf_tester import check as ocf_tester_check
from tests.lab import agents
from tests.lab.ports import free_port
from tests.unavailable import unavailable

pytestmark = [pytest.mark.daemon]

HAPROXY = "/usr/sbin/haproxy"


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        if self.path.startswith("/slow"):
            time.sleep(1.5)
        body = b"backend\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def backend() -> Iterator[int]:
    """A real HTTP server on loopback; yields its port."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def _config(frontend: int, backend: int, extra: str = "") -> str:
    return (
        "global\n"
        "    daemon\n"  # the agent's -db keeps it in the foreground anyway
        "defaults\n"
        "    mode http\n"
        "    timeout connect 2s\n"
        "    timeout client 10s\n"
        "    timeout server 10s\n"
        "frontend fe\n"
        f"    bind 127.0.0.1:{frontend}\n"
        "    default_backend be\n"
        "backend be\n"
        f"{extra}"
        f"    server s1 127.0.0.1:{backend} check inter 500ms\n"
    )


class Proxy:
    """One resource's parameters and files."""

    def __init__(self, tmp: Path, backend: int) -> None:
        self.frontend = free_port()
        self.backend = backend
        self.config = tmp / "haproxy.cfg"
        self.config.write_text(_config(self.frontend, backend))
        self.rsctmp = tmp / "rsctmp"
        self.rsctmp.mkdir()
        self.instance = f"hap-{os.getpid()}-{self.frontend}"
        self.params = {"config": str(self.config)}

    def run(self, action: str, interval_ms: int = 0, level: int = 0) -> agents.Run:
        return agents.run(
            "haproxy",
            action,
            self.params,
            instance=self.instance,
            interval_ms=interval_ms,
            extra_env={"HA_RSCTMP": str(self.rsctmp), "OCF_CHECK_LEVEL": str(level)},
        )

    @property
    def master(self) -> int:
        return int((self.rsctmp / f"hakit-{self.instance}.pid").read_text())

    def get(self, path: str = "/") -> tuple[int, dict[str, str]]:
        conn = http.client.HTTPConnection("127.0.0.1", self.frontend, timeout=10)
        try:
            conn.request("GET", path)
            resp = conn.getresponse()
            resp.read()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}
        finally:
            conn.close()


@pytest.fixture
def proxy(installed_agents, backend, tmp_path) -> Iterator[Proxy]:
    if shutil.which("haproxy", path="/usr/sbin:/usr/bin") is None:
        unavailable("haproxy is not installed (Debian package haproxy)")
    made = Proxy(tmp_path, backend)
    yield made
    stopped = made.run("stop")
    assert stopped.rc == 0, stopped.err


def _alive(pid: int) -> bool:
    """A process that exists and is not a zombie (its parent may be slow to reap)."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_lifecycle_serves_and_stops_every_process(proxy):
    assert proxy.run("monitor").rc == 7
    started = proxy.run("start")
    assert started.rc == 0, started.err
    assert proxy.get()[0] == 200
    assert proxy.run("monitor").rc == 0
    deep = proxy.run("monitor", level=10)
    assert deep.rc == 0, deep.err
    master = proxy.master
    workers = [child.pid for child in psutil.Process(master).children()]
    assert workers, "master-worker mode: the master runs a worker"
    assert proxy.run("start").rc == 0  # already running: still success
    assert proxy.master == master
    stopped = proxy.run("stop")
    assert stopped.rc == 0, stopped.err
    assert not [pid for pid in (master, *workers) if _alive(pid)]
    assert proxy.run("monitor").rc == 7
    with pytest.raises(OSError):
        proxy.get()


def test_a_configuration_haproxy_refuses_is_err_configured(proxy):
    proxy.config.write_text(
        _config(proxy.frontend, proxy.backend) + "    no-such-keyword on\n"
    )
    checked = proxy.run("validate-all")
    assert checked.rc == 6, checked.err
    assert "no-such-keyword" in checked.reasons[0]
    started = proxy.run("start")
    assert started.rc == 6
    assert "unknown keyword 'no-such-keyword'" in started.reasons[0]
    assert proxy.run("monitor").rc == 7


def test_a_start_that_cannot_bind_says_why(proxy):
    with socket_bound(proxy.frontend):
        started = proxy.run("start")
    assert started.rc == 1
    assert "exited during start" in started.reasons[0]
    assert f"127.0.0.1:{proxy.frontend}" in started.reasons[0]
    assert proxy.run("monitor").rc == 7


class socket_bound:  # noqa: N801 - used as a context manager
    """Hold a TCP port so HAProxy cannot bind it."""

    def __init__(self, port: int) -> None:
        import socket

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen()

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        self.sock.close()


def test_a_changed_configuration_is_reloaded_without_dropping_requests(proxy):
    assert proxy.run("start").rc == 0
    master = proxy.master
    failures: list[str] = []
    answered = 0
    stop = threading.Event()

    def client() -> None:
        nonlocal answered
        while not stop.is_set():
            try:
                status, _ = proxy.get()
                if status == 200:
                    answered += 1
                else:
                    failures.append(f"status {status}")
            except OSError as exc:
                failures.append(repr(exc))

    slow: list[int] = []
    in_flight = threading.Thread(target=lambda: slow.append(proxy.get("/slow")[0]))
    loop = threading.Thread(target=client)
    loop.start()
    in_flight.start()
    time.sleep(0.3)  # the slow request is now inside the old worker
    proxy.config.write_text(
        _config(
            proxy.frontend,
            proxy.backend,
            extra="    http-response set-header X-Hakit-Generation 2\n",
        )
    )
    monitored = proxy.run("monitor", interval_ms=10000)
    in_flight.join(10)
    time.sleep(0.3)
    stop.set()
    loop.join(10)
    assert monitored.rc == 0, monitored.err
    assert proxy.master == master, "a reload keeps the master"
    assert slow == [200], "the request in flight during the reload was answered"
    assert answered > 10
    assert failures == []
    assert proxy.get()[1].get("x-hakit-generation") == "2"


def test_a_refused_change_keeps_the_running_configuration(proxy):
    assert proxy.run("start").rc == 0
    proxy.config.write_text(
        _config(proxy.frontend, proxy.backend) + "    no-such-keyword on\n"
    )
    probe = proxy.run("monitor")  # probes never reload
    assert probe.rc == 0
    assert "refuses" not in probe.err
    first = proxy.run("monitor", interval_ms=10000)
    assert first.rc == 0, first.err
    assert "haproxy -c refuses it" in first.err
    again = proxy.run("monitor", interval_ms=10000)
    assert again.rc == 0
    assert "refuses" not in again.err, "a refused change is logged once"
    assert proxy.get()[0] == 200


def test_level_10_fails_when_a_backend_has_no_server_up(proxy):
    proxy.config.write_text(_config(proxy.frontend, free_port()))  # nothing there
    assert proxy.run("start").rc == 0
    deadline = time.monotonic() + 10
    deep = proxy.run("monitor", level=10)
    while deep.rc == 0 and time.monotonic() < deadline:
        time.sleep(0.3)
        deep = proxy.run("monitor", level=10)
    assert deep.rc == 1
    assert "no server UP in backend be" in deep.reasons[0]
    assert proxy.run("monitor").rc == 0, "level 0 judges HAProxy, not its backends"


def test_a_frozen_master_is_a_failure_not_stopped(proxy):
    assert proxy.run("start").rc == 0
    master = proxy.master
    proxy.params["socket_timeout"] = "1"
    os.kill(master, signal.SIGSTOP)
    try:
        frozen = proxy.run("monitor")
    finally:
        os.kill(master, signal.SIGCONT)
    assert frozen.rc == 1
    assert f"haproxy (pid {master}) is unhealthy" in frozen.reasons[0]


def test_stop_ends_a_frozen_haproxy(proxy):
    assert proxy.run("start").rc == 0
    master = proxy.master
    proxy.params["stop_grace"] = "1"
    os.kill(master, signal.SIGSTOP)
    stopped = proxy.run("stop")
    assert stopped.rc == 0, stopped.err
    assert not _alive(master)
    assert proxy.run("monitor").rc == 7


@pytest.mark.slow
def test_ocf_tester(proxy):
    ocf_tester_check("haproxy", proxy.params)


@pytest.mark.pacemaker
@pytest.mark.slow
def test_pacemaker_restarts_a_killed_haproxy(pcmk_cluster, proxy):
    """A clone under the single-node cluster: kill -9 of the master, recovered."""
    from tests.integration.test_pacemaker_openstack import (
        clone,
        configuration,
        primitive,
        running,
        wait_restarted,
    )

    pidfile = proxy.rsctmp / "pcmk-haproxy.pid"
    params = proxy.params | {
        "pidfile": pidfile,
        "master_socket": proxy.rsctmp / "pcmk-haproxy.sock",
        "console_log": proxy.rsctmp / "pcmk-haproxy.log",
    }
    prim = primitive("hk-haproxy", "haproxy", params)
    pcmk_cluster.load_xml(configuration(clone(prim, "hk-haproxy-clone")))
    try:
        pcmk_cluster.wait_until(
            lambda: running(pcmk_cluster, "hk-haproxy"),
            timeout=60,
            what="haproxy started by Pacemaker",
        )
        pcmk_cluster.wait_idle()
        assert proxy.get()[0] == 200
        old = int(pidfile.read_text())
        workers = [child.pid for child in psutil.Process(old).children()]
        os.kill(old, signal.SIGKILL)
        seconds = wait_restarted(pcmk_cluster, "hk-haproxy", pidfile, old)
        assert pcmk_cluster.fail_count("hk-haproxy") == 1
        assert proxy.get()[0] == 200
        assert not [pid for pid in workers if _alive(pid)], "old workers ended"
        print(f"haproxy restarted by Pacemaker {seconds:.2f} s after kill -9")
    finally:
        pcmk_cluster.delete_resource("hk-haproxy-clone", timeout=60)
