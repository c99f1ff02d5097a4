"""Topology files: the example, the defaults, and every rule by problem path."""

from __future__ import annotations

import copy
import json
import re
from collections import Counter
from pathlib import Path

import pytest

from cib_builder import topology
from cib_builder.topology import (
    Bmc,
    GaleraSpec,
    NodeSpec,
    Override,
    Problem,
    Topology,
    TopologyError,
    Vip,
)

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "opnfv-3-controllers.toml"
CASES = Path(__file__).resolve().parent / "topology_cases"
DELETE = object()


class Raw(str):
    """TOML text written as is (dates, floats)."""


def _key(key: str) -> str:
    return key if re.match(r"^[A-Za-z0-9_-]+$", key) else json.dumps(key)


def _value(value: object) -> str:
    if isinstance(value, Raw):
        return str(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_value(item) for item in value) + "]"
    assert isinstance(value, dict)
    pairs = (f"{_key(k)} = {_value(v)}" for k, v in value.items())
    return "{" + ", ".join(pairs) + "}"


def dumps(doc: dict) -> str:
    """Write a document as TOML, every table inline (same meaning, short code)."""
    return "\n".join(f"{_key(k)} = {_value(v)}" for k, v in doc.items()) + "\n"


def node(i: int, **bmc: object) -> dict:
    fields = {
        "type": "ipmi",
        "address": f"10.20.0.1{i}",
        "username": "admin",
        "password_file": f"/etc/hakit/bmc/ctl{i}",
    }
    fields.update(bmc)
    return {"name": f"ctl{i}", "address": f"192.168.77.1{i}", "bmc": fields}


def base() -> dict:
    """A valid three-node topology that every case changes in one place."""
    return {
        "cluster": {"name": "test"},
        "nodes": [node(1), node(2), node(3)],
        "vips": [{"name": "public", "address": "172.16.0.10", "prefix": 24}],
        "services": {
            "haproxy": "systemd",
            "rabbitmq": True,
            "galera": {},
            "openstack": {"enable": ["keystone", "nova-api"]},
        },
    }


def change(doc: dict, path: str, value: object) -> None:
    """Set (or with DELETE remove) the value at a dotted path; digits index lists.

    Missing tables on the way are created.
    """
    *parents, last = path.split(".")
    target: object = doc
    for part in parents:
        if isinstance(target, list):
            target = target[int(part)]
        else:
            target = target.setdefault(part, {})
    if isinstance(target, list):
        target[int(last)] = value
    elif value is DELETE:
        del target[last]
    else:
        target[last] = value


def parse_with(*changes: tuple[str, object]) -> Topology:
    doc = base()
    for path, value in changes:
        change(doc, path, value)
    return topology.parse(dumps(doc))


def paths(problems: tuple[Problem, ...]) -> Counter[str]:
    return Counter(problem.path for problem in problems)


# -- the example ------------------------------------------------------------------


def _ipmi(i: int) -> Bmc:
    return Bmc(
        type="ipmi",
        address=f"10.20.0.1{i}",
        port=623,
        username="admin",
        password_script=f"/usr/local/bin/bmc-password ctl{i}",
        password_file=None,
        lanplus=True,
        cipher=3,
        privlvl="administrator",
    )


