"""corosync.conf from the same topology as the CIB: links, quorum, failover timing.

The cluster layer must be no single point of failure: each controller gets
one address per link (knet, ``link_mode: passive``: one link carries the
traffic, the others take over when it fails), messages are encrypted and
authenticated, quorum is votequorum with ``wait_for_all``.  How fast a dead
controller is noticed is the totem ``token``; the topology chooses it with a
``failover`` profile (or an explicit ``token``).  Corosync adds
``token_coefficient`` (650 ms unless the topology sets it) for each node above
two, and ``consensus`` follows corosync's own rule (1.2 x that effective token).

``build`` makes the model from a topology, ``render`` writes the file
(deterministic), ``parse`` reads one back (the round trip is tested), and
``check`` reports what the topology allows but the cluster layer should not
have:

Codes:
    HK701 warning  an even node count without a tie-breaker
    HK702 error    nodes with different numbers of links
    HK703 error    two links of one node on the same network (not redundant)
    HK704 error    a link address outside its link's network, or used twice
    HK705 warning  an effective token shorter than a busy network can carry
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from typing import Union

from cib_builder.checks import ERROR, WARNING, Problem
from cib_builder.topology import Topology

IPAddress = Union[ipaddress.IPv4Address, ipaddress.IPv6Address]

#: failover profile -> totem token in milliseconds.  ``fast`` suits a quiet
#: LAN (a dead node is noticed in about 1.65 s with 3 nodes, see bench/);
#: ``standard`` is corosync's own default; ``tolerant`` rides out seconds of
#: network trouble (virtualised or congested networks).
FAILOVER_PROFILES = {"fast": 1000, "standard": 3000, "tolerant": 10000}
DEFAULT_FAILOVER = "fast"
#: corosync's default: the token grows by this much for each node above two.
TOKEN_COEFFICIENT = 650
#: Below this a busy network's jitter alone can end a membership.
MIN_SAFE_TOKEN = 500
CIPHERS = ("aes256", "aes192", "aes128", "none")
HASHES = ("sha256", "sha384", "sha512", "sha1", "md5", "none")
DEFAULT_KEYFILE = "/etc/corosync/authkey"
DEFAULT_LOGFILE = "/var/log/corosync/corosync.log"


@dataclass(frozen=True)
class Node:
    """A node of the nodelist: name, id, one address per link."""

    name: str
    nodeid: int
    addresses: tuple[str, ...]


@dataclass(frozen=True)
class Corosync:
    """Everything corosync.conf says, as plain data."""

    cluster_name: str
    nodes: tuple[Node, ...]
    token: int
    consensus: int
    token_coefficient: int = TOKEN_COEFFICIENT
    link_mode: str = "passive"
    crypto_cipher: str = "aes256"
    crypto_hash: str = "sha256"
    keyfile: str = DEFAULT_KEYFILE
    two_node: bool = False
    wait_for_all: bool = True
    last_man_standing: bool = False
    logfile: str = DEFAULT_LOGFILE
    #: knet's link checks, in ms (see :func:`ping_timing`).
    knet_ping_interval: int = 0
    knet_ping_timeout: int = 0
    #: One network per link, in link order, as the topology names them.  Used
    #: by the checks; corosync itself does not need them.
    networks: tuple[str, ...] = field(default=(), compare=False)

    @property
    def links(self) -> int:
        """How many links the nodes have (the first node's count)."""
        return len(self.nodes[0].addresses) if self.nodes else 0

    @property
    def effective_token(self) -> int:
        """The token corosync computes: token + coefficient per node above 2."""
        return self.token + max(0, len(self.nodes) - 2) * self.token_coefficient

    @property
    def quorum(self) -> int:
        """Votes needed for quorum (votequorum, one vote per node)."""
        if self.two_node:
            return 1
        return len(self.nodes) // 2 + 1


def consensus_for(token: int, nodes: int, coefficient: int = TOKEN_COEFFICIENT) -> int:
    """Corosync's default consensus: 1.2 x the effective token, in ms."""
    effective = token + max(0, nodes - 2) * coefficient
    return int(effective * 1.2)


def ping_timing(
    token: int, nodes: int, coefficient: int = TOKEN_COEFFICIENT
) -> tuple[int, int]:
    """Knet's ping interval and timeout for a token: a quarter of it to notice.

    knet's defaults (effective token / 4 between pings, / 2 without a pong)
    notice a dead link after about 1.5 s with token 1000 and three nodes,
    which races the 1650 ms effective token (coefficient 650): in the lab,
    cutting one of two links sometimes re-formed the membership before knet
    moved to the other link.  Pinging every eighth of the effective token and
    giving up after a quarter moves the traffic well before the token can
    expire.
    """
    effective = token + max(0, nodes - 2) * coefficient
    return max(50, effective // 8), max(100, effective // 4)


def build(topology: Topology) -> Corosync:
    """The corosync configuration a topology implies."""
    spec = topology.corosync
    token = spec.token or FAILOVER_PROFILES[spec.failover]
    coefficient = (
        TOKEN_COEFFICIENT if spec.token_coefficient is None else spec.token_coefficient
    )
    nodes = tuple(
        Node(node.name, nodeid, node.links)
        for nodeid, node in enumerate(topology.nodes, start=1)
    )
    interval, ping_timeout = ping_timing(token, len(nodes), coefficient)
    return Corosync(
        cluster_name=topology.name,
        nodes=nodes,
        token=token,
        consensus=consensus_for(token, len(nodes), coefficient),
        token_coefficient=coefficient,
        crypto_cipher=spec.crypto_cipher,
        crypto_hash=spec.crypto_hash,
        keyfile=spec.keyfile,
        two_node=len(nodes) == 2,  # noqa: PLR2004 - votequorum's two-node mode
        # two_node needs wait_for_all: corosync turns it on with two_node.
        wait_for_all=spec.wait_for_all or len(nodes) == 2,  # noqa: PLR2004
        last_man_standing=spec.last_man_standing,
        logfile=spec.logfile,
        knet_ping_interval=interval,
        knet_ping_timeout=ping_timeout,
        networks=spec.networks,
    )


# -- checks --------------------------------------------------------------------


def check(model: Corosync) -> list[Problem]:
    """HK701-HK705, all of them, errors first."""
    problems: list[Problem] = []
    count = len(model.nodes)
    if count > 2 and count % 2 == 0:  # noqa: PLR2004
        problems.append(
            Problem(
                "HK701",
                WARNING,
                "nodes",
                f"{count} nodes and no tie-breaker (corosync-qdevice): half of "
                "them cut off from the other half leaves both without quorum",
            )
        )
    counts = {len(node.addresses) for node in model.nodes}
    if len(counts) > 1:
        detail = ", ".join(f"{n.name} {len(n.addresses)}" for n in model.nodes)
        problems.append(
            Problem("HK702", ERROR, "nodes", f"link counts differ: {detail}")
        )
    problems += _check_networks(model)
    # Corosync declares the token lost after the effective token, not ``token``.
    effective = model.effective_token
    if effective < MIN_SAFE_TOKEN:
        shown = f"{effective} ms"
        if effective != model.token:
            shown += (
                f" effective ({model.token} ms + {model.token_coefficient} ms"
                " per node above two)"
            )
        problems.append(
            Problem(
                "HK705",
                WARNING,
                "corosync.token",
                f"{shown}: below {MIN_SAFE_TOKEN} ms the jitter of a busy network "
                "can end a membership and fence a healthy node",
            )
        )
    return sorted(problems, key=lambda p: p.severity != ERROR)


def _check_networks(model: Corosync) -> list[Problem]:
    problems = []
    networks = [ipaddress.ip_network(n, strict=False) for n in model.networks]
    for i, first in enumerate(networks):
        problems += [
            Problem(
                "HK703",
                ERROR,
                "corosync.networks",
                f"links {i} and {j} share {first}: one switch or cable takes "
                "both down, so they are not redundant",
            )
            for j in range(i + 1, len(networks))
            if first.overlaps(networks[j])
        ]
    seen: dict[str, str] = {}
    for node in model.nodes:
        own = [ipaddress.ip_address(a) for a in node.addresses]
        for i, address in enumerate(own):
            if i < len(networks) and address not in networks[i]:
                problems.append(
                    Problem(
                        "HK704",
                        ERROR,
                        node.name,
                        f"link {i} address {address} is not on link {i}'s "
                        f"network {networks[i]}",
                    )
                )
            if not networks:
                # No networks declared: the common /24 (/64) is the guess.
                problems += [
                    Problem(
                        "HK703",
                        ERROR,
                        node.name,
                        f"links {i} and {j} ({address}, {own[j]}) look like one "
                        "network: not redundant (name each link's network in "
                        "corosync.networks if they are not)",
                    )
                    for j in range(i + 1, len(own))
                    if _same_subnet(address, own[j])
                ]
            other = seen.setdefault(str(address), node.name)
            if other != node.name:
                problems.append(
                    Problem("HK704", ERROR, node.name, f"{address} is also {other}'s")
                )
    return problems


def _same_subnet(first: IPAddress, second: IPAddress) -> bool:
    """The same /24 (IPv4) or /64 (IPv6)."""
    prefix = 24 if first.version == 4 else 64  # noqa: PLR2004
    return second in ipaddress.ip_network(f"{first}/{prefix}", strict=False)


# -- render --------------------------------------------------------------------


def _section(name: str, body: list[str], indent: str = "") -> list[str]:
    return [f"{indent}{name} {{", *body, f"{indent}}}"]


def render(model: Corosync) -> str:
    """corosync.conf for Corosync 3 (knet): deterministic, one key per line."""
    pad = "    "
    interfaces: list[str] = []
    for link in range(model.links):
        # Passive mode uses the link with the highest priority: link 0 first.
        interfaces += _section(
            "interface",
            [
                f"{pad * 2}linknumber: {link}",
                f"{pad * 2}knet_link_priority: {model.links - link}",
                f"{pad * 2}knet_ping_interval: {model.knet_ping_interval}",
                f"{pad * 2}knet_ping_timeout: {model.knet_ping_timeout}",
            ],
            pad,
        )
    totem = [
        f"{pad}version: 2",
        f"{pad}cluster_name: {model.cluster_name}",
        f"{pad}transport: knet",
        f"{pad}link_mode: {model.link_mode}",
        f"{pad}token: {model.token}",
        f"{pad}token_coefficient: {model.token_coefficient}",
        f"{pad}consensus: {model.consensus}",
        f"{pad}crypto_cipher: {model.crypto_cipher}",
        f"{pad}crypto_hash: {model.crypto_hash}",
    ]
    if model.crypto_cipher != "none" or model.crypto_hash != "none":
        totem.append(f"{pad}keyfile: {model.keyfile}")
    totem += interfaces
    nodelist: list[str] = []
    for node in model.nodes:
        body = [f"{pad * 2}name: {node.name}", f"{pad * 2}nodeid: {node.nodeid}"]
        body += [
            f"{pad * 2}ring{link}_addr: {address}"
            for link, address in enumerate(node.addresses)
        ]
        nodelist += _section("node", body, pad)
    quorum = [f"{pad}provider: corosync_votequorum"]
    quorum.append(f"{pad}wait_for_all: {int(model.wait_for_all)}")
    if model.two_node:
        quorum.append(f"{pad}two_node: 1")
    if model.last_man_standing:
        quorum.append(f"{pad}last_man_standing: 1")
    logging = [
        f"{pad}to_logfile: yes",
        f"{pad}logfile: {model.logfile}",
        f"{pad}to_syslog: yes",
        f"{pad}to_stderr: no",
        f"{pad}timestamp: hires",
    ]
    lines = [
        "# corosync.conf written by hakit-cib from the cluster's topology.",
        "# Change the topology and generate it again rather than editing it.",
        *_section("totem", totem),
        "",
        *_section("nodelist", nodelist),
        "",
        *_section("quorum", quorum),
        "",
        *_section("logging", logging),
    ]
    return "\n".join(lines) + "\n"


# -- parse ---------------------------------------------------------------------

_LINE = re.compile(r"^\s*(?:(?P<open>[A-Za-z_][\w.]*)\s*\{|(?P<close>\})|"
                   r"(?P<key>[A-Za-z_][\w.]*)\s*:\s*(?P<value>.*?))\s*$")  # fmt: skip


class ParseError(ValueError):
    """Text that is not a corosync.conf this module can read."""


Section = dict[str, "list[str | Section]"]


def _tree(text: str) -> Section:
    root: Section = {}
    stack = [root]
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0]
        if not line.strip():
            continue
        match = _LINE.match(line)
        if match is None:
            raise ParseError(f"line {number}: cannot read {raw.strip()!r}")
        if match["open"]:
            child: Section = {}
            stack[-1].setdefault(match["open"], []).append(child)
            stack.append(child)
        elif match["close"]:
            if len(stack) == 1:
                raise ParseError(f"line {number}: '}}' without a section")
            stack.pop()
        else:
            stack[-1].setdefault(match["key"], []).append(match["value"])
    if len(stack) != 1:
        raise ParseError("a section is not closed")
    return root


def _one(section: Section, key: str, default: str | None = None) -> str:
    values = section.get(key)
    if not values:
        if default is None:
            raise ParseError(f"{key} is missing")
        return default
    value = values[-1]
    if not isinstance(value, str):
        raise ParseError(f"{key} is a section, not a value")
    return value


def _sections(section: Section, key: str) -> list[Section]:
    return [v for v in section.get(key, []) if isinstance(v, dict)]


def parse(text: str) -> Corosync:
    """Read a corosync.conf written by :func:`render` back into the model.

    Raises:
        ParseError: the text is not such a file.
    """
    tree = _tree(text)
    (totem,) = _sections(tree, "totem") or [{}]
    (quorum,) = _sections(tree, "quorum") or [{}]
    (logging,) = _sections(tree, "logging") or [{}]
    interfaces = _sections(totem, "interface")
    first: Section = interfaces[0] if interfaces else {}
    nodes = []
    for nodelist in _sections(tree, "nodelist"):
        for node in _sections(nodelist, "node"):
            addresses = []
            link = 0
            while f"ring{link}_addr" in node:
                addresses.append(_one(node, f"ring{link}_addr"))
                link += 1
            nodes.append(
                Node(_one(node, "name"), int(_one(node, "nodeid")), tuple(addresses))
            )
    return Corosync(
        cluster_name=_one(totem, "cluster_name"),
        nodes=tuple(nodes),
        token=int(_one(totem, "token")),
        consensus=int(_one(totem, "consensus")),
        token_coefficient=int(_one(totem, "token_coefficient", str(TOKEN_COEFFICIENT))),
        link_mode=_one(totem, "link_mode", "passive"),
        crypto_cipher=_one(totem, "crypto_cipher", "none"),
        crypto_hash=_one(totem, "crypto_hash", "none"),
        keyfile=_one(totem, "keyfile", DEFAULT_KEYFILE),
        two_node=_one(quorum, "two_node", "0") == "1",
        wait_for_all=_one(quorum, "wait_for_all", "0") == "1",
        last_man_standing=_one(quorum, "last_man_standing", "0") == "1",
        logfile=_one(logging, "logfile", DEFAULT_LOGFILE),
        knet_ping_interval=int(_one(first, "knet_ping_interval", "0")),
        knet_ping_timeout=int(_one(first, "knet_ping_timeout", "0")),
    )
