"""Read a topology file (TOML) into validated, frozen dataclasses.

The topology says what the controller cluster is made of; the recipe turns it
into a CIB model.  Every mistake is reported with the path of the offending
field (``nodes[2].bmc.address``), all at once, in one :class:`TopologyError`.
Apart from :func:`load` reading its one file, nothing here does I/O.

The format::

    [cluster]
    name = "opnfv"            # required: letters, digits, - and _
    allow_two_node = false    # optional, default false
    fencing_delay = 0         # seconds, default 0; must be > 0 with two nodes

    [[nodes]]                 # 3 or more (an even count is a warning);
                              # exactly 2 only with allow_two_node = true
    name = "ctl1"             # unique, host-name syntax
    address = "192.168.77.11" # internal cluster address: IPv4 or IPv6, unique
    links = ["192.168.77.11", "192.168.88.11"]
                              # optional: one corosync link address each, the
                              # first is address; default: [address]
    [nodes.bmc]               # required: the first fencing level
    type = "ipmi"             # "ipmi" or "redfish"
    address = "10.20.0.11"    # IP address or host name
    port = 623                # optional: 623 for ipmi, 443 for redfish
    username = "admin"
    password_script = "/usr/local/bin/bmc-password ctl1"
    # password_file = "/etc/hakit/bmc/ctl1"   # exactly one of the two
    # ipmi only:    lanplus (default true), cipher (0-17, default 3; none
    #               without lanplus), privlvl (callback, user, operator,
    #               administrator; default administrator)
    # redfish only: systems_uri (starts with /redfish/v1/), ssl_insecure
    #               (default false), ssl_ca_file (absolute path)
    [nodes.fallback_bmc]      # optional second fencing level, same keys

    [[vips]]                  # optional, any number
    name = "public"           # unique: a-z, 0-9, _ and -
    address = "172.16.0.10"   # unique, not a node address
    prefix = 24               # 0-32 for IPv4, 0-128 for IPv6
    nic = "eth1"              # optional interface name

    [corosync]                # optional: the cluster layer (corosync.conf)
    failover = "fast"         # "fast" (token 1000 ms), "standard" (3000 ms,
                              # corosync's default) or "tolerant" (10000 ms)
    token = 1000              # milliseconds; overrides failover
    token_coefficient = 650   # milliseconds added to the token for each node
                              # above two (default 650, corosync's); 0 keeps
                              # the token fixed: a small cluster of fixed
                              # size on a quiet LAN
    networks = ["192.168.77.0/24", "192.168.88.0/24"]
                              # one network per link, in link order
    crypto_cipher = "aes256"  # aes256 (default), aes192, aes128 or none
    crypto_hash = "sha256"    # sha256 (default), sha384, sha512, sha1, md5, none
    keyfile = "/etc/corosync/authkey"   # the key itself is never here
    last_man_standing = false
    wait_for_all = true       # after a loss of quorum, resume only once every
                              # node has been seen; false: with a majority
    logfile = "/var/log/corosync/corosync.log"

    [services]                # every service is optional
    haproxy = "ocf"           # "ocf" (ocf:hakit:haproxy) or "systemd"; absent: none
    memcached = "systemd"     # "systemd"; absent: not deployed
    rabbitmq = true           # default false
    opendaylight = true       # default false; or, to add a VIP that
                              # follows the shard leader, a table:
    [services.opendaylight]   # present: deployed
    leader_vip = "odl"        # optional: a [[vips]] name; that VIP is placed
                              # with the member whose default config shard
                              # replica is Leader (node attribute
                              # odl-shard-role), not in front of HAProxy
    [services.galera]         # present: deployed
    cluster_address = "gcomm://192.168.77.11,192.168.77.12,192.168.77.13"
                              # optional; default: gcomm:// + node addresses
    [services.openstack]
    enable = ["keystone", "nova-api"]   # service agents, in this order

    [overrides.nova-api]      # an enabled OpenStack service, or a deployed
                              # galera, rabbitmq, opendaylight, haproxy, memcached
    params = { workers = "4" }              # string values, keys [a-z0-9_]
    timeouts = { start = 120, stop = 60 }   # seconds, per action: start, stop,
                              # monitor, notify; promote and demote for galera
    monitor_interval = 10     # seconds
    clone_max = 2             # 1 to the number of nodes

Passwords never go into the topology: ``password_script`` names a program
(run later without a shell, so its first word is an absolute path) that
prints the password; ``password_file`` names a file that holds it.
"""