def test_example_parses_to_the_expected_dataclasses():
    redfish = Bmc(
        type="redfish",
        address="10.20.0.13",
        port=443,
        username="admin",
        password_script="/usr/local/bin/bmc-password ctl3",
        password_file=None,
        systems_uri="/redfish/v1/Systems/1",
        ssl_ca_file="/etc/hakit/bmc-ca.pem",
    )
    expected = Topology(
        source=str(EXAMPLE),
        name="opnfv",
        allow_two_node=False,
        fencing_delay=0,
        nodes=(
            NodeSpec("ctl1", "192.168.77.11", _ipmi(1), None, ("192.168.77.11",)),
            NodeSpec("ctl2", "192.168.77.12", _ipmi(2), None, ("192.168.77.12",)),
            NodeSpec("ctl3", "192.168.77.13", redfish, None, ("192.168.77.13",)),
        ),
        vips=(
            Vip("public", "172.16.0.10", 24, "eth2"),
            Vip("internal", "192.168.77.10", 24, "eth1"),
            Vip("admin", "192.168.0.10", 24, "eth0"),
        ),
        haproxy="systemd",
        memcached="systemd",
        galera=GaleraSpec("gcomm://192.168.77.11,192.168.77.12,192.168.77.13"),
        rabbitmq=True,
        opendaylight=True,
        openstack=(
            "keystone",
            "glance-api",
            "placement-api",
            "nova-api",
            "nova-scheduler",
            "nova-conductor",
            "nova-novncproxy",
            "neutron-server",
            "neutron-dhcp-agent",
            "neutron-l3-agent",
            "neutron-metadata-agent",
            "cinder-api",
            "cinder-scheduler",
            "cinder-volume",
            "heat-api",
            "heat-api-cfn",
            "heat-engine",
        ),
        overrides=(
            ("nova-api", Override(timeouts=(("start", 120),))),
            (
                "rabbitmq",
                Override(
                    params=(
                        ("management_url", "http://127.0.0.1:15672"),
                        (
                            "management_credentials",
                            "/etc/rabbitmq/hakit-monitor.credentials",
                        ),
                    )
                ),
            ),
            (
                "opendaylight",
                Override(
                    params=(
                        ("home", "/opt/opendaylight"),
                        ("user", "odl"),
                        (
                            "credentials",
                            "/etc/opendaylight/hakit-monitor.credentials",
                        ),
                    )
                ),
            ),
        ),
        warnings=(),
    )
    assert topology.load(EXAMPLE) == expected
    assert topology.load(str(EXAMPLE)) == expected


def test_parse_of_text_names_its_source():
    text = EXAMPLE.read_text(encoding="utf-8")
    assert topology.parse(text).source == "<string>"
    assert topology.parse(text, "mine.toml").source == "mine.toml"


def test_dataclasses_are_frozen_and_hashable():
    topo = topology.load(EXAMPLE)
    with pytest.raises(AttributeError):
        topo.name = "other"  # type: ignore[misc]
    assert hash(topo) == hash(topology.load(EXAMPLE))


# -- defaults -----------------------------------------------------------------------


def test_defaults():
    doc = base()
    doc["nodes"][2]["bmc"] = {
        "type": "redfish",
        "address": "bmc3.example.org",
        "username": "admin",
        "password_file": "/etc/hakit/bmc/ctl3",
    }
    del doc["vips"]
    del doc["services"]
    topo = topology.parse(dumps(doc))
    ipmi, redfish = topo.nodes[0].bmc, topo.nodes[2].bmc
    assert (ipmi.port, ipmi.lanplus, ipmi.cipher, ipmi.privlvl) == (
        623,
        True,
        3,
        "administrator",
    )
    assert (redfish.port, redfish.systems_uri, redfish.ssl_insecure) == (
        443,
        None,
        False,
    )
    assert redfish.ssl_ca_file is None
    assert topo.nodes[0].fallback_bmc is None
    assert (topo.allow_two_node, topo.fencing_delay) == (False, 0)
    assert topo.vips == ()
    assert (topo.haproxy, topo.memcached, topo.galera) == (None, None, None)
    assert (topo.rabbitmq, topo.opendaylight, topo.openstack) == (False, False, ())
    assert topo.overrides == ()
    assert topo.warnings == ()


def test_galera_address_defaults_to_the_node_addresses():
    topo = parse_with()
    assert topo.galera == GaleraSpec(
        "gcomm://192.168.77.11,192.168.77.12,192.168.77.13"
    )


def test_galera_address_brackets_ipv6_nodes():
    doc = base()
    for i, entry in enumerate(doc["nodes"], start=1):
        entry["address"] = f"fd00::{i}"
    topo = topology.parse(dumps(doc))
    assert topo.galera == GaleraSpec("gcomm://[fd00::1],[fd00::2],[fd00::3]")


