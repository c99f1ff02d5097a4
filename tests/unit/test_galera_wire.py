"""The in-process MySQL client: option files, encodings, scramble, packet handling.

Protocol exchanges run against a scripted server on the other end of a
``socketpair``: all of its packets are queued before the client starts, and
what the client sent is read back afterwards.
"""

from __future__ import annotations

import hashlib
import socket
import sys

import pytest

from ocf_agents.galera import wire

# --- option files -------------------------------------------------------------


def _options(tmp_path, text, group="client"):
    path = tmp_path / "my.cnf"
    path.write_text(text)
    return wire.read_option_file(str(path), group)


def test_option_file_reads_only_the_wanted_group(tmp_path):
    text = """
orphan = before any group
[mysqld]
socket = /run/server.sock
user = mysql
[client]
socket = /run/client.sock
user = monitor
[mysql]
user = other
"""
    assert _options(tmp_path, text) == {"socket": "/run/client.sock", "user": "monitor"}
    assert _options(tmp_path, text, "mysqld")["user"] == "mysql"
    assert _options(tmp_path, text, "nosuchgroup") == {}


def test_option_file_group_names_ignore_case_and_repeat(tmp_path):
    text = "[Client]\nuser = a\n[mysqld]\nuser = x\n[ client ]  # again\nuser = b\n"
    text += "port=1\n"
    assert _options(tmp_path, text) == {"user": "b", "port": "1"}


def test_option_file_quotes_and_escapes(tmp_path):
    text = r"""[client]
double = "with spaces and # hash"
single = 'it''s'
inner = "say \"hi\""
escapes = a\tb\nc\\d\se
unknown = C:\path\x
unquoted = plain value
unterminated = "open
mismatched = "a'
trailing = back\
password = "p#ss ; word"
"""
    assert _options(tmp_path, text) == {
        "double": "with spaces and # hash",
        "single": "it''s",
        "inner": 'say "hi"',
        "escapes": "a\tb\nc\\d e",
        "unknown": "C:\\path\\x",
        "unquoted": "plain value",
        "unterminated": '"open',
        "mismatched": "\"a'",
        "trailing": "back\\",
        "password": "p#ss ; word",
    }


def test_option_file_comments(tmp_path):
    text = """# leading comment
; another comment
[client]
  # indented comment
user = monitor   # trailing comment
password=abc#def
host = db;1
; socket = /commented/out
"""
    assert _options(tmp_path, text) == {
        "user": "monitor",
        "password": "abc",
        "host": "db;1",
    }


def test_option_file_keys_flags_and_includes(tmp_path):
    text = """!include /etc/mysql/other.cnf
[client]
!includedir /etc/mysql/conf.d/
default-character-set = utf8mb4
skip_ssl
no-auto-rehash
  spaced-key  =   spaced value
empty =
"""
    assert _options(tmp_path, text) == {
        "default_character_set": "utf8mb4",
        "skip_ssl": "",
        "no_auto_rehash": "",
        "spaced_key": "spaced value",
        "empty": "",
    }


def test_option_file_crlf_lines(tmp_path):
    path = tmp_path / "my.cnf"
    path.write_bytes(b"[client]\r\nuser = monitor\r\npassword = 'x y'\r\n")
    assert wire.read_option_file(str(path)) == {"user": "monitor", "password": "x y"}


def test_option_file_unreadable_raises_oserror(tmp_path):
    with pytest.raises(FileNotFoundError):
        wire.read_option_file(str(tmp_path / "missing.cnf"))


# --- length-encoded integers ----------------------------------------------------

LENENC_CASES = [
    (0, "00"),
    (1, "01"),
    (250, "fa"),
    (251, "fcfb00"),
    (0xFFFF, "fcffff"),
    (0x10000, "fd000001"),
    (0xFFFFFF, "fdffffff"),
    (0x1000000, "fe0000000100000000"),
    (2**64 - 1, "feffffffffffffffff"),
]


