"""A minimal MySQL/MariaDB client, enough for a monitor to read ``SHOW STATUS``.

Standard library only, and written for start-up time: a ``mariadb`` CLI
process costs ~14 ms per monitor, a client library far more.  It speaks the
classic client/server protocol without TLS or compression: Handshake V10, the
4.1 handshake response, ``COM_QUERY`` with text result sets, ``COM_QUIT``.

Authentication covers ``mysql_native_password`` (SHA1 scramble) and MariaDB's
``unix_socket``.  The client always answers the greeting as
``mysql_native_password``; the server then runs the account's plugins in
order.  ``unix_socket`` has no client side: it reads the peer credentials of
the socket and sends nothing, so root (``mysql_native_password USING 'invalid'
OR unix_socket``) is let in without a further packet.  When a later plugin
takes over, the server sends an AuthSwitchRequest with a fresh salt (e.g.
``unix_socket OR mysql_native_password`` for a user that is not the peer).
Any other plugin the server switches to is refused with a
:class:`ConnectError` that names it.

Errors: the server's ERR packets become :class:`WireError` (the connection
stays usable); everything at transport level (refused, timed out, closed,
malformed packets, unsupported plugin) becomes :class:`ConnectError`, after
which the connection is closed.  No message ever contains the password.
"""

from __future__ import annotations

# The C module behind socket.py: the monitor needs a unix socket and nothing
# of socket.py's wrappers, which cost about 2 ms of start-up (selectors, enum
# conversions).  socket.py itself is imported for TCP connections only.
import _socket
import time

TYPE_CHECKING = False  # typing costs ~5 ms of start-up; see STYLE.md section 9

if TYPE_CHECKING:
    from types import TracebackType

# Capability flags (the low and high 16 bits of the handshake's capabilities).
_CLIENT_LONG_PASSWORD = 0x00000001
_CLIENT_PROTOCOL_41 = 0x00000200
_CLIENT_TRANSACTIONS = 0x00002000
_CLIENT_SECURE_CONNECTION = 0x00008000
_CLIENT_MULTI_RESULTS = 0x00020000
_CLIENT_PLUGIN_AUTH = 0x00080000
# Bit 0 is CLIENT_LONG_PASSWORD to MySQL and CLIENT_MYSQL to MariaDB, whose
# greeting clears it to say "I am MariaDB".  A client that sets it tells
# MariaDB that its response carries no MariaDB extended capabilities (in the
# reserved bytes, which are zero here anyway), so it is always sent.
_CLIENT_FLAGS = (
    _CLIENT_LONG_PASSWORD
    | _CLIENT_PROTOCOL_41
    | _CLIENT_TRANSACTIONS
    | _CLIENT_SECURE_CONNECTION
    | _CLIENT_MULTI_RESULTS
    | _CLIENT_PLUGIN_AUTH
)
_REQUIRED_SERVER_FLAGS = {
    _CLIENT_PROTOCOL_41: "CLIENT_PROTOCOL_41",
    _CLIENT_SECURE_CONNECTION: "CLIENT_SECURE_CONNECTION",
    _CLIENT_PLUGIN_AUTH: "CLIENT_PLUGIN_AUTH",
}

_SERVER_MORE_RESULTS_EXISTS = 0x0008

_COM_QUIT = 0x01
_COM_QUERY = 0x03

_OK = 0x00
_AUTH_MORE_DATA = 0x01
_NULL = 0xFB
_LOCAL_INFILE = 0xFB
_EOF = 0xFE
_AUTH_SWITCH = 0xFE
_ERR = 0xFF

_UTF8MB4_GENERAL_CI = 45
_MAX_PAYLOAD = 0xFFFFFF  # a payload this long continues in the next packet
_PROTOCOL_VERSION = 10
_SCRAMBLE_LENGTH = 20
_EOF_MAX_LENGTH = 9  # a 0xFE packet shorter than this is EOF, not a row
_MAX_AUTH_ROUNDS = 4

_NATIVE = "mysql_native_password"
_UNIX_SOCKET = "unix_socket"
_SUPPORTED_PLUGINS = f"{_NATIVE}, {_UNIX_SOCKET}"


