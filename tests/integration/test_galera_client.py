"""The Galera monitor's ``mariadb`` client against a real, standalone mariadbd.

One server per module (no wsrep provider), on 127.0.0.1:30401 and a unix
socket in a private directory; the fixture always kills it.  Accounts are
created with the ``mariadb`` CLI directly.  What is checked: every
authentication plugin the accounts use works through the vendor client
(including a switch of an account's plugin, as an upgrade may do), wrong
credentials fail without showing the password, the agent's own ``~/.my.cnf``
cannot change who connects, and the agent reports a live server that is not
in a Primary Component as failed, never as running or stopped.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ha_common.deadline import Deadline
from ocf_agents._runtime import env
from ocf_agents._runtime.errors import AgentError
from ocf_agents._runtime.rc import OcfRc
from ocf_agents.galera import client
from ocf_agents.galera.spec import SPEC
from tests.contract.conftest import run_agent
from tests.unavailable import unavailable

pytestmark = pytest.mark.daemon

HOST = "127.0.0.1"
SQL_PORT = 30401

MARIADBD = "/usr/sbin/mariadbd"
PASSWORD = "Pa55 'wo\"rd#;"
WRONG = "not-the-Pa55word"

SETUP_SQL = f"""
INSTALL SONAME 'auth_ed25519';
CREATE USER monitor@localhost IDENTIFIED BY {PASSWORD!r};
CREATE USER monitor@'127.0.0.1' IDENTIFIED BY {PASSWORD!r};
CREATE USER edmonitor@localhost IDENTIFIED VIA ed25519 USING PASSWORD('edpw');
CREATE USER sockfirst@localhost
    IDENTIFIED VIA unix_socket OR mysql_native_password USING PASSWORD('sfpw');
CREATE USER switched@localhost IDENTIFIED BY 'swpw';
"""


@dataclass(frozen=True)
class Server:
    """A running mariadbd."""

    socket: str
    defaults_file: str
    pid: int


def _missing() -> str | None:
    if not os.access(MARIADBD, os.X_OK):
        return f"{MARIADBD} is not installed"
    for tool in ("mariadb-install-db", "mariadb"):
        if shutil.which(tool, path="/usr/sbin:/usr/bin:/sbin:/bin") is None:
            return f"{tool} is not installed"
    if os.geteuid() != 0:
        return "mariadbd is started as root (it drops to user mysql)"
    with socket.socket() as probe:
        if probe.connect_ex((HOST, SQL_PORT)) == 0:
            return f"port {SQL_PORT} is taken"
    return None


def _write_config(base: Path) -> Path:
    config = base / "my.cnf"
    config.write_text(
        f"""[mysqld]
user = mysql
datadir = {base}/data
socket = {base}/mysqld.sock
pid-file = {base}/mysqld.pid
log-error = {base}/error.log
port = {SQL_PORT}
bind-address = {HOST}
skip-name-resolve
performance_schema = OFF
innodb_buffer_pool_size = 64M

