"""HK501-HK506: agents that exist, parameters they declare (no tools run)."""

from __future__ import annotations

import dataclasses
import inspect
import re
from pathlib import Path

import pytest

from cib_builder import agents, checks, pipeline, recipes, topology
from cib_builder.model import AgentRef, Cib, Clone, Primitive

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "opnfv-3-controllers.toml"
LAB = ROOT / "tests" / "lab" / "lab-3-controllers.toml"


def build(text: str) -> Cib:
    return recipes.build(topology.parse(text))


@pytest.fixture(scope="module")
def example() -> Cib:
    return recipes.build(topology.load(EXAMPLE))


def prim(cib: Cib, rsc_id: str) -> Primitive:
    (found,) = [p for p in cib.primitives() if p.id == rsc_id]
    return found


def with_primitive(cib: Cib, rsc_id: str, **changes: object) -> Cib:
    """``cib`` with primitive ``rsc_id`` (top level or in a clone) changed."""

    def changed(rsc: Primitive | Clone) -> Primitive | Clone:
        if isinstance(rsc, Clone) and rsc.child.id == rsc_id:
            return dataclasses.replace(
                rsc, child=dataclasses.replace(rsc.child, **changes)
            )
        if rsc.id == rsc_id:
            return dataclasses.replace(rsc, **changes)
        return rsc

    return dataclasses.replace(cib, resources=tuple(map(changed, cib.resources)))


def codes(problems: list[checks.Problem]) -> list[str]:
    return sorted(p.code for p in problems)


def test_the_documented_codes_are_the_reported_ones():
    documented = set(re.findall(r"HK\d{3}", agents.__doc__ or ""))
    reported = set(re.findall(r'"(HK5\d\d)"', inspect.getsource(agents)))
    assert documented == reported == {f"HK50{n}" for n in range(1, 7)}


@pytest.mark.parametrize("path", [EXAMPLE, LAB], ids=["example", "lab"])
def test_the_shipped_topologies_name_only_real_agents_and_parameters(path):
    assert agents.check_declared(recipes.build(topology.load(path))) == []


# -- HK501 ------------------------------------------------------------------------


def test_hk501_an_agent_hakit_does_not_ship_names_resource_and_field(example):
    # Every hakit agent a topology can ask for exists now (OpenDaylight was
    # the last); a model naming another one is still refused.
    agent = AgentRef("ocf", "designate-api", provider="hakit")
    cib = with_primitive(example, "hakit-rabbitmq", agent=agent)
    (problem,) = agents.check_declared(cib)
    assert (problem.code, problem.severity) == ("HK501", checks.ERROR)
    assert (problem.subject, problem.field) == ("hakit-rabbitmq", "services.rabbitmq")
    assert "ocf:hakit:designate-api" in problem.message
    assert "galera" in problem.message  # what it does ship


def test_the_example_deploys_opendaylight_with_declared_parameters(example):
    odl = prim(example, "hakit-opendaylight")
    assert (odl.agent.provider, odl.agent.type) == ("hakit", "opendaylight")
    assert dict(odl.params)["home"] == "/opt/opendaylight"
    assert agents.check_declared(example) == []


def test_a_parameter_the_opendaylight_agent_does_not_declare_is_refused():
    text = EXAMPLE.read_text().replace('user = "odl"', 'odl_user = "odl"')
    with pytest.raises(topology.TopologyError, match="did you mean 'user'"):
        build(text)


def test_haproxy_under_ocf_is_hakits_own_agent_and_clean():
    cib = build(EXAMPLE.read_text().replace('haproxy = "systemd"', 'haproxy = "ocf"'))
    assert agents.check_declared(cib) == []
    agent = prim(cib, "hakit-haproxy").agent
    assert (agent.standard, agent.provider, agent.type) == ("ocf", "hakit", "haproxy")


def test_a_parameter_the_haproxy_agent_does_not_declare_is_refused():
    text = EXAMPLE.read_text().replace('haproxy = "systemd"', 'haproxy = "ocf"')
    text = text.replace(
        "[services.galera]",
        '[overrides.haproxy]\nparams = { conf = "/etc/h.cfg" }\n\n[services.galera]',
    )
    with pytest.raises(topology.TopologyError, match="did you mean 'config'"):
        build(text)


def test_hk501_an_unknown_hakit_fence_agent(example):
    agent = AgentRef("stonith", "fence_hakit_pdu")
    cib = with_primitive(example, "hakit-fence-ctl1", agent=agent)
    (problem,) = agents.check_declared(cib)
    assert problem.code == "HK501"
    assert "fence_hakit_ipmi" in problem.message


def test_a_build_of_the_example_with_opendaylight_is_ok():
    result = pipeline.build(EXAMPLE)
    assert "HK501" not in codes(list(result.problems))


# -- HK502-HK504 on hakit's agents ------------------------------------------------


def test_hk502_an_undeclared_parameter_with_a_suggestion(example):
    galera = prim(example, "hakit-galera")
    params = (*galera.params, ("wsrep_cluster_adress", "gcomm://a"))
    (problem,) = agents.check_declared(
        with_primitive(example, "hakit-galera", params=params)
    )
    assert problem.code == "HK502"
    assert "did you mean 'wsrep_cluster_address'" in problem.message
    assert problem.field == "services.galera"


def test_hk502_names_the_override_field_that_set_the_parameter(example):
    keystone = prim(example, "hakit-keystone")
    cib = with_primitive(
        example,
        "hakit-keystone",
        params=(("workerz", "4"),),
        origins=(("workerz", "overrides.keystone.params.workerz"),),
    )
    (problem,) = agents.check_declared(cib)
    assert problem.field == "overrides.keystone.params.workerz"
    assert keystone.origin == "services.openstack.enable[0]"