def test_addresses_are_stored_in_canonical_form():
    topo = parse_with(
        ("nodes.0.address", "fd00:0:0::0001"),
        ("nodes.1.address", "FD00::2"),
        ("nodes.2.address", "fd00::3"),
        ("vips.0.address", "fd00:0::10"),
        ("nodes.0.bmc.address", "FD00:20::11"),
    )
    assert [n.address for n in topo.nodes] == ["fd00::1", "fd00::2", "fd00::3"]
    assert topo.vips[0].address == "fd00::10"
    assert topo.nodes[0].bmc.address == "fd00:20::11"


def test_ipmi_without_lanplus_has_no_cipher():
    topo = parse_with(("nodes.0.bmc.lanplus", False))
    assert (topo.nodes[0].bmc.lanplus, topo.nodes[0].bmc.cipher) == (False, None)


def test_fallback_bmc_is_read():
    fallback = {
        "type": "redfish",
        "address": "10.30.0.11",
        "port": 8443,
        "username": "fence",
        "password_script": "/usr/bin/vault-get bmc/ctl1",
        "ssl_insecure": True,
    }
    topo = parse_with(("nodes.0.fallback_bmc", fallback))
    assert topo.nodes[0].fallback_bmc == Bmc(
        type="redfish",
        address="10.30.0.11",
        port=8443,
        username="fence",
        password_script="/usr/bin/vault-get bmc/ctl1",
        password_file=None,
        ssl_insecure=True,
    )


def test_overrides_keep_their_order_and_values():
    doc = base()
    doc["overrides"] = {
        "nova-api": {
            "params": {"healthcheck_timeout": "10", "amqp_grace": "30"},
            "timeouts": {"stop": 90, "start": 120},
            "monitor_interval": 15,
            "clone_max": 2,
        },
        "galera": {"timeouts": {"promote": 600, "demote": 300}},
        "keystone": {},
    }
    topo = topology.parse(dumps(doc))
    assert topo.overrides == (
        (
            "nova-api",
            Override(
                params=(("healthcheck_timeout", "10"), ("amqp_grace", "30")),
                timeouts=(("stop", 90), ("start", 120)),
                monitor_interval=15,
                clone_max=2,
            ),
        ),
        ("galera", Override(timeouts=(("promote", 600), ("demote", 300)))),
        ("keystone", Override()),
    )
    assert topo.override("galera") == Override(
        timeouts=(("promote", 600), ("demote", 300))
    )
    assert topo.override("rabbitmq") is None


def test_params_of_an_ocf_haproxy_are_checked_against_hakits_agent():
    topo = parse_with(
        ("services.haproxy", "ocf"),
        ("overrides", {"haproxy": {"params": {"config": "/etc/haproxy/ha.cfg"}}}),
    )
    assert topo.override("haproxy") == Override(
        params=(("config", "/etc/haproxy/ha.cfg"),)
    )
    with pytest.raises(TopologyError, match="did you mean 'config'"):
        parse_with(
            ("services.haproxy", "ocf"),
            ("overrides", {"haproxy": {"params": {"conffile": "/etc/h.cfg"}}}),
        )


# -- node count -----------------------------------------------------------------------


def two_nodes(**cluster: object) -> dict:
    doc = base()
    doc["nodes"] = doc["nodes"][:2]
    doc["cluster"].update(cluster)
    return doc


def test_two_nodes_with_allow_two_node_and_a_delay():
    topo = topology.parse(dumps(two_nodes(allow_two_node=True, fencing_delay=15)))
    assert (len(topo.nodes), topo.allow_two_node, topo.fencing_delay) == (2, True, 15)
    assert topo.warnings == ()


@pytest.mark.parametrize(
    ("cluster", "expected"),
    [
        ({}, "nodes"),
        ({"fencing_delay": 15}, "nodes"),
        ({"allow_two_node": True}, "cluster.fencing_delay"),
        ({"allow_two_node": True, "fencing_delay": 0}, "cluster.fencing_delay"),
    ],
)
def test_two_node_rules(cluster, expected):
    with pytest.raises(TopologyError) as info:
        topology.parse(dumps(two_nodes(**cluster)))
    assert paths(info.value.problems) == Counter([expected])


@pytest.mark.parametrize("count", [0, 1])
def test_fewer_than_two_nodes(count):
    doc = base()
    doc["nodes"] = doc["nodes"][:count]
    doc["cluster"].update(allow_two_node=True, fencing_delay=5)
    with pytest.raises(TopologyError) as info:
        topology.parse(dumps(doc))
    assert paths(info.value.problems) == Counter(["nodes"])


