"""Prove the test lab: real RabbitMQ and OpenStack services run on loopback.

The services are started directly from the prepared ``argv``/``env`` (the way
an OCF agent would), each in its own session, and every process tree is
killed by pid in a ``finally`` block.
"""

from __future__ import annotations

import json
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Callable

import psutil
import pytest

from tests.lab.openstack import (
    ADMIN_PASSWORD,
    Service,
    spawn,
    tcp_connections,
    terminate_tree,
    wait_http,
)
from tests.lab.ports import free_port
from tests.lab.rabbitmq import RabbitNode

pytest_plugins = ["tests.lab.fixtures"]


def _wait_until(
    condition: Callable[[], bool],
    timeout: float,
    what: str,
    proc: subprocess.Popen[bytes] | None = None,
) -> float:
    """Poll ``condition``; return the seconds it took, fail after ``timeout``."""
    start = time.monotonic()
    while not condition():
        if proc is not None and proc.poll() is not None:
            pytest.fail(f"process exited with {proc.returncode} while waiting: {what}")
        if time.monotonic() - start > timeout:
            pytest.fail(f"not within {timeout} s: {what}")
        time.sleep(0.1)
    return time.monotonic() - start


def _log_tail(service: Service) -> str:
    """Return the end of a service's own log, for failure messages."""
    log = service.log_file
    if log is None or not log.exists():
        return ""
    return log.read_text(errors="replace")[-2000:]


def _listening_addresses(pid: int) -> set[str]:
    """Return the local IPs on which process ``pid`` listens for TCP."""
    proc = psutil.Process(pid)
    lister = getattr(proc, "net_connections", None) or proc.connections
    conns = lister(kind="tcp")
    return {c.laddr.ip for c in conns if c.status == psutil.CONN_LISTEN}


@pytest.mark.daemon
def test_rabbitmq_node_listens_on_loopback_only(rabbitmq: RabbitNode) -> None:
    """AMQP and distribution listeners of the beam, and epmd, bind loopback only."""
    assert rabbitmq.is_running()
    assert rabbitmq.beam_pid is not None
    assert _listening_addresses(rabbitmq.beam_pid) == {"127.0.0.1"}
    assert rabbitmq.amqp_url == f"rabbit://guest:guest@127.0.0.1:{rabbitmq.node_port}/"
    assert rabbitmq.ctl("status", timeout=30).returncode == 0


@pytest.mark.daemon
@pytest.mark.slow
def test_rabbitmq_stop_removes_beam_and_epmd(tmp_path: Path) -> None:
    """stop() ends the node and the epmd it started; a second stop is a no-op."""
    from tests.lab.rabbitmq import rabbitmq_missing
    from tests.unavailable import unavailable

    reason = rabbitmq_missing()
    if reason:
        unavailable(reason)
    node = RabbitNode(
        tmp_path,
        name="rabbitstop",
        node_port=free_port(),
        dist_port=free_port(),
        epmd_port=free_port(),
    )
    try:
        node.start(timeout=90)
        beam, epmd = node.beam_pid, node.epmd_pid
        assert beam is not None
        assert epmd is not None
        cookie = node.home / ".erlang.cookie"
        assert cookie.stat().st_mode & 0o777 == 0o400
        assert len(cookie.read_text()) == 32
        node.stop(timeout=30)
        assert not node.is_running()
        for pid in (beam, epmd):
            assert (
                not psutil.pid_exists(pid)
                or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
            )
        node.stop()
    finally:
        node.stop()