@pytest.mark.parametrize(("number", "encoded"), LENENC_CASES)
def test_lenenc_encoding(number, encoded):
    assert wire._encode_lenenc(number).hex() == encoded


@pytest.mark.parametrize(("number", "encoded"), LENENC_CASES)
def test_lenenc_decoding_at_an_offset(number, encoded):
    data = b"\xaa\xbb" + bytes.fromhex(encoded) + b"\xcc"
    assert wire._decode_lenenc(data, 2) == (number, len(data) - 1)


@pytest.mark.parametrize("number", [-1, 2**64])
def test_lenenc_encoding_out_of_range(number):
    with pytest.raises(ValueError):
        wire._encode_lenenc(number)


@pytest.mark.parametrize("data", ["", "fc01", "fd0102", "fe01020304050607", "fb", "ff"])
def test_lenenc_decoding_rejects_truncated_and_non_integers(data):
    with pytest.raises(ValueError):
        wire._decode_lenenc(bytes.fromhex(data), 0)


# --- mysql_native_password ------------------------------------------------------


def _expected_scramble(password: bytes, salt: bytes) -> bytes:
    """SHA1(pw) XOR SHA1(salt + SHA1(SHA1(pw))), computed with hashlib."""
    stage1 = hashlib.sha1(password).digest()
    stage2 = hashlib.sha1(stage1).digest()
    mask = hashlib.sha1(salt + stage2).digest()
    return (int.from_bytes(stage1, "big") ^ int.from_bytes(mask, "big")).to_bytes(
        20, "big"
    )


SALT = bytes(range(1, 21))


@pytest.mark.parametrize("password", [b"secret", b"p\xc3\xa4ss w#rd", b"x" * 100])
def test_native_scramble_matches_the_documented_formula(password):
    assert wire._scramble_native(password, SALT) == _expected_scramble(password, SALT)


def test_native_scramble_verifies_like_the_server_does():
    # PASSWORD('secret') stores '*' + hex(SHA1(SHA1('secret'))); the server
    # recovers SHA1(pw) from the scramble and checks that it hashes to that.
    stored = bytes.fromhex("14E65567ABDB5135D0CFD9A70B3032C179A49EE7")
    scramble = wire._scramble_native(b"secret", SALT)
    mask = hashlib.sha1(SALT + stored).digest()
    stage1 = bytes(a ^ b for a, b in zip(scramble, mask))
    assert hashlib.sha1(stage1).digest() == stored


def test_native_scramble_of_an_empty_password_is_empty():
    assert wire._scramble_native(b"", SALT) == b""


def test_sha1_falls_back_to_hashlib(monkeypatch):
    monkeypatch.setitem(sys.modules, "_sha1", None)  # import raises ImportError
    assert wire._sha1(b"abc") == hashlib.sha1(b"abc").digest()


# --- packet decoding ------------------------------------------------------------

# The greeting of Debian's MariaDB 10.11.19 (payload only).
MARIADB_GREETING = bytes.fromhex(
    "0a352e352e352d31302e31312e31392d4d6172696144422d302b64656231327531"
    "001000000069236b7428633e4a00fef7080200ff81150000000000001d00000038"
    "7a21317169397e327b3843006d7973716c5f6e61746976655f70617373776f726400"
)


def test_greeting_of_mariadb_10_11():
    greeting = wire._Greeting(MARIADB_GREETING)
    assert greeting.server_version == "5.5.5-10.11.19-MariaDB-0+deb12u1"
    assert greeting.connection_id == 16
    assert greeting.salt == b"i#kt(c>J8z!1qi9~2{8C"
    assert greeting.plugin == "mysql_native_password"
    assert greeting.capabilities & wire._CLIENT_PLUGIN_AUTH
    # MariaDB clears bit 0 (CLIENT_MYSQL) to say it is MariaDB.
    assert not greeting.capabilities & wire._CLIENT_LONG_PASSWORD


