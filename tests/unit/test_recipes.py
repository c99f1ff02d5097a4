"""The OPNFV recipe: what ``recipes.build`` promises for a topology (no tools)."""

from __future__ import annotations

from pathlib import Path

import pytest

from cib_builder import recipes, render, topology
from cib_builder.model import (
    INFINITY,
    MINUS_INFINITY,
    Action,
    AgentRef,
    Cib,
    Clone,
    Colocation,
    FencingLevel,
    Kind,
    Location,
    Order,
    Primitive,
    Role,
    RuleLocation,
    hakit_id,
)

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "opnfv-3-controllers.toml"
NODES = ("ctl1", "ctl2", "ctl3")
OPENSTACK = (
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
)
VIPS = ("hakit-vip-public", "hakit-vip-internal", "hakit-vip-admin")


# -- topology snippets ------------------------------------------------------------


def node_toml(i: int, *, fallback: bool = False, bmc: str = "") -> str:
    """One ``[[nodes]]`` entry: an IPMI BMC whose password is in a file."""
    text = f"""
[[nodes]]
name = "ctl{i}"
address = "192.168.77.1{i}"
[nodes.bmc]
type = "ipmi"
address = "10.20.0.1{i}"
username = "admin"
password_file = "/etc/hakit/bmc/ctl{i}"
{bmc}
"""
    if fallback:
        text += f"""
[nodes.fallback_bmc]
type = "redfish"
address = "10.30.0.1{i}"
username = "fence"
password_script = "/usr/local/bin/bmc-password ctl{i}"
"""
    return text


SERVICES = """
[[vips]]
name = "public"
address = "172.16.0.10"
prefix = 24

[services]
haproxy = "systemd"
rabbitmq = true
[services.galera]
[services.openstack]
enable = ["keystone", "nova-api", "cinder-volume"]
"""


def snippet(
    nodes: int = 3,
    *,
    cluster: str = "",
    fallback: bool = False,
    bmc: str = "",
    services: str = SERVICES,
    tail: str = "",
) -> str:
    """A small valid topology; each argument changes one part of it."""
    head = f'[cluster]\nname = "snip"\n{cluster}\n'
    body = "".join(
        node_toml(i, fallback=fallback, bmc=bmc) for i in range(1, nodes + 1)
    )
    return head + body + services + tail


def build(text: str) -> Cib:
    return recipes.build(topology.parse(text))


def with_rabbitmq_and_opendaylight(text: str) -> str:
    """``text`` with RabbitMQ and OpenDaylight deployed (as the example is)."""
    marker = 'memcached = "systemd"'
    assert marker in text
    if "\nrabbitmq = true" not in text:
        text = text.replace(marker, f"{marker}\nrabbitmq = true")
    if "\nopendaylight = true" not in text:
        text = text.replace(marker, f"{marker}\nopendaylight = true")
    return text


@pytest.fixture(scope="module")
def example() -> Cib:
    """The shipped example, with RabbitMQ and OpenDaylight deployed."""
    return build(with_rabbitmq_and_opendaylight(EXAMPLE.read_text()))


# -- model helpers ----------------------------------------------------------------


def resource(cib: Cib, rsc_id: str) -> Primitive | Clone:
    return cib.resource_ids()[rsc_id]


def primitive(cib: Cib, rsc_id: str) -> Primitive:
    rsc = resource(cib, rsc_id)
    assert isinstance(rsc, Primitive)
    return rsc


def clone(cib: Cib, clone_id: str) -> Clone:
    rsc = resource(cib, clone_id)
    assert isinstance(rsc, Clone)
    return rsc


def stonith(cib: Cib) -> dict[str, Primitive]:
    return {p.id: p for p in cib.primitives() if p.agent.standard == "stonith"}


def ops(prim: Primitive, name: str) -> list:
    return [op for op in prim.ops if op.name == name]


def monitor(prim: Primitive) -> tuple[int, int]:
    """(interval, timeout) of the one monitor operation of ``prim``."""
    (op,) = ops(prim, "monitor")
    return op.interval, op.timeout


def timeout(prim: Primitive, name: str) -> int:
    (op,) = ops(prim, name)
    return op.timeout


def top_id(cib: Cib, name: str) -> str:
    """The id constraints use for OpenStack service ``name``."""
    clone_id = hakit_id(f"{name}-clone")
    return clone_id if clone_id in cib.resource_ids() else hakit_id(name)


def orders(cib: Cib) -> list[Order]:
    return [con for con in cib.constraints if isinstance(con, Order)]