@pytest.mark.daemon
@pytest.mark.openstack
@pytest.mark.slow
def test_keystone_answers_and_issues_token(keystone_service: Service) -> None:
    """Gunicorn started from argv alone serves GET /v3 and POST /v3/auth/tokens."""
    assert keystone_service.argv[1:] == ["-c", str(keystone_service.config_files[0])]
    assert keystone_service.env == {}
    proc = spawn(keystone_service)
    try:
        status = wait_http(f"{keystone_service.url}/v3", timeout=60, proc=proc)
        assert status == 200, _log_tail(keystone_service)
        body = {
            "auth": {
                "identity": {
                    "methods": ["password"],
                    "password": {
                        "user": {
                            "name": "admin",
                            "domain": {"id": "default"},
                            "password": ADMIN_PASSWORD,
                        }
                    },
                },
                "scope": {"project": {"name": "admin", "domain": {"id": "default"}}},
            }
        }
        request = urllib.request.Request(
            f"{keystone_service.url}/v3/auth/tokens",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=30) as resp:  # noqa: S310
            assert resp.status == 201
            assert resp.headers["X-Subject-Token"]
            catalog = json.load(resp)["token"]["catalog"]
        urls = {e["url"] for svc in catalog for e in svc["endpoints"]}
        assert urls == {f"{keystone_service.url}/v3/"}
    finally:
        terminate_tree(proc)


@pytest.mark.daemon
@pytest.mark.openstack
@pytest.mark.slow
def test_placement_answers_root(placement_service: Service) -> None:
    """Gunicorn started from argv alone serves placement's version document."""
    proc = spawn(placement_service)
    try:
        status = wait_http(f"{placement_service.url}/", timeout=60, proc=proc)
        assert status == 200, _log_tail(placement_service)
        with urllib.request.urlopen(f"{placement_service.url}/", timeout=10) as resp:  # noqa: S310
            assert "versions" in json.load(resp)
    finally:
        terminate_tree(proc)


def _conductor_consumers(rabbitmq: RabbitNode) -> int:
    """Return the consumer count of the ``conductor`` queue (0 when it is absent)."""
    out = rabbitmq.ctl(
        "list_queues", "--quiet", "--formatter", "json", "name", "consumers"
    )
    if out.returncode != 0:
        return 0
    queues = {q["name"]: q["consumers"] for q in json.loads(out.stdout or "[]")}
    return int(queues.get("conductor", 0))


@pytest.mark.daemon
@pytest.mark.openstack
@pytest.mark.slow
def test_nova_conductor_reconnects_after_rabbitmq_restart(
    keystone_service: Service,
    placement_service: Service,
    nova_conductor_service: Service,
    rabbitmq: RabbitNode,
) -> None:
    """The conductor connects, drops on RabbitMQ kill -9 and reconnects on restart."""
    port = rabbitmq.node_port
    procs: list[subprocess.Popen[bytes]] = []

    def connected() -> bool:
        return bool(tcp_connections(conductor.pid, port))

    def consuming() -> bool:
        return _conductor_consumers(rabbitmq) > 0

    try:
        # The trio, as in production: the conductor's placement client needs
        # keystone and placement answering when it starts.
        for service in (keystone_service, placement_service):
            procs.append(spawn(service))
        for service, proc in zip((keystone_service, placement_service), procs):
            assert wait_http(f"{service.url}/", timeout=60, proc=proc) < 500
        conductor = spawn(nova_conductor_service)
        procs.append(conductor)
        took = _wait_until(connected, 60, "conductor connects", conductor)
        print(f"conductor connected after {took:.1f} s")
        took += _wait_until(consuming, 60, "conductor consumes", conductor)
        print(f"conductor consuming after {took:.1f} s")

        rabbitmq.kill()
        took = _wait_until(lambda: not connected(), 30, "connection drops", conductor)
        print(f"connection gone {took:.1f} s after kill -9")

        started = time.monotonic()
        rabbitmq.start(timeout=90)
        print(f"rabbitmq restarted in {time.monotonic() - started:.1f} s")
        took = _wait_until(connected, 60, "conductor reconnects", conductor)
        print(f"conductor reconnected {took:.1f} s after the node was up")
        took += _wait_until(consuming, 60, "conductor consumes again", conductor)
        print(f"conductor consuming again {took:.1f} s after the node was up")
        assert conductor.poll() is None, _log_tail(nova_conductor_service)
        assert nova_conductor_service.log_file is not None
        log = nova_conductor_service.log_file.read_text(errors="replace")
        assert "Unable to initialize placement client" not in log
    finally:
        for proc in reversed(procs):
            terminate_tree(proc)