def test_hk502_on_a_fence_device_and_aliases_and_pcmk_are_accepted(example):
    fence = prim(example, "hakit-fence-ctl1")
    params = tuple(("ipaddr" if k == "ip" else k, v) for k, v in fence.params) + (
        ("privlevel", "operator"),
    )
    (problem,) = agents.check_declared(
        with_primitive(example, "hakit-fence-ctl1", params=params)
    )
    assert problem.code == "HK502"
    assert "'privlevel'" in problem.message
    assert "did you mean 'privlvl'" in problem.message


@pytest.mark.parametrize(
    ("rsc_id", "name", "value"),
    [
        ("hakit-galera", "wsrep_cluster_address", "mysql://a,b"),
        ("hakit-keystone", "port", "http"),
        ("hakit-fence-ctl1", "cipher", "three"),
        ("hakit-fence-ctl1", "privlvl", "root"),
    ],
)
def test_hk503_a_value_the_kind_refuses(example, rsc_id, name, value):
    old = prim(example, rsc_id)
    params = (*(p for p in old.params if p[0] != name), (name, value))
    (problem,) = agents.check_declared(with_primitive(example, rsc_id, params=params))
    assert problem.code == "HK503"
    assert problem.message.startswith(f"{name}={value!r}: ")


def test_hk503_a_secret_never_goes_into_the_cib(example):
    fence = prim(example, "hakit-fence-ctl1")
    params = (*fence.params, ("password", "admin"))
    (problem,) = agents.check_declared(
        with_primitive(example, "hakit-fence-ctl1", params=params)
    )
    assert problem.code == "HK503"
    assert "secret" in problem.message
    assert "admin" not in problem.message


@pytest.mark.parametrize(
    ("rsc_id", "name"),
    [("hakit-galera", "wsrep_cluster_address"), ("hakit-fence-ctl1", "ip")],
)
def test_hk504_a_required_parameter_is_missing(example, rsc_id, name):
    old = prim(example, rsc_id)
    params = tuple(p for p in old.params if p[0] != name)
    (problem,) = agents.check_declared(with_primitive(example, rsc_id, params=params))
    assert problem.code == "HK504"
    assert repr(name) in problem.message


# -- other providers, through a lookup --------------------------------------------

IPADDR2 = """<?xml version="1.0"?>
<!DOCTYPE resource-agent SYSTEM "ra-api-1.dtd">
<resource-agent name="IPaddr2" version="1.0">
<parameters>
<parameter name="ip" unique="1" required="1"><content type="string"/></parameter>
<parameter name="nic"><content type="string"/></parameter>
<parameter name="cidr_netmask"><content type="string"/></parameter>
<parameter name="lvs_support"><content type="boolean" default="false"/></parameter>
<parameter name="arp_count"><content type="integer" default="5"/></parameter>
</parameters>
</resource-agent>
"""


class Lookup:
    """A stand-in for what the building machine knows, counting questions."""

    def __init__(self, answers):
        self.answers = answers
        self.asked: list[str] = []

    def __call__(self, agent):
        self.asked.append(str(agent))
        return self.answers[str(agent)]


def known(**extra):
    found = agents.Found(agents.parse_metadata(IPADDR2))
    return {
        "ocf:heartbeat:IPaddr2": found,
        "systemd:haproxy": agents.Found(agents.Declaration(())),
        "systemd:memcached": agents.Found(agents.Declaration(())),
        **extra,
    }


def test_other_providers_are_asked_once_per_agent(example):
    lookup = Lookup(known())
    assert agents.check_installed(example, lookup) == []
    assert sorted(lookup.asked) == [
        "ocf:heartbeat:IPaddr2",
        "systemd:haproxy",
        "systemd:memcached",
    ]


def test_metadata_types_check_values_and_required_parameters(example):
    vip = prim(example, "hakit-vip-public")
    params = (("nic", "eth2"), ("arp_count", "many"), ("lvs_support", "maybe"))
    problems = agents.check_installed(
        with_primitive(example, "hakit-vip-public", params=params), Lookup(known())
    )
    assert codes(problems) == ["HK503", "HK503", "HK504"]
    assert vip.origin_of("ip") == "vips[0].address"


def test_a_systemd_unit_takes_no_parameters(example):
    cib = with_primitive(example, "hakit-haproxy", params=(("conffile", "/x"),))
    (problem,) = agents.check_installed(cib, Lookup(known()))
    assert problem.code == "HK502"
    assert "takes no parameters" in problem.message


def test_hk505_error_when_known_not_to_exist_hk506_warning_when_unknown(example):
    gone = agents.Missing("the heartbeat agents installed here have no IPaddr2", True)
    unknown = agents.Missing("no haproxy.service on this machine")
    problems = agents.check_installed(
        example,
        Lookup(known(**{"ocf:heartbeat:IPaddr2": gone, "systemd:haproxy": unknown})),
    )
    found = {(p.code, p.severity, p.subject) for p in problems}
    assert found == {
        ("HK505", checks.ERROR, "hakit-vip-public"),
        ("HK505", checks.ERROR, "hakit-vip-internal"),
        ("HK505", checks.ERROR, "hakit-vip-admin"),
        ("HK506", checks.WARNING, "hakit-haproxy"),
    }


def test_parse_metadata_refuses_what_is_not_meta_data():
    with pytest.raises(ValueError, match="not XML"):
        agents.parse_metadata("ERROR: no such agent")
    with pytest.raises(ValueError, match="<cib>"):
        agents.parse_metadata("<cib/>")