@pytest.mark.parametrize(("count", "warned"), [(3, False), (4, True), (5, False)])
def test_even_node_count_is_a_warning(count, warned):
    doc = base()
    doc["nodes"] = [node(i) for i in range(1, count + 1)]
    topo = topology.parse(dumps(doc))
    assert len(topo.nodes) == count
    assert paths(topo.warnings) == Counter(["nodes"] if warned else [])


def test_allow_two_node_with_three_nodes_is_a_warning():
    topo = parse_with(("cluster.allow_two_node", True))
    assert paths(topo.warnings) == Counter(["cluster.allow_two_node"])


def test_identical_fallback_bmc_is_a_warning():
    topo = parse_with(("nodes.0.fallback_bmc", dict(base()["nodes"][0]["bmc"])))
    assert paths(topo.warnings) == Counter(["nodes[0].fallback_bmc"])


# -- one rule, one path -------------------------------------------------------------

_REDFISH = {
    "type": "redfish",
    "address": "10.20.0.11",
    "username": "admin",
    "password_file": "/etc/hakit/bmc/ctl1",
}


def bad(name: str, changes: dict, expected: str | list[str] | None = None):
    """A case: dotted paths to change, and the problem paths (default: the path)."""
    if expected is None:
        (only,) = changes
        expected = re.sub(r"\.(\d+)", r"[\1]", only)
    wanted = [expected] if isinstance(expected, str) else expected
    return pytest.param(changes, wanted, id=name)


