"""The dispatcher: exit codes, probes, degraded stop, exit reasons, redaction."""

from __future__ import annotations

import pytest

from ocf_agents._runtime import dispatch, registry, runner
from ocf_agents._runtime.rc import OcfRc

BASE = {"OCF_RESKEY_state": "/run/x", "OCF_RESOURCE_INSTANCE": "fake:1"}


@pytest.fixture(autouse=True)
def _register(monkeypatch):
    monkeypatch.setitem(registry.AGENTS, "fake", "tests.unit.fake_agent")


def run(argv_action, environ, capsys):
    with pytest.raises(SystemExit) as info:
        dispatch.main("fake", ["fake", argv_action], environ)
    out, err = capsys.readouterr()
    return info.value.code, out, err


def reasons(err):
    return [line for line in err.splitlines() if line.startswith("ocf-exit-reason:")]


def test_meta_data_reads_no_environment(capsys):
    rc, out, _ = run("meta-data", {"OCF_RESKEY_port": "broken"}, capsys)
    assert rc == 0
    assert out.startswith('<?xml version="1.0"?>\n<!DOCTYPE resource-agent')


def test_usage_lists_actions(capsys):
    rc, out, _ = run("usage", {}, capsys)
    assert rc == 0
    assert "start|stop|monitor|promote|validate-all|meta-data" in out


def test_no_action_is_an_argument_error(capsys):
    with pytest.raises(SystemExit) as info:
        dispatch.main("fake", ["fake"], {})
    assert info.value.code == OcfRc.ERR_ARGS


def test_unknown_action_is_unimplemented(capsys):
    rc, _, err = run("migrate_to", BASE, capsys)
    assert rc == OcfRc.ERR_UNIMPLEMENTED
    assert len(reasons(err)) == 1


def test_declared_action_without_handler_is_unimplemented(capsys):
    rc, _, _ = run("promote", BASE, capsys)
    assert rc == OcfRc.ERR_UNIMPLEMENTED


def test_config_error_on_start_is_err_configured_with_one_reason(capsys):
    rc, _, err = run("start", {"OCF_RESKEY_port": "x"}, capsys)
    assert rc == OcfRc.ERR_CONFIGURED
    (line,) = reasons(err)
    assert "port=" in line and "state" in line
    assert "Traceback" not in err


def test_probe_with_bad_config_reports_not_running(capsys):
    rc, _, err = run("monitor", {"OCF_RESKEY_port": "x"}, capsys)
    assert rc == OcfRc.NOT_RUNNING
    assert reasons(err) == []


def test_recurring_monitor_with_bad_config_is_an_error(capsys):
    environ = {"OCF_RESKEY_port": "x", "OCF_RESKEY_CRM_meta_interval": "10000"}
    rc, _, _ = run("monitor", environ, capsys)
    assert rc == OcfRc.ERR_CONFIGURED


def test_probe_with_host_setup_error_reports_not_running(capsys, monkeypatch):
    monkeypatch.setenv("FAKE_BEHAVIOUR", "host")
    rc, _, _ = run("monitor", BASE, capsys)
    assert rc == OcfRc.NOT_RUNNING


def test_host_setup_error_on_start_is_err_args(capsys, monkeypatch):
    monkeypatch.setenv("FAKE_BEHAVIOUR", "host")
    rc, _, err = run("start", BASE, capsys)
    assert rc == OcfRc.ERR_ARGS
    assert reasons(err) == ["ocf-exit-reason:the state directory is missing"]


def test_stop_with_broken_config_runs_degraded(capsys):
    environ = {"OCF_RESKEY_port": "x", "OCF_RESOURCE_INSTANCE": "fake:1"}
    rc, _, _ = run("stop", environ, capsys)
    assert rc == OcfRc.ERR_GENERIC  # the fake stop returns 1 exactly when degraded


@pytest.mark.parametrize("action", ["start", "stop", "monitor"])
def test_missing_instance_is_refused_with_one_reason(action, capsys):
    environ = {k: v for k, v in BASE.items() if k != "OCF_RESOURCE_INSTANCE"}
    rc, _, err = run(action, environ, capsys)
    assert rc == OcfRc.ERR_ARGS
    (line,) = reasons(err)
    assert "OCF_RESOURCE_INSTANCE" in line


