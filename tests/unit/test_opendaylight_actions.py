"""The OpenDaylight handlers over fakes: which OCF outcome each finding gives.

The JVM lookup, Karaf's scripts, the REST reads and the node attributes are
replaced (autospec); the real behaviour on the Karaf stand-in and under
Pacemaker is in tests/integration.
"""

from __future__ import annotations

from unittest import mock

import pytest

from ocf_agents._runtime import context, env, proc
from ocf_agents._runtime.errors import ActionTimeoutError, AgentError
from ocf_agents._runtime.rc import OcfRc
from ocf_agents.opendaylight import actions, karaf
from ocf_agents.opendaylight.spec import ATTR_ROLE, ATTR_WAITING, SPEC

PID = 4242


def setup(  # noqa: PLR0913 - the context's knobs
    tmp_path, action="monitor", level=0, interval="10000", timeout="20000", **params
):
    environ = {
        "OCF_RESKEY_home": str(tmp_path),
        "OCF_RESKEY_user": "root",
        "HA_RSCTMP": str(tmp_path / "rsc"),
        "OCF_RESOURCE_INSTANCE": "odl:1",
        "OCF_RESKEY_CRM_meta_interval": interval,
        "OCF_RESKEY_CRM_meta_timeout": timeout,
        "OCF_CHECK_LEVEL": str(level),
        **{f"OCF_RESKEY_{k}": v for k, v in params.items()},
    }
    return env.load(SPEC, environ), context.build(SPEC, action, environ)


@pytest.fixture
def fake(monkeypatch):
    """Autospec fakes of everything the handlers reach outside this process."""
    fakes = mock.Mock()
    for module, name in [
        (karaf, "jvm"),
        (karaf, "authorization"),
        (karaf, "diagstatus_problem"),
        (karaf, "sync_problem"),
        (karaf, "shard_role"),
        (karaf, "publish"),
        (karaf, "run_script"),
        (actions, "validate"),
        (proc, "is_alive"),
        (proc, "stop"),
    ]:
        double = mock.create_autospec(getattr(module, name))
        monkeypatch.setattr(module, name, double)
        setattr(fakes, name, double)
    monkeypatch.setattr(actions, "POLL", 0.01)
    fakes.jvm.return_value = PID
    fakes.authorization.return_value = "Basic x"
    fakes.diagstatus_problem.return_value = ""
    fakes.sync_problem.return_value = ("", "member-1")
    fakes.shard_role.return_value = "Leader"
    fakes.run_script.return_value = 0
    fakes.is_alive.return_value = True
    return fakes


# --- monitor ---------------------------------------------------------------------


def test_no_jvm_is_not_running(tmp_path, fake):
    fake.jvm.return_value = None
    assert actions.monitor(*setup(tmp_path)) == OcfRc.NOT_RUNNING
    fake.diagstatus_problem.assert_not_called()


def test_level_0_asks_diagstatus_only(tmp_path, fake):
    assert actions.monitor(*setup(tmp_path)) == OcfRc.SUCCESS
    fake.sync_problem.assert_not_called()
    fake.publish.assert_not_called()


def test_a_jvm_that_is_not_operational_is_a_failure(tmp_path, fake):
    fake.diagstatus_problem.return_value = "HTTP 503; not OPERATIONAL: IFM ERROR"
    with pytest.raises(AgentError, match=f"pid {PID}.*IFM ERROR"):
        actions.monitor(*setup(tmp_path))


def test_unreadable_credentials_fail_level_10_only(tmp_path, fake):
    fake.authorization.side_effect = AgentError("credentials /c cannot be read")
    assert actions.monitor(*setup(tmp_path)) == OcfRc.SUCCESS
    assert fake.diagstatus_problem.call_args.args[2] == ""
    with pytest.raises(AgentError, match="cannot be read"):
        actions.monitor(*setup(tmp_path, level=10))


def test_level_10_publishes_the_shard_role(tmp_path, fake):
    cfg, ctx = setup(tmp_path, level=10)
    assert actions.monitor(cfg, ctx) == OcfRc.SUCCESS
    fake.shard_role.assert_called_once_with(cfg, ctx, "member-1", "Basic x")
    fake.publish.assert_called_once_with(ctx, ATTR_ROLE, "Leader")


