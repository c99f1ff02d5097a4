"""The Galera monitor as Pacemaker runs it, against stand-ins and the real client.

A stand-in mariadbd (a sleeping process with mariadbd's command line) and a
stand-in ``mariadb`` client (a script that records how it was run and
replays a canned answer) let every monitor outcome be produced without a
server.  The real ``mariadb`` client is run too, where no server is needed:
reading option files (``--print-defaults``) and giving up on a socket that
never answers.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from ha_common.deadline import Deadline
from ocf_agents._runtime import env
from ocf_agents._runtime.errors import AgentError, HostSetupError
from ocf_agents._runtime.rc import OcfRc
from ocf_agents.galera import client
from ocf_agents.galera.spec import SPEC
from tests.contract.conftest import run_agent
from tests.contract.test_import_budget import FORBIDDEN, modules_loaded

AGENT = "galera"
MARIADB = "/usr/bin/mariadb"
PASSWORD = "S3cret-Pw"
HEALTHY = (
    "wsrep_cluster_size\t3\nwsrep_cluster_state_uuid\t"
    "6b3c8d8e-0f1a-11ef-9a57-7e5f3c1d2a10\nwsrep_cluster_status\tPrimary\n"
    "wsrep_local_state\t4\nwsrep_local_state_comment\tSynced\nwsrep_ready\tON\n"
)
STAND_IN_SERVER = f"""#!{sys.executable}
import time
time.sleep(600)
"""
STAND_IN_CLIENT = """#!/bin/sh
here=$(dirname "$0")
printf '%s\\n' "$@" >"$here/argv.txt"
env >"$here/env.txt"
cat "$here/answer.out"
cat "$here/answer.err" >&2
exit "$(cat "$here/answer.rc")"
"""


class Host:
    """A directory with a stand-in mariadbd running and a stand-in client."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.bin = base / "bin"
        self.bin.mkdir()
        self.server = self.bin / "mariadbd"
        self.server.write_text(STAND_IN_SERVER)
        self.server.chmod(0o755)
        self.client = self.bin / "mariadb"
        self.client.write_text(STAND_IN_CLIENT)
        self.client.chmod(0o755)
        self.config = base / "my.cnf"
        self.config.write_text("[mysqld]\n")
        (base / "data").mkdir()
        self.rsctmp = base / "rsctmp"
        self.rsctmp.mkdir()
        self.proc: subprocess.Popen[bytes] | None = None
        self.answer(0, HEALTHY)

    def answer(self, rc: int, out: str = "", err: str = "") -> None:
        """Set what the stand-in client prints and exits with."""
        (self.bin / "answer.out").write_text(out)
        (self.bin / "answer.err").write_text(err)
        (self.bin / "answer.rc").write_text(f"{rc}\n")

    def start_server(self) -> int:
        self.proc = subprocess.Popen(
            [str(self.server), f"--defaults-file={self.config}"],
            start_new_session=True,
        )
        (self.rsctmp / "hakit-galera.pid").write_text(f"{self.proc.pid}\n")
        return self.proc.pid

    def stop_server(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    @property
    def params(self) -> dict[str, str]:
        return {
            "wsrep_cluster_address": "gcomm://10.0.0.1,10.0.0.2,10.0.0.3",
            "binary": str(self.server),
            "client_binary": str(self.client),
            "config": str(self.config),
            "datadir": str(self.base / "data"),
            "socket": str(self.base / "mysqld.sock"),
        }

    def environ(self, probe: bool = False) -> dict[str, str]:
        meta = {"interval": "0"} if probe else {"interval": "10000", "role": "Promoted"}
        environ = {"HA_RSCTMP": str(self.rsctmp), "OCF_RESOURCE_INSTANCE": "galera:0"}
        environ.update({f"OCF_RESKEY_CRM_meta_{k}": v for k, v in meta.items()})
        return environ

    def monitor(self, probe: bool = False, **params: str):
        return run_agent(
            AGENT, "monitor", {**self.params, **params}, self.environ(probe)
        )

    def client_argv(self) -> list[str]:
        return (self.bin / "argv.txt").read_text().splitlines()

    def client_env(self) -> dict[str, str]:
        lines = (self.bin / "env.txt").read_text().splitlines()
        return dict(line.split("=", 1) for line in lines if "=" in line)


@pytest.fixture
def stand_in(tmp_path):
    host = Host(tmp_path)
    host.start_server()
    yield host
    host.stop_server()


def test_healthy_member_is_running_promoted(stand_in):
    result = stand_in.monitor()
    assert result.rc == OcfRc.RUNNING_PROMOTED, result.err
    assert not result.reasons
    argv = stand_in.client_argv()
    assert argv[:2] == ["--no-defaults", "--user=root"]
    assert "--protocol=socket" in argv
    assert f"--socket={stand_in.base / 'mysqld.sock'}" in argv
    assert argv[-3:-1] == ["-B", "-e"]
    assert argv[-1] == client.QUERY


def test_client_runs_without_home_and_password_never_on_argv(stand_in):
    secret = stand_in.base / "monitor.cnf"
    secret.write_text(f"[client]\nuser=hakit_monitor\npassword={PASSWORD}\n")
    secret.chmod(0o600)
    result = stand_in.monitor(check_defaults_file=str(secret))
    assert result.rc == OcfRc.RUNNING_PROMOTED, result.err
    argv = stand_in.client_argv()
    assert argv[0] == f"--defaults-extra-file={secret}"
    assert PASSWORD not in " ".join(argv)
    environ = stand_in.client_env()
    assert "HOME" not in environ and "MYSQL_PWD" not in environ
    assert environ["LC_ALL"] == "C"


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ("wsrep_cluster_status\tPrimary", "wsrep_cluster_status=non-Primary"),
        ("wsrep_local_state_comment\tSynced", "wsrep_local_state_comment=Joined"),
        ("wsrep_ready\tON", "wsrep_ready=OFF"),
    ],
)
@pytest.mark.parametrize("probe", [False, True])
def test_alive_but_unhealthy_is_failed_promoted(stand_in, change, words, probe):
    name, _, _ = change.partition("\t")
    bad = {"wsrep_cluster_status": "non-Primary", "wsrep_ready": "OFF"}.get(
        name, "Joined"
    )
    stand_in.answer(0, HEALTHY.replace(change, f"{name}\t{bad}"))
    result = stand_in.monitor(probe=probe)
    assert result.rc == OcfRc.FAILED_PROMOTED, result.err
    assert words in result.reasons[0]