from __future__ import annotations

import ipaddress
import os
import re
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cib_builder.toml_table import (
    FILE,
    Table,
    host,
    hostname,
    ip_address,
    matching,
    one_of,
    suggest,
    toml_type,
)
from cib_builder.toml_table import Problem as Problem  # noqa: PLC0414 - re-export
from fence_agents.ipmi import PRIVILEGES as IPMI_PRIVILEGES
from ha_common import kinds
from ocf_agents._runtime import registry
from ocf_agents.openstack.services import SERVICE_NAMES

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib  # type: ignore[import-not-found, unused-ignore]

if TYPE_CHECKING:
    from collections.abc import Mapping

    from ocf_agents._runtime.spec import Param

IPMI = "ipmi"
REDFISH = "redfish"
BMC_TYPES = (IPMI, REDFISH)
DEFAULT_PORTS = {IPMI: 623, REDFISH: 443}
#: What fence_hakit_ipmi accepts as privlvl: its declaration is the truth.
PRIVILEGE_LEVELS = IPMI_PRIVILEGES
HAPROXY_MANAGERS = ("systemd", "ocf")
MEMCACHED_MANAGERS = ("systemd",)
#: Resources besides the OpenStack services that an override may name.
INFRASTRUCTURE = ("galera", "rabbitmq", "opendaylight", "haproxy", "memcached")
ACTIONS = ("start", "stop", "monitor", "promote", "demote", "notify")
PROMOTABLE = ("galera",)
#: ODL manages Open vSwitch itself; the OVS agent would fight it for the bridges.
REPLACED_BY_OPENDAYLIGHT = ("neutron-openvswitch-agent",)

_ROOT_KEYS = ("cluster", "nodes", "vips", "services", "overrides", "corosync")
_CLUSTER_KEYS = ("name", "allow_two_node", "fencing_delay")
_NODE_KEYS = ("name", "address", "links", "bmc", "fallback_bmc")
_COROSYNC_KEYS = (
    "failover",
    "token",
    "token_coefficient",
    "networks",
    "crypto_cipher",
    "crypto_hash",
    "keyfile",
    "last_man_standing",
    "wait_for_all",
    "logfile",
)
#: failover profiles of cib_builder.corosync (the token each one means is there).
FAILOVER = ("fast", "standard", "tolerant")
CIPHERS = ("aes256", "aes192", "aes128", "none")
HASHES = ("sha256", "sha384", "sha512", "sha1", "md5", "none")
_BMC_KEYS = ("type", "address", "port", "username", "password_script", "password_file")
_IPMI_KEYS = ("lanplus", "cipher", "privlvl")
_REDFISH_KEYS = ("systems_uri", "ssl_insecure", "ssl_ca_file")
_VIP_KEYS = ("name", "address", "prefix", "nic")
_SERVICES_KEYS = (
    "haproxy",
    "memcached",
    "galera",
    "rabbitmq",
    "opendaylight",
    "openstack",
)
_GALERA_KEYS = ("cluster_address",)
_OPENDAYLIGHT_KEYS = ("leader_vip",)
_OPENSTACK_KEYS = ("enable",)
_OVERRIDE_KEYS = ("params", "timeouts", "monitor_interval", "clone_max")

_NO_PASSWORD = (
    "passwords never go into the topology: use password_script or password_file"
)
_IPMI_USER_MAX = 16  # IPMI 2.0 user names are at most 16 bytes

_PARAM_RE = re.compile(r"^[a-z0-9_]+$")


