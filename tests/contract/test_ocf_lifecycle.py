"""The OCF lifecycle matrix of the OpenStack agent, on a stand-in service.

The agent runs in a fresh interpreter per action with the environment
Pacemaker sets; the service is a real process tree listening on loopback.
"""

from __future__ import annotations

import os
import signal
import time

import psutil
import pytest

from ocf_agents._runtime.rc import OcfRc
from tests.contract.conftest import run_agent

AGENT = "glance-api"
RECURRING = {"OCF_RESKEY_CRM_meta_interval": "10000"}


def pidfile_of(extra):
    return os.path.join(extra["HA_RSCTMP"], f"hakit-test-{AGENT}.pid")


def pid_of(extra):
    with open(pidfile_of(extra)) as handle:
        return int(handle.read())


def gone(pid, timeout=5.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def service(fakesvc):
    params, extra = fakesvc
    yield params, extra
    run_agent(AGENT, "stop", params, extra)


def test_probe_start_monitor_stop_cycle(service):
    params, extra = service
    assert run_agent(AGENT, "monitor", params, extra).rc == OcfRc.NOT_RUNNING
    assert run_agent(AGENT, "start", params, extra).rc == OcfRc.SUCCESS
    pid = pid_of(extra)
    assert run_agent(AGENT, "start", params, extra).rc == OcfRc.SUCCESS
    assert pid_of(extra) == pid, "a second start must not start a second service"
    assert run_agent(AGENT, "monitor", params, {**extra, **RECURRING}).rc == 0
    assert run_agent(AGENT, "monitor", params, extra).rc == OcfRc.SUCCESS
    assert run_agent(AGENT, "stop", params, extra).rc == OcfRc.SUCCESS
    assert gone(pid, timeout=0.1)
    assert not os.path.exists(pidfile_of(extra))
    assert run_agent(AGENT, "stop", params, extra).rc == OcfRc.SUCCESS
    assert run_agent(AGENT, "monitor", params, extra).rc == OcfRc.NOT_RUNNING


def test_kill_9_is_seen_as_not_running_and_start_recovers(service):
    params, extra = service
    assert run_agent(AGENT, "start", params, extra).rc == OcfRc.SUCCESS
    pid = pid_of(extra)
    os.kill(pid, signal.SIGKILL)
    assert gone(pid)
    assert run_agent(AGENT, "monitor", params, {**extra, **RECURRING}).rc == 7
    assert run_agent(AGENT, "start", params, extra).rc == OcfRc.SUCCESS
    assert pid_of(extra) != pid


def test_lost_pidfile_never_reports_a_running_service_as_stopped(service):
    params, extra = service
    assert run_agent(AGENT, "start", params, extra).rc == OcfRc.SUCCESS
    pid = pid_of(extra)
    os.unlink(pidfile_of(extra))
    assert run_agent(AGENT, "monitor", params, extra).rc == OcfRc.SUCCESS
    assert pid_of(extra) == pid, "the pidfile is rewritten from the process table"


def test_reused_pid_in_pidfile_is_not_the_service(service):
    params, extra = service
    with open(pidfile_of(extra), "w") as handle:
        handle.write(f"{os.getpid()}\n")  # alive, but not the service
    assert run_agent(AGENT, "monitor", params, extra).rc == OcfRc.NOT_RUNNING


def test_stop_kills_the_whole_tree(service):
    params, extra = service
    params = {**params, "extra_args": "--workers 2"}
    assert run_agent(AGENT, "start", params, extra).rc == OcfRc.SUCCESS
    main = psutil.Process(pid_of(extra))
    members = [main, *main.children(recursive=True)]
    assert len(members) == 3
    assert run_agent(AGENT, "stop", params, extra).rc == OcfRc.SUCCESS
    assert all(gone(p.pid, timeout=0.5) for p in members)


def test_stop_escalates_to_sigkill_within_the_timeout(service):
    params, extra = service
    params = {**params, "extra_args": "--workers 1 --ignore-term"}
    assert run_agent(AGENT, "start", params, extra).rc == OcfRc.SUCCESS
    main = psutil.Process(pid_of(extra))
    members = [main, *main.children(recursive=True)]
    began = time.monotonic()
    stopped = run_agent(
        AGENT, "stop", params, {**extra, "OCF_RESKEY_CRM_meta_timeout": "8000"}
    )
    assert stopped.rc == OcfRc.SUCCESS
    assert time.monotonic() - began < 8.0
    assert all(gone(p.pid, timeout=0.5) for p in members)


def test_unhealthy_api_is_a_failure_not_stopped(service, tmp_path):
    params, extra = service
    conf = tmp_path / "fakesvc.conf"
    conf.write_text(conf.read_text() + "status = 503\n")
    started = run_agent(
        AGENT, "start", params, {**extra, "OCF_RESKEY_CRM_meta_timeout": "4000"}
    )
    assert started.rc == OcfRc.ERR_GENERIC
    assert "HTTP 503" in started.reasons[0]
    probe = run_agent(AGENT, "monitor", params, extra)
    assert probe.rc == OcfRc.ERR_GENERIC, "a live process is never 'not running'"
    assert "HTTP 503" in probe.reasons[0]


def test_client_errors_count_as_healthy_except_at_check_level_10(service):
    params, extra = service
    params = {**params, "extra_args": "--status 404"}
    assert run_agent(AGENT, "start", params, extra).rc == OcfRc.SUCCESS
    deep = run_agent(AGENT, "monitor", params, {**extra, "OCF_CHECK_LEVEL": "10"})
    assert deep.rc == OcfRc.ERR_GENERIC
    assert "HTTP 404" in deep.reasons[0]


def test_service_that_exits_at_start_fails_with_a_reason(service):
    params, extra = service
    params = {**params, "extra_args": "--exit-at-once"}
    result = run_agent(AGENT, "start", params, extra)
    assert result.rc == OcfRc.ERR_GENERIC
    assert "exited during start" in result.reasons[0]
    assert not os.path.exists(pidfile_of(extra))


def test_stop_with_broken_parameters_still_stops_the_service(service):
    params, extra = service
    assert run_agent(AGENT, "start", params, extra).rc == OcfRc.SUCCESS
    pid = pid_of(extra)
    broken = {**params, "port": "not-a-port", "user": "no;body"}
    assert run_agent(AGENT, "stop", broken, extra).rc == OcfRc.SUCCESS
    assert gone(pid, timeout=0.5)


def test_stop_with_unusable_binary_uses_the_pidfile(service):
    params, extra = service
    assert run_agent(AGENT, "start", params, extra).rc == OcfRc.SUCCESS
    pid = pid_of(extra)
    broken = {**params, "binary": "relative/path"}
    assert run_agent(AGENT, "stop", broken, extra).rc == OcfRc.SUCCESS
    assert gone(pid, timeout=0.5)


def test_service_runs_as_the_configured_user(fakesvc):
    """The daemon drops to ``user`` (root starts it); stop still works."""
    if os.geteuid() != 0:
        pytest.skip("switching user needs root")
    import pwd
    import shutil
    import tempfile
    from pathlib import Path

    params, extra = fakesvc
    # nobody must be able to reach the program and its config file, so not
    # under pytest's private (0700) temporary tree.
    public = Path(tempfile.mkdtemp(prefix="hakit-user-"))
    public.chmod(0o755)
    binary = public / "fakesvc"
    shutil.copy(params["binary"], binary)
    binary.chmod(0o755)
    conf = public / "fakesvc.conf"
    shutil.copy(params["config"], conf)
    conf.chmod(0o644)
    params = {**params, "binary": str(binary), "config": str(conf), "user": "nobody"}
    params.pop("console_log")
    try:
        assert run_agent(AGENT, "start", params, extra).rc == OcfRc.SUCCESS
        service = psutil.Process(pid_of(extra))
        assert service.uids().real == pwd.getpwnam("nobody").pw_uid
        assert service.gids().real == pwd.getpwnam("nobody").pw_gid
        assert run_agent(AGENT, "monitor", params, {**extra, **RECURRING}).rc == 0
    finally:
        assert run_agent(AGENT, "stop", params, extra).rc == OcfRc.SUCCESS
        shutil.rmtree(public)


@pytest.mark.parametrize("timeout", ["0", "-5000"])
def test_start_with_a_zero_or_negative_timeout_uses_the_declared_one(service, timeout):
    """Issue #11: CRM_meta_timeout=0 made start fail without trying."""
    params, extra = service
    no_deadline = {**extra, "OCF_RESKEY_CRM_meta_timeout": timeout}
    result = run_agent(AGENT, "start", params, no_deadline)
    assert result.rc == OcfRc.SUCCESS, result.err
    assert "CRM_meta_timeout" in result.err  # the warning says what was used
    assert run_agent(AGENT, "monitor", params, no_deadline).rc == OcfRc.SUCCESS


def test_huge_parameter_value_is_cut_in_the_exit_reason(fakesvc):
    params, extra = fakesvc
    result = run_agent(AGENT, "start", {**params, "port": "7" * 102400}, extra)
    assert result.rc == OcfRc.ERR_CONFIGURED
    (reason,) = result.reasons
    assert "102400 characters" in reason
    assert len(reason) < 300


def test_actions_without_resource_instance_are_refused(fakesvc):
    params, extra = fakesvc
    no_instance = {**extra, "OCF_RESOURCE_INSTANCE": ""}
    result = run_agent(AGENT, "start", params, no_instance)
    assert result.rc == OcfRc.ERR_ARGS
    (reason,) = result.reasons
    assert "OCF_RESOURCE_INSTANCE" in reason
    assert run_agent(AGENT, "validate-all", params, no_instance).rc == 0