def test_a_level_10_probe_publishes_nothing(tmp_path, fake):
    assert actions.monitor(*setup(tmp_path, level=10, interval="0")) == OcfRc.SUCCESS
    fake.publish.assert_not_called()


def test_level_10_out_of_sync_fails_only_with_sync_check(tmp_path, fake):
    fake.sync_problem.return_value = ("SyncStatus false for the config", "member-1")
    with pytest.raises(AgentError, match="out of sync: SyncStatus false"):
        actions.monitor(*setup(tmp_path, level=10))
    relaxed = setup(tmp_path, level=10, sync_check="false")
    assert actions.monitor(*relaxed) == OcfRc.SUCCESS


# --- start -----------------------------------------------------------------------


def test_start_runs_bin_start_and_waits_until_ready(tmp_path, fake):
    fake.jvm.side_effect = [None, PID]
    fake.diagstatus_problem.side_effect = ["HTTP 503; system BOOTING", "", ""]
    fake.sync_problem.side_effect = [("SyncStatus false for the config", ""), ("", "")]
    cfg, ctx = setup(tmp_path, action="start")
    assert actions.start(cfg, ctx) == OcfRc.SUCCESS
    fake.run_script.assert_called_once()
    waited = [c.args[2] for c in fake.publish.call_args_list]
    assert waited == [
        "starting Karaf",
        "/diagstatus: HTTP 503; system BOOTING",
        "shard sync: SyncStatus false for the config",
        None,
    ]
    assert {c.args[1] for c in fake.publish.call_args_list} == {ATTR_WAITING}


def test_start_of_a_running_member_starts_nothing(tmp_path, fake):
    assert actions.start(*setup(tmp_path, action="start")) == OcfRc.SUCCESS
    fake.run_script.assert_not_called()


def test_a_failing_bin_start_fails_the_start(tmp_path, fake):
    fake.jvm.return_value = None
    fake.run_script.return_value = 1
    with pytest.raises(AgentError, match="bin/start failed \\(exit status 1\\)"):
        actions.start(*setup(tmp_path, action="start"))


def test_a_member_that_never_syncs_times_out_with_the_reason(tmp_path, fake):
    fake.sync_problem.return_value = ("SyncStatus false for the config", "")
    cfg, ctx = setup(tmp_path, action="start", timeout="1000")
    assert ctx.deadline.remaining() < 1
    with pytest.raises(ActionTimeoutError, match="not ready after .*SyncStatus false"):
        actions.start(cfg, ctx)


def test_a_jvm_that_dies_while_starting_fails_at_once(tmp_path, fake):
    fake.diagstatus_problem.return_value = "cannot connect"
    fake.is_alive.return_value = False
    with pytest.raises(AgentError, match=f"pid {PID}\\) exited during start"):
        actions.start(*setup(tmp_path, action="start"))


# --- stop ------------------------------------------------------------------------


def test_stop_of_nothing_succeeds_and_withdraws_the_attributes(tmp_path, fake):
    fake.jvm.return_value = None
    cfg, ctx = setup(tmp_path, action="stop")
    assert actions.stop(cfg, ctx) == OcfRc.SUCCESS
    fake.run_script.assert_not_called()
    assert [c.args[1:] for c in fake.publish.call_args_list] == [
        (ATTR_ROLE, None),
        (ATTR_WAITING, None),
    ]


def test_stop_signals_the_jvm_after_bin_stop(tmp_path, fake):
    fake.jvm.side_effect = [PID, None]
    fake.is_alive.return_value = False
    cfg, ctx = setup(tmp_path, action="stop")
    assert actions.stop(cfg, ctx) == OcfRc.SUCCESS
    assert fake.run_script.call_args.args[2] == "stop"
    fake.stop.assert_called_once_with(PID, ctx.deadline, grace=10.0)


def test_stop_fails_when_a_jvm_comes_back(tmp_path, fake):
    fake.jvm.side_effect = [PID, PID + 1]
    fake.is_alive.return_value = False
    with pytest.raises(AgentError, match="runs again"):
        actions.stop(*setup(tmp_path, action="stop"))


def test_a_failing_bin_stop_still_signals(tmp_path, fake):
    fake.jvm.side_effect = [PID, None]
    fake.is_alive.return_value = False
    fake.run_script.side_effect = AgentError("bin/stop did not return")
    assert actions.stop(*setup(tmp_path, action="stop")) == OcfRc.SUCCESS
    fake.stop.assert_called_once()
