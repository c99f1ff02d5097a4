"""Lint codes: the recipe's model is clean; each broken detail gives its code."""

from __future__ import annotations

import dataclasses
import inspect
import re
from pathlib import Path

import pytest

from cib_builder import checks, recipes, topology
from cib_builder.model import (
    MINUS_INFINITY,
    Action,
    Cib,
    Clone,
    Colocation,
    FencingLevel,
    Location,
    Node,
    Op,
    Order,
    Primitive,
    ResourceSet,
    Role,
)

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "opnfv-3-controllers.toml"
VIPS = ("hakit-vip-public", "hakit-vip-internal", "hakit-vip-admin")


@pytest.fixture(scope="module")
def cib() -> Cib:
    return recipes.build(topology.load(EXAMPLE))


def codes(cib: Cib) -> list[str]:
    """The codes ``check`` reports, sorted, once per problem."""
    return sorted(problem.code for problem in checks.check(cib))


def with_resource(cib: Cib, rsc_id: str, **changes: object) -> Cib:
    """``cib`` with the top-level resource ``rsc_id`` changed."""
    assert rsc_id in [rsc.id for rsc in cib.resources]
    resources = tuple(
        dataclasses.replace(rsc, **changes) if rsc.id == rsc_id else rsc
        for rsc in cib.resources
    )
    return dataclasses.replace(cib, resources=resources)


def with_child(cib: Cib, clone_id: str, **changes: object) -> Cib:
    """``cib`` with the primitive inside clone ``clone_id`` changed."""
    (rsc,) = [r for r in cib.resources if r.id == clone_id]
    assert isinstance(rsc, Clone)
    return with_resource(cib, clone_id, child=dataclasses.replace(rsc.child, **changes))


def with_constraint(cib: Cib, con_id: str, **changes: object) -> Cib:
    """``cib`` with constraint ``con_id`` changed."""
    assert con_id in [con.id for con in cib.constraints]
    constraints = tuple(
        dataclasses.replace(con, **changes) if con.id == con_id else con
        for con in cib.constraints
    )
    return dataclasses.replace(cib, constraints=constraints)


def without_constraint(cib: Cib, con_id: str) -> Cib:
    assert con_id in [con.id for con in cib.constraints]
    kept = tuple(con for con in cib.constraints if con.id != con_id)
    return dataclasses.replace(cib, constraints=kept)


def with_meta(rsc: Clone, name: str, value: str) -> tuple[tuple[str, str], ...]:
    assert rsc.meta_value(name) is not None
    return tuple((k, value if k == name else v) for k, v in rsc.meta)


def clone(cib: Cib, clone_id: str) -> Clone:
    rsc = cib.resource_ids()[clone_id]
    assert isinstance(rsc, Clone)
    return rsc


def constraint(cib: Cib, con_id: str):
    (con,) = [c for c in cib.constraints if c.id == con_id]
    return con


# -- the clean model ----------------------------------------------------------------


def test_the_example_has_no_errors(cib):
    assert checks.errors(checks.check(cib)) == []


def test_the_example_has_no_problem_at_all(cib):
    assert checks.check(cib) == []


def test_the_documented_codes_are_the_reported_ones():
    documented = set(re.findall(r"HK\d{3}", checks.__doc__ or ""))
    reported = set(re.findall(r'Problem\(\s*"(HK\d{3})"', inspect.getsource(checks)))
    assert documented == reported
    # Each of these has a test below; a new code needs one too.
    assert documented == {
        "HK101",
        "HK102",
        "HK103",
        "HK104",
        "HK201",
        "HK202",
        "HK203",
        "HK204",
        "HK205",
        "HK301",
        "HK302",
        "HK303",
        "HK304",
        "HK401",
    }


