"""The Galera monitor's client: its command line, output parsing and verdicts.

``run_cmd`` is replaced: no client runs here (tests/contract runs the real
one against stand-ins, tests/integration against MariaDB).
"""

from __future__ import annotations

from unittest import mock

import pytest

from ha_common.command import (
    CommandNotFoundError,
    CommandTimeoutError,
    Completed,
)
from ha_common.deadline import Deadline
from ocf_agents._runtime import env
from ocf_agents._runtime.errors import AgentError, HostSetupError, NotInstalledError
from ocf_agents.galera import client
from ocf_agents.galera.spec import SPEC

SOCKET = "/run/mysqld/mysqld.sock"
HEALTHY = {
    "wsrep_cluster_status": "Primary",
    "wsrep_local_state": "4",
    "wsrep_local_state_comment": "Synced",
    "wsrep_ready": "ON",
}


def config(**params: str) -> env.Config:
    environ = {"OCF_RESKEY_wsrep_cluster_address": "gcomm://10.0.0.1"}
    environ.update({f"OCF_RESKEY_{k}": v for k, v in params.items()})
    return env.load(SPEC, environ)


@pytest.fixture
def tool(monkeypatch):
    """Replace run_cmd; ``tool.answer(rc, stdout, stderr)`` sets its result."""
    fake = mock.create_autospec(client.run_cmd, spec_set=True)

    def answer(returncode=0, stdout="", stderr=""):
        fake.side_effect = lambda argv, *a, **k: Completed(
            argv[0], returncode, stdout, stderr
        )

    fake.answer = answer
    answer()
    monkeypatch.setattr(client, "run_cmd", fake)
    return fake


def test_root_reads_no_option_file_and_uses_the_socket_only():
    argv = client.argv(config(), 5.0)
    assert argv[:3] == ["/usr/bin/mariadb", "--no-defaults", "--user=root"]
    assert "--protocol=socket" in argv
    assert f"--socket={SOCKET}" in argv
    assert "--connect-timeout=5" in argv
    assert argv[-4:-1] == ["-N", "-B", "-e"]
    assert argv[-1].startswith("SHOW GLOBAL STATUS WHERE Variable_name IN (")
    for name in client.VARIABLES:
        assert f"'{name}'" in argv[-1]


def test_credentials_file_comes_first_and_no_password_on_argv():
    cfg = config(check_defaults_file="/etc/hakit/monitor.cnf", socket="/tmp/s.sock")
    argv = client.argv(cfg, 5.0)
    assert argv[1] == "--defaults-extra-file=/etc/hakit/monitor.cnf"
    assert not any(a.startswith(("--user", "--password", "-p")) for a in argv)
    assert "--socket=/tmp/s.sock" in argv


@pytest.mark.parametrize(("timeout", "seconds"), [(5.0, 5), (0.2, 1), (2.5, 3)])
def test_connect_timeout_is_whole_seconds_rounded_up(timeout, seconds):
    assert f"--connect-timeout={seconds}" in client.argv(config(), timeout)


def test_client_program_is_a_parameter():
    assert client.argv(config(client_binary="/opt/m/bin/mariadb"), 1)[0] == (
        "/opt/m/bin/mariadb"
    )


def test_parse_batch_output():
    out = "wsrep_cluster_status\tPrimary\nwsrep_cluster_state_uuid\t\nnoise\n"
    assert client.parse(out) == {
        "wsrep_cluster_status": "Primary",
        "wsrep_cluster_state_uuid": "",
    }
    assert client.parse("") == {}


def test_status_runs_the_client_in_a_clean_environment(tool):
    tool.answer(stdout="wsrep_cluster_status\tPrimary\nwsrep_ready\tON\n")
    deadline = Deadline(30)
    assert client.status(config(), deadline) == {
        "wsrep_cluster_status": "Primary",
        "wsrep_ready": "ON",
    }
    call = tool.call_args
    assert call.args[1] is deadline
    assert call.kwargs["limit"] == client.TIMEOUT
    assert call.kwargs["env"] == {"PATH": "/usr/bin:/bin", "LC_ALL": "C"}