def before(
    cib: Cib, first: str, then: str, action: Action | None = None
) -> list[Order]:
    """The orders that put ``first`` (doing ``action``) before ``then``.

    With sets, an earlier set comes before every later one, and the members
    of a sequential set come one after the other.
    """
    found = []
    for con in orders(cib):
        steps = []
        for index, rset in enumerate(con.sets):
            for position, rsc in enumerate(rset.resources):
                rank = (index, position if rset.sequential else 0)
                steps.append((rsc, rank, rset.action))
        firsts = [(rank, act) for rsc, rank, act in steps if rsc == first]
        thens = [rank for rsc, rank, _act in steps if rsc == then]
        if any(a < b and action in (None, act) for a, act in firsts for b in thens):
            found.append(con)
    return found


# -- cluster properties -----------------------------------------------------------


def test_cluster_properties(example):
    props = dict(example.properties)
    assert props["stonith-enabled"] == "true"
    assert props["no-quorum-policy"] == "stop"
    assert props["cluster-name"] == "opnfv"


def test_cluster_name_comes_from_the_topology():
    assert dict(build(snippet()).properties)["cluster-name"] == "snip"


def test_nodes_in_file_order_with_ids_from_one(example):
    assert [(n.name, n.nodeid) for n in example.nodes] == [
        ("ctl1", 1),
        ("ctl2", 2),
        ("ctl3", 3),
    ]


# -- fencing ----------------------------------------------------------------------


def test_one_stonith_device_per_node_with_the_agent_of_its_bmc(example):
    devices = stonith(example)
    assert {d: str(p.agent) for d, p in devices.items()} == {
        "hakit-fence-ctl1": "stonith:fence_hakit_ipmi",
        "hakit-fence-ctl2": "stonith:fence_hakit_ipmi",
        "hakit-fence-ctl3": "stonith:fence_hakit_redfish",
    }


@pytest.mark.parametrize("node", NODES)
def test_device_fences_only_its_node_and_never_runs_there(example, node):
    device = stonith(example)[f"hakit-fence-{node}"]
    params = dict(device.params)
    assert params["pcmk_host_list"] == node
    assert params["pcmk_host_check"] == "static-list"
    avoid = [
        con
        for con in example.constraints
        if isinstance(con, Location) and con.rsc == device.id
    ]
    assert [(con.node, con.score) for con in avoid] == [(node, MINUS_INFINITY)]


def test_device_parameters_follow_the_bmc(example):
    devices = stonith(example)
    ipmi = dict(devices["hakit-fence-ctl1"].params)
    assert ipmi["ip"] == "10.20.0.11"
    assert ipmi["ipport"] == "623"
    assert ipmi["username"] == "admin"
    assert ipmi["lanplus"] == "1"
    assert ipmi["cipher"] == "3"
    assert ipmi["privlvl"] == "administrator"
    redfish = dict(devices["hakit-fence-ctl3"].params)
    assert redfish["ip"] == "10.20.0.13"
    assert redfish["ipport"] == "443"
    assert redfish["systems_uri"] == "/redfish/v1/Systems/1"
    assert redfish["ssl_ca_file"] == "/etc/hakit/bmc-ca.pem"
    assert "ssl_insecure" not in redfish
    assert "lanplus" not in redfish


def test_ipmi_without_lanplus_has_no_cipher():
    cib = build(snippet(bmc="lanplus = false"))
    params = dict(stonith(cib)["hakit-fence-ctl1"].params)
    assert params["lanplus"] == "0"
    assert "cipher" not in params


def test_every_device_is_monitored(example):
    for device in stonith(example).values():
        assert [op.name for op in device.ops] == ["monitor"]
        assert device.ops[0].interval > 0


def test_one_fencing_level_per_node(example):
    assert example.fencing == tuple(
        FencingLevel(node, 1, (f"hakit-fence-{node}",)) for node in NODES
    )


def test_fallback_bmc_is_fencing_level_two():
    cib = build(snippet(fallback=True))
    assert [(lv.target, lv.index, lv.devices) for lv in cib.fencing] == [
        (node, index, (f"hakit-fence-{node}" + ("-2" if index == 2 else ""),))
        for node in NODES
        for index in (1, 2)
    ]
    second = stonith(cib)["hakit-fence-ctl2-2"]
    assert second.agent == AgentRef("stonith", "fence_hakit_redfish")
    params = dict(second.params)
    assert params["pcmk_host_list"] == "ctl2"
    assert params["ip"] == "10.30.0.12"
    assert params["password_script"] == "/usr/local/bin/bmc-password ctl2"
    assert (
        Location(
            "hakit-l-fence-ctl2-2-avoid-self",
            "hakit-fence-ctl2-2",
            "ctl2",
            MINUS_INFINITY,
        )
        in cib.constraints
    )