BAD = [
    # root and cluster
    bad("root-unknown-key", {"node": []}),
    bad("cluster-missing", {"cluster": DELETE}),
    bad("cluster-not-a-table", {"cluster": "opnfv"}),
    bad("cluster-unknown-key", {"cluster.quorum": 2}),
    bad("cluster-name-missing", {"cluster.name": DELETE}),
    bad("cluster-name-syntax", {"cluster.name": "my cluster"}),
    bad("cluster-name-empty", {"cluster.name": ""}),
    bad("cluster-name-type", {"cluster.name": 7}),
    bad("two-node-type", {"cluster.allow_two_node": "yes"}),
    bad("delay-negative", {"cluster.fencing_delay": -1}),
    bad("delay-type", {"cluster.fencing_delay": "5s"}),
    bad("delay-float", {"cluster.fencing_delay": 1.5}),
    bad("delay-bool", {"cluster.fencing_delay": True}),
    # nodes
    bad("nodes-missing", {"nodes": DELETE}),
    bad("nodes-not-an-array", {"nodes": {"name": "ctl1"}}),
    bad("node-not-a-table", {"nodes.1": "ctl2"}),
    bad("node-unknown-key", {"nodes.0.ip": "1.2.3.4"}),
    bad("node-name-missing", {"nodes.2.name": DELETE}),
    bad("node-name-syntax", {"nodes.2.name": "ctl_3"}),
    bad("node-name-dash", {"nodes.2.name": "-ctl3"}),
    bad("node-name-duplicate", {"nodes.2.name": "ctl1"}),
    bad("node-name-case-duplicate", {"nodes.2.name": "CTL1"}),
    bad("node-address-missing", {"nodes.1.address": DELETE}),
    bad("node-address-bad", {"nodes.1.address": "192.168.77.300"}),
    bad("node-address-host", {"nodes.1.address": "ctl2.example"}),
    bad("node-address-any", {"nodes.1.address": "0.0.0.0"}),
    bad("node-address-multicast", {"nodes.1.address": "ff02::1"}),
    bad("node-address-duplicate", {"nodes.1.address": "192.168.77.11"}),
    bad(
        "node-address-same-ipv6",
        {
            "nodes.0.address": "fd00::1",
            "nodes.1.address": "fd00:0::1",
            "nodes.2.address": "fd00::3",
        },
        "nodes[1].address",
    ),
    bad("node-address-family", {"nodes.2.address": "fd00::3"}),
    # bmc
    bad("bmc-missing", {"nodes.1.bmc": DELETE}),
    bad("bmc-not-a-table", {"nodes.1.bmc": "10.20.0.12"}),
    bad("bmc-unknown-key", {"nodes.1.bmc.host": "x"}),
    bad("bmc-type-missing", {"nodes.1.bmc.type": DELETE}),
    bad("bmc-type-bad", {"nodes.1.bmc.type": "ilo"}),
    bad("bmc-address-missing", {"nodes.1.bmc.address": DELETE}),
    bad("bmc-address-bad", {"nodes.1.bmc.address": "bmc 2"}),
    bad("bmc-address-label", {"nodes.1.bmc.address": "bmc-.example"}),
    bad("bmc-port-zero", {"nodes.1.bmc.port": 0}),
    bad("bmc-port-high", {"nodes.1.bmc.port": 65536}),
    bad("bmc-port-type", {"nodes.1.bmc.port": "623"}),
    bad("bmc-username-missing", {"nodes.1.bmc.username": DELETE}),
    bad("bmc-username-empty", {"nodes.1.bmc.username": ""}),
    bad("bmc-username-control", {"nodes.1.bmc.username": "a\tb"}),
    bad("ipmi-username-long", {"nodes.1.bmc.username": "u" * 17}),
    bad("inline-password", {"nodes.1.bmc.password": "s3cret"}),
    bad("inline-passwd", {"nodes.1.bmc.passwd": "s3cret"}),
    bad("password-both", {"nodes.1.bmc.password_script": "/bin/pw"}, "nodes[1].bmc"),
    bad("password-neither", {"nodes.1.bmc.password_file": DELETE}, "nodes[1].bmc"),
    bad("password-file-relative", {"nodes.1.bmc.password_file": "bmc/ctl2"}),
    bad("password-file-type", {"nodes.1.bmc.password_file": ["/a"]}),
    bad(
        "password-script-relative",
        {
            "nodes.1.bmc.password_file": DELETE,
            "nodes.1.bmc.password_script": "bmc-password ctl2",
        },
        "nodes[1].bmc.password_script",
    ),
    bad(
        "password-script-pipe",
        {
            "nodes.1.bmc.password_file": DELETE,
            "nodes.1.bmc.password_script": "/bin/cat /x | head -1",
        },
        "nodes[1].bmc.password_script",
    ),
    bad(
        "password-script-empty",
        {"nodes.1.bmc.password_file": DELETE, "nodes.1.bmc.password_script": " "},
        "nodes[1].bmc.password_script",
    ),
    bad(
        "password-script-quote",
        {
            "nodes.1.bmc.password_file": DELETE,
            "nodes.1.bmc.password_script": "/bin/pw 'ctl2",
        },
        "nodes[1].bmc.password_script",
    ),
    bad("ipmi-cipher-high", {"nodes.1.bmc.cipher": 18}),
    bad("ipmi-cipher-negative", {"nodes.1.bmc.cipher": -1}),
    bad(
        "ipmi-cipher-without-lanplus",
        {"nodes.1.bmc.lanplus": False, "nodes.1.bmc.cipher": 3},
        "nodes[1].bmc.cipher",
    ),
    bad("ipmi-lanplus-type", {"nodes.1.bmc.lanplus": 1}),
    bad("ipmi-privlvl", {"nodes.1.bmc.privlvl": "root"}),
    bad("ipmi-privlvl-case", {"nodes.1.bmc.privlvl": "ADMINISTRATOR"}),
    bad("ipmi-redfish-key", {"nodes.1.bmc.systems_uri": "/redfish/v1/Systems/1"}),
    bad(
        "redfish-ipmi-key",
        {"nodes.0.bmc": dict(_REDFISH, lanplus=True)},
        "nodes[0].bmc.lanplus",
    ),
    bad(
        "redfish-systems-uri",
        {"nodes.0.bmc": dict(_REDFISH, systems_uri="/Systems/1")},
        "nodes[0].bmc.systems_uri",
    ),
    bad(
        "redfish-ssl-insecure-type",
        {"nodes.0.bmc": dict(_REDFISH, ssl_insecure="no")},
        "nodes[0].bmc.ssl_insecure",
    ),
    bad(
        "redfish-ca-relative",
        {"nodes.0.bmc": dict(_REDFISH, ssl_ca_file="ca.pem")},
        "nodes[0].bmc.ssl_ca_file",
    ),
    bad(
        "redfish-ca-and-insecure",
        {"nodes.0.bmc": dict(_REDFISH, ssl_ca_file="/ca.pem", ssl_insecure=True)},
        "nodes[0].bmc.ssl_ca_file",
    ),
    bad("fallback-not-a-table", {"nodes.0.fallback_bmc": True}),
    bad(
        "fallback-bad-address",
        {"nodes.0.fallback_bmc": dict(_REDFISH, address="a b")},
        "nodes[0].fallback_bmc.address",
    ),
    bad("bmc-shared-by-nodes", {"nodes.1.bmc.address": "10.20.0.11"}, "nodes[1].bmc"),
    bad("fallback-is-other-nodes-bmc", {"nodes.1.fallback_bmc": dict(node(1)["bmc"])}),
    # vips
    bad("vips-not-an-array", {"vips": "172.16.0.10"}),
    bad("vip-not-a-table", {"vips.0": "public"}),
    bad("vip-unknown-key", {"vips.0.netmask": "255.255.255.0"}),
    bad("vip-name-missing", {"vips.0.name": DELETE}),
    bad("vip-name-syntax", {"vips.0.name": "Public"}),
    bad("vip-address-missing", {"vips.0.address": DELETE}),
    bad("vip-address-host", {"vips.0.address": "api.example.org"}),
    bad("vip-address-is-a-node", {"vips.0.address": "192.168.77.12"}),
    bad("vip-prefix-missing", {"vips.0.prefix": DELETE}),
    bad("vip-prefix-ipv4", {"vips.0.prefix": 33}),
    bad("vip-prefix-negative", {"vips.0.prefix": -1}),
    bad(
        "vip-prefix-ipv6",
        {"vips.0.address": "fd00::10", "vips.0.prefix": 129},
        "vips[0].prefix",
    ),
    bad("vip-prefix-type", {"vips.0.prefix": "24"}),
    bad("vip-nic-alias", {"vips.0.nic": "eth0:1"}),
    bad("vip-nic-long", {"vips.0.nic": "e" * 16}),
    bad("vip-nic-dots", {"vips.0.nic": ".."}),
    bad(
        "vip-duplicate",
        {
            "vips": [
                {"name": "a", "address": "10.1.1.1", "prefix": 24},
                {"name": "a", "address": "10.1.1.1", "prefix": 24},
            ]
        },
        ["vips[1].name", "vips[1].address"],
    ),
    # services
    bad("services-not-a-table", {"services": ["haproxy"]}),
    bad("services-unknown-key", {"services.keystone": True}),
    bad("haproxy-manager", {"services.haproxy": "docker"}),
    bad("haproxy-type", {"services.haproxy": True}),
    bad("memcached-manager", {"services.memcached": "ocf"}),
    bad("rabbitmq-type", {"services.rabbitmq": "true"}),
    bad("opendaylight-type", {"services.opendaylight": 1}),
    bad("galera-not-a-table", {"services.galera": True}),
    bad("galera-unknown-key", {"services.galera.wsrep_cluster_address": "gcomm://a"}),
    bad("galera-address-scheme", {"services.galera.cluster_address": "192.168.77.11"}),
    bad("galera-address-empty", {"services.galera.cluster_address": "gcomm://"}),
    bad("galera-address-spaces", {"services.galera.cluster_address": "gcomm://a, b"}),
    bad(
        "galera-address-empty-member",
        {"services.galera.cluster_address": "gcomm://a,,b"},
    ),
    bad("openstack-not-a-table", {"services.openstack": ["keystone"]}),
    bad("openstack-unknown-key", {"services.openstack.disable": []}),
    bad("openstack-enable-missing", {"services.openstack.enable": DELETE}),
    bad("openstack-enable-type", {"services.openstack.enable": "keystone"}),
    bad(
        "openstack-unknown-service",
        {"services.openstack.enable": ["keystone", "nova-apii"]},
        "services.openstack.enable[1]",
    ),
    bad(
        "openstack-service-type",
        {"services.openstack.enable": ["keystone", 3]},
        "services.openstack.enable[1]",
    ),
    bad(
        "openstack-service-twice",
        {"services.openstack.enable": ["keystone", "nova-api", "keystone"]},
        "services.openstack.enable[2]",
    ),
    bad(
        "openstack-ovs-with-odl",
        {
            "services.opendaylight": True,
            "services.openstack.enable": ["neutron-openvswitch-agent"],
        },
        "services.openstack.enable[0]",
    ),
    # overrides
    bad("overrides-not-a-table", {"overrides": ["nova-api"]}),
    bad("override-unknown-resource", {"overrides.nova-apii": {}}),
    bad("override-quoted-key", {"overrides": {"nova api": {}}}, 'overrides."nova api"'),
    bad("override-not-enabled", {"overrides.cinder-api": {}}),
    bad(
        "override-not-deployed",
        {"services.haproxy": DELETE, "overrides.haproxy": {}},
        "overrides.haproxy",
    ),
    bad("override-not-a-table", {"overrides": {"keystone": 3}}, "overrides.keystone"),
    bad("override-unknown-key", {"overrides.keystone.retries": 3}),
    bad("params-not-a-table", {"overrides.keystone.params": "port=5001"}),
    bad("params-value-type", {"overrides.keystone.params.port": 5001}),
    bad(
        "params-key-syntax",
        {"overrides.rabbitmq.params": {"Max-Memory": "1G"}},
        "overrides.rabbitmq.params.Max-Memory",
    ),
    bad("params-unknown-to-agent", {"overrides.keystone.params.workers": "4"}),
    bad("params-value-refused-by-agent", {"overrides.keystone.params.port": "99999"}),
    bad(
        "params-for-systemd",
        {"overrides.haproxy.params.conffile": "/x"},
        "overrides.haproxy.params",
    ),
    bad("timeouts-not-a-table", {"overrides.keystone.timeouts": 60}),
    bad("timeouts-unknown-action", {"overrides.keystone.timeouts.reload": 60}),
    bad("timeouts-zero", {"overrides.keystone.timeouts.start": 0}),
    bad("timeouts-type", {"overrides.keystone.timeouts.stop": "60s"}),
    bad("timeouts-promote-not-promotable", {"overrides.rabbitmq.timeouts.promote": 60}),
    bad("monitor-interval-zero", {"overrides.keystone.monitor_interval": 0}),
    bad("monitor-interval-type", {"overrides.keystone.monitor_interval": "10"}),
    bad("clone-max-zero", {"overrides.keystone.clone_max": 0}),
    bad("clone-max-above-node-count", {"overrides.keystone.clone_max": 4}),
]