def test_status_time_is_bounded_by_the_deadline(tool):
    tool.answer(stdout="")
    client.status(config(), Deadline(1.5))
    assert tool.call_args.kwargs["limit"] <= 1.5
    assert "--connect-timeout=2" in tool.call_args.args[0]


def test_refused_credentials_are_the_clients_words(tool):
    tool.answer(
        returncode=1,
        stderr="ERROR 1045 (28000): Access denied for user 'hakit_monitor'@'localhost'"
        " (using password: YES)\n",
    )
    with pytest.raises(AgentError) as info:
        client.status(config(check_defaults_file="/x.cnf"), Deadline(30))
    assert str(info.value) == (
        f"no answer on {SOCKET}: ERROR 1045 (28000): Access denied for user "
        "'hakit_monitor'@'localhost' (using password: YES)"
    )


def test_a_hung_server_is_a_timeout(tool):
    tool.side_effect = CommandTimeoutError(
        "/usr/bin/mariadb did not finish within 5.0 s"
    )
    with pytest.raises(AgentError, match=f"no answer on {SOCKET}: .* within 5.0 s"):
        client.status(config(), Deadline(30))


def test_missing_client_is_not_installed(tool):
    tool.side_effect = CommandNotFoundError("/usr/bin/mariadb is not installed")
    with pytest.raises(NotInstalledError, match=r"\(client_binary\)"):
        client.status(config(), Deadline(30))


def test_require(tmp_path):
    with pytest.raises(NotInstalledError, match="client_binary"):
        client.require(config(client_binary=str(tmp_path / "mariadb")))


# --- the option file check (validate) -----------------------------------------------


def test_option_file_with_a_user_passes(tool):
    tool.answer(
        stdout="mariadb would have been started with the following arguments:\n"
        "--socket=/run/mysqld/mysqld.sock --user=hakit_monitor --password=S3cret \n"
    )
    client.check_option_file(config(check_defaults_file="/m.cnf"), Deadline(30))
    argv = tool.call_args.args[0]
    assert argv == [
        "/usr/bin/mariadb",
        "--defaults-extra-file=/m.cnf",
        "--print-defaults",
    ]


def test_option_file_without_a_user_is_refused(tool):
    tool.answer(stdout="would have been started with:\n--password=S3cret \n")
    with pytest.raises(HostSetupError, match="names no user") as info:
        client.check_option_file(config(check_defaults_file="/m.cnf"), Deadline(30))
    assert "S3cret" not in str(info.value)


def test_option_file_the_client_rejects_shows_stderr_only(tool):
    tool.answer(
        returncode=1,
        stdout="--password=S3cret",
        stderr="Could not open required defaults file: /m.cnf\n"
        "Fatal error in defaults handling. Program aborted\n",
    )
    with pytest.raises(HostSetupError) as info:
        client.check_option_file(config(check_defaults_file="/m.cnf"), Deadline(30))
    assert "Could not open required defaults file: /m.cnf; Fatal error" in str(
        info.value
    )
    assert "S3cret" not in str(info.value)


# --- verdicts -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({}, ""),
        ({"wsrep_cluster_status": None}, "wsrep is not enabled"),
        ({"wsrep_cluster_status": "non-Primary"}, "not in the Primary Component"),
        ({"wsrep_cluster_status": "Disconnected"}, "wsrep_cluster_status=Disconnected"),
        (
            {"wsrep_local_state": "1", "wsrep_local_state_comment": "Joining"},
            "not synced (wsrep_local_state_comment=Joining)",
        ),
        (
            {"wsrep_local_state": "2", "wsrep_local_state_comment": "Donor/Desynced"},
            "",
        ),
        ({"wsrep_ready": "OFF"}, "not ready (wsrep_ready=OFF)"),
    ],
)
def test_problem(change, words):
    values = {**HEALTHY, **change}
    values = {k: v for k, v in values.items() if v is not None}
    found = client.problem(config(), values)
    assert (words in found) if words else found == ""


def test_donor_is_a_problem_when_not_allowed():
    values = {
        **HEALTHY,
        "wsrep_local_state": "2",
        "wsrep_local_state_comment": "Donor/Desynced",
    }
    assert "not synced" in client.problem(config(allow_donor="false"), values)