def test_wrong_password_fails_without_showing_it(stand_in):
    secret = stand_in.base / "monitor.cnf"
    secret.write_text(f"[client]\nuser=hakit_monitor\npassword={PASSWORD}\n")
    secret.chmod(0o600)
    stand_in.answer(
        1,
        err="ERROR 1045 (28000): Access denied for user 'hakit_monitor'@'localhost' "
        "(using password: YES)\n",
    )
    result = stand_in.monitor(check_defaults_file=str(secret))
    assert result.rc == OcfRc.FAILED_PROMOTED
    assert "ERROR 1045 (28000): Access denied" in result.reasons[0]
    assert PASSWORD not in result.err + result.out


def test_unanswered_socket_is_failed_promoted_never_stopped(stand_in):
    stand_in.answer(
        1, err="ERROR 2002 (HY000): Can't connect to local server through socket\n"
    )
    for probe in (False, True):
        result = stand_in.monitor(probe=probe)
        assert result.rc == OcfRc.FAILED_PROMOTED
        assert "ERROR 2002" in result.reasons[0]


def test_missing_client(stand_in):
    missing = str(stand_in.base / "no-mariadb")
    recurring = stand_in.monitor(client_binary=missing)
    assert recurring.rc == OcfRc.ERR_INSTALLED
    assert f"{missing} is not installed (client_binary)" in recurring.reasons[0]
    # A probe's 5 would be read as "not running": a live mariadbd is failed.
    probe = stand_in.monitor(probe=True, client_binary=missing)
    assert probe.rc == OcfRc.FAILED_PROMOTED
    assert "cannot be checked" in probe.reasons[0]


