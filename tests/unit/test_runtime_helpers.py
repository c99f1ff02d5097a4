"""Runtime helpers every agent shares: host checks, state files, the stop loop."""

from __future__ import annotations

import os
import pwd
from unittest import mock

import pytest

from ha_common.deadline import Deadline
from ocf_agents._runtime import context, host, proc, statefile
from ocf_agents._runtime.errors import (
    AgentError,
    HostSetupError,
    NotInstalledError,
    PermissionDeniedError,
)
from tests.unit.fake_agent import SPEC


def ctx_for(tmp_path, instance="db:2"):
    environ = {"HA_RSCTMP": str(tmp_path / "rsc"), "OCF_RESOURCE_INSTANCE": instance}
    return context.build(SPEC, "monitor", environ)


class FakeConfig:
    """The one accessor statefile.pidfile uses."""

    def __init__(self, **values):
        self.values = values

    def get_str(self, name):
        return self.values.get(name, "")


# --- host checks ----------------------------------------------------------------


def test_program_must_be_an_executable_file(tmp_path):
    program = tmp_path / "prog"
    with pytest.raises(NotInstalledError, match=r"prog is not installed \(binary\)"):
        host.require_program(str(program), "binary")
    program.write_text("#!/bin/sh\n")
    with pytest.raises(NotInstalledError):
        host.require_program(str(program))
    program.chmod(0o755)
    host.require_program(str(program))
    with pytest.raises(NotInstalledError):
        host.require_program(str(tmp_path))  # a directory is no program


def test_file_must_exist(tmp_path):
    conf = tmp_path / "my.cnf"
    with pytest.raises(HostSetupError, match="configuration file .* does not exist"):
        host.require_file(str(conf), "configuration file")
    conf.write_text("[mysqld]\n")
    host.require_file(str(conf))


def test_directory_must_exist(tmp_path):
    with pytest.raises(NotInstalledError, match=r"does not exist \(datadir\)"):
        host.require_directory(str(tmp_path / "data"), "datadir")
    host.require_directory(str(tmp_path))


def test_users():
    me = pwd.getpwuid(os.geteuid())
    assert host.user_ids(me.pw_name) == (me.pw_uid, me.pw_gid, me.pw_dir)
    host.require_user(me.pw_name)
    with pytest.raises(HostSetupError, match="does not exist on this host"):
        host.require_user("no-such-user-hakit")


def test_private_file(tmp_path):
    secret = tmp_path / "monitor.cnf"
    with pytest.raises(HostSetupError, match="check_defaults_file .* does not exist"):
        host.require_private_file(str(secret), "check_defaults_file")
    secret.write_text("[client]\npassword=S3cret\n")
    for mode in (0o644, 0o640, 0o620, 0o604):
        secret.chmod(mode)
        with pytest.raises(PermissionDeniedError, match="chmod 600") as info:
            host.require_private_file(str(secret), "check_defaults_file")
        assert "S3cret" not in str(info.value)
    secret.chmod(0o600)
    host.require_private_file(str(secret), "check_defaults_file")
    secret.chmod(0o400)
    host.require_private_file(str(secret), "check_defaults_file")


# --- state files ----------------------------------------------------------------


def test_state_paths_are_per_resource_without_clone_suffix(tmp_path):
    ctx = ctx_for(tmp_path, "db:2")
    assert statefile.path(ctx, "galera") == str(tmp_path / "rsc" / "hakit-db.galera")
    assert statefile.pidfile(FakeConfig(), ctx) == str(
        tmp_path / "rsc" / "hakit-db.pid"
    )
    assert statefile.pidfile(FakeConfig(pidfile="/run/x.pid"), ctx) == "/run/x.pid"


def test_state_files_are_written_whole(tmp_path):
    where = str(tmp_path / "new" / "dir" / "hakit-db.galera")
    assert statefile.read(where) is None
    statefile.write(where, "one\n")
    statefile.write(where, "two\n")
    assert statefile.read(where) == "two\n"
    assert os.listdir(tmp_path / "new" / "dir") == ["hakit-db.galera"]


def test_unreadable_state_is_none(tmp_path):
    where = tmp_path / "state"
    where.write_bytes(b"\xff\xfe")
    assert statefile.read(str(where)) is None


# --- the stop loop ----------------------------------------------------------------

IDENT = proc.Identity("/usr/sbin/daemon")


@pytest.fixture
def procs(monkeypatch):
    """Fake find/stop/recorded_here; ``procs.alive`` are the pids find returns."""
    state = mock.Mock()
    state.alive = []
    state.find = mock.create_autospec(
        proc.find, side_effect=lambda pidfile, ident: (state.alive or [None])[0]
    )
    state.stop = mock.create_autospec(
        proc.stop,
        side_effect=lambda pid, deadline, kill_reserve=3.0, grace=5.0: state.alive.pop(
            0
        ),
    )
    state.recorded_here = mock.create_autospec(proc.recorded_here, return_value=False)
    monkeypatch.setattr(proc, "find", state.find)
    monkeypatch.setattr(proc, "stop", state.stop)
    monkeypatch.setattr(proc, "recorded_here", state.recorded_here)
    return state


def test_stop_service_stops_until_gone_and_removes_the_pidfile(tmp_path, procs):
    pidfile = tmp_path / "d.pid"
    pidfile.write_text("41\n")
    procs.alive = [41, 42]  # restarted once by its own supervisor
    proc.stop_service(str(pidfile), IDENT, Deadline(10), name="daemon")
    assert [c.args[0] for c in procs.stop.call_args_list] == [41, 42]
    assert not pidfile.exists()


def test_stop_service_of_a_stopped_service_succeeds(tmp_path, procs):
    proc.stop_service(str(tmp_path / "d.pid"), IDENT, Deadline(10))
    procs.stop.assert_not_called()


def test_a_service_that_keeps_coming_back_fails_the_stop(tmp_path, procs):
    procs.alive = [1, 2, 3, 4]
    with pytest.raises(AgentError, match="daemon keeps coming back"):
        proc.stop_service(str(tmp_path / "d.pid"), IDENT, Deadline(10), name="daemon")
    assert procs.stop.call_count == 3


def test_third_stop_that_succeeds_is_a_success(tmp_path, procs):
    procs.alive = [1, 2, 3]
    proc.stop_service(str(tmp_path / "d.pid"), IDENT, Deadline(10))
    assert procs.stop.call_count == 3


def test_degraded_stop_trusts_only_the_recorded_process(tmp_path, procs):
    pidfile = tmp_path / "d.pid"
    pidfile.write_text("77\n")
    # Without the program's path there is no identity to search by.
    assert proc.find_for_stop(str(pidfile), None, degraded=False) is None
    assert proc.find_for_stop(str(pidfile), None, degraded=True) is None
    procs.recorded_here.return_value = True
    assert proc.find_for_stop(str(pidfile), None, degraded=True) == 77
    procs.find.assert_not_called()