class WireError(Exception):
    """The server answered with an ERR packet.

    Attributes:
        code: the server's error number, e.g. 1045 (access denied).
        sqlstate: the five-character SQLSTATE, ``HY000`` when none was sent.
        message: the server's error text.
    """

    def __init__(self, code: int, sqlstate: str, message: str) -> None:
        """Keep the parts of an ERR packet."""
        super().__init__(code, sqlstate, message)
        self.code = code
        self.sqlstate = sqlstate
        self.message = message

    def __str__(self) -> str:
        """Format like the ``mariadb`` client does."""
        return f"ERROR {self.code} ({self.sqlstate}): {self.message}"


class ConnectError(Exception):
    """No usable connection: refused, timed out, closed, or protocol not supported."""


# --- option files -----------------------------------------------------------

_ESCAPES = {
    "n": "\n",
    "t": "\t",
    "r": "\r",
    "b": "\b",
    "s": " ",
    '"': '"',
    "'": "'",
    "\\": "\\",
}


def _strip_comment(line: str) -> str:
    """Cut ``line`` at the first ``#`` outside quotes, as the server's parser does."""
    if "#" not in line:
        return line
    quote = ""
    escaped = False
    for index, char in enumerate(line):
        if char in "'\"" and not escaped:
            if not quote:
                quote = char
            elif quote == char:
                quote = ""
        if char == "#" and not quote:
            return line[:index]
        escaped = char == "\\" and not escaped
    return line


def _unescape(value: str) -> str:
    r"""Resolve ``\n \t \r \b \s \" \' \\``; keep any other backslash as it is."""
    if "\\" not in value:
        return value
    out: list[str] = []
    index = 0
    last = len(value) - 1
    while index <= last:
        char = value[index]
        if char == "\\" and index < last:
            follower = value[index + 1]
            out.append(_ESCAPES.get(follower, char + follower))
            index += 2
        else:
            out.append(char)
            index += 1
    return "".join(out)


def read_option_file(path: str, group: str = "client") -> dict[str, str]:
    """Read the options of one ``[group]`` of a MySQL option file (my.cnf).

    Keys have ``-`` turned into ``_``; a bare flag maps to ``""``; a value in
    matching quotes loses them; backslash escapes are resolved; ``#`` starts
    a comment anywhere outside quotes, ``;`` only at the start of a line.
    Group names match case-insensitively, and a group may appear several
    times (the last value of a key wins).  ``!include`` and ``!includedir``
    lines are ignored.

    Raises:
        OSError: the file cannot be read.
    """
    wanted = group.strip().lower()
    with open(path, encoding="utf-8", errors="surrogateescape") as handle:
        text = handle.read()
    options: dict[str, str] = {}
    active = False
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#;!":
            continue
        line = _strip_comment(line).rstrip()
        if line.startswith("["):
            end = line.find("]")
            name = line[1:end] if end > 0 else line[1:]
            active = name.strip().lower() == wanted
            continue
        if not active:
            continue
        key, sep, value = line.partition("=")
        key = key.strip().replace("-", "_")
        if not key:
            continue
        if not sep:
            options[key] = ""
            continue
        value = value.strip()
        if len(value) >= 2 and value[0] in "'\"" and value[-1] == value[0]:
            value = value[1:-1]
        options[key] = _unescape(value)
    return options


# --- protocol encoding ------------------------------------------------------


def _encode_lenenc(number: int) -> bytes:
    """Encode a length-encoded integer."""
    if number < 0:
        raise ValueError(f"a length-encoded integer cannot be negative: {number}")
    if number < 0xFB:
        return bytes((number,))
    if number < 1 << 16:
        return b"\xfc" + number.to_bytes(2, "little")
    if number < 1 << 24:
        return b"\xfd" + number.to_bytes(3, "little")
    if number < 1 << 64:
        return b"\xfe" + number.to_bytes(8, "little")
    raise ValueError(f"too large for a length-encoded integer: {number}")


_LENENC_WIDTH = {0xFC: 2, 0xFD: 3, 0xFE: 8}