def test_stopped_member_needs_no_client(stand_in):
    stand_in.stop_server()
    result = stand_in.monitor(probe=True, client_binary="/nonexistent/mariadb")
    assert result.rc == OcfRc.NOT_RUNNING
    assert not (stand_in.bin / "argv.txt").exists()


#: What a healthy monitor of a promoted member may not import.  subprocess
#: (and the re that its locale import brings) is the price of the client.
MONITOR_MUST_NOT_LOAD = {
    *FORBIDDEN,
    "psutil",
    "logging",
    "dataclasses",
    "inspect",
    "typing",
    "shlex",
    "ssl",
    "socket",
}


def test_monitor_of_a_promoted_member_imports_only_what_it_uses(stand_in):
    environ = {f"OCF_RESKEY_{k}": v for k, v in stand_in.params.items()}
    environ.update(stand_in.environ())
    loaded = modules_loaded(stand_in.base, AGENT, "monitor", environ, without_site=True)
    assert "ocf_agents" in loaded, "the probe did run the agent"
    assert (stand_in.bin / "argv.txt").exists(), "the monitor did run the client"
    assert not loaded & MONITOR_MUST_NOT_LOAD


# --- the real client, no server ------------------------------------------------------


def need_client() -> None:
    if os.access(MARIADB, os.X_OK):
        return
    if os.environ.get("CI") == "true":
        pytest.fail("mariadb-client is not installed (CI=true)", pytrace=False)
    pytest.skip("mariadb-client is not installed")


def config(**params: str) -> env.Config:
    environ = {"OCF_RESKEY_wsrep_cluster_address": "gcomm://10.0.0.1"}
    environ.update({f"OCF_RESKEY_{k}": v for k, v in params.items()})
    return env.load(SPEC, environ)


def private(path: Path, text: str) -> str:
    path.write_text(text)
    path.chmod(0o600)
    return str(path)


def test_real_client_reads_the_option_file_with_includes(tmp_path):
    need_client()
    secret = private(tmp_path / "secret.cnf", f"[client]\npassword={PASSWORD}\n")
    main = private(
        tmp_path / "monitor.cnf", f"[client]\nuser=hakit_monitor\n!include {secret}\n"
    )
    client.check_option_file(config(check_defaults_file=main), Deadline(30))


def test_real_client_option_file_without_user(tmp_path):
    need_client()
    path = private(tmp_path / "monitor.cnf", f"[client]\npassword={PASSWORD}\n")
    with pytest.raises(HostSetupError, match="names no user") as info:
        client.check_option_file(config(check_defaults_file=path), Deadline(30))
    assert PASSWORD not in str(info.value)


def test_real_client_rejects_a_malformed_file(tmp_path):
    need_client()
    path = private(tmp_path / "monitor.cnf", f"password={PASSWORD}\n[client]\n")
    with pytest.raises(HostSetupError, match="option without preceding group") as info:
        client.check_option_file(config(check_defaults_file=path), Deadline(30))
    assert PASSWORD not in str(info.value)


def test_real_client_on_a_missing_socket_fails_at_once(tmp_path):
    need_client()
    began = time.monotonic()
    with pytest.raises(AgentError, match="ERROR 2002") as info:
        client.status(config(socket=str(tmp_path / "none.sock")), Deadline(30))
    assert time.monotonic() - began < 2
    assert str(tmp_path / "none.sock") in str(info.value)


def test_real_client_gives_up_on_a_silent_server():
    """A socket that accepts but never greets: the connect timeout ends it."""
    need_client()
    # A short path: unix socket paths are limited to 107 bytes.
    base = tempfile.mkdtemp(prefix="hk-")
    path = os.path.join(base, "s.sock")
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(path)
    listener.listen(4)
    accepted: list[socket.socket] = []
    thread = threading.Thread(target=lambda: accepted.append(listener.accept()[0]))
    thread.daemon = True
    thread.start()
    try:
        began = time.monotonic()
        with pytest.raises(AgentError, match="no answer on"):
            client.status(config(socket=path), Deadline(2.5))
        took = time.monotonic() - began
    finally:
        for conn in accepted:
            conn.close()
        listener.close()
        shutil.rmtree(base, ignore_errors=True)
    assert took < 3.0