def test_a_two_node_model_only_warns_about_the_even_count():
    text = EXAMPLE.read_text(encoding="utf-8")
    start = text.index('[[nodes]]\nname = "ctl3"')
    end = text.index("# -- virtual IPs")
    text = text[:start] + text[end:]
    text = text.replace("allow_two_node = false", "allow_two_node = true")
    text = text.replace("[cluster]", "[cluster]\nfencing_delay = 10")
    text = text.replace(
        "gcomm://192.168.77.11,192.168.77.12,192.168.77.13",
        "gcomm://192.168.77.11,192.168.77.12",
    )
    problems = checks.check(recipes.build(topology.parse(text)))
    assert [(p.code, p.severity) for p in problems] == [("HK304", checks.WARNING)]
    assert checks.errors(problems) == []


# -- HK1xx: ids and references ------------------------------------------------------


@pytest.mark.parametrize("bad", ["1starts-with-digit", "has space", "colon:id", ""])
def test_hk101_constraint_id_that_is_no_xml_id(cib, bad):
    broken = with_constraint(cib, "hakit-l-fence-ctl1-avoid-self", id=bad)
    assert codes(broken) == ["HK101"]


def test_hk101_resource_id_that_is_no_xml_id(cib):
    # A stonith device is referenced only by id from its fencing level and its
    # location, so rename all three: one id, spelled wrong everywhere.
    bad = "fence ctl1"
    broken = with_resource(cib, "hakit-fence-ctl1", id=bad)
    broken = with_constraint(broken, "hakit-l-fence-ctl1-avoid-self", rsc=bad)
    levels = tuple(
        dataclasses.replace(lv, devices=(bad,)) if lv.target == "ctl1" else lv
        for lv in broken.fencing
    )
    broken = dataclasses.replace(broken, fencing=levels)
    assert codes(broken) == ["HK101"]


def test_hk102_constraint_id_used_twice(cib):
    broken = with_constraint(
        cib, "hakit-l-fence-ctl2-avoid-self", id="hakit-l-fence-ctl1-avoid-self"
    )
    assert codes(broken) == ["HK102"]


def test_hk102_constraint_id_equal_to_a_resource_id(cib):
    broken = with_constraint(
        cib, "hakit-o-memcached-before-keystone", id="hakit-memcached-clone"
    )
    assert codes(broken) == ["HK102"]


def test_hk102_clone_and_child_with_the_same_id(cib):
    broken = with_resource(cib, "hakit-heat-engine-clone", id="hakit-heat-engine")
    # The orders after galera and after rabbitmq still name
    # hakit-heat-engine-clone.
    assert codes(broken) == ["HK102", "HK103", "HK103"]


def test_hk103_order_naming_an_unknown_resource(cib):
    sets = (ResourceSet(("hakit-memcached-clone",)), ResourceSet(("keystone-cloned",)))
    broken = with_constraint(cib, "hakit-o-memcached-before-keystone", sets=sets)
    assert codes(broken) == ["HK103"]


def test_hk103_colocation_naming_an_unknown_resource(cib):
    con = constraint(cib, "hakit-c-vips-with-haproxy")
    sets = (con.sets[0], ResourceSet(("haproxy-clon",)))
    broken = with_constraint(cib, "hakit-c-vips-with-haproxy", sets=sets)
    # The VIPs are then colocated with nothing HAProxy is in: HK401 as well.
    assert codes(broken) == ["HK103"] + ["HK401"] * len(VIPS)


def test_hk103_location_on_an_unknown_node(cib):
    extra = Location("l-vip-public-prefers-ctl9", "hakit-vip-public", "ctl9", "100")
    broken = dataclasses.replace(cib, constraints=(*cib.constraints, extra))
    assert codes(broken) == ["HK103"]


def test_hk104_fencing_level_naming_an_unknown_device(cib):
    levels = (
        FencingLevel("ctl1", 1, ("hakit-fence-ctl9",)),
        *(lv for lv in cib.fencing if lv.target != "ctl1"),
    )
    broken = dataclasses.replace(cib, fencing=levels)
    # Nothing keeps the unknown device off ctl1 either.
    assert codes(broken) == ["HK104", "HK302"]


def test_hk104_fencing_level_naming_a_resource_that_is_no_stonith_device(cib):
    extra = FencingLevel("ctl1", 2, ("hakit-vip-public",))
    broken = dataclasses.replace(cib, fencing=(*cib.fencing, extra))
    assert codes(broken) == ["HK104", "HK302"]