def test_password_script_is_passed_as_is(example):
    params = dict(stonith(example)["hakit-fence-ctl2"].params)
    assert params["password_script"] == "/usr/local/bin/bmc-password ctl2"


def test_password_file_becomes_a_cat_password_script():
    cib = build(snippet())
    for node in NODES:
        params = dict(stonith(cib)[f"hakit-fence-{node}"].params)
        assert params["password_script"] == f"/bin/cat /etc/hakit/bmc/{node}"
        assert "password_file" not in params


@pytest.mark.parametrize("fallback", [False, True])
def test_no_resource_ever_carries_a_password(example, fallback):
    for cib in (example, build(snippet(fallback=fallback))):
        for prim in cib.primitives():
            names = {name for name, _value in prim.params}
            assert not names & {"password", "passwd"}, prim.id


def test_two_nodes_with_a_fencing_delay_get_a_random_delay():
    cluster = "allow_two_node = true\nfencing_delay = 15"
    cib = build(snippet(2, cluster=cluster))
    devices = stonith(cib)
    assert set(devices) == {"hakit-fence-ctl1", "hakit-fence-ctl2"}
    for device in devices.values():
        assert dict(device.params)["pcmk_delay_max"] == "15s"


def test_three_nodes_get_no_fencing_delay(example):
    cib = build(snippet(cluster="allow_two_node = true\nfencing_delay = 15"))
    for device in (*stonith(example).values(), *stonith(cib).values()):
        assert "pcmk_delay_max" not in dict(device.params)


# -- VIPs and HAProxy ---------------------------------------------------------------


def test_vips_are_ipaddr2_with_address_prefix_and_nic(example):
    expected = {
        "hakit-vip-public": ("172.16.0.10", "eth2"),
        "hakit-vip-internal": ("192.168.77.10", "eth1"),
        "hakit-vip-admin": ("192.168.0.10", "eth0"),
    }
    for vip_id, (address, nic) in expected.items():
        vip = primitive(example, vip_id)
        assert vip.agent == AgentRef("ocf", "IPaddr2", provider="heartbeat")
        assert vip.params == (("ip", address), ("cidr_netmask", "24"), ("nic", nic))
        assert monitor(vip)[0] > 0


def test_vip_without_nic_has_no_nic_param():
    assert primitive(build(snippet()), "hakit-vip-public").params == (
        ("ip", "172.16.0.10"),
        ("cidr_netmask", "24"),
    )


def test_haproxy_is_an_interleaved_clone(example):
    haproxy = clone(example, "hakit-haproxy-clone")
    assert haproxy.child.agent == AgentRef("systemd", "haproxy")
    assert haproxy.meta_value("interleave") == "true"
    assert not haproxy.promotable


def test_haproxy_under_ocf_is_hakits_own_agent():
    # resource-agents 4.12 has no ocf:heartbeat:haproxy; the agent checks
    # refuse ocf:hakit:haproxy until hakit ships it.
    services = SERVICES.replace('haproxy = "systemd"', 'haproxy = "ocf"')
    haproxy = clone(build(snippet(services=services)), "hakit-haproxy-clone")
    assert haproxy.child.agent == AgentRef("ocf", "haproxy", provider="hakit")
    assert haproxy.child.params == ()


def test_vips_are_colocated_with_haproxy_by_resource_sets(example):
    (coloc,) = [con for con in example.constraints if isinstance(con, Colocation)]
    assert coloc.score == INFINITY
    *dependents, last = coloc.sets
    # With sets the last set is placed first: the VIPs follow HAProxy.
    assert last.resources == ("hakit-haproxy-clone",)
    assert last.role in (None, Role.STARTED)
    assert {rsc for rset in dependents for rsc in rset.resources} == set(VIPS)


def test_vips_start_before_haproxy(example):
    for vip in VIPS:
        assert before(example, vip, "hakit-haproxy-clone")
        assert not before(example, "hakit-haproxy-clone", vip)


# -- Galera -----------------------------------------------------------------------