def test_row_with_nulls_empty_and_long_values():
    long = b"y" * 300
    packet = b"\x01x" + b"\xfb" + b"\x00" + b"\xfc\x2c\x01" + long + b"\xfb"
    assert wire._parse_row(packet, 5) == ("x", None, "", long.decode(), None)


@pytest.mark.parametrize("packet", [b"\x05abc", b"\x01a\x01b", b""])
def test_row_of_the_wrong_shape_is_malformed(packet):
    with pytest.raises(ValueError):
        wire._parse_row(packet, 1)


def test_error_packet_with_and_without_sqlstate():
    with_state = wire._parse_error(b"\xff\x15\x04#28000Access denied")
    assert (with_state.code, with_state.sqlstate, with_state.message) == (
        1045,
        "28000",
        "Access denied",
    )
    without = wire._parse_error(b"\xff\x10\x04Too many connections")
    assert (without.code, without.sqlstate) == (1040, "HY000")


def test_wire_error_renders_like_the_cli():
    error = wire.WireError(1064, "42000", "You have an error")
    assert str(error) == "ERROR 1064 (42000): You have an error"
    assert error.args == (1064, "42000", "You have an error")


# --- scripted server ------------------------------------------------------------


def _packet(seq, payload):
    return len(payload).to_bytes(3, "little") + bytes((seq,)) + payload


def _greeting(salt=SALT, plugin=b"mysql_native_password", capabilities=0x81FFF7FE):
    return (
        b"\x0a8.0.0-fake\x00"
        + (7).to_bytes(4, "little")
        + salt[:8]
        + b"\x00"
        + (capabilities & 0xFFFF).to_bytes(2, "little")
        + b"\x2d\x02\x00"
        + (capabilities >> 16).to_bytes(2, "little")
        + bytes((len(salt) + 1,))
        + bytes(10)
        + salt[8:]
        + b"\x00"
        + plugin
        + b"\x00"
    )


OK = b"\x00\x00\x00\x02\x00\x00\x00"
EOF = b"\xfe\x00\x00\x02\x00"


class Scripted:
    """The server end of a socketpair, with its whole answer queued up front."""

    def __init__(self, monkeypatch, *packets):
        self.server, client = socket.socketpair()
        self.server.sendall(b"".join(packets))
        monkeypatch.setattr(wire.Connection, "_open", lambda *_args: client)

    def received(self):
        """Return the payloads the client sent, as (seq, payload) pairs."""
        self.server.settimeout(1)
        data = b""
        while chunk := self.server.recv(65536):
            data += chunk
        packets = []
        while data:
            length = int.from_bytes(data[:3], "little")
            packets.append((data[3], data[4 : 4 + length]))
            data = data[4 + length :]
        return packets

    def connect(self, **kwargs):
        kwargs.setdefault("unix_socket", "/scripted")
        kwargs.setdefault("user", "monitor")
        kwargs.setdefault("timeout", 2.0)
        return wire.Connection(**kwargs)


def test_handshake_response_and_query(monkeypatch):
    server = Scripted(
        monkeypatch,
        _packet(0, _greeting()),
        _packet(2, OK),
        _packet(1, b"\x02"),
        _packet(2, b"\x03def\x00\x00\x00\x01a\x00\x0c"),
        _packet(3, b"\x03def\x00\x00\x00\x01b\x00\x0c"),
        _packet(4, EOF),
        _packet(5, b"\x011\xfb"),
        _packet(6, b"\x012\x03two"),
        _packet(7, EOF),
    )
    with server.connect(password="secret") as conn:
        assert conn.server_version == "8.0.0-fake"
        assert conn.connection_id == 7
        assert conn.query("SELECT a, b FROM t") == [("1", None), ("2", "two")]
    sent = server.received()
    assert [seq for seq, _ in sent] == [1, 0, 0]
    response = sent[0][1]
    flags = int.from_bytes(response[:4], "little")
    assert flags & wire._CLIENT_FLAGS == wire._CLIENT_FLAGS
    assert response[8] == 45  # utf8mb4_general_ci
    assert response[9:32] == bytes(23)
    assert response[32:] == (
        b"monitor\x00\x14"
        + _expected_scramble(b"secret", SALT)
        + b"mysql_native_password\x00"
    )
    assert sent[1][1] == b"\x03SELECT a, b FROM t"
    assert sent[2][1] == b"\x01"  # COM_QUIT