def test_hk104_fencing_level_for_an_unknown_node(cib):
    extra = FencingLevel("ctl9", 1, ("hakit-fence-ctl1",))
    broken = dataclasses.replace(cib, fencing=(*cib.fencing, extra))
    # fence-ctl1 is kept off ctl1 only, not off "ctl9".
    assert codes(broken) == ["HK104", "HK302"]


# -- HK2xx: resources and orders ----------------------------------------------------


def test_hk201_dependent_clone_not_interleaved(cib):
    keystone = clone(cib, "hakit-keystone-clone")
    broken = with_resource(
        cib, "hakit-keystone-clone", meta=with_meta(keystone, "interleave", "false")
    )
    # keystone follows galera-clone and memcached-clone: two orders.
    assert codes(broken) == ["HK201", "HK201"]
    subjects = {p.subject for p in checks.check(broken)}
    assert subjects == {
        "hakit-o-galera-before-openstack",
        "hakit-o-memcached-before-keystone",
    }


def test_hk201_needs_an_earlier_clone(cib):
    # The VIPs are primitives: HAProxy after them needs no interleave.
    haproxy = clone(cib, "hakit-haproxy-clone")
    broken = with_resource(
        cib, "hakit-haproxy-clone", meta=with_meta(haproxy, "interleave", "false")
    )
    assert codes(broken) == []


def test_hk202_promoted_max_above_the_node_count(cib):
    galera = clone(cib, "hakit-galera-clone")
    broken = with_resource(
        cib, "hakit-galera-clone", meta=with_meta(galera, "promoted-max", "4")
    )
    assert codes(broken) == ["HK202"]


@pytest.mark.parametrize("value", ["0", "-1", "three", ""])
def test_hk202_promoted_max_unusable(cib, value):
    galera = clone(cib, "hakit-galera-clone")
    broken = with_resource(
        cib, "hakit-galera-clone", meta=with_meta(galera, "promoted-max", value)
    )
    assert codes(broken) == ["HK202"]


def test_hk202_promoted_max_missing(cib):
    galera = clone(cib, "hakit-galera-clone")
    meta = tuple((k, v) for k, v in galera.meta if k != "promoted-max")
    assert codes(with_resource(cib, "hakit-galera-clone", meta=meta)) == ["HK202"]


def test_hk202_promote_timeout_too_short(cib):
    galera = clone(cib, "hakit-galera-clone").child
    ops = tuple(
        dataclasses.replace(op, timeout=checks.MIN_PROMOTE_TIMEOUT - 1)
        if op.name == "promote"
        else op
        for op in galera.ops
    )
    assert codes(with_child(cib, "hakit-galera-clone", ops=ops)) == ["HK202"]


def test_hk202_promote_operation_missing(cib):
    galera = clone(cib, "hakit-galera-clone").child
    ops = tuple(op for op in galera.ops if op.name != "promote")
    assert codes(with_child(cib, "hakit-galera-clone", ops=ops)) == ["HK202"]


def test_hk202_promote_timeout_at_the_minimum_is_fine(cib):
    galera = clone(cib, "hakit-galera-clone").child
    ops = tuple(
        dataclasses.replace(op, timeout=checks.MIN_PROMOTE_TIMEOUT)
        if op.name == "promote"
        else op
        for op in galera.ops
    )
    assert codes(with_child(cib, "hakit-galera-clone", ops=ops)) == []


def test_hk203_promote_action_of_a_clone_that_is_not_promotable(cib):
    broken = with_resource(cib, "hakit-galera-clone", promotable=False)
    assert codes(broken) == ["HK203"]


def test_hk203_promoted_role_of_a_clone_that_is_not_promotable(cib):
    con = constraint(cib, "hakit-c-vips-with-haproxy")
    sets = (con.sets[0], ResourceSet(("hakit-haproxy-clone",), role=Role.PROMOTED))
    broken = with_constraint(cib, "hakit-c-vips-with-haproxy", sets=sets)
    assert codes(broken) == ["HK203"]