@pytest.mark.parametrize("count", [3, 5])
def test_galera_is_promotable_on_every_node(count):
    galera = clone(build(snippet(count)), "hakit-galera-clone")
    assert galera.promotable
    assert galera.child.agent == AgentRef("ocf", "galera", provider="hakit")
    assert galera.meta_value("promoted-max") == str(count)
    assert galera.meta_value("ordered") == "true"
    assert galera.meta_value("interleave") == "true"


def test_galera_promote_may_wait_for_a_state_transfer(example):
    galera = clone(example, "hakit-galera-clone").child
    assert timeout(galera, "promote") >= 300
    assert ops(galera, "demote")


def test_galera_monitors_each_role_at_its_own_interval(example):
    galera = clone(example, "hakit-galera-clone").child
    by_role = {op.role: op.interval for op in ops(galera, "monitor")}
    assert set(by_role) == {Role.PROMOTED, Role.UNPROMOTED}
    assert by_role[Role.PROMOTED] != by_role[Role.UNPROMOTED]
    assert all(interval > 0 for interval in by_role.values())


def test_galera_members_are_the_node_addresses_by_default():
    params = dict(clone(build(snippet()), "hakit-galera-clone").child.params)
    assert params["wsrep_cluster_address"] == (
        "gcomm://192.168.77.11,192.168.77.12,192.168.77.13"
    )
    assert params["cluster_host_map"] == (
        "ctl1:192.168.77.11;ctl2:192.168.77.12;ctl3:192.168.77.13"
    )


# -- RabbitMQ and OpenDaylight ------------------------------------------------------


@pytest.mark.parametrize("clone_id", ["hakit-galera-clone", "hakit-rabbitmq-clone"])
def test_stateful_clones_carry_their_own_failure_policy(example, clone_id):
    # Monitor failures never ban a member from its own data; they expire.
    rsc = clone(example, clone_id)
    assert rsc.meta_value("failure-timeout") == recipes.FAILURE_TIMEOUT
    assert rsc.meta_value("migration-threshold") == "INFINITY"


def test_rabbitmq_clone_is_notified_interleaved_and_not_ordered(example):
    rabbitmq = clone(example, "hakit-rabbitmq-clone")
    assert rabbitmq.child.agent == AgentRef("ocf", "rabbitmq", provider="hakit")
    assert not rabbitmq.promotable
    for name in ("notify", "interleave"):
        assert rabbitmq.meta_value(name) == "true", name
    # After a full crash every member starts at once, so the agent can choose
    # who boots first from all their reports.
    assert rabbitmq.meta_value("ordered") is None
    assert rabbitmq.meta_value("failure-timeout") == "60s"
    assert rabbitmq.meta_value("migration-threshold") == "INFINITY"
    assert ops(rabbitmq.child, "notify")


def test_opendaylight_is_an_interleaved_clone(example):
    odl = clone(example, "hakit-opendaylight-clone")
    assert odl.child.agent == AgentRef("ocf", "opendaylight", provider="hakit")
    assert odl.meta_value("interleave") == "true"
    assert not odl.promotable


def test_opendaylight_monitors_level_0_and_level_10_at_distinct_intervals(example):
    odl = clone(example, "hakit-opendaylight-clone").child
    monitors = sorted((op.interval, op.depth) for op in ops(odl, "monitor"))
    assert monitors == [(10, None), (30, 10)]
    assert [op.timeout for op in ops(odl, "start")] == [300]


def test_a_monitor_interval_override_keeps_the_deep_monitor_rarer():
    text = EXAMPLE.read_text().replace(
        "[overrides.opendaylight]", "[overrides.opendaylight]\nmonitor_interval = 5"
    )
    odl = clone(build(text), "hakit-opendaylight-clone").child
    assert sorted((op.interval, op.depth) for op in ops(odl, "monitor")) == [
        (5, None),
        (15, 10),
    ]


def test_the_leader_vip_follows_the_shard_leader_not_haproxy():
    text = (
        EXAMPLE.read_text().replace("opendaylight = true\n", "")
        + '\n[services.opendaylight]\nleader_vip = "admin"\n'
    )
    cib = build(text)
    vip = hakit_id("vip-admin")
    assert "shard leader" in resource(cib, vip).description
    colocations = [c for c in cib.constraints if isinstance(c, Colocation)]
    with_haproxy = [c for c in colocations if "haproxy" in c.id]
    assert all(vip not in s.resources for c in with_haproxy for s in c.sets)
    (with_odl,) = [c for c in colocations if "opendaylight" in c.id]
    assert [s.resources for s in with_odl.sets] == [
        (vip,),
        ("hakit-opendaylight-clone",),
    ]
    (rule,) = [c for c in cib.constraints if isinstance(c, RuleLocation)]
    assert (rule.rsc, rule.attribute, rule.value) == (vip, "odl-shard-role", "Leader")
    assert rule.score == recipes.LEADER_SCORE
    xml = render.to_bytes(cib).decode()
    assert 'attribute="odl-shard-role" operation="eq" value="Leader"' in xml
    crm = render.render_crm(cib)
    assert f"location {rule.id} {vip} rule 1000: odl-shard-role eq Leader" in crm