[client]
socket = {base}/mysqld.sock
"""
    )
    return config


def _log_tail(base: Path) -> str:
    log = base / "error.log"
    return log.read_text(errors="replace")[-2000:] if log.exists() else ""


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


@pytest.fixture(scope="module")
def mariadb() -> Iterator[Server]:
    """Initialise and start a standalone mariadbd; always stop it and remove it."""
    reason = _missing()
    if reason:
        unavailable(reason)
    # Not under pytest's tmp_path: its parent is 0700 root, and mysqld runs as mysql.
    base = Path(tempfile.mkdtemp(prefix="hakit-client-"))
    proc: subprocess.Popen[bytes] | None = None
    try:
        os.chmod(base, 0o755)
        shutil.chown(base, "mysql", "mysql")
        config = _write_config(base)
        subprocess.run(
            [
                "mariadb-install-db",
                f"--defaults-file={config}",
                "--user=mysql",
                "--skip-test-db",
                "--auth-root-authentication-method=socket",
            ],
            check=True,
            capture_output=True,
            timeout=60,
        )
        proc = subprocess.Popen(
            # The absolute path, as the agent starts it: its monitor finds
            # mariadbd by program and --defaults-file.
            [MARIADBD, f"--defaults-file={config}"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        sock = str(base / "mysqld.sock")
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                pytest.fail(
                    f"mariadbd exited with {proc.returncode}: {_log_tail(base)}"
                )
            if time.monotonic() > deadline:
                pytest.fail(f"mariadbd did not open its socket: {_log_tail(base)}")
            probe = subprocess.run(
                ["mariadb", f"--defaults-file={config}", "-NBe", "SELECT 1"],
                capture_output=True,
                timeout=10,
                check=False,
            )
            if probe.returncode == 0:
                break
            time.sleep(0.1)
        subprocess.run(
            ["mariadb", f"--defaults-file={config}"],
            input=SETUP_SQL.encode(),
            check=True,
            capture_output=True,
            timeout=30,
        )
        yield Server(socket=sock, defaults_file=str(config), pid=proc.pid)
    finally:
        if proc is not None:
            _stop(proc)
        shutil.rmtree(base, ignore_errors=True)


def _cli(server: Server, sql: str) -> str:
    return subprocess.run(
        ["mariadb", f"--defaults-file={server.defaults_file}", "-NBe", sql],
        check=True,
        capture_output=True,
        text=True,
        timeout=30,
    ).stdout


def _config(server: Server, **params: str) -> env.Config:
    environ = {
        "OCF_RESKEY_wsrep_cluster_address": "gcomm://127.0.0.1",
        "OCF_RESKEY_socket": server.socket,
    }
    environ.update({f"OCF_RESKEY_{k}": v for k, v in params.items()})
    return env.load(SPEC, environ)


def _option_file(path: Path, user: str, password: str) -> str:
    path.write_text(f"[client]\nuser={user}\npassword={password}\n")
    path.chmod(0o600)
    return str(path)


def _as(server: Server, tmp_path: Path, user: str, password: str) -> env.Config:
    """The configuration of a monitor that logs in as ``user``."""
    path = _option_file(tmp_path / f"{user}.cnf", user, password)
    return _config(server, check_defaults_file=path)


def _current_user(cfg: env.Config) -> None:
    """Check the credentials are usable: option file accepted, status read."""
    client.check_option_file(cfg, Deadline(30))
    values = client.status(cfg, Deadline(30))
    assert all(isinstance(v, str) for v in values.values())


def test_root_over_the_socket_by_peer_credentials(mariadb):
    values = client.status(_config(mariadb), Deadline(30))
    # No wsrep provider: whatever wsrep says, the server is not Primary.
    assert values.get("wsrep_cluster_status") != "Primary"
    assert client.problem(_config(mariadb), values)


@pytest.mark.parametrize(
    ("user", "password"),
    [
        ("monitor", PASSWORD),  # mysql_native_password, quotes and all
        ("edmonitor", "edpw"),  # ed25519: a plugin the old wire client refused
        ("sockfirst", "sfpw"),  # unix_socket fails (not OS user), then native
    ],
)
def test_each_authentication_plugin_works(mariadb, tmp_path, user, password):
    _current_user(_as(mariadb, tmp_path, user, password))


def test_an_account_switched_to_another_plugin_still_works(mariadb, tmp_path):
    """As when an upgrade moves accounts to a new default authentication."""
    cfg = _as(mariadb, tmp_path, "switched", "swpw")
    _current_user(cfg)
    _cli(
        mariadb,
        "ALTER USER switched@localhost IDENTIFIED VIA ed25519 USING PASSWORD('swpw');",
    )
    _current_user(cfg)


@pytest.mark.parametrize("user", ["monitor", "sockfirst", "ghost"])
def test_wrong_password_is_1045_without_the_password(mariadb, tmp_path, user):
    with pytest.raises(AgentError) as info:
        client.status(_as(mariadb, tmp_path, user, WRONG), Deadline(30))
    assert "1045" in str(info.value) or "1698" in str(info.value)
    assert WRONG not in str(info.value)


def test_password_from_an_included_file(mariadb, tmp_path):
    secret = tmp_path / "secret.cnf"
    secret.write_text(f"[client]\npassword={PASSWORD}\n")
    secret.chmod(0o600)
    main = tmp_path / "monitor.cnf"
    main.write_text(f"[client]\nuser=monitor\n!include {secret}\n")
    main.chmod(0o600)
    _current_user(_config(mariadb, check_defaults_file=str(main)))


def test_the_agents_home_my_cnf_does_not_change_the_user(
    mariadb, tmp_path, monkeypatch
):
    home = tmp_path / "home"
    home.mkdir()
    (home / ".my.cnf").write_text(f"[client]\nuser=ghost\npassword={WRONG}\n")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("MYSQL_PWD", WRONG)
    _current_user(_as(mariadb, tmp_path, "monitor", PASSWORD))


def test_missing_socket_fails_fast(mariadb, tmp_path):
    began = time.monotonic()
    with pytest.raises(AgentError, match="ERROR 2002"):
        client.status(
            _config(mariadb, socket=str(tmp_path / "none.sock")), Deadline(30)
        )
    assert time.monotonic() - began < 2


@pytest.mark.parametrize("probe", [False, True])
def test_agent_reports_a_live_non_primary_server_as_failed(mariadb, tmp_path, probe):
    """The whole monitor on a live server without wsrep: rc 9, never 0 or 7."""
    rsctmp = tmp_path / "rsctmp"
    rsctmp.mkdir()
    params = {
        "wsrep_cluster_address": "gcomm://127.0.0.1",
        "binary": MARIADBD,
        "config": mariadb.defaults_file,
        "datadir": str(Path(mariadb.defaults_file).parent / "data"),
        "socket": mariadb.socket,
    }
    meta = {"OCF_RESKEY_CRM_meta_interval": "0" if probe else "10000"}
    if not probe:
        meta["OCF_RESKEY_CRM_meta_role"] = "Promoted"
    result = run_agent(
        "galera",
        "monitor",
        params,
        {"HA_RSCTMP": str(rsctmp), "OCF_RESOURCE_INSTANCE": "galera:0", **meta},
    )
    assert result.rc == OcfRc.FAILED_PROMOTED, result.err
    assert f"(pid {mariadb.pid}) runs but is" in result.reasons[0]