def test_hk203_promote_action_of_a_primitive(cib):
    con = constraint(cib, "hakit-o-vips-before-haproxy")
    sets = (
        ResourceSet(con.sets[0].resources, sequential=False, action=Action.PROMOTE),
        con.sets[1],
    )
    broken = with_constraint(cib, "hakit-o-vips-before-haproxy", sets=sets)
    assert codes(broken) == ["HK203"] * len(VIPS)


def test_hk204_two_monitors_with_one_interval(cib):
    galera = clone(cib, "hakit-galera-clone").child
    ops = tuple(
        dataclasses.replace(op, interval=10) if op.role == Role.UNPROMOTED else op
        for op in galera.ops
    )
    assert codes(with_child(cib, "hakit-galera-clone", ops=ops)) == ["HK204"]


def test_hk204_in_a_plain_primitive(cib):
    (vip,) = [r for r in cib.resources if r.id == "hakit-vip-public"]
    assert isinstance(vip, Primitive)
    ops = (*vip.ops, Op("monitor", 10, 30))
    assert codes(with_resource(cib, "hakit-vip-public", ops=ops)) == ["HK204"]


@pytest.mark.parametrize("name", ["failure-timeout", "migration-threshold"])
def test_hk205_a_promotable_clone_without_its_failure_policy(cib, name):
    galera = clone(cib, "hakit-galera-clone")
    meta = tuple(pair for pair in galera.meta if pair[0] != name)
    problems = checks.check(with_resource(cib, "hakit-galera-clone", meta=meta))
    assert [(p.code, p.subject) for p in problems] == [("HK205", galera.id)]
    assert name in problems[0].message


def test_hk205_a_notified_clone_is_stateful_too(cib):
    keystone = clone(cib, "hakit-keystone-clone")
    meta = (*keystone.meta, ("notify", "true"))
    broken = with_resource(cib, "hakit-keystone-clone", meta=meta)
    assert codes(broken) == ["HK205"]
    assert codes(with_resource(cib, "hakit-keystone-clone", meta=(*meta,
        ("failure-timeout", "30s"), ("migration-threshold", "5")))) == []  # fmt: skip


# -- HK3xx: fencing -----------------------------------------------------------------


def test_hk301_node_without_a_fencing_level(cib):
    levels = tuple(lv for lv in cib.fencing if lv.target != "ctl3")
    broken = dataclasses.replace(cib, fencing=levels)
    assert codes(broken) == ["HK301"]
    assert [p.subject for p in checks.check(broken)] == ["ctl3"]


def test_hk301_for_every_node_without_fencing(cib):
    assert codes(dataclasses.replace(cib, fencing=())) == ["HK301"] * 3


def test_hk302_device_allowed_on_its_own_node(cib):
    broken = without_constraint(cib, "hakit-l-fence-ctl2-avoid-self")
    assert codes(broken) == ["HK302"]
    assert [p.subject for p in checks.check(broken)] == ["hakit-fence-ctl2"]


def test_hk302_avoidance_that_is_no_minus_infinity(cib):
    broken = with_constraint(cib, "hakit-l-fence-ctl2-avoid-self", score="-1000")
    assert codes(broken) == ["HK302"]


@pytest.mark.parametrize(
    "value",
    [
        "false",
        "False",
        "0",
        "no",
        "off",
        "OFF",
        "n",
    ],
)
def test_hk303_stonith_disabled(cib, value):
    props = tuple(
        (k, value if k == "stonith-enabled" else v) for k, v in cib.properties
    )
    assert codes(dataclasses.replace(cib, properties=props)) == ["HK303"]


@pytest.mark.parametrize("value", ["true", "1", "yes", "on"])
def test_hk303_not_for_stonith_enabled(cib, value):
    props = tuple(
        (k, value if k == "stonith-enabled" else v) for k, v in cib.properties
    )
    assert codes(dataclasses.replace(cib, properties=props)) == []


def test_hk303_not_when_the_property_is_absent(cib):
    props = tuple((k, v) for k, v in cib.properties if k != "stonith-enabled")
    assert codes(dataclasses.replace(cib, properties=props)) == []