def test_auth_switch_to_native_uses_the_new_salt(monkeypatch):
    new_salt = b"abcdefghijklmnopqrst"
    server = Scripted(
        monkeypatch,
        _packet(0, _greeting(plugin=b"caching_sha2_password")),
        _packet(2, b"\xfemysql_native_password\x00" + new_salt + b"\x00"),
        _packet(4, OK),
    )
    server.connect(password="pw").close()
    sent = server.received()
    assert sent[1] == (3, _expected_scramble(b"pw", new_salt))


def test_auth_switch_to_unix_socket_sends_an_empty_answer(monkeypatch):
    server = Scripted(
        monkeypatch,
        _packet(0, _greeting()),
        _packet(2, b"\xfeunix_socket\x00"),
        _packet(4, OK),
    )
    server.connect(user="root").close()
    sent = server.received()
    assert sent[0][1].endswith(b"root\x00\x00mysql_native_password\x00")
    assert sent[1] == (3, b"")


@pytest.mark.parametrize(
    ("switch", "named"),
    [
        (b"\xfeclient_ed25519\x00" + SALT[:32], "client_ed25519"),
        (b"\xfecaching_sha2_password\x00" + SALT + b"\x00", "caching_sha2_password"),
        (b"\xfedialog\x00\x04Password: ", "dialog"),
        (b"\xfe", "mysql_old_password"),
    ],
)
def test_other_plugins_are_refused_by_name(monkeypatch, switch, named):
    server = Scripted(monkeypatch, _packet(0, _greeting()), _packet(2, switch))
    with pytest.raises(wire.ConnectError, match=named):
        server.connect(password="hunter2")


def test_auth_more_data_is_refused(monkeypatch):
    server = Scripted(monkeypatch, _packet(0, _greeting()), _packet(2, b"\x01\x04"))
    with pytest.raises(wire.ConnectError, match="more authentication data"):
        server.connect(password="hunter2")


def test_access_denied_is_a_wire_error_without_the_password(monkeypatch):
    server = Scripted(
        monkeypatch,
        _packet(0, _greeting()),
        _packet(2, b"\xff\x15\x04#28000Access denied for user 'monitor'@'localhost'"),
    )
    with pytest.raises(wire.WireError) as info:
        server.connect(password="hunter2")
    assert info.value.code == 1045
    assert "hunter2" not in str(info.value) + repr(info.value)


def test_error_instead_of_a_greeting(monkeypatch):
    server = Scripted(monkeypatch, _packet(0, b"\xff\x10\x04Too many connections"))
    with pytest.raises(wire.WireError) as info:
        server.connect()
    assert info.value.code == 1040


@pytest.mark.parametrize(
    ("packets", "reason"),
    [
        ((_packet(0, b"\x09old\x00"),), "protocol version 9"),
        ((_packet(0, b"\x0aonly a version"),), "malformed packet"),
        ((_packet(0, _greeting(capabilities=0x81FFF7FE & ~0x8000)),), "SECURE"),
        ((_packet(1, _greeting()),), "out of order"),
        ((b"\xff\xff\xff\x00",), "16 MiB"),
        ((_packet(0, _greeting()), _packet(2, b"\x07")), "unexpected packet"),
    ],
)
def test_broken_handshakes_are_connect_errors(monkeypatch, packets, reason):
    server = Scripted(monkeypatch, *packets)
    with pytest.raises(wire.ConnectError, match=reason):
        server.connect(password="hunter2")


def test_server_hanging_up_is_a_connect_error(monkeypatch):
    server = Scripted(monkeypatch, _packet(0, _greeting()))
    server.server.shutdown(socket.SHUT_WR)
    with pytest.raises(wire.ConnectError, match="closed the connection"):
        server.connect()