def test_stop_with_good_config_is_not_degraded(capsys):
    rc, _, _ = run("stop", BASE, capsys)
    assert rc == OcfRc.SUCCESS


def test_unexpected_exception_is_generic_error_without_traceback(capsys, monkeypatch):
    monkeypatch.setenv("FAKE_BEHAVIOUR", "crash")
    rc, _, err = run("start", {**BASE, "OCF_RESKEY_password": "hunter2"}, capsys)
    assert rc == OcfRc.ERR_GENERIC
    assert reasons(err) == ["ocf-exit-reason:internal error: RuntimeError"]
    assert "Traceback" not in err
    assert "hunter2" not in err


def test_secrets_redacted_from_exit_reason(capsys, monkeypatch):
    monkeypatch.setenv("FAKE_BEHAVIOUR", "fail")
    rc, _, err = run("start", {**BASE, "OCF_RESKEY_password": "hunter2"}, capsys)
    assert rc == OcfRc.ERR_GENERIC
    assert reasons(err) == ["ocf-exit-reason:start failed with ******"]


def test_exit_reason_prefix_from_environment(capsys):
    environ = {"OCF_RESKEY_port": "x", "OCF_EXIT_REASON_PREFIX": "why:"}
    _, _, err = run("start", environ, capsys)
    assert [line for line in err.splitlines() if line.startswith("why:")]


def test_validate_all_without_hook_is_the_env_check(capsys):
    rc, _, _ = run("validate-all", BASE, capsys)
    assert rc == OcfRc.SUCCESS


def test_status_is_monitor(capsys):
    rc, _, _ = run("status", BASE, capsys)
    assert rc == OcfRc.NOT_RUNNING


def test_long_value_in_a_config_error_is_cut(capsys):
    environ = {**BASE, "OCF_RESKEY_port": "9x" * 51200}
    rc, _, err = run("start", environ, capsys)
    assert rc == OcfRc.ERR_CONFIGURED
    (line,) = reasons(err)
    assert "102400 characters" in line
    assert len(line) < 300


def test_long_exit_reason_is_cut_at_a_word_and_says_so(capsys, monkeypatch):
    monkeypatch.setenv("FAKE_BEHAVIOUR", "wordy")
    monkeypatch.setenv("FAKE_WORDS", "20000")
    rc, _, err = run("start", {**BASE, "OCF_RESKEY_password": "pw"}, capsys)
    assert rc == OcfRc.ERR_GENERIC
    (line,) = reasons(err)
    assert line.endswith(" word... (cut: 200006 characters in all)")
    assert len(line) < runner.MAX_REASON + 100


def test_secret_across_the_cut_is_masked_not_halved(capsys, monkeypatch):
    """Redaction comes first: a cut secret would no longer match its mask."""
    monkeypatch.setenv("FAKE_BEHAVIOUR", "wordy")
    password = "correct horse battery staple"
    rc, _, err = run("start", {**BASE, "OCF_RESKEY_password": password}, capsys)
    assert rc == OcfRc.ERR_GENERIC
    (line,) = reasons(err)
    assert "(cut:" in line
    assert "horse" not in err and "correct" not in err


@pytest.mark.parametrize(
    ("action", "interval"),
    [("start", "0"), ("monitor", "0"), ("monitor", "15000"), ("stop", "0")],
)
def test_a_missing_library_is_err_installed_naming_the_package(
    monkeypatch, capsys, action, interval
):
    # Never "not running" (a probe) nor a stop that succeeds: without its
    # library the agent cannot tell whether the service runs.
    monkeypatch.setenv("FAKE_BEHAVIOUR", "no-library")
    environ = {**BASE, "OCF_RESKEY_CRM_meta_interval": interval}
    rc, _, err = run(action, environ, capsys)
    assert rc == OcfRc.ERR_INSTALLED
    assert reasons(err) == [
        "ocf-exit-reason:the Python module psutil is missing: install python3-psutil"
    ]
