"""Galera's phases over fakes: which OCF outcome each finding gives.

The daemon, the client and the cluster tools are replaced (autospec); the
real behaviour on MariaDB and Pacemaker is in tests/integration.
"""

from __future__ import annotations

from unittest import mock

import pytest

from ocf_agents._runtime import cluster, context, env, proc
from ocf_agents._runtime.errors import AgentError, NotInstalledError
from ocf_agents._runtime.rc import OcfRc
from ocf_agents.galera import actions, client, election, member, monitor, promote, stop
from ocf_agents.galera.monitor import FailedPromotedError
from ocf_agents.galera.spec import SPEC
from ocf_agents.galera.state import Position, Report

HEALTHY = {
    "wsrep_cluster_status": "Primary",
    "wsrep_local_state": "4",
    "wsrep_local_state_comment": "Synced",
    "wsrep_ready": "ON",
}
REPORT = Report(Position("6b3c8d8e-0f1a-11ef-9a57-7e5f3c1d2a10", 42), False)


def setup(tmp_path, action="monitor", **meta):
    environ = {
        "OCF_RESKEY_wsrep_cluster_address": "gcomm://ctl1,ctl2,ctl3",
        "OCF_RESKEY_datadir": str(tmp_path),
        "HA_RSCTMP": str(tmp_path / "rsc"),
        "OCF_RESOURCE_INSTANCE": "galera:0",
        **{f"OCF_RESKEY_CRM_meta_{k}": v for k, v in meta.items()},
    }
    return env.load(SPEC, environ), context.build(SPEC, action, environ)


@pytest.fixture
def fake(monkeypatch):
    """Autospec fakes of what the phases call outside this process."""
    fakes = mock.Mock()
    for module, name in [
        (member, "running"),
        (member, "saved_report"),
        (member, "this_node"),
        (client, "status"),
        (client, "require"),
        (election, "refresh"),
    ]:
        double = mock.create_autospec(getattr(module, name))
        monkeypatch.setattr(module, name, double)
        setattr(fakes, name, double)
    fakes.running.return_value = None
    fakes.saved_report.return_value = None
    fakes.this_node.return_value = "ctl1"
    fakes.status.return_value = dict(HEALTHY)
    return fakes


def test_the_handlers_are_the_phases_own():
    assert actions.monitor is monitor.monitor
    assert actions.promote is promote.promote
    assert (actions.stop, actions.demote) == (stop.stop, stop.demote)
    assert actions.notify is election.notify
    assert set(actions.__all__) == {
        "validate",
        "start",
        "stop",
        "monitor",
        "promote",
        "demote",
        "notify",
    }


# --- monitor ---------------------------------------------------------------------


def test_healthy_running_member_is_promoted(tmp_path, fake):
    fake.running.return_value = 1234
    assert monitor.monitor(*setup(tmp_path, interval="10000")) == OcfRc.RUNNING_PROMOTED


@pytest.mark.parametrize("interval", ["0", "10000"])
def test_unhealthy_or_silent_running_member_is_failed_promoted(
    tmp_path, fake, interval
):
    fake.running.return_value = 1234
    fake.status.return_value = {**HEALTHY, "wsrep_cluster_status": "non-Primary"}
    with pytest.raises(FailedPromotedError, match="pid 1234"):
        monitor.monitor(*setup(tmp_path, interval=interval))
    fake.status.side_effect = AgentError("no answer on /s: ERROR 2002")
    with pytest.raises(FailedPromotedError, match="ERROR 2002"):
        monitor.monitor(*setup(tmp_path, interval=interval))
    assert FailedPromotedError.rc == OcfRc.FAILED_PROMOTED


def test_missing_client_is_not_installed_except_on_a_probe(tmp_path, fake):
    fake.running.return_value = 1234
    fake.status.side_effect = NotInstalledError("/usr/bin/mariadb is not installed")
    with pytest.raises(NotInstalledError):
        monitor.monitor(*setup(tmp_path, interval="10000"))
    with pytest.raises(FailedPromotedError, match="cannot be checked"):
        monitor.monitor(*setup(tmp_path, interval="0"))


def test_a_foreign_mariadbd_on_the_datadir_is_never_stopped(tmp_path, fake):
    fake.running.side_effect = AgentError("a process outside ... holds /var/lib/mysql")
    with pytest.raises(AgentError, match="outside"):
        monitor.monitor(*setup(tmp_path, interval="0"))


def test_stopped_instance_is_not_running(tmp_path, fake):
    assert monitor.monitor(*setup(tmp_path, interval="0")) == OcfRc.NOT_RUNNING
    fake.status.assert_not_called()


def test_started_unpromoted_refreshes_the_election_except_on_probes(tmp_path, fake):
    fake.saved_report.return_value = REPORT
    assert monitor.monitor(*setup(tmp_path, interval="0")) == OcfRc.SUCCESS
    fake.refresh.assert_not_called()
    assert monitor.monitor(*setup(tmp_path, interval="20000")) == OcfRc.SUCCESS
    fake.refresh.assert_called_once()


def test_promoted_role_without_mariadbd_is_failed(tmp_path, fake):
    fake.saved_report.return_value = REPORT
    with pytest.raises(FailedPromotedError, match="not running"):
        monitor.monitor(*setup(tmp_path, interval="10000", role="Promoted"))


# --- promote ---------------------------------------------------------------------


def test_promote_checks_the_client_before_anything(tmp_path, fake):
    fake.require.side_effect = NotInstalledError("/usr/bin/mariadb is not installed")
    with pytest.raises(NotInstalledError):
        promote.promote(*setup(tmp_path, action="promote"))
    fake.running.assert_not_called()


def test_promote_of_a_healthy_member_does_nothing(tmp_path, fake):
    fake.running.return_value = 1234
    assert promote.promote(*setup(tmp_path, action="promote")) == OcfRc.SUCCESS
    fake.saved_report.assert_not_called()


# --- stop --------------------------------------------------------------------------


@pytest.fixture
def quiet_cluster(monkeypatch):
    """Cluster tools that fail, as they do when Pacemaker is going down."""
    for name in ("delete_attr", "clear_promotion"):
        double = mock.create_autospec(
            getattr(cluster, name), side_effect=cluster.ClusterToolError("no attrd")
        )
        monkeypatch.setattr(cluster, name, double)
    service = mock.create_autospec(proc.stop_service)
    monkeypatch.setattr(proc, "stop_service", service)
    return service


def test_stop_succeeds_when_the_cluster_tools_do_not_answer(tmp_path, quiet_cluster):
    cfg, ctx = setup(tmp_path, action="stop")
    assert stop.stop(cfg, ctx) == OcfRc.SUCCESS
    pidfile, ident, _ = quiet_cluster.call_args.args
    assert pidfile == str(tmp_path / "rsc" / "hakit-galera.pid")
    assert ident == member.identity(cfg)
    assert quiet_cluster.call_args.kwargs["name"] == "mariadbd"


def test_stop_fails_while_another_process_holds_the_datadir(
    tmp_path, quiet_cluster, monkeypatch
):
    locked = mock.create_autospec(member.datadir_locked, return_value=True)
    monkeypatch.setattr(member, "datadir_locked", locked)
    with pytest.raises(AgentError, match="still locked"):
        stop.stop(*setup(tmp_path, action="stop"))