def test_a_leader_vip_that_names_no_vip_is_refused():
    text = (
        EXAMPLE.read_text().replace("opendaylight = true\n", "")
        + '\n[services.opendaylight]\nleader_vip = "odl"\n'
    )
    with pytest.raises(topology.TopologyError, match="no \\[\\[vips\\]\\] entry"):
        build(text)


# -- OpenStack services -------------------------------------------------------------


def test_every_enabled_service_is_deployed(example):
    agents = {
        p.agent.type
        for p in example.primitives()
        if (p.agent.standard, p.agent.provider) == ("ocf", "hakit")
    }
    assert agents == {*OPENSTACK, "galera", "rabbitmq", "opendaylight"}


@pytest.mark.parametrize("name", [n for n in OPENSTACK if n != "cinder-volume"])
def test_active_active_services_are_interleaved_clones(example, name):
    rsc = clone(example, f"hakit-{name}-clone")
    assert rsc.child.id == hakit_id(name)
    assert rsc.child.agent == AgentRef("ocf", name, provider="hakit")
    assert rsc.meta_value("interleave") == "true"
    assert not rsc.promotable


def test_cinder_volume_is_a_primitive(example):
    assert isinstance(resource(example, "hakit-cinder-volume"), Primitive)
    assert "hakit-cinder-volume-clone" not in example.resource_ids()
    assert "hakit-cinder-volume" in [r.id for r in example.resources]


def test_services_not_enabled_are_absent():
    ids = build(snippet()).resource_ids()
    assert {
        "hakit-keystone-clone",
        "hakit-nova-api-clone",
        "hakit-cinder-volume",
    } <= set(ids)
    assert "hakit-glance-api-clone" not in ids
    assert "hakit-opendaylight-clone" not in ids
    assert "hakit-memcached-clone" not in ids


# -- ordering -----------------------------------------------------------------------


@pytest.mark.parametrize("name", OPENSTACK)
def test_galera_is_promoted_before_every_service(example, name):
    found = before(example, "hakit-galera-clone", top_id(example, name), Action.PROMOTE)
    assert found, name
    assert all(len(con.sets) > 1 for con in found)


@pytest.mark.parametrize("name", [n for n in OPENSTACK if n != "keystone"])
def test_rabbitmq_starts_before_the_services(example, name):
    found = before(example, "hakit-rabbitmq-clone", top_id(example, name))
    assert found, name
    for con in found:
        first = next(s for s in con.sets if "hakit-rabbitmq-clone" in s.resources)
        assert first.action in (None, Action.START)


@pytest.mark.parametrize("name", [n for n in OPENSTACK if n != "keystone"])
def test_keystone_starts_before_the_other_services(example, name):
    assert before(example, "hakit-keystone-clone", top_id(example, name)), name
    assert not before(example, top_id(example, name), "hakit-keystone-clone")


def test_memcached_starts_before_keystone(example):
    assert before(example, "hakit-memcached-clone", "hakit-keystone-clone")


@pytest.mark.parametrize("name", [n for n in OPENSTACK if n.startswith("neutron-")])
def test_opendaylight_starts_before_neutron(example, name):
    assert before(example, "hakit-opendaylight-clone", f"hakit-{name}-clone")


def test_opendaylight_orders_nothing_but_neutron(example):
    for name in OPENSTACK:
        if not name.startswith("neutron-"):
            assert not before(
                example, "hakit-opendaylight-clone", top_id(example, name)
            )


def test_services_after_keystone_start_in_parallel(example):
    rest = [top_id(example, n) for n in OPENSTACK if n != "keystone"]
    for first in rest:
        for then in rest:
            assert not before(example, first, then), (first, then)


def test_orders_are_mandatory_except_vips_before_haproxy(example):
    for con in orders(example):
        vips_first = set(con.sets[0].resources) <= set(VIPS)
        assert (con.kind == Kind.OPTIONAL) == vips_first, con.id