class TopologyError(Exception):
    """A topology file that cannot be used, with every problem found in it."""

    def __init__(self, source: str, problems: tuple[Problem, ...]) -> None:
        """Keep the file name and the problems.

        Args:
            source: the file name (or ``<string>``) the problems refer to.
            problems: every problem found, in file order.
        """
        super().__init__(source, problems)
        self.source = source
        self.problems = problems

    def __str__(self) -> str:
        """Render one ``<source>: <path>: <message>`` line per problem."""
        return "\n".join(f"{self.source}: {problem}" for problem in self.problems)


@dataclass(frozen=True)
class Bmc:
    """A node's baseboard management controller: one fencing device.

    ``lanplus``, ``cipher`` and ``privlvl`` apply to IPMI, ``systems_uri``,
    ``ssl_insecure`` and ``ssl_ca_file`` to Redfish; the others keep their
    defaults.  ``cipher`` is None for IPMI without lanplus.
    """

    type: str
    address: str
    port: int
    username: str
    password_script: str | None
    password_file: str | None
    lanplus: bool = True
    cipher: int | None = 3
    privlvl: str = "administrator"
    systems_uri: str | None = None
    ssl_insecure: bool = False
    ssl_ca_file: str | None = None


@dataclass(frozen=True)
class NodeSpec:
    """A controller: its cluster name, addresses and fencing devices.

    ``links`` holds one address per corosync link; the first is ``address``.
    """

    name: str
    address: str
    bmc: Bmc
    fallback_bmc: Bmc | None
    links: tuple[str, ...] = ()


@dataclass(frozen=True)
class CorosyncSpec:
    """The cluster layer's settings (see :mod:`cib_builder.corosync`).

    ``token`` (milliseconds) is set only when the file gives one; otherwise
    the ``failover`` profile decides.  ``token_coefficient`` (milliseconds)
    likewise: None means corosync's default.
    """

    failover: str = "fast"
    token: int | None = None
    token_coefficient: int | None = None
    networks: tuple[str, ...] = ()
    crypto_cipher: str = "aes256"
    crypto_hash: str = "sha256"
    keyfile: str = "/etc/corosync/authkey"
    last_man_standing: bool = False
    wait_for_all: bool = True
    logfile: str = "/var/log/corosync/corosync.log"


@dataclass(frozen=True)
class Vip:
    """A virtual IP address in front of HAProxy."""

    name: str
    address: str
    prefix: int
    nic: str | None


@dataclass(frozen=True)
class GaleraSpec:
    """The Galera cluster, deployed when present."""

    cluster_address: str


@dataclass(frozen=True)
class Override:
    """Changes to one resource's defaults: parameters, timeouts, meta."""

    params: tuple[tuple[str, str], ...] = ()
    timeouts: tuple[tuple[str, int], ...] = ()
    monitor_interval: int | None = None
    clone_max: int | None = None


@dataclass(frozen=True)
class Topology:
    """A whole controller cluster, validated.

    Attributes:
        source: the file it was read from.
        haproxy: ``systemd`` or ``ocf``; None when HAProxy is not deployed.
        memcached: ``systemd``; None when memcached is not deployed.
        openstack: the enabled OpenStack service agents, in the file's order.
        overrides: resource name -> override, in the file's order.
        warnings: what is allowed but unwise, such as an even node count.
    """

    source: str
    name: str
    allow_two_node: bool
    fencing_delay: int
    nodes: tuple[NodeSpec, ...]
    vips: tuple[Vip, ...]
    haproxy: str | None
    memcached: str | None
    galera: GaleraSpec | None
    rabbitmq: bool
    opendaylight: bool
    openstack: tuple[str, ...]
    overrides: tuple[tuple[str, Override], ...]
    warnings: tuple[Problem, ...]
    corosync: CorosyncSpec = CorosyncSpec()
    #: The VIP (by name) that follows the OpenDaylight shard leader, if any.
    odl_leader_vip: str | None = None

    def override(self, name: str) -> Override | None:
        """Return the override of resource ``name``, if the file has one."""
        for key, value in self.overrides:
            if key == name:
                return value
        return None