@pytest.mark.parametrize(("changes", "expected"), BAD)
def test_rule(changes, expected):
    with pytest.raises(TopologyError) as info:
        parse_with(*changes.items())
    assert paths(info.value.problems) == Counter(expected)


def test_every_problem_is_reported_at_once():
    doc = base()
    doc["cluster"]["name"] = "bad name"
    doc["nodes"][0]["bmc"]["address"] = "bad host!"
    doc["nodes"][1]["bmc"]["password"] = "x"
    doc["nodes"][2]["address"] = "not-an-ip"
    doc["vips"][0]["prefix"] = 40
    doc["services"]["openstack"]["enable"].append("nova-apii")
    doc["overrides"] = {"keystone": {"clone_max": 9}}
    with pytest.raises(TopologyError) as info:
        topology.parse(dumps(doc))
    assert paths(info.value.problems) == Counter(
        [
            "cluster.name",
            "nodes[0].bmc.address",
            "nodes[1].bmc.password",
            "nodes[2].address",
            "vips[0].prefix",
            "services.openstack.enable[2]",
            "overrides.keystone.clone_max",
        ]
    )


# -- files and syntax -------------------------------------------------------------


def test_toml_syntax_error_is_one_file_problem():
    with pytest.raises(TopologyError) as info:
        topology.parse('[cluster]\nname = "x\n', "broken.toml")
    assert paths(info.value.problems) == Counter(["(file)"])