def test_without_rabbitmq_nothing_waits_for_it():
    services = SERVICES.replace("rabbitmq = true", "rabbitmq = false")
    cib = build(snippet(services=services))
    assert "hakit-rabbitmq-clone" not in cib.resource_ids()
    for con in orders(cib):
        assert "hakit-rabbitmq-clone" not in [r for s in con.sets for r in s.resources]
    assert before(cib, "hakit-galera-clone", "hakit-nova-api-clone", Action.PROMOTE)


# -- overrides ----------------------------------------------------------------------


def test_example_override_gives_nova_api_more_time_to_start(example):
    assert timeout(clone(example, "hakit-nova-api-clone").child, "start") == 120
    assert timeout(clone(example, "hakit-glance-api-clone").child, "start") == 60


def test_overrides_of_an_openstack_service():
    tail = """
[overrides.keystone]
params = { port = "5001", extra_args = "--processes 4" }
timeouts = { start = 111, stop = 77, monitor = 33 }
monitor_interval = 7
clone_max = 2
"""
    cib = build(snippet(tail=tail))
    keystone = clone(cib, "hakit-keystone-clone")
    assert keystone.meta_value("clone-max") == "2"
    assert keystone.meta_value("interleave") == "true"
    child = keystone.child
    assert dict(child.params) == {"port": "5001", "extra_args": "--processes 4"}
    assert timeout(child, "start") == 111
    assert timeout(child, "stop") == 77
    assert monitor(child) == (7, 33)
    nova = clone(cib, "hakit-nova-api-clone")
    assert nova.meta_value("clone-max") is None
    assert monitor(nova.child) == (10, 20)


def test_overrides_of_galera():
    tail = """
[overrides.galera]
params = { wsrep_cluster_address = "gcomm://10.0.0.1,10.0.0.2", sst_timeout = "600" }
timeouts = { promote = 900, demote = 200, monitor = 45 }
clone_max = 2
"""
    galera = clone(build(snippet(tail=tail)), "hakit-galera-clone")
    assert galera.meta_value("clone-max") == "2"
    params = dict(galera.child.params)
    assert params["wsrep_cluster_address"] == "gcomm://10.0.0.1,10.0.0.2"
    assert params["sst_timeout"] == "600"
    assert timeout(galera.child, "promote") == 900
    assert timeout(galera.child, "demote") == 200
    assert [op.timeout for op in ops(galera.child, "monitor")] == [45, 45]


def test_overrides_of_rabbitmq_timeouts():
    tail = """
[overrides.rabbitmq]
timeouts = { start = 400, notify = 50, monitor = 60 }
clone_max = 2
"""
    rabbitmq = clone(build(snippet(tail=tail)), "hakit-rabbitmq-clone")
    assert rabbitmq.meta_value("clone-max") == "2"
    assert timeout(rabbitmq.child, "start") == 400
    assert timeout(rabbitmq.child, "notify") == 50
    assert monitor(rabbitmq.child)[1] == 60


def test_monitor_interval_override_of_rabbitmq_is_applied():
    tail = "\n[overrides.rabbitmq]\nmonitor_interval = 30\n"
    rabbitmq = clone(build(snippet(tail=tail)), "hakit-rabbitmq-clone")
    assert monitor(rabbitmq.child)[0] == 30


def test_overrides_of_systemd_haproxy_take_no_params_but_timeouts():
    tail = "\n[overrides.haproxy]\ntimeouts = { start = 5 }\nclone_max = 1\n"
    haproxy = clone(build(snippet(tail=tail)), "hakit-haproxy-clone")
    assert haproxy.child.params == ()
    assert timeout(haproxy.child, "start") == 5
    assert haproxy.meta_value("clone-max") == "1"


# -- determinism --------------------------------------------------------------------


def test_building_twice_gives_identical_bytes():
    text = EXAMPLE.read_text(encoding="utf-8")
    first = render.to_bytes(recipes.build(topology.parse(text)))
    second = render.to_bytes(recipes.build(topology.parse(text)))
    assert first == second


def test_the_same_topology_gives_an_equal_model():
    first = recipes.build(topology.load(EXAMPLE))
    assert recipes.build(topology.load(EXAMPLE)) == first
    assert render.to_bytes(first) == render.to_bytes(
        recipes.build(topology.load(EXAMPLE))
    )


@pytest.mark.parametrize("fallback", [False, True])
def test_snippets_render_identically_twice(fallback):
    text = snippet(fallback=fallback)
    assert render.to_bytes(build(text)) == render.to_bytes(build(text))