def _connected(monkeypatch, *answers):
    server = Scripted(monkeypatch, _packet(0, _greeting()), _packet(2, OK), *answers)
    return server, server.connect()


def test_statement_without_result_set(monkeypatch):
    _, conn = _connected(monkeypatch, _packet(1, OK))
    assert conn.query("DO 1") == []


def test_server_error_keeps_the_connection(monkeypatch):
    _, conn = _connected(
        monkeypatch,
        _packet(1, b"\xff\x28\x04#42000You have an error in your SQL syntax"),
        _packet(1, OK),
    )
    with pytest.raises(wire.WireError) as info:
        conn.query("SELEC 1")
    assert (info.value.code, info.value.sqlstate) == (1064, "42000")
    assert conn.query("DO 1") == []


def test_error_after_some_rows(monkeypatch):
    _, conn = _connected(
        monkeypatch,
        _packet(1, b"\x01"),
        _packet(2, b"\x03def"),
        _packet(3, EOF),
        _packet(4, b"\x01a"),
        _packet(5, b"\xff\x25\x05#70100Query execution was interrupted"),
        _packet(1, OK),
    )
    with pytest.raises(wire.WireError) as info:
        conn.query("SELECT slow()")
    assert info.value.code == 1317
    assert conn.query("DO 1") == []


def test_further_result_sets_are_drained(monkeypatch):
    more = b"\xfe\x00\x00\x0a\x00"  # EOF with SERVER_MORE_RESULTS_EXISTS
    _, conn = _connected(
        monkeypatch,
        _packet(1, b"\x01"),
        _packet(2, b"\x03def"),
        _packet(3, EOF),
        _packet(4, b"\x011"),
        _packet(5, more),
        _packet(6, b"\x01"),
        _packet(7, b"\x03def"),
        _packet(8, EOF),
        _packet(9, b"\x012"),
        _packet(10, more),
        _packet(11, OK),
        _packet(1, OK),
    )
    assert conn.query("CALL p()") == [("1",)]
    assert conn.query("DO 1") == []


def test_transport_failure_in_a_query_closes_the_connection(monkeypatch):
    server, conn = _connected(monkeypatch, _packet(2, OK))
    with pytest.raises(wire.ConnectError, match="out of order"):
        conn.query("DO 1")
    with pytest.raises(wire.ConnectError, match="closed"):
        conn.query("DO 1")
    conn.close()
    assert [payload for _, payload in server.received()][1:] == [b"\x03DO 1"]


def test_close_is_idempotent_and_sends_one_quit(monkeypatch):
    server, conn = _connected(monkeypatch)
    conn.close()
    conn.close()
    assert server.received()[1:] == [(0, b"\x01")]


def test_overlong_statement_is_refused_before_sending(monkeypatch):
    _, conn = _connected(monkeypatch, _packet(1, OK))
    with pytest.raises(ValueError):
        conn.query("x" * wire._MAX_PAYLOAD)
    assert conn.query("DO 1") == []


@pytest.mark.parametrize(
    "where", [{}, {"unix_socket": "/run/s.sock", "host": "127.0.0.1"}]
)
def test_exactly_one_address(where):
    with pytest.raises(ValueError):
        wire.Connection(user="root", **where)


def test_status_quotes_the_pattern(monkeypatch):
    server, conn = _connected(
        monkeypatch,
        _packet(1, b"\x02"),
        _packet(2, b"\x03def"),
        _packet(3, b"\x03def"),
        _packet(4, EOF),
        _packet(5, b"\x06Uptime\x0242"),
        _packet(6, b"\x0dwsrep_unknown\xfb"),
        _packet(7, EOF),
    )
    assert wire.status(conn, "it's\\%") == {"Uptime": "42", "wsrep_unknown": ""}
    conn.close()
    assert server.received()[1][1] == b"\x03SHOW GLOBAL STATUS LIKE 'it''s\\\\%'"