def test_hk304_even_node_count_is_a_warning(cib):
    broken = dataclasses.replace(cib, nodes=(*cib.nodes, Node("ctl4", 4)))
    problems = checks.check(broken)
    # ctl4 has no fence device either; the warning comes after the error.
    assert [(p.code, p.severity) for p in problems] == [
        ("HK301", checks.ERROR),
        ("HK304", checks.WARNING),
    ]
    assert [p.code for p in checks.errors(problems)] == ["HK301"]


# -- HK401: VIPs --------------------------------------------------------------------


def test_hk401_vips_not_colocated_with_haproxy(cib):
    broken = without_constraint(cib, "hakit-c-vips-with-haproxy")
    problems = checks.check(broken)
    assert [p.code for p in problems] == ["HK401"] * len(VIPS)
    assert {p.subject for p in problems} == set(VIPS)


def test_hk401_one_vip_left_out(cib):
    con = constraint(cib, "hakit-c-vips-with-haproxy")
    first = dataclasses.replace(
        con.sets[0], resources=("hakit-vip-public", "hakit-vip-admin")
    )
    broken = with_constraint(
        cib, "hakit-c-vips-with-haproxy", sets=(first, con.sets[1])
    )
    problems = checks.check(broken)
    assert [(p.code, p.subject) for p in problems] == [("HK401", "hakit-vip-internal")]


def test_hk401_anti_colocation_is_no_colocation(cib):
    broken = with_constraint(cib, "hakit-c-vips-with-haproxy", score=MINUS_INFINITY)
    assert codes(broken) == ["HK401"] * len(VIPS)


def test_hk401_not_without_haproxy(cib):
    resources = tuple(r for r in cib.resources if r.id != "hakit-haproxy-clone")
    constraints = tuple(
        c
        for c in cib.constraints
        if not isinstance(c, (Order, Colocation))
        or "hakit-haproxy-clone" not in [r for s in c.sets for r in s.resources]
    )
    broken = dataclasses.replace(cib, resources=resources, constraints=constraints)
    assert codes(broken) == []


# -- collecting ---------------------------------------------------------------------


def test_every_problem_is_collected_and_errors_come_first(cib):
    broken = dataclasses.replace(cib, nodes=(*cib.nodes, Node("ctl4", 4)))
    broken = without_constraint(broken, "hakit-l-fence-ctl2-avoid-self")
    broken = without_constraint(broken, "hakit-c-vips-with-haproxy")
    broken = with_resource(broken, "hakit-galera-clone", promotable=False)
    problems = checks.check(broken)
    assert sorted(p.code for p in problems) == sorted(
        ["HK203", "HK301", "HK302", "HK304", *["HK401"] * len(VIPS)]
    )
    severities = [p.severity for p in problems]
    assert severities == sorted(severities, key=lambda s: s != checks.ERROR)
    assert severities[-1] == checks.WARNING


def test_problem_renders_code_severity_subject_and_message():
    problem = checks.Problem(
        "HK302", checks.ERROR, "hakit-fence-ctl1", "may run on ctl1"
    )
    assert str(problem) == "HK302 error hakit-fence-ctl1: may run on ctl1"


def test_problem_renders_the_topology_field_when_known():
    problem = checks.Problem(
        "HK501", checks.ERROR, "hakit-rabbitmq", "no such agent", "services.rabbitmq"
    )
    assert str(problem) == (
        "HK501 error hakit-rabbitmq (services.rabbitmq): no such agent"
    )


def test_order_whose_sets_name_a_constraint_is_unknown(cib):
    # Belt and braces for HK103: only resources, never constraints, resolve.
    extra = Order(
        "o-x",
        (
            ResourceSet(("hakit-memcached-clone",)),
            ResourceSet(("hakit-l-fence-ctl1-avoid-self",)),
        ),
    )
    broken = dataclasses.replace(cib, constraints=(*cib.constraints, extra))
    assert codes(broken) == ["HK103"]


def test_location_of_a_stonith_device_elsewhere_does_not_hide_hk302(cib):
    moved = with_constraint(cib, "hakit-l-fence-ctl2-avoid-self", node="ctl1")
    assert codes(moved) == ["HK302"]