def test_unreadable_file(tmp_path):
    with pytest.raises(TopologyError) as info:
        topology.load(tmp_path / "missing.toml")
    assert paths(info.value.problems) == Counter(["(file)"])


def test_file_that_is_not_utf8(tmp_path):
    path = tmp_path / "latin1.toml"
    path.write_bytes(b'[cluster]\nname = "caf\xe9"\n')
    with pytest.raises(TopologyError) as info:
        topology.load(path)
    assert paths(info.value.problems) == Counter(["(file)"])


def test_deep_nesting_is_a_problem_not_a_crash():
    with pytest.raises(TopologyError) as info:
        topology.parse("a = " + "[" * 100_000 + "]" * 100_000)
    assert paths(info.value.problems) == Counter(["(file)"])


def _leaves(value: object, path: str = "") -> list[str]:
    if isinstance(value, dict):
        items = list(value.items())
    elif isinstance(value, list):
        items = [(str(i), item) for i, item in enumerate(value)]
    else:
        return [path]
    found = [path] if path else []
    for key, item in items:
        found += _leaves(item, f"{path}.{key}" if path else key)
    return found


def test_any_value_of_any_type_anywhere_gives_a_topology_error_not_a_crash():
    doc = base()
    doc["nodes"][0]["fallback_bmc"] = dict(_REDFISH, systems_uri="/redfish/v1/S/1")
    doc["overrides"] = {"keystone": {"params": {"port": "5001"}, "clone_max": 2}}
    crashes = []
    junk = [True, 0, -1, 2**70, 1.5, "", "x", [], [1], {}, {"a": 1}, Raw("1979-05-27")]
    for path in _leaves(doc):
        for value in junk:
            changed = copy.deepcopy(doc)
            change(changed, path, value)
            try:
                topology.parse(dumps(changed))
            except TopologyError:
                pass
            except Exception as exc:  # any other exception is the bug looked for
                crashes.append(f"{path} = {value!r}: {exc!r}")
    assert crashes == []


