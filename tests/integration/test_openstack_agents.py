"""The OpenStack agents running real OpenStack services (keystone, nova-conductor).

The agents are the installed launchers, run with the environment
pacemaker-execd gives them; the services come from PyPI (tests/lab).
"""

from __future__ import annotations

import os
import signal
import time
import urllib.request

import psutil
import pytest

from ocf_agents._runtime.proc import session_members
from ocf_agents._runtime.rc import OcfRc
from tests.lab import agents

pytestmark = [pytest.mark.daemon, pytest.mark.openstack, pytest.mark.slow]

RECURRING = 10000


def keystone_params(svc, tmp_path):
    return {
        "binary": svc.argv[0],
        "config": str(svc.config_files[0]),
        "config_flag": "-c",
        "user": "root",
        "port": svc.port,
        "healthcheck_path": "/v3",
        "pidfile": str(tmp_path / "keystone.pid"),
        "console_log": str(tmp_path / "keystone.console"),
    }


def conductor_params(svc, tmp_path, grace=60):
    return {
        "binary": svc.argv[0],
        "config": " ".join(str(p) for p in svc.config_files),
        "user": "root",
        "amqp_grace": grace,
        "pidfile": str(tmp_path / "conductor.pid"),
        "console_log": str(tmp_path / "conductor.console"),
    }


def read_pid(params):
    with open(params["pidfile"]) as handle:
        return int(handle.read())


def test_kill_9_of_the_main_process_only_is_a_failure_until_stop(keystone):
    """gunicorn's orphaned worker (renamed by setproctitle) lives on for up to
    its timeout: the monitor must call that a failure, never "not running"."""
    _, params = keystone
    assert agents.run("keystone", "start", params).rc == OcfRc.SUCCESS
    master = read_pid(params)
    os.kill(master, signal.SIGKILL)
    time.sleep(0.2)
    for _ in range(3):
        result = agents.run("keystone", "monitor", params, interval_ms=RECURRING)
        if not session_members(master):
            break  # the worker noticed and left: nothing to assert about
        assert result.rc == OcfRc.ERR_GENERIC, result.err
        assert "workers" in result.reasons[0]
    stopped = agents.run("keystone", "stop", params)
    assert stopped.rc == OcfRc.SUCCESS, stopped.err
    assert session_members(master) == []
    assert agents.run("keystone", "monitor", params).rc == OcfRc.NOT_RUNNING


def service_processes(marker: str) -> list[int]:
    """Pids whose command line mentions ``marker`` (a per-test config path)."""
    found = []
    for proc in psutil.process_iter(["cmdline", "status"]):
        cmdline = proc.info["cmdline"] or []
        if proc.info["status"] != psutil.STATUS_ZOMBIE and marker in cmdline:
            found.append(proc.pid)
    return found


def poll(predicate, timeout, interval=0.25):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return predicate()


def http_status(url):
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


@pytest.fixture
def keystone(installed_agents, keystone_service, tmp_path):
    params = keystone_params(keystone_service, tmp_path)
    yield keystone_service, params
    agents.run("keystone", "stop", params)


def test_keystone_lifecycle_with_kill_9(keystone):
    svc, params = keystone
    marker = params["config"]
    assert agents.run("keystone", "monitor", params).rc == OcfRc.NOT_RUNNING

    started = agents.run("keystone", "start", params)
    assert started.rc == OcfRc.SUCCESS, started.err
    assert http_status(f"{svc.url}/v3") == 200
    monitor = agents.run("keystone", "monitor", params, interval_ms=RECURRING)
    assert monitor.rc == OcfRc.SUCCESS, monitor.err

    master = read_pid(params)
    workers = session_members(master)
    assert len(workers) >= 2, "gunicorn runs a worker in the agent's session"
    for pid in workers:
        os.kill(pid, signal.SIGKILL)
    gone = poll(lambda: session_members(master) == [], timeout=10, interval=0.05)
    assert gone
    probe = agents.run("keystone", "monitor", params)
    assert probe.rc == OcfRc.NOT_RUNNING, probe.err
    assert agents.run("keystone", "monitor", params, interval_ms=RECURRING).rc == 7

    restarted = agents.run("keystone", "start", params)
    assert restarted.rc == OcfRc.SUCCESS, restarted.err
    assert http_status(f"{svc.url}/v3") == 200

    master = read_pid(params)
    stopped = agents.run("keystone", "stop", params)
    assert stopped.rc == OcfRc.SUCCESS, stopped.err
    assert session_members(master) == [], "stop left processes behind"
    assert service_processes(marker) == []
    assert not os.path.exists(params["pidfile"])
    assert agents.run("keystone", "monitor", params).rc == OcfRc.NOT_RUNNING


def test_keystone_that_cannot_serve_fails_start_with_a_reason(keystone, tmp_path):
    _, params = keystone
    broken = {**params, "port": 1}  # probe a port nothing listens on
    result = agents.run("keystone", "start", broken, timeout_ms=8000)
    assert result.rc == OcfRc.ERR_GENERIC
    assert "cannot connect to 127.0.0.1:1" in result.reasons[0]
    assert agents.run("keystone", "stop", broken).rc == OcfRc.SUCCESS
    assert service_processes(params["config"]) == []


@pytest.fixture
def conductor(installed_agents, rabbitmq, nova_conductor_service, tmp_path):
    params = conductor_params(nova_conductor_service, tmp_path, grace=6)
    yield rabbitmq, params
    agents.run("nova-conductor", "stop", params)


def test_rpc_worker_health_follows_its_amqp_connection(conductor):
    rabbit, params = conductor
    started = agents.run("nova-conductor", "start", params)
    assert started.rc == OcfRc.SUCCESS, started.err
    monitor = agents.run("nova-conductor", "monitor", params, interval_ms=RECURRING)
    assert monitor.rc == OcfRc.SUCCESS, monitor.err

    rabbit.stop()
    # Within the grace the worker counts as healthy (oslo.messaging retries)...
    first = agents.run("nova-conductor", "monitor", params, interval_ms=RECURRING)
    assert first.rc == OcfRc.SUCCESS, first.err
    strict = agents.run(
        "nova-conductor",
        "monitor",
        params,
        interval_ms=RECURRING,
        extra_env={"OCF_CHECK_LEVEL": "10"},
    )
    assert strict.rc == OcfRc.ERR_GENERIC
    # ...and fails once it has been disconnected for longer than the grace.
    time.sleep(6.5)
    late = agents.run("nova-conductor", "monitor", params, interval_ms=RECURRING)
    assert late.rc == OcfRc.ERR_GENERIC
    assert "no AMQP connection" in late.reasons[0]

    rabbit.start()
    healthy = poll(
        lambda: (
            agents.run("nova-conductor", "monitor", params, interval_ms=RECURRING).rc
            == OcfRc.SUCCESS
        ),
        timeout=60,
        interval=0.5,
    )
    assert healthy, "monitor did not recover after RabbitMQ came back"

    stopped = agents.run("nova-conductor", "stop", params)
    assert stopped.rc == OcfRc.SUCCESS
    assert service_processes(params["config"]) == []
