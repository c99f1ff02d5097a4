"""Merging hakit's configuration into a live CIB (no tools run).

The live CIB is a real ``cibadmin --query`` of the three-node lab
(``tests/unit/data/live-cib.xml``): Pacemaker's own properties, nodes ctl1-3,
an operator's resource ``op-dummy`` with its status, maintenance mode on.
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest
from lxml import etree

from cib_builder import checks, merge, recipes, render, topology
from cib_builder.merge import Change

ROOT = Path(__file__).resolve().parents[2]
LIVE = Path(__file__).parent / "data" / "live-cib.xml"
LAB = ROOT / "tests" / "lab" / "lab-3-controllers.toml"
MAINTAINED = ("dc-version", "cluster-infrastructure", "have-watchdog", "cluster-name")


def live(**edits: str) -> etree._Element:
    text = LIVE.read_text()
    for old, new in edits.items():
        assert old in text
        text = text.replace(old, new)
    return merge.parse_live(text.encode())


def generated(text: str | None = None) -> etree._Element:
    topo = topology.parse(text) if text else topology.load(LAB)
    return render.render(recipes.build(topo))


def canonical(elem: etree._Element) -> bytes:
    clean = etree.fromstring(
        etree.tostring(elem), etree.XMLParser(remove_blank_text=True)
    )
    return etree.tostring(clean, method="c14n")


def properties(cib: etree._Element) -> dict[str, str]:
    return {
        nv.get("name"): nv.get("value")
        for nv in cib.iterfind("configuration/crm_config/cluster_property_set/nvpair")
    }


def ops(merged: merge.Merged) -> set[tuple[str, str]]:
    return {(c.op, c.id) for c in merged.changes}


def codes(merged: merge.Merged) -> list[str]:
    return sorted(p.code for p in merged.problems)


def lab_text(**edits: str) -> str:
    text = LAB.read_text()
    for old, new in edits.items():
        assert old in text
        text = text.replace(old, new)
    return text


def without_nova_conductor() -> str:
    three = '"keystone", "placement-api", "nova-conductor"'
    return lab_text(**{three: '"keystone", "placement-api"'})


def test_the_documented_codes_are_the_reported_ones():
    documented = set(re.findall(r"HK\d{3}", merge.__doc__ or ""))
    reported = set(re.findall(r'"(HK6\d\d)"', inspect.getsource(merge)))
    assert documented == reported == {f"HK60{n}" for n in range(1, 9)}


def test_a_first_load_adds_hakits_objects_and_keeps_everything_else():
    before = live()
    merged = merge.merge(before, generated())
    assert merged.ok
    assert codes(merged) == []
    cib = merged.cib
    # Root version attributes, nodes, status: untouched.
    assert dict(cib.attrib) == dict(before.attrib)
    for path in ("configuration/nodes", "status"):
        assert canonical(cib.find(path)) == canonical(before.find(path))
    # Pacemaker's and the operator's properties stay; hakit's are set.
    props = properties(cib)
    for name in MAINTAINED:
        assert props[name] == properties(before)[name]
    assert props["maintenance-mode"] == "true"
    assert props["stonith-enabled"] == "true"
    assert props["no-quorum-policy"] == "stop"
    # The operator's resource is where it was, unchanged.
    resources = cib.find("configuration/resources")
    assert resources[0].get("id") == "op-dummy"
    assert canonical(resources[0]) == canonical(
        before.find("configuration/resources/primitive")
    )
    assert ("change", "stonith-enabled") in ops(merged)
    assert ("add", "hakit-galera-clone") in ops(merged)
    assert ("add", "hakit-fl-ctl3-1") in ops(merged)
    assert not [c for c in merged.changes if c.op == "remove"]


def test_the_input_is_not_modified():
    before = live()
    text = etree.tostring(before)
    merge.merge(before, generated())
    assert etree.tostring(before) == text


def test_merging_twice_changes_nothing():
    once = merge.merge(live(), generated())
    twice = merge.merge(once.cib, generated())
    assert twice.changes == ()
    assert canonical(twice.cib) == canonical(once.cib)


def test_a_changed_parameter_is_replaced_in_place_and_described():
    once = merge.merge(live(), generated()).cib
    changed = lab_text(
        **{
            "[services.galera]": (
                "[overrides.keystone]\n"
                'params = { healthcheck_timeout = "7" }\n\n[services.galera]'
            )
        }
    )
    merged = merge.merge(once, generated(changed))
    (change,) = merged.changes
    assert (change.op, change.kind, change.id) == (
        "change",
        "resource",
        "hakit-keystone-clone",
    )
    assert "+ param healthcheck_timeout" in change.details
    position = [e.get("id") for e in once.find("configuration/resources")]
    assert [e.get("id") for e in merged.cib.find("configuration/resources")] == position


def test_a_service_no_longer_in_the_topology_is_removed_with_its_references():
    once = merge.merge(live(), generated()).cib
    fewer = without_nova_conductor()
    merged = merge.merge(once, generated(fewer))
    assert ops(merged) == {
        ("remove", "hakit-nova-conductor-clone"),
        ("change", "hakit-o-galera-before-openstack"),
    }
    ids = {e.get("id") for e in merged.cib.iter()}
    assert "hakit-nova-conductor" not in ids
    assert "op-dummy" in ids


def test_the_operators_objects_stay_unless_pruned_and_pacemakers_always():
    once = merge.merge(live(), generated()).cib
    kept = merge.merge(once, generated())
    assert "op-dummy" in {e.get("id") for e in kept.cib.iter()}
    pruned = merge.merge(once, generated(), prune=True)
    removed = {(c.id, c.owner) for c in pruned.changes if c.op == "remove"}
    assert removed == {
        ("op-dummy", "operator"),
        ("maintenance-mode", "operator"),
        ("dc-deadtime", "operator"),
    }
    props = properties(pruned.cib)
    for name in MAINTAINED:
        assert name in props
    assert canonical(pruned.cib.find("configuration/nodes")) == canonical(
        once.find("configuration/nodes")
    )


def test_hk601_an_older_live_schema_is_refused():
    merged = merge.merge(
        live(**{'validate-with="pacemaker-3.9"': 'validate-with="pacemaker-3.0"'}),
        generated(),
    )
    assert not merged.ok
    assert codes(merged) == ["HK601"]
    assert "cibadmin --upgrade" in merged.problems[0].message


def test_hk602_an_operator_object_holding_one_of_hakits_ids():
    group = (
        '<group id="ops"><primitive id="hakit-keystone" class="ocf" '
        'provider="pacemaker" type="Dummy"/></group>'
    )
    merged = merge.merge(
        live(
            **{
                "<constraints/>": "<constraints/>",
                "</resources>": f"{group}</resources>",
            }
        ),
        generated(),
    )
    assert not merged.ok
    assert "HK602" in codes(merged)
    assert [p.subject for p in merged.problems if p.code == "HK602"] == [
        "hakit-keystone"
    ]


def test_hk603_an_operator_level_in_a_slot_hakit_uses():
    level = (
        '<fencing-topology><fencing-level id="mine" target="ctl1" index="1" '
        'devices="op-dummy"/></fencing-topology>'
    )
    merged = merge.merge(
        live(**{"<constraints/>": f"<constraints/>{level}"}), generated()
    )
    assert codes(merged) == ["HK603"]
    assert not merged.ok
    assert merge.merge(
        live(**{"<constraints/>": f"<constraints/>{level}"}), generated(), prune=True
    ).ok


def test_hk604_hk605_nodes_that_differ_are_warned_never_changed():
    before = live(**{'uname="ctl3"': 'uname="ctl9"'})
    merged = merge.merge(before, generated())
    assert codes(merged) == ["HK604", "HK605"]
    assert merged.ok
    assert canonical(merged.cib.find("configuration/nodes")) == canonical(
        before.find("configuration/nodes")
    )


def test_hk606_an_operator_constraint_on_a_removed_resource():
    once = merge.merge(live(), generated()).cib
    constraints = once.find("configuration/constraints")
    etree.SubElement(
        constraints,
        "rsc_colocation",
        id="mine",
        rsc="op-dummy",
        **{"with-rsc": "hakit-nova-conductor-clone", "score": "INFINITY"},
    )
    fewer = without_nova_conductor()
    merged = merge.merge(once, generated(fewer))
    assert codes(merged) == ["HK606"]
    assert merged.problems[0].subject == "mine"


def test_hk607_an_operator_default_that_comes_first_wins():
    defaults = (
        '<rsc_defaults><meta_attributes id="rsc-options">'
        '<nvpair id="rsc-options-resource-stickiness" name="resource-stickiness" '
        'value="100"/></meta_attributes></rsc_defaults>'
    )
    merged = merge.merge(
        live(**{"<constraints/>": f"<constraints/>{defaults}"}), generated()
    )
    assert codes(merged) == ["HK607"]
    assert "rsc-options" in merged.problems[0].message
    assert merged.ok


def test_hk608_a_maintained_property_keeps_the_clusters_value():
    merged = merge.merge(
        live(), generated(lab_text(**{'name = "hakit-test"': 'name = "other"'}))
    )
    assert codes(merged) == ["HK608"]
    assert properties(merged.cib)["cluster-name"] == "hakit-test"


def test_a_cib_without_configuration_is_refused():
    with pytest.raises(merge.MergeError):
        merge.parse_live(b"<cib/>")
    with pytest.raises(merge.MergeError):
        merge.parse_live(b"not xml")


def test_change_renders_one_line():
    assert str(Change("add", "property", "stonith-enabled", summary="= 'true'")) == (
        "add property stonith-enabled = 'true'"
    )
    assert str(Change("remove", "resource", "x", owner="operator")) == (
        "remove resource x (not generated by hakit)"
    )


def test_problems_are_checks_problems():
    merged = merge.merge(live(**{'uname="ctl3"': 'uname="ctl9"'}), generated())
    assert all(isinstance(p, checks.Problem) for p in merged.problems)
