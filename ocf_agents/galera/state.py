"""What a Galera node knows about its data, and who may bootstrap.

Pure functions over plain data: ``grastate.dat`` parsing and the one edit the
agent makes to it, the ``Recovered position`` line of ``--wsrep-recover``, the
published report of a node, and the bootstrap election.  Nothing here runs a
process or talks to the cluster, so every rule is unit-tested directly.
"""

from __future__ import annotations

import os

from ha_common.kinds import WORD, consists_of
from ha_common.record import record

#: The uuid of a node that has never been part of a cluster.
ZERO_UUID = "00000000-0000-0000-0000-000000000000"

_HEX = frozenset("0123456789abcdef")
_HOST_CHARS = WORD | {".", ":", "[", "]", "-"}
_OPTION_CHARS = WORD | {".", "=", "&", "-"}


def is_uuid(text: str) -> bool:
    """Tell whether ``text`` is a lower-case 8-4-4-4-12 hexadecimal uuid."""
    parts = text.split("-")
    return [len(part) for part in parts] == [8, 4, 4, 4, 12] and all(
        consists_of(part, _HEX) for part in parts
    )


def _seqno(text: str) -> int | None:
    digits = text[1:] if text.startswith("-") else text
    return int(text) if digits.isdigit() and digits.isascii() else None


@record
class Position:
    """A point in a Galera cluster's history: cluster uuid and seqno.

    ``seqno`` -1 means unknown (a crashed node before recovery, or an empty
    node).
    """

    uuid: str
    seqno: int

    @property
    def known(self) -> bool:
        """The seqno says where this node's history ends."""
        return self.seqno >= 0

    @property
    def empty(self) -> bool:
        """The node has never held a cluster's data."""
        return self.uuid == ZERO_UUID

    def __str__(self) -> str:
        """The ``uuid:seqno`` form mariadbd and the node attribute use."""
        return f"{self.uuid}:{self.seqno}"

    @classmethod
    def parse(cls, text: str) -> Position:
        """Parse ``uuid:seqno``; raises ValueError when malformed."""
        uuid, _, seqno_text = text.strip().lower().rpartition(":")
        seqno = _seqno(seqno_text)
        if not is_uuid(uuid) or seqno is None:
            raise ValueError(f"{text!r} is not a Galera position (uuid:seqno)")
        return cls(uuid, seqno)


EMPTY = Position(ZERO_UUID, -1)


@record
class GraState:
    """The content of ``grastate.dat`` that matters."""

    position: Position
    safe_to_bootstrap: bool


def read_grastate(datadir: str) -> GraState | None:
    """Read ``<datadir>/grastate.dat``; None when the node never joined a cluster.

    Raises:
        ValueError: the file exists but is not a grastate file.
        OSError: it cannot be read.
    """
    path = os.path.join(datadir, "grastate.dat")
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except FileNotFoundError:
        return None
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and not key.startswith("#"):
            fields[key.strip()] = value.strip()
    try:
        uuid = fields["uuid"].lower()
        seqno = int(fields["seqno"])
    except (KeyError, ValueError):
        raise ValueError(f"{path} has no valid uuid and seqno") from None
    if not is_uuid(uuid):
        raise ValueError(f"{path} has a malformed uuid {uuid!r}")
    return GraState(Position(uuid, seqno), fields.get("safe_to_bootstrap") == "1")


def mark_safe_to_bootstrap(datadir: str) -> bool:
    """Set ``safe_to_bootstrap: 1`` in grastate.dat, atomically.

    The file keeps its owner and mode (mariadbd runs as another user and
    rewrites it).  Returns False when there is no grastate.dat.
    """
    path = os.path.join(datadir, "grastate.dat")
    try:
        with open(path, encoding="utf-8") as handle:
            lines = handle.read().splitlines()
        info = os.stat(path)
    except FileNotFoundError:
        return False
    out = []
    seen = False
    for line in lines:
        if line.split(":", 1)[0].strip() == "safe_to_bootstrap":
            out.append("safe_to_bootstrap: 1")
            seen = True
        else:
            out.append(line)
    if not seen:
        out.append("safe_to_bootstrap: 1")
    tmp = f"{path}.hakit.{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write("\n".join(out) + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.chown(tmp, info.st_uid, info.st_gid)
    os.chmod(tmp, info.st_mode & 0o7777)
    os.replace(tmp, path)
    return True


def recovered_position(log_text: str) -> Position | None:
    """The last ``Recovered position`` that ``mariadbd --wsrep-recover`` logged."""
    marker = "WSREP: Recovered position"
    for line in reversed(log_text.splitlines()):
        _, found, rest = line.partition(marker)
        if not found:
            continue
        words = rest.lstrip(":").split()
        try:
            return Position.parse(words[0])
        except (IndexError, ValueError):
            continue
    return None


