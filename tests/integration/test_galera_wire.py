"""The in-process MySQL client against a real, standalone mariadbd (no wsrep).

One server per module, on 127.0.0.1:30401 and a unix socket in a private
directory; the fixture always kills it.  Accounts are created with the
``mariadb`` CLI so the code under test does not set up its own test.
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

from ocf_agents.galera import wire
from tests.unavailable import unavailable

pytestmark = pytest.mark.daemon

HOST = "127.0.0.1"
SQL_PORT = 30401
SILENT_PORT = 30402  # accepts TCP, never greets
CLOSED_PORT = 30403  # nothing listens

PASSWORD = "Pa55 'wo\"rd#;"
WRONG = "not-the-Pa55word"

SETUP_SQL = f"""
INSTALL SONAME 'auth_ed25519';
CREATE USER monitor@localhost IDENTIFIED BY {PASSWORD!r};
CREATE USER monitor@'127.0.0.1' IDENTIFIED BY {PASSWORD!r};
CREATE USER edmonitor@localhost IDENTIFIED VIA ed25519 USING PASSWORD('edpw');
CREATE USER sockfirst@localhost
    IDENTIFIED VIA unix_socket OR mysql_native_password USING PASSWORD('sfpw');
CREATE DATABASE wiretest;
DELIMITER //
CREATE PROCEDURE wiretest.two_results() BEGIN SELECT 1 AS a; SELECT 2 AS b; END//
DELIMITER ;
GRANT EXECUTE ON wiretest.* TO monitor@localhost;
"""


@dataclass(frozen=True)
class Server:
    """A running mariadbd."""

    socket: str
    defaults_file: str
    pid: int


def _missing() -> str | None:
    for tool in ("mariadbd", "mariadb-install-db", "mariadb"):
        if shutil.which(tool, path="/usr/sbin:/usr/bin:/sbin:/bin") is None:
            return f"{tool} is not installed"
    if os.geteuid() != 0:
        return "mariadbd is started as root (it drops to user mysql)"
    for port in (SQL_PORT, SILENT_PORT, CLOSED_PORT):
        with socket.socket() as probe:
            if probe.connect_ex((HOST, port)) == 0:
                return f"port {port} is taken"
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
    base = Path(tempfile.mkdtemp(prefix="hakit-wire-"))
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
            ["mariadbd", f"--defaults-file={config}"],
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


def test_root_over_the_socket_by_peer_credentials(mariadb):
    with wire.Connection(unix_socket=mariadb.socket, user="root") as conn:
        assert "MariaDB" in conn.server_version
        assert conn.query("SELECT CURRENT_USER()") == [("root@localhost",)]


@pytest.mark.parametrize("transport", ["socket", "tcp"])
def test_native_password_user(mariadb, transport):
    where = (
        {"unix_socket": mariadb.socket}
        if transport == "socket"
        else {"host": HOST, "port": SQL_PORT}
    )
    with wire.Connection(**where, user="monitor", password=PASSWORD) as conn:
        (user,) = conn.query("SELECT CURRENT_USER()")[0]
    assert user == (
        "monitor@localhost" if transport == "socket" else "monitor@127.0.0.1"
    )


def test_auth_switch_after_failed_unix_socket(mariadb):
    # unix_socket comes first and fails (we are not OS user sockfirst): the
    # server switches to mysql_native_password with a fresh salt.
    with wire.Connection(
        unix_socket=mariadb.socket, user="sockfirst", password="sfpw"
    ) as conn:
        assert conn.query("SELECT CURRENT_USER()") == [("sockfirst@localhost",)]
    with pytest.raises(wire.WireError) as info:
        wire.Connection(unix_socket=mariadb.socket, user="sockfirst", password=WRONG)
    assert info.value.code == 1045


@pytest.mark.parametrize("transport", ["socket", "tcp"])
def test_wrong_password_is_1045_without_the_password(mariadb, transport):
    where = (
        {"unix_socket": mariadb.socket}
        if transport == "socket"
        else {"host": HOST, "port": SQL_PORT}
    )
    with pytest.raises(wire.WireError) as info:
        wire.Connection(**where, user="monitor", password=WRONG)
    assert (info.value.code, info.value.sqlstate) == (1045, "28000")
    assert WRONG not in str(info.value) + repr(info.value) + repr(info.value.args)


def test_unknown_user_is_refused(mariadb):
    # NOTE: MariaDB 10.4+ answers for an unknown account as it would for an
    # existing one picked by a hash of the name (against user enumeration):
    # 1045 when that account uses mysql_native_password, 1698 for unix_socket,
    # or a switch to client_ed25519.  Which name gets what depends on the set
    # of accounts, so try several and require each outcome to be a refusal.
    outcomes = set()
    for name in ("ghost", "nobody", "x", "y", "zz", "daemon", "nosuchuser", "who"):
        try:
            wire.Connection(unix_socket=mariadb.socket, user=name, password=WRONG)
        except wire.WireError as exc:
            assert WRONG not in str(exc)
            outcomes.add(exc.code)
        except wire.ConnectError as exc:
            assert "client_ed25519" in str(exc)
            outcomes.add("ed25519")
        else:
            pytest.fail(f"unknown user {name} was let in")
    assert 1045 in outcomes
    assert outcomes <= {1045, 1698, "ed25519"}


def test_ed25519_account_is_refused_by_plugin_name(mariadb):
    with pytest.raises(wire.ConnectError, match="client_ed25519") as info:
        wire.Connection(unix_socket=mariadb.socket, user="edmonitor", password="edpw")
    assert "edpw" not in str(info.value)


def test_query_values_and_nulls(mariadb):
    with wire.Connection(unix_socket=mariadb.socket, user="root") as conn:
        assert conn.query(
            "SELECT 1, NULL, 'a''b', '', _utf8mb4'f\u00fcr \u20ac', NULL"
        ) == [("1", None, "a'b", "", "f\u00fcr \u20ac", None)]
        assert conn.query("SELECT 1 AS x UNION ALL SELECT NULL UNION ALL SELECT 3") == [
            ("1",),
            (None,),
            ("3",),
        ]
        assert conn.query("SELECT 1 FROM DUAL WHERE 0") == []
        assert conn.query("SET @wire = 5") == []
        assert conn.query("SELECT @wire, @unset") == [("5", None)]
        (big,) = conn.query("SELECT REPEAT('x', 300000)")[0]
        assert big == "x" * 300000


def test_syntax_error_keeps_the_connection(mariadb):
    with wire.Connection(
        unix_socket=mariadb.socket, user="monitor", password=PASSWORD
    ) as conn:
        with pytest.raises(wire.WireError) as info:
            conn.query("SELEC 1")
        assert (info.value.code, info.value.sqlstate) == (1064, "42000")
        assert str(info.value).startswith("ERROR 1064 (42000): You have an error")
        assert conn.query("SELECT 2") == [("2",)]


def test_procedure_with_several_result_sets(mariadb):
    with wire.Connection(
        unix_socket=mariadb.socket, user="monitor", password=PASSWORD
    ) as conn:
        assert conn.query("CALL wiretest.two_results()") == [("1",)]
        assert conn.query("SELECT 3") == [("3",)]


def test_killed_connection_is_a_connect_error(mariadb):
    conn = wire.Connection(unix_socket=mariadb.socket, user="root")
    _cli(mariadb, f"KILL CONNECTION {conn.connection_id}")
    with pytest.raises(wire.ConnectError):
        conn.query("SELECT 1")
    conn.close()


def test_status(mariadb):
    with wire.Connection(
        unix_socket=mariadb.socket, user="monitor", password=PASSWORD
    ) as conn:
        uptime = wire.status(conn, "Uptime")
        assert list(uptime) == ["Uptime"]
        assert int(uptime["Uptime"]) >= 0
        # Without a wsrep provider there is nothing useful, but no error either.
        assert all(isinstance(v, str) for v in wire.status(conn).values())
        assert wire.status(conn, "no'such\\%") == {}


def test_close_is_idempotent_and_final(mariadb):
    conn = wire.Connection(unix_socket=mariadb.socket, user="root")
    conn.close()
    conn.close()
    with pytest.raises(wire.ConnectError, match="closed"):
        conn.query("SELECT 1")


def test_nothing_listening_fails_fast():
    start = time.monotonic()
    with pytest.raises(wire.ConnectError, match="refused"):
        wire.Connection(host=HOST, port=CLOSED_PORT, user="monitor", timeout=5)
    with pytest.raises(wire.ConnectError, match="No such file"):
        wire.Connection(unix_socket="/nonexistent/mysqld.sock", user="root", timeout=5)
    assert time.monotonic() - start < 1.0


def test_silent_server_times_out():
    with socket.socket() as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((HOST, SILENT_PORT))
        listener.listen(4)
        start = time.monotonic()
        with pytest.raises(wire.ConnectError, match="timed out") as info:
            wire.Connection(
                host=HOST, port=SILENT_PORT, user="monitor", password=WRONG, timeout=0.5
            )
        elapsed = time.monotonic() - start
    assert 0.4 < elapsed < 1.5
    assert WRONG not in str(info.value)