def load(path: str | os.PathLike[str]) -> Topology:
    """Read and validate the topology file at ``path``.

    Raises:
        TopologyError: the file cannot be read, is not TOML, or is not a
            valid topology; every problem is listed.
    """
    source = os.fspath(path)
    try:
        with open(source, "rb") as stream:
            raw = stream.read()
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise TopologyError(
            source, (Problem(FILE, f"cannot read: {reason}"),)
        ) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        problem = Problem(FILE, f"not UTF-8 text (byte {exc.start})")
        raise TopologyError(source, (problem,)) from None
    return parse(text, source)


def parse(text: str, source: str = "<string>") -> Topology:
    """Validate the topology in ``text``; ``source`` names it in messages.

    Raises:
        TopologyError: the text is not TOML or not a valid topology; every
            problem is listed.
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise TopologyError(source, (Problem(FILE, str(exc)),)) from None
    except RecursionError:
        raise TopologyError(source, (Problem(FILE, "nested too deeply"),)) from None
    reader = _Reader()
    topology = reader.topology(data, source)
    if reader.problems or topology is None:
        raise TopologyError(source, tuple(reader.problems))
    return topology


# -- helpers -------------------------------------------------------------------


def _username(value: str) -> str:
    kinds.to_string(value)
    if not value:
        raise ValueError("is empty")
    return value


def _password_script(value: str) -> str:
    words = kinds.to_args(value)
    if not words:
        raise ValueError("is empty")
    try:
        kinds.to_path(words[0])
    except ValueError as exc:
        raise ValueError(f"runs without a shell: {exc}") from None
    return value


def _gcomm(value: str) -> str:
    if not value.startswith("gcomm://"):
        raise ValueError("must start with gcomm://")
    members = value[len("gcomm://") :]
    if not members:
        raise ValueError(
            "gcomm:// without members would bootstrap a new cluster on every start"
        )
    if any(c.isspace() for c in value) or "" in members.split("?")[0].split(","):
        raise ValueError("members are comma-separated addresses without spaces")
    return value


def _gcomm_member(address: str) -> str:
    return f"[{address}]" if ":" in address else address


# -- reading -------------------------------------------------------------------


class _Reader:
    """Builds a Topology from parsed TOML, collecting every problem."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []
        self.warnings: list[Problem] = []
        self._node_names: dict[str, str] = {}
        self._node_addresses: dict[str, str] = {}
        self._vip_names: dict[str, str] = {}
        self._leader_vip_path = "services.opendaylight.leader_vip"
        self._vip_addresses: dict[str, str] = {}
        self._bmcs: dict[tuple[str, str, int, str | None], tuple[int, str]] = {}

    def error(self, path: str, message: str) -> None:
        self.problems.append(Problem(path, message))

    def warn(self, path: str, message: str) -> None:
        self.warnings.append(Problem(path, message))

    def topology(self, data: Mapping[str, object], source: str) -> Topology | None:
        root = Table(self, data, "", _ROOT_KEYS)
        cluster = root.table("cluster", _CLUSTER_KEYS, required=True)
        name: str | None = None
        allow_two_node = False
        fencing_delay: int | None = 0
        if cluster is not None:
            check = matching(r"^[A-Za-z0-9_-]+$", "use only letters, digits, - and _")
            name = cluster.text("name", check, required=True)
            allow_two_node = cluster.boolean("allow_two_node", False)
            if cluster.has("fencing_delay"):
                fencing_delay = cluster.integer("fencing_delay", 0)
        node_tables = root.tables("nodes", _NODE_KEYS, required=True)
        nodes = [
            self.node(table, index)
            for index, table in enumerate(node_tables)
            if table is not None
        ]
        if isinstance(root.data.get("nodes"), list):
            self.node_count(len(node_tables), allow_two_node, fencing_delay)
        vips = [
            self.vip(table)
            for table in root.tables("vips", _VIP_KEYS)
            if table is not None
        ]
        services = self.services(root)
        overrides = self.overrides(root, services, len(node_tables))
        corosync = self.corosync(root)
        if corosync.networks:
            for position, table in enumerate(node_tables):
                items = table.data.get("links") if table is not None else None
                count = len(items) if isinstance(items, list) else 1
                if count != len(corosync.networks):
                    self.error(
                        f"nodes[{position}].links",
                        f"{count} link(s), but corosync.networks names "
                        f"{len(corosync.networks)}",
                    )
        leader_vip = services.odl_leader_vip
        if leader_vip is not None and leader_vip not in self._vip_names:
            self.error(
                self._leader_vip_path,
                f"no [[vips]] entry is named {leader_vip!r}; "
                + suggest(leader_vip, tuple(self._vip_names)),
            )
        if self.problems or name is None:
            return None
        addresses = [node.address for node in nodes if node is not None]
        galera = services.galera
        if galera is not None and not galera.cluster_address:
            members = ",".join(_gcomm_member(a) for a in addresses)
            galera = GaleraSpec("gcomm://" + members)
        return Topology(
            source=source,
            name=name,
            allow_two_node=allow_two_node,
            fencing_delay=fencing_delay or 0,
            nodes=tuple(node for node in nodes if node is not None),
            vips=tuple(vip for vip in vips if vip is not None),
            haproxy=services.haproxy,
            memcached=services.memcached,
            galera=galera,
            rabbitmq=services.rabbitmq,
            opendaylight=services.opendaylight,
            odl_leader_vip=services.odl_leader_vip,
            openstack=services.openstack,
            overrides=overrides,
            warnings=tuple(self.warnings),
            corosync=corosync,
        )

    # -- nodes ---------------------------------------------------------------

    def node(self, table: Table, index: int) -> NodeSpec | None:
        name = table.text("name", hostname, required=True)
        if name is not None:
            first = self._node_names.setdefault(name.lower(), table.sub("name"))
            if first != table.sub("name"):
                table.error("name", f"duplicate of {first}")
        address = table.text("address", ip_address, required=True)
        if address is not None:
            self.node_address(table, address)
        links = self.links(table, address)
        bmc = self.bmc(table, "bmc", index, required=True)
        fallback = self.bmc(table, "fallback_bmc", index, required=False)
        if (
            bmc is not None
            and fallback is not None
            and _bmc_key(bmc) == _bmc_key(fallback)
        ):
            self.warn(table.sub("fallback_bmc"), "is the same device as bmc")
        if name is None or address is None or bmc is None:
            return None
        return NodeSpec(name, address, bmc, fallback, links)

    def links(self, table: Table, address: str | None) -> tuple[str, ...]:
        """Every link address of a node: ``links``, else just ``address``."""
        items = table.array("links")
        if items is None:
            return (address,) if address else ()
        found: list[str] = []
        for position, item in enumerate(items):
            path = f"{table.sub('links')}[{position}]"
            if not isinstance(item, str):
                self.error(path, f"expected a string, got {toml_type(item)}")
                continue
            try:
                found.append(ip_address(item))
            except ValueError as exc:
                self.error(path, str(exc))
        if not items:
            self.error(table.sub("links"), "lists no address")
        elif found and address and found[0] != address:
            self.error(
                f"{table.sub('links')}[0]",
                f"{found[0]} is not the node's address {address}: "
                "the first link is the address",
            )
        if len(set(found)) != len(found):
            self.error(table.sub("links"), "lists an address twice")
        return tuple(found)

    def corosync(self, root: Table) -> CorosyncSpec:
        """The [corosync] table, every key optional."""
        table = root.table("corosync", _COROSYNC_KEYS)
        if table is None:
            return CorosyncSpec()
        defaults = CorosyncSpec()
        networks: list[str] = []
        for position, item in enumerate(table.array("networks") or []):
            path = f"{table.sub('networks')}[{position}]"
            try:
                if not isinstance(item, str):
                    raise ValueError(f"expected a string, got {toml_type(item)}")
                networks.append(str(ipaddress.ip_network(item, strict=True)))
            except ValueError as exc:
                self.error(path, f"not a network like 192.168.77.0/24: {exc}")
        cipher = table.text("crypto_cipher", one_of(*CIPHERS))
        digest = table.text("crypto_hash", one_of(*HASHES))
        if (cipher or defaults.crypto_cipher) != "none" and digest == "none":
            table.error("crypto_hash", "an encrypted link needs a hash too")
        return CorosyncSpec(
            failover=table.text("failover", one_of(*FAILOVER)) or defaults.failover,
            token=table.integer("token", 100, 60000),
            token_coefficient=table.integer("token_coefficient", 0, 10000),
            networks=tuple(networks),
            crypto_cipher=cipher or defaults.crypto_cipher,
            crypto_hash=digest or defaults.crypto_hash,
            keyfile=table.text("keyfile", kinds.to_path) or defaults.keyfile,
            last_man_standing=table.boolean("last_man_standing", False),
            wait_for_all=table.boolean("wait_for_all", True),
            logfile=table.text("logfile", kinds.to_path) or defaults.logfile,
        )

    def node_address(self, table: Table, address: str) -> None:
        first = self._node_addresses.setdefault(address, table.sub("address"))
        if first != table.sub("address"):
            table.error("address", f"duplicate of {first}")
            return
        version = ipaddress.ip_address(address).version
        for other, path in self._node_addresses.items():
            if ipaddress.ip_address(other).version != version:
                table.error(
                    "address",
                    f"IPv{version} while {path} is not: the cluster links of "
                    "all nodes use one address family",
                )
                return

    def node_count(self, count: int, two_node: bool, delay: int | None) -> None:
        if count < 2:
            self.error(
                "nodes",
                f"{count} node(s): a cluster needs 3 or more "
                "(2 with cluster.allow_two_node = true)",
            )
        elif count == 2 and not two_node:
            self.error(
                "nodes",
                "2 nodes need cluster.allow_two_node = true and a fencing_delay; "
                "3 or more are recommended",
            )
        elif count == 2 and delay == 0:
            self.error(
                "cluster.fencing_delay",
                "must be more than 0 with two nodes, so that they do not fence "
                "each other at the same time",
            )
        elif count > 2 and count % 2 == 0:
            self.warn(
                "nodes",
                f"{count} nodes: an even count tolerates no more failures than "
                f"{count - 1} and can split in halves without quorum",
            )
        if two_node and count > 2:
            self.warn("cluster.allow_two_node", f"has no effect with {count} nodes")

    def bmc(self, parent: Table, key: str, node: int, *, required: bool) -> Bmc | None:
        raw = parent.data.get(key)
        declared = raw.get("type") if isinstance(raw, dict) else None
        hints = {"password": _NO_PASSWORD, "passwd": _NO_PASSWORD}
        allowed: tuple[str, ...] = _BMC_KEYS + _IPMI_KEYS + _REDFISH_KEYS
        for own_type, own, other_type, other in (
            (IPMI, _IPMI_KEYS, REDFISH, _REDFISH_KEYS),
            (REDFISH, _REDFISH_KEYS, IPMI, _IPMI_KEYS),
        ):
            if declared == own_type:
                allowed = _BMC_KEYS + own
                hints.update(dict.fromkeys(other, f"applies to {other_type} BMCs only"))
        table = parent.table(key, allowed, required=required, hints=hints)
        if table is None:
            return None
        bmc_type = table.text("type", one_of(*BMC_TYPES), required=True)
        address = table.text("address", host, required=True)
        port = table.integer("port", 1, 65535)
        username = table.text("username", _username, required=True)
        script = table.text("password_script", _password_script)
        password_file = table.text("password_file", kinds.to_path)
        if table.has("password_script") and table.has("password_file"):
            self.error(table.path, "set only one of password_script and password_file")
        elif not table.has("password_script") and not table.has("password_file"):
            self.error(table.path, "set password_script or password_file")
        if bmc_type == IPMI and username and len(username.encode()) > _IPMI_USER_MAX:
            table.error(
                "username", f"IPMI user names have at most {_IPMI_USER_MAX} bytes"
            )
        lanplus = table.boolean("lanplus", True)
        cipher = table.integer("cipher", 0, 17)
        if not lanplus and table.has("cipher"):
            table.error("cipher", "cipher suites need lanplus = true")
        privlvl = table.text("privlvl", one_of(*PRIVILEGE_LEVELS))
        systems_uri = table.text(
            "systems_uri",
            matching(
                r"^/redfish/v1/[A-Za-z0-9._~/%-]*$", "must start with /redfish/v1/"
            ),
        )
        ssl_insecure = table.boolean("ssl_insecure", False)
        ssl_ca_file = table.text("ssl_ca_file", kinds.to_path)
        if ssl_insecure and table.has("ssl_ca_file"):
            table.error("ssl_ca_file", "is not used with ssl_insecure = true")
        if bmc_type is None or address is None or username is None:
            return None
        if table.has("port") and port is None:
            return None
        bmc = Bmc(
            type=bmc_type,
            address=address,
            port=port or DEFAULT_PORTS[bmc_type],
            username=username,
            password_script=script,
            password_file=password_file,
            lanplus=lanplus,
            cipher=(3 if lanplus else None) if cipher is None else cipher,
            privlvl=privlvl or "administrator",
            systems_uri=systems_uri,
            ssl_insecure=ssl_insecure,
            ssl_ca_file=ssl_ca_file,
        )
        first = self._bmcs.setdefault(_bmc_key(bmc), (node, table.path))
        if first[0] != node:
            self.error(
                table.path,
                f"same device as {first[1]}: fencing one node would cut the "
                "power of the other",
            )
        return bmc

    # -- vips ----------------------------------------------------------------

    def vip(self, table: Table) -> Vip | None:
        name = table.text(
            "name", matching(r"^[a-z0-9_-]+$", "use only a-z, 0-9, _ and -"), True
        )
        address = table.text("address", ip_address, required=True)
        high = 128
        if address is not None:
            high = 32 if ipaddress.ip_address(address).version == 4 else 128
            node = self._node_addresses.get(address)
            if node is not None:
                table.error("address", f"is the address of {node}")
        prefix = table.integer("prefix", 0, high, required=True)
        nic = table.text(
            "nic",
            matching(r"^(?!\.\.?$)[A-Za-z0-9_.-]{1,15}$", "not an interface name"),
        )
        for key, value, seen in (
            ("name", name, self._vip_names),
            ("address", address, self._vip_addresses),
        ):
            if value is None:
                continue
            first = seen.setdefault(value, table.sub(key))
            if first != table.sub(key):
                table.error(key, f"duplicate of {first}")
        if name is None or address is None or prefix is None:
            return None
        return Vip(name, address, prefix, nic)

    # -- services ------------------------------------------------------------

    def services(self, root: Table) -> _Services:
        found = _Services()
        table = root.table("services", _SERVICES_KEYS)
        if table is None:
            return found
        found.haproxy = table.text("haproxy", one_of(*HAPROXY_MANAGERS))
        found.memcached = table.text("memcached", one_of(*MEMCACHED_MANAGERS))
        found.rabbitmq = table.boolean("rabbitmq", False)
        if isinstance(table.data.get("opendaylight"), dict):
            odl = table.table("opendaylight", _OPENDAYLIGHT_KEYS)
            found.opendaylight = odl is not None
            if odl is not None:
                found.odl_leader_vip = odl.text("leader_vip")
                self._leader_vip_path = odl.sub("leader_vip")
        else:
            found.opendaylight = table.boolean("opendaylight", False)
        galera = table.table("galera", _GALERA_KEYS)
        if galera is not None:
            address = galera.text("cluster_address", _gcomm)
            found.galera = GaleraSpec(address or "")
        openstack = table.table("openstack", _OPENSTACK_KEYS)
        if openstack is not None:
            found.openstack = self.openstack(openstack, found.opendaylight)
        return found

    def openstack(self, table: Table, opendaylight: bool) -> tuple[str, ...]:
        names = table.array("enable", required=True) or []
        enabled: list[str] = []
        for index, name in enumerate(names):
            path = f"{table.sub('enable')}[{index}]"
            if not isinstance(name, str):
                self.error(path, f"expected a string, got {toml_type(name)}")
            elif name not in SERVICE_NAMES:
                self.error(path, "unknown service; " + suggest(name, SERVICE_NAMES))
            elif name in enabled:
                self.error(path, f"{name} is enabled twice")
            elif opendaylight and name in REPLACED_BY_OPENDAYLIGHT:
                self.error(path, f"{name} conflicts with opendaylight")
            else:
                enabled.append(name)
        return tuple(enabled)

    # -- overrides -----------------------------------------------------------

    def overrides(
        self, root: Table, services: _Services, node_count: int
    ) -> tuple[tuple[str, Override], ...]:
        value = root.data.get("overrides")
        table = root.table("overrides", tuple(value) if isinstance(value, dict) else ())
        if table is None:
            return ()
        deployed = services.deployed()
        result: list[tuple[str, Override]] = []
        for name in table.data:
            if name in deployed:
                pass
            elif name in INFRASTRUCTURE:
                table.error(name, f"{name} is not deployed (see services.{name})")
            elif name in SERVICE_NAMES:
                table.error(name, f"{name} is not in services.openstack.enable")
            else:
                table.error(name, "unknown resource; " + suggest(name, deployed))
            entry = table.table(name, _OVERRIDE_KEYS)
            if entry is not None:
                manager = {"haproxy": services.haproxy, "memcached": services.memcached}
                systemd = manager.get(name) == "systemd"
                result.append((name, self.override(entry, name, systemd, node_count)))
        return tuple(result)

    def override(
        self, table: Table, name: str, systemd: bool, node_count: int
    ) -> Override:
        params = self.params(table, name, systemd)
        timeouts: list[tuple[str, int]] = []
        actions = table.table("timeouts", ACTIONS)
        if actions is not None:
            for action in actions.data:
                if action not in ACTIONS:
                    continue  # reported as an unknown key
                seconds = actions.integer(action, 1)
                if action in ("promote", "demote") and name not in PROMOTABLE:
                    actions.error(action, f"{name} is not promotable")
                elif seconds is not None:
                    timeouts.append((action, seconds))
        return Override(
            params=params,
            timeouts=tuple(timeouts),
            monitor_interval=table.integer("monitor_interval", 1),
            clone_max=table.integer("clone_max", 1, max(node_count, 1)),
        )

    def params(
        self, table: Table, name: str, systemd: bool
    ) -> tuple[tuple[str, str], ...]:
        value = table.data.get("params")
        params = table.table("params", tuple(value) if isinstance(value, dict) else ())
        if params is None:
            return ()
        if systemd and params.data:
            table.error("params", "systemd resources take no parameters")
        declared: dict[str, Param] = {}
        if registry.exists(name) and not systemd:
            declared = {param.name: param for param in registry.spec(name).params}
        result: list[tuple[str, str]] = []
        for key in params.data:
            text = params.text(key, required=True)
            if not _PARAM_RE.match(key):
                params.error(key, "parameter names use only a-z, 0-9 and _")
            elif declared and key not in declared:
                known = tuple(declared)
                params.error(key, f"not a parameter of {name}; {suggest(key, known)}")
            elif text is not None and key in declared:
                self.check_param(params, key, text, declared[key])
            if text is not None:
                result.append((key, text))
        return tuple(result)

    def check_param(self, table: Table, key: str, text: str, param: Param) -> None:
        """Convert and check a value exactly as the agent will."""
        if param.secret:
            table.error(key, "secrets never go into the topology")
            return
        try:
            value = param.kind.convert(text)
            if param.check is not None:
                param.check(value)
        except ValueError as exc:
            table.error(key, str(exc))


def _bmc_key(bmc: Bmc) -> tuple[str, str, int, str | None]:
    return (bmc.type, bmc.address.lower(), bmc.port, bmc.systems_uri)


class _Services:
    """The services section as read, before it is spread over the Topology."""

    def __init__(self) -> None:
        self.haproxy: str | None = None
        self.memcached: str | None = None
        self.galera: GaleraSpec | None = None
        self.rabbitmq = False
        self.opendaylight = False
        self.odl_leader_vip: str | None = None
        self.openstack: tuple[str, ...] = ()

    def deployed(self) -> tuple[str, ...]:
        """Names an override may refer to."""
        infra = {
            "galera": self.galera is not None,
            "rabbitmq": self.rabbitmq,
            "opendaylight": self.opendaylight,
            "haproxy": self.haproxy is not None,
            "memcached": self.memcached is not None,
        }
        return self.openstack + tuple(name for name in INFRASTRUCTURE if infra[name])