@record
class Report:
    """What one node published: its last committed position and safe flag."""

    position: Position
    safe: bool

    def encode(self) -> str:
        """The node attribute value: ``uuid:seqno`` plus ``:safe`` when set."""
        return f"{self.position}:safe" if self.safe else str(self.position)

    @classmethod
    def decode(cls, text: str) -> Report:
        """Parse an attribute value written by :meth:`encode`."""
        safe = text.endswith(":safe")
        return cls(Position.parse(text[: -len(":safe")] if safe else text), safe)


@record
class Decision:
    """The outcome of an election.

    Attributes:
        winner: the node that may bootstrap, or None.
        reason: why (for the log and the waiting attribute).
        forced: the winner was named by the operator's override.
    """

    winner: str | None
    reason: str
    forced: bool = False


def _rank(node: str, report: Report) -> tuple[int, int, str]:
    # Highest seqno first; among equals a node that grastate marks safe;
    # then the lowest node name, so every node computes the same winner.
    return (-report.position.seqno, 0 if report.safe else 1, node)


def elect(  # noqa: PLR0911 - one return per rule reads best
    expected: list[str],
    reports: dict[str, Report],
    forced: str | None = None,
) -> Decision:
    """Choose the node that may bootstrap a new Primary Component.

    Only called when no Primary Component runs.  Every node in ``expected``
    must have reported, unless the operator named one (``forced``).  The
    winner is the node with the highest seqno; a node whose position is
    unknown blocks the election (it might be the most advanced), as do nodes
    that disagree on the cluster uuid.
    """
    if forced is not None:
        if forced not in reports:
            return Decision(
                None, f"force-bootstrap names {forced}, which has not reported"
            )
        return Decision(
            forced, f"{forced} was named by the operator (force-bootstrap)", True
        )
    missing = [node for node in expected if node not in reports]
    if missing:
        return Decision(None, f"waiting for {', '.join(missing)} to report")
    mine = {node: reports[node] for node in expected}
    uuids = sorted({r.position.uuid for r in mine.values() if not r.position.empty})
    if len(uuids) > 1:
        detail = ", ".join(
            f"{n} {r.position.uuid}"
            for n, r in sorted(mine.items())
            if not r.position.empty
        )
        return Decision(
            None, f"nodes hold different clusters ({detail}); an operator must choose"
        )
    unknown = [
        n
        for n, r in sorted(mine.items())
        if not r.position.empty and not r.position.known
    ]
    if unknown:
        return Decision(None, f"position of {', '.join(unknown)} is unknown")
    winner = min(mine, key=lambda node: _rank(node, mine[node]))
    best = mine[winner].position
    if best.empty:
        return Decision(winner, f"no node holds data; {winner} creates the cluster")
    return Decision(winner, f"{winner} has the highest seqno ({best.seqno})")


def parse_cluster_address(text: str) -> list[str]:
    """Hosts of a ``gcomm://host[:port],host...[?options]`` address.

    Raises:
        ValueError: not a gcomm:// address or no host in it.
    """
    if not text.startswith("gcomm://"):
        raise ValueError(f"{text!r} does not start with gcomm://")
    body, _, options = text[len("gcomm://") :].partition("?")
    if options and not consists_of(options, _OPTION_CHARS):
        raise ValueError(f"{options!r} are not gcomm options (key=value&...)")
    hosts = [part.strip() for part in body.split(",") if part.strip()]
    if not hosts:
        raise ValueError(f"{text!r} names no host")
    for host in hosts:
        if not consists_of(host, _HOST_CHARS):
            raise ValueError(f"{host!r} is not a host[:port]")
    return hosts


def split_host_port(entry: str, default_port: int) -> tuple[str, int]:
    """``host[:port]`` of a gcomm address -> (host, port); IPv6 in brackets."""
    if entry.startswith("["):
        host, _, rest = entry[1:].partition("]")
        return host, int(rest[1:]) if rest.startswith(":") and rest[
            1:
        ].isdigit() else default_port
    host, sep, port = entry.rpartition(":")
    if sep and host and port.isdigit() and ":" not in host:
        return host, int(port)
    return entry, default_port


def _bare(host: str) -> str:
    """``host`` without a port (keeps bracketed IPv6 literals whole)."""
    if host.startswith("["):
        return host.split("]", 1)[0] + "]"
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def expected_nodes(address_hosts: list[str], host_map: dict[str, str]) -> list[str]:
    """Pacemaker nodes that must report: those whose host is in the address.

    Without a map, node names are the hosts of the address.
    """
    if not host_map:
        return sorted({_bare(h) for h in address_hosts})
    wanted = {h for h in address_hosts} | {_bare(h) for h in address_hosts}
    return sorted(
        node
        for node, host in host_map.items()
        if host in wanted or _bare(host) in wanted
    )