def _decode_lenenc(data: bytes, pos: int) -> tuple[int, int]:
    """Decode the length-encoded integer at ``pos``; return it and the next position.

    Raises:
        ValueError: the data is truncated, or holds NULL (0xFB) or 0xFF.
    """
    if pos >= len(data):
        raise ValueError("truncated length-encoded integer")
    first = data[pos]
    if first < 0xFB:
        return first, pos + 1
    width = _LENENC_WIDTH.get(first)
    if width is None:
        raise ValueError(f"0x{first:02x} does not start a length-encoded integer")
    end = pos + 1 + width
    if end > len(data):
        raise ValueError("truncated length-encoded integer")
    return int.from_bytes(data[pos + 1 : end], "little"), end


def _sha1(data: bytes) -> bytes:
    """Return the SHA1 digest of ``data``."""
    # The builtin _sha1 module imports in ~0.05 ms, hashlib (OpenSSL) in ~2 ms;
    # random.py takes the same shortcut for _sha512.  hashlib is the fallback
    # for builds without it.
    try:
        from _sha1 import (  # type: ignore[import-not-found,unused-ignore]  # noqa: PLC0415
            sha1,
        )
    except ImportError:
        from hashlib import sha1  # noqa: PLC0415
    digest: bytes = sha1(data).digest()
    return digest


def _scramble_native(password: bytes, salt: bytes) -> bytes:
    """Answer a ``mysql_native_password`` challenge.

    The answer is SHA1(password) XOR SHA1(salt + SHA1(SHA1(password))), or
    nothing for an empty password.
    """
    if not password:
        return b""
    stage1 = _sha1(password)
    mask = _sha1(salt + _sha1(stage1))
    return bytes(a ^ b for a, b in zip(stage1, mask))


def _parse_error(packet: bytes) -> WireError:
    """Turn an ERR packet into a :class:`WireError`."""
    code = int.from_bytes(packet[1:3], "little")
    # The greeting's ERR (e.g. too many connections) has no SQLSTATE marker.
    if packet[3:4] == b"#":
        sqlstate = packet[4:9].decode("ascii", "replace")
        text = packet[9:]
    else:
        sqlstate = "HY000"
        text = packet[3:]
    return WireError(code, sqlstate, text.decode("utf-8", "replace"))


def _ok_status(packet: bytes) -> int:
    """Return the server status flags of an OK packet."""
    _, pos = _decode_lenenc(packet, 1)  # affected rows
    _, pos = _decode_lenenc(packet, pos)  # last insert id
    if pos + 2 > len(packet):
        raise ValueError("truncated OK packet")
    return int.from_bytes(packet[pos : pos + 2], "little")


def _is_eof(packet: bytes) -> bool:
    return packet[0] == _EOF and len(packet) < _EOF_MAX_LENGTH


def _eof_status(packet: bytes) -> int:
    """Return the server status flags of an EOF packet (0xFE, warnings, status)."""
    return int.from_bytes(packet[3:5], "little")


def _parse_row(packet: bytes, columns: int) -> tuple[str | None, ...]:
    """Decode a text-protocol row: a length-encoded string or NULL per column."""
    values: list[str | None] = []
    pos = 0
    size = len(packet)
    for _ in range(columns):
        if pos < size and packet[pos] == _NULL:
            values.append(None)
            pos += 1
            continue
        length, pos = _decode_lenenc(packet, pos)
        end = pos + length
        if end > size:
            raise ValueError("truncated row")
        values.append(packet[pos:end].decode("utf-8", "replace"))
        pos = end
    if pos != size:
        raise ValueError("row longer than its columns")
    return tuple(values)