# -- messages (the one test of wording) -------------------------------------------


def test_message_rendering():
    doc = base()
    doc["nodes"][2]["bmc"]["address"] = "bad host!"
    doc["nodes"][0]["bmc"]["password"] = "x"
    doc["cluster"]["name"] = 3
    doc["vips"][0]["mask"] = 24
    with pytest.raises(TopologyError) as info:
        topology.parse(dumps(doc), "site.toml")
    err = info.value
    assert err.source == "site.toml"
    assert str(err).splitlines() == [
        "site.toml: cluster.name: expected a string, got an integer",
        "site.toml: nodes[0].bmc.password: passwords never go into the topology: "
        "use password_script or password_file",
        "site.toml: nodes[2].bmc.address: not an IP address or host name",
        "site.toml: vips[0].mask: unknown key; allowed: name, address, prefix, nic",
    ]
    assert str(Problem("vips[0].prefix", "33 is out of range (0 to 32)")) == (
        "vips[0].prefix: 33 is out of range (0 to 32)"
    )
    with pytest.raises(TopologyError) as info:
        topology.parse("[cluster]\nname = \n", "broken.toml")
    assert str(info.value) == (
        "broken.toml: (file): Invalid value (at line 2, column 8)"
    )


# -- data-driven cases --------------------------------------------------------------


def _expectations(path: Path) -> tuple[list[str], list[str]]:
    """Read the ``# error: <path>`` and ``# warning: <path>`` header lines."""
    errors, warnings = [], []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        kind, _, where = line.lstrip("# ").partition(":")
        if kind == "error":
            errors.append(where.strip())
        elif kind == "warning":
            warnings.append(where.strip())
    return errors, warnings


@pytest.mark.parametrize(
    "case", sorted(CASES.glob("*.toml")), ids=lambda path: path.stem
)
def test_case_file(case):
    errors, warnings = _expectations(case)
    if errors:
        with pytest.raises(TopologyError) as info:
            topology.load(case)
        assert paths(info.value.problems) == Counter(errors)
    else:
        topo = topology.load(case)
        assert paths(topo.warnings) == Counter(warnings)


def test_case_files_exist():
    assert len(list(CASES.glob("*.toml"))) >= 4
