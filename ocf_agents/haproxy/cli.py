"""HAProxy's master CLI: one question per connection, and what the answers mean.

The master CLI (``haproxy -S``) answers one command per connection and then
closes it; ``@1 <command>`` passes a command to the first worker.  The
parsers here are pure, so unit tests cover every answer shape; :func:`ask`
is the only I/O.
"""

from __future__ import annotations

from ha_common.record import record

TYPE_CHECKING = False  # typing costs ~5 ms of start-up; see STYLE.md section 9
if TYPE_CHECKING:
    from collections.abc import Iterable

#: The largest answer read; ``show stat`` of a big configuration stays far below.
MAX_ANSWER = 4 * 1024 * 1024


class CliError(Exception):
    """The master CLI could not be asked, or gave an answer that makes no sense."""


def ask(path: str, command: str, timeout: float) -> str:
    """Send ``command`` to the master CLI at ``path`` and return the answer.

    Raises:
        CliError: no socket, refused, no answer within ``timeout`` seconds,
            or an answer larger than :data:`MAX_ANSWER`.
    """
    import socket  # noqa: PLC0415

    if timeout <= 0:
        raise CliError(f"no time left to ask {path}")
    chunks: list[bytes] = []
    size = 0
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(path)
            sock.sendall(command.encode("ascii") + b"\n")
            # The master answers once the client has said all it will say.
            sock.shutdown(socket.SHUT_WR)
            while True:
                data = sock.recv(65536)
                if not data:
                    break
                size += len(data)
                if size > MAX_ANSWER:
                    raise CliError(f"{path}: answer to {command!r} is too large")
                chunks.append(data)
    except FileNotFoundError:
        raise CliError(f"master socket {path} does not exist") from None
    except ConnectionRefusedError:
        raise CliError(f"master socket {path} refuses connections") from None
    except socket.timeout:
        raise CliError(
            f"master socket {path}: no answer to {command!r} within {timeout:.1f} s"
        ) from None
    except OSError as exc:
        raise CliError(f"master socket {path}: {exc.strerror or exc}") from None
    return b"".join(chunks).decode("utf-8", "replace")


@record
class Worker:
    """One worker process of the master (``show proc``)."""

    pid: int
    #: How many reloads ago it was started: 0 for the newest generation.
    reloads: int


@record
class Processes:
    """The master's answer to ``show proc``."""

    master: int
    reloads: int
    failed_reloads: int
    workers: tuple[Worker, ...]


def parse_proc(text: str) -> Processes:
    """Read ``show proc``.

    Raises:
        CliError: the answer has no master line.
    """
    master: tuple[int, int, int] | None = None
    workers: list[Worker] = []
    section = ""
    for line in text.splitlines():
        if line.startswith("#"):
            section = line.lstrip("# ").strip()
            continue
        words = line.split()
        if len(words) < 3 or not words[0].isdigit():
            continue
        if words[1] == "master":
            failed = 0
            if "[failed:" in words:
                failed = _int(words[words.index("[failed:") + 1].rstrip("]"))
            master = (int(words[0]), _int(words[2]), failed)
        elif words[1] == "worker" and section in ("workers", ""):
            workers.append(Worker(int(words[0]), _int(words[2])))
    if master is None:
        raise CliError(f"show proc: no master in {_head(text)!r}")
    return Processes(master[0], master[1], master[2], tuple(workers))


def parse_info(text: str) -> dict[str, str]:
    """Read ``show info``: ``Name: value`` lines.

    Raises:
        CliError: the answer carries no ``Pid``, so no worker gave it.
    """
    info: dict[str, str] = {}
    for line in text.splitlines():
        name, sep, value = line.partition(":")
        if sep:
            info[name.strip()] = value.strip()
    if not info.get("Pid", "").isdigit():
        raise CliError(f"show info: no worker answered ({_head(text)!r})")
    return info


@record
class Row:
    """One line of ``show stat``: a frontend, a backend or a server."""

    proxy: str
    name: str
    status: str


def parse_stat(text: str) -> tuple[Row, ...]:
    """Read the CSV of ``show stat`` (header ``# pxname,svname,...``).

    Raises:
        CliError: no header, or a header without the columns used here.
    """
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines or not lines[0].startswith("# "):
        raise CliError(f"show stat: no header in {_head(text)!r}")
    header = lines[0][2:].split(",")
    try:
        proxy, name, status = (header.index(c) for c in ("pxname", "svname", "status"))
    except ValueError:
        raise CliError("show stat: no pxname, svname or status column") from None
    rows = []
    for line in lines[1:]:
        fields = line.split(",")
        if len(fields) > max(proxy, name, status):
            rows.append(Row(fields[proxy], fields[name], fields[status]))
    return tuple(rows)


def backends_down(rows: Iterable[Row]) -> list[str]:
    """Backends that have servers and none usable (their BACKEND row not UP).

    A backend without servers (a redirect, a stats page) is never down.
    """
    servers: dict[str, int] = {}
    status: dict[str, str] = {}
    for row in rows:
        if row.name == "BACKEND":
            status[row.proxy] = row.status
        elif row.name != "FRONTEND":
            servers[row.proxy] = servers.get(row.proxy, 0) + 1
    return sorted(
        proxy
        for proxy, state in status.items()
        if servers.get(proxy) and not state.startswith("UP")
    )


def _int(text: str) -> int:
    return int(text) if text.isdigit() else 0


def _head(text: str) -> str:
    return " ".join(text.split())[:80]