class _Greeting:
    """What the server's Handshake V10 packet says."""

    __slots__ = ("capabilities", "connection_id", "plugin", "salt", "server_version")

    def __init__(self, packet: bytes) -> None:
        """Parse ``packet``; raise ValueError when it is malformed."""
        end = packet.index(b"\0", 1)
        self.server_version = packet[1:end].decode("utf-8", "replace")
        pos = end + 1
        self.connection_id = int.from_bytes(packet[pos : pos + 4], "little")
        salt = packet[pos + 4 : pos + 12]
        pos += 13  # 8 bytes of salt and a filler byte
        if pos + 2 > len(packet):
            raise ValueError("truncated handshake")
        capabilities = int.from_bytes(packet[pos : pos + 2], "little")
        pos += 2
        self.plugin = ""
        if pos < len(packet):
            # character set (1), status flags (2), upper capabilities (2),
            # salt length (1), 10 reserved bytes (MariaDB puts its extended
            # capabilities in the last 4 of them).
            capabilities |= int.from_bytes(packet[pos + 3 : pos + 5], "little") << 16
            salt_length = packet[pos + 5]
            pos += 16
            if capabilities & _CLIENT_SECURE_CONNECTION:
                part2 = max(13, salt_length - 8)
                salt += packet[pos : pos + part2]
                pos += part2
            if capabilities & _CLIENT_PLUGIN_AUTH:
                end = packet.find(b"\0", pos)
                # MySQL before 5.5.10 did not terminate the name.
                self.plugin = packet[pos : end if end >= 0 else None].decode(
                    "ascii", "replace"
                )
        self.capabilities = capabilities
        self.salt = salt[:_SCRAMBLE_LENGTH]


# --- connection -------------------------------------------------------------


class Connection:
    """One authenticated session with a MySQL/MariaDB server.

    Give exactly one of ``unix_socket`` or ``host``.  ``timeout`` bounds the
    whole of connect, handshake and authentication, and then each
    :meth:`query` separately.  A host name is resolved without a time limit:
    pass an address.
    """

    def __init__(
        self,
        *,
        unix_socket: str | None = None,
        host: str | None = None,
        port: int = 3306,
        user: str,
        password: str = "",
        timeout: float = 5.0,
    ) -> None:
        """Connect and authenticate.

        Raises:
            ConnectError: no connection, timeout, or unsupported protocol or
                authentication plugin.
            WireError: the server refused, e.g. 1045 access denied.
            ValueError: both or neither of ``unix_socket`` and ``host``.
        """
        if (unix_socket is None) == (host is None):
            raise ValueError("give exactly one of unix_socket and host")
        self._timeout = timeout
        self._sock: _socket.socket | None = None
        self._buffer = bytearray()
        self._seq = 0
        self._phase = "connecting"
        self._peer = f"{host}:{port}" if unix_socket is None else unix_socket
        self.server_version = ""
        self.connection_id = 0
        deadline = time.monotonic() + timeout
        self._sock = self._open(unix_socket, host, port, deadline)
        try:
            self._authenticate(
                user, password.encode("utf-8", "surrogateescape"), deadline
            )
        except (ValueError, IndexError) as exc:
            self._drop()
            raise self._failure(f"malformed packet ({exc})") from exc
        except BaseException:
            self._drop()
            raise
        self._phase = "idle"

    def __enter__(self) -> Connection:
        """Return this open connection."""
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Close the connection."""
        self.close()

    def query(self, sql: str) -> list[tuple[str | None, ...]]:
        """Run one statement; return the rows of its (first) result set.

        Values come as text, SQL NULL as None.  A statement without a result
        set returns ``[]``.  Further result sets (``CALL``) are read and
        dropped.

        Raises:
            WireError: the server refused the statement; the connection
                stays usable.
            ConnectError: transport failure or timeout; the connection is
                closed.
            ValueError: the statement is 16 MiB or longer.
        """
        if self._sock is None:
            raise ConnectError(f"{self._peer}: the connection is closed")
        payload = bytes((_COM_QUERY,)) + sql.encode("utf-8", "surrogateescape")
        if len(payload) >= _MAX_PAYLOAD:
            raise ValueError("statements of 16 MiB or more are not supported")
        deadline = time.monotonic() + self._timeout
        self._phase = "running a query"
        try:
            self._seq = 0
            self._send(payload, deadline)
            rows, more = self._read_result(deadline)
            while more:
                _, more = self._read_result(deadline)
        except WireError:
            self._phase = "idle"
            raise
        except (ValueError, IndexError) as exc:
            self._drop()
            raise self._failure(f"malformed packet ({exc})") from exc
        except BaseException:
            self._drop()
            raise
        self._phase = "idle"
        return rows

    def close(self) -> None:
        """Say goodbye (COM_QUIT) and close the socket; closing twice is fine."""
        sock = self._sock
        if sock is None:
            return
        self._sock = None
        try:
            sock.settimeout(min(self._timeout, 1.0))
            sock.sendall(b"\x01\x00\x00\x00" + bytes((_COM_QUIT,)))
        except OSError:
            pass  # the server may already be gone; closing is all that is left
        finally:
            sock.close()

    # -- transport --

    def _open(
        self, unix_socket: str | None, host: str | None, port: int, deadline: float
    ) -> _socket.socket:
        remaining = self._remaining(deadline)
        try:
            if unix_socket is not None:
                sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
                try:
                    sock.settimeout(remaining)
                    sock.connect(unix_socket)
                except BaseException:
                    sock.close()
                    raise
            else:
                import socket  # noqa: PLC0415 - TCP only, never the monitor's path

                assert host is not None
                sock = socket.create_connection((host, port), timeout=remaining)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except _socket.timeout as exc:
            raise self._failure(f"timed out after {self._timeout:g} s") from exc
        except OSError as exc:
            raise self._failure(f"cannot connect: {exc.strerror or exc}") from exc
        return sock

    def _drop(self) -> None:
        """Close the socket without COM_QUIT: the session state is unknown."""
        sock, self._sock = self._sock, None
        self._buffer.clear()
        if sock is not None:
            sock.close()

    def _failure(self, reason: str) -> ConnectError:
        return ConnectError(f"{self._peer}: {reason} ({self._phase})")

    def _remaining(self, deadline: float) -> float:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise self._failure(f"timed out after {self._timeout:g} s")
        return remaining

    def _send(self, payload: bytes, deadline: float) -> None:
        """Send ``payload`` as one packet with the next sequence id."""
        sock = self._sock
        assert sock is not None
        header = len(payload).to_bytes(3, "little") + bytes((self._seq,))
        self._seq = (self._seq + 1) & 0xFF
        try:
            sock.settimeout(self._remaining(deadline))
            sock.sendall(header + payload)
        except _socket.timeout as exc:
            raise self._failure(f"timed out after {self._timeout:g} s") from exc
        except OSError as exc:
            raise self._failure(f"send failed: {exc.strerror or exc}") from exc

    def _fill(self, size: int, deadline: float) -> None:
        """Receive until the buffer holds at least ``size`` bytes."""
        sock = self._sock
        assert sock is not None
        while len(self._buffer) < size:
            try:
                sock.settimeout(self._remaining(deadline))
                chunk = sock.recv(65536)
            except _socket.timeout as exc:
                raise self._failure(f"timed out after {self._timeout:g} s") from exc
            except OSError as exc:
                raise self._failure(f"receive failed: {exc.strerror or exc}") from exc
            if not chunk:
                raise self._failure("the server closed the connection")
            self._buffer += chunk

    def _receive(self, deadline: float) -> bytes:
        """Return the payload of the next packet, checking its sequence id."""
        self._fill(4, deadline)
        buffer = self._buffer
        length = buffer[0] | buffer[1] << 8 | buffer[2] << 16
        if buffer[3] != self._seq:
            raise self._failure(
                f"packet out of order (sequence {buffer[3]}, expected {self._seq})"
            )
        if length == _MAX_PAYLOAD:
            raise self._failure("packets of 16 MiB or more are not supported")
        self._seq = (self._seq + 1) & 0xFF
        self._fill(4 + length, deadline)
        payload = bytes(buffer[4 : 4 + length])
        del buffer[: 4 + length]
        if not payload:
            raise ValueError("empty packet")
        return payload

    # -- protocol --

    def _authenticate(self, user: str, password: bytes, deadline: float) -> None:
        self._phase = "waiting for the server greeting"
        packet = self._receive(deadline)
        if packet[0] == _ERR:
            raise _parse_error(packet)
        if packet[0] != _PROTOCOL_VERSION:
            raise self._failure(f"unsupported protocol version {packet[0]}")
        greeting = _Greeting(packet)
        self.server_version = greeting.server_version
        self.connection_id = greeting.connection_id
        missing = [
            name
            for flag, name in _REQUIRED_SERVER_FLAGS.items()
            if not greeting.capabilities & flag
        ]
        if missing:
            raise self._failure(f"server lacks {', '.join(missing)}")
        if len(greeting.salt) < _SCRAMBLE_LENGTH:
            raise ValueError("short authentication salt")

        self._phase = "authenticating"
        # Whatever plugin the greeting proposes, answer as mysql_native_password
        # (the salt is the same); the server switches us if the account needs
        # another plugin.
        scramble = _scramble_native(password, greeting.salt)
        self._send(
            ((_CLIENT_FLAGS & greeting.capabilities) | _CLIENT_LONG_PASSWORD).to_bytes(
                4, "little"
            )
            + _MAX_PAYLOAD.to_bytes(4, "little")
            + bytes((_UTF8MB4_GENERAL_CI,))
            + bytes(23)
            + user.encode("utf-8", "surrogateescape")
            + b"\0"
            + bytes((len(scramble),))
            + scramble
            + _NATIVE.encode("ascii")
            + b"\0",
            deadline,
        )
        for _ in range(_MAX_AUTH_ROUNDS):
            packet = self._receive(deadline)
            tag = packet[0]
            if tag == _OK:
                return
            if tag == _ERR:
                raise _parse_error(packet)
            if tag == _AUTH_SWITCH:
                self._switch_plugin(packet, password, deadline)
                continue
            if tag == _AUTH_MORE_DATA:
                raise self._failure(
                    "the server wants more authentication data, which only "
                    f"plugins other than {_SUPPORTED_PLUGINS} need"
                )
            raise self._failure(f"unexpected packet 0x{tag:02x}")
        raise self._failure("too many authentication rounds")

    def _switch_plugin(self, packet: bytes, password: bytes, deadline: float) -> None:
        """Answer an AuthSwitchRequest (0xFE, plugin name, NUL, plugin data)."""
        if len(packet) == 1:
            raise self._failure(
                "the server asks for the pre-4.1 plugin mysql_old_password, "
                f"which is not supported (only {_SUPPORTED_PLUGINS})"
            )
        end = packet.find(b"\0", 1)
        if end < 0:
            end = len(packet)
        plugin = packet[1:end].decode("ascii", "replace")
        data = packet[end + 1 :]
        if plugin == _NATIVE:
            self._send(_scramble_native(password, data[:_SCRAMBLE_LENGTH]), deadline)
        elif plugin == _UNIX_SOCKET:
            # MariaDB 10.11 never asks (the plugin has no client side).  A server
            # that did would be waiting for a packet with nothing to say in it.
            self._send(b"", deadline)
        else:
            raise self._failure(
                f"the account needs authentication plugin {plugin!r}, "
                f"which is not supported (only {_SUPPORTED_PLUGINS})"
            )

    def _read_result(
        self, deadline: float
    ) -> tuple[list[tuple[str | None, ...]], bool]:
        """Read one result; return its rows and whether more results follow."""
        packet = self._receive(deadline)
        tag = packet[0]
        if tag == _OK:
            return [], bool(_ok_status(packet) & _SERVER_MORE_RESULTS_EXISTS)
        if tag == _ERR:
            raise _parse_error(packet)
        if tag == _LOCAL_INFILE:
            raise self._failure("the server asks for LOAD DATA LOCAL, not supported")
        columns, _ = _decode_lenenc(packet, 0)
        for _ in range(columns):
            packet = self._receive(deadline)  # column definition: not needed
            if packet[0] == _ERR:
                raise _parse_error(packet)
        if not _is_eof(self._receive(deadline)):
            raise ValueError("no EOF after the column definitions")
        rows: list[tuple[str | None, ...]] = []
        while True:
            packet = self._receive(deadline)
            if _is_eof(packet):
                more = _eof_status(packet) & _SERVER_MORE_RESULTS_EXISTS
                return rows, bool(more)
            if packet[0] == _ERR:
                raise _parse_error(packet)
            rows.append(_parse_row(packet, columns))


def status(conn: Connection, like: str = "wsrep%") -> dict[str, str]:
    """Return ``SHOW GLOBAL STATUS LIKE <like>`` as a name-to-value dict.

    ``like`` is a LIKE pattern (``%``, ``_``, backslash escapes); it is
    quoted for the default SQL mode (not for ``NO_BACKSLASH_ESCAPES``).
    """
    pattern = like.replace("\\", "\\\\").replace("'", "''")
    return {
        name: value or ""
        for name, value, *_ in conn.query(f"SHOW GLOBAL STATUS LIKE '{pattern}'")
        if name is not None
    }
