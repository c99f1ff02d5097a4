"""CIB rendering: ids, order, determinism, escaping, crm shell text (no tools)."""

from __future__ import annotations

import dataclasses
import shlex

import pytest
from lxml import etree

from cib_builder import render
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
    Node,
    Op,
    Order,
    Primitive,
    ResourceSet,
    Role,
)

DUMMY = AgentRef("ocf", "Dummy", provider="heartbeat")

VIP = Primitive(
    id="vip-public",
    agent=AgentRef("ocf", "IPaddr2", provider="heartbeat"),
    params=(("ip", "192.0.2.10"), ("cidr_netmask", "24")),
    meta=(("target-role", "Started"), ("resource-stickiness", "10")),
    ops=(Op("start", 0, 20), Op("monitor", 10, 20, depth=10), Op("stop", 0, 20)),
    description="public VIP",
)
DB = Clone(
    "db-clone",
    Primitive(
        "db",
        AgentRef("ocf", "Stateful", provider="pacemaker"),
        ops=(
            Op("monitor", 10, 20, Role.PROMOTED),
            Op("monitor", 11, 20, Role.UNPROMOTED),
        ),
    ),
    meta=(("promoted-max", "1"), ("interleave", "true")),
    promotable=True,
)
APP = Clone("app-clone", Primitive("app", DUMMY), meta=(("interleave", "true"),))
FENCE = Primitive(
    "fence-ctl1",
    AgentRef("stonith", "fence_ipmilan"),
    params=(("pcmk_host_list", "ctl1"),),
)


def make_cib(**changes) -> Cib:
    cib = Cib(
        nodes=(Node("ctl1", 1), Node("ctl2", 2)),
        properties=(("stonith-enabled", "true"), ("cluster-name", "lab")),
        rsc_defaults=(("resource-stickiness", "100"),),
        op_defaults=(("timeout", "30s"),),
        resources=(FENCE, VIP, DB, APP),
        constraints=(
            Location("l-fence-ctl1", "fence-ctl1", "ctl1", MINUS_INFINITY),
            Colocation(
                "c-vip-with-db",
                (
                    ResourceSet(("vip-public",)),
                    ResourceSet(("db-clone",), role=Role.PROMOTED),
                ),
            ),
            Order(
                "o-db-then-app",
                (
                    ResourceSet(("db-clone",), action=Action.PROMOTE),
                    ResourceSet(("app-clone", "vip-public"), sequential=False),
                    ResourceSet(("vip-public",), require_all=False),
                ),
                kind=Kind.OPTIONAL,
            ),
        ),
        fencing=(
            FencingLevel("ctl1", 1, ("fence-ctl1",)),
            FencingLevel("ctl2", 1, ("fence-a", "fence-b")),
            FencingLevel("ctl2", 2, ("fence-c",)),
        ),
    )
    return dataclasses.replace(cib, **changes)


def by_id(root, ident):
    found = root.xpath("//*[@id=$ident][not(self::resource_ref)]", ident=ident)
    assert len(found) == 1, ident
    return found[0]


def ids(elements):
    return [elem.get("id") for elem in elements]


# ------------------------------------------------------------------ document


def test_root_and_section_order():
    root = render.render(make_cib())
    assert root.tag == "cib"
    assert dict(root.attrib) == {
        "validate-with": "pacemaker-3.9",
        "epoch": "1",
        "num_updates": "0",
        "admin_epoch": "0",
    }
    assert [child.tag for child in root] == ["configuration", "status"]
    assert len(root.find("status")) == 0
    assert [child.tag for child in root.find("configuration")] == [
        "crm_config",
        "nodes",
        "resources",
        "constraints",
        "fencing-topology",
        "rsc_defaults",
        "op_defaults",
    ]


def test_schema_comes_from_the_model():
    root = render.render(make_cib(schema="pacemaker-3.7"))
    assert root.get("validate-with") == "pacemaker-3.7"


def test_optional_sections_are_left_out_when_empty():
    root = render.render(make_cib(fencing=(), rsc_defaults=(), op_defaults=()))
    assert [child.tag for child in root.find("configuration")] == [
        "crm_config",
        "nodes",
        "resources",
        "constraints",
    ]
    sets = root.findall("configuration/crm_config/cluster_property_set")
    assert ids(sets) == ["cib-bootstrap-options"]


def test_properties_nodes_and_defaults():
    root = render.render(make_cib())
    props = root.find("configuration/crm_config/cluster_property_set")
    assert [(p.get("id"), p.get("name"), p.get("value")) for p in props] == [
        ("cib-bootstrap-options-stonith-enabled", "stonith-enabled", "true"),
        ("cib-bootstrap-options-cluster-name", "cluster-name", "lab"),
    ]
    nodes = root.findall("configuration/nodes/node")
    assert [dict(node.attrib) for node in nodes] == [
        {"id": "1", "uname": "ctl1"},
        {"id": "2", "uname": "ctl2"},
    ]
    rsc = root.find("configuration/rsc_defaults/meta_attributes")
    assert rsc.get("id") == "hakit-rsc_defaults"
    assert ids(rsc) == ["hakit-rsc_defaults-resource-stickiness"]
    ops = root.find("configuration/op_defaults/meta_attributes")
    assert ids(ops) == ["hakit-op_defaults-timeout"]


# ----------------------------------------------------------------- resources


def test_primitive_attributes_and_child_ids():
    root = render.render(make_cib())
    vip = by_id(root, "vip-public")
    assert dict(vip.attrib) == {
        "id": "vip-public",
        "class": "ocf",
        "provider": "heartbeat",
        "type": "IPaddr2",
        "description": "public VIP",
    }
    assert [child.tag for child in vip] == [
        "instance_attributes",
        "meta_attributes",
        "operations",
    ]
    assert vip[0].get("id") == "vip-public-instance_attributes"
    assert ids(vip[0]) == [
        "vip-public-instance_attributes-ip",
        "vip-public-instance_attributes-cidr_netmask",
    ]
    assert vip[1].get("id") == "vip-public-meta_attributes"
    assert ids(vip[1]) == [
        "vip-public-meta_attributes-target-role",
        "vip-public-meta_attributes-resource-stickiness",
    ]
    assert vip[2].get("id") is None
    assert ids(vip[2]) == [
        "vip-public-start-interval-0s",
        "vip-public-monitor-interval-10s",
        "vip-public-stop-interval-0s",
    ]


def test_stonith_primitive_has_no_provider():
    fence = by_id(render.render(make_cib()), "fence-ctl1")
    assert dict(fence.attrib) == {
        "id": "fence-ctl1",
        "class": "stonith",
        "type": "fence_ipmilan",
    }


def test_op_attributes_and_depth():
    monitor = by_id(render.render(make_cib()), "vip-public-monitor-interval-10s")
    assert dict(monitor.attrib) == {
        "id": "vip-public-monitor-interval-10s",
        "name": "monitor",
        "interval": "10s",
        "timeout": "20s",
    }
    (attrs,) = monitor
    assert attrs.tag == "instance_attributes"
    assert attrs.get("id") == "vip-public-monitor-interval-10s-instance_attributes"
    (pair,) = attrs
    assert dict(pair.attrib) == {
        "id": "vip-public-monitor-interval-10s-instance_attributes-OCF_CHECK_LEVEL",
        "name": "OCF_CHECK_LEVEL",
        "value": "10",
    }


def test_op_without_depth_has_no_children():
    start = by_id(render.render(make_cib()), "vip-public-start-interval-0s")
    assert len(start) == 0


def test_promotable_clone_with_role_ops():
    root = render.render(make_cib())
    clone = by_id(root, "db-clone")
    assert clone.tag == "clone"
    assert not root.xpath("//master")
    # Meta attributes first: crmsh stores clones so, and a loaded CIB must
    # equal the rendered one for a patch against it to be empty.
    assert [child.tag for child in clone] == ["meta_attributes", "primitive"]
    meta = clone[0]
    assert meta.get("id") == "db-clone-meta_attributes"
    assert [(p.get("id"), p.get("value")) for p in meta] == [
        ("db-clone-meta_attributes-promotable", "true"),
        ("db-clone-meta_attributes-promoted-max", "1"),
        ("db-clone-meta_attributes-interleave", "true"),
    ]
    ops = clone[1].find("operations")
    assert [(op.get("id"), op.get("role")) for op in ops] == [
        ("db-monitor-interval-10s-role-Promoted", "Promoted"),
        ("db-monitor-interval-11s-role-Unpromoted", "Unpromoted"),
    ]


def test_promotable_meta_is_not_duplicated():
    clone = dataclasses.replace(
        DB, meta=(("interleave", "true"), ("promotable", "false"))
    )
    assert render.clone_meta(clone) == (("interleave", "true"), ("promotable", "true"))
    plain = dataclasses.replace(APP, meta=())
    assert render.clone_meta(plain) == ()


def test_plain_clone_and_resource_order():
    root = render.render(make_cib())
    resources = root.find("configuration/resources")
    assert ids(resources) == ["fence-ctl1", "vip-public", "db-clone", "app-clone"]
    app = by_id(root, "app-clone")
    assert [(p.get("name"), p.get("value")) for p in app.find("meta_attributes")] == [
        ("interleave", "true")
    ]
    assert by_id(root, "app").getparent() is app


def test_primitive_without_attributes_has_no_empty_sets():
    app = by_id(render.render(make_cib()), "app")
    assert len(app) == 0


# --------------------------------------------------------------- constraints


def test_constraints_in_declaration_order():
    constraints = render.render(make_cib()).find("configuration/constraints")
    assert [(c.tag, c.get("id")) for c in constraints] == [
        ("rsc_location", "l-fence-ctl1"),
        ("rsc_colocation", "c-vip-with-db"),
        ("rsc_order", "o-db-then-app"),
    ]


def test_location():
    location = by_id(render.render(make_cib()), "l-fence-ctl1")
    assert dict(location.attrib) == {
        "id": "l-fence-ctl1",
        "rsc": "fence-ctl1",
        "score": "-INFINITY",
        "node": "ctl1",
    }


def test_colocation_sets():
    colocation = by_id(render.render(make_cib()), "c-vip-with-db")
    assert colocation.get("score") == INFINITY
    assert [dict(s.attrib) for s in colocation] == [
        {"id": "c-vip-with-db-set-1"},
        {"id": "c-vip-with-db-set-2", "role": "Promoted"},
    ]
    assert [ids(s) for s in colocation] == [["vip-public"], ["db-clone"]]
    assert all(ref.tag == "resource_ref" for s in colocation for ref in s)


def test_order_sets():
    order = by_id(render.render(make_cib()), "o-db-then-app")
    assert order.get("kind") == "Optional"
    assert [dict(s.attrib) for s in order] == [
        {"id": "o-db-then-app-set-1", "action": "promote"},
        {"id": "o-db-then-app-set-2", "sequential": "false"},
        {"id": "o-db-then-app-set-3", "require-all": "false"},
    ]
    assert [ids(s) for s in order] == [
        ["db-clone"],
        ["app-clone", "vip-public"],
        ["vip-public"],
    ]


def test_single_set_constraint():
    order = Order("o-one", (ResourceSet(("vip-public", "app-clone")),))
    root = render.render(make_cib(constraints=(order,)))
    (rset,) = by_id(root, "o-one")
    assert rset.get("id") == "o-one-set-1"
    assert ids(rset) == ["vip-public", "app-clone"]


def test_fencing_topology():
    topology = render.render(make_cib()).find("configuration/fencing-topology")
    assert [dict(level.attrib) for level in topology] == [
        {
            "id": "hakit-fl-ctl1-1",
            "target": "ctl1",
            "index": "1",
            "devices": "fence-ctl1",
        },
        {
            "id": "hakit-fl-ctl2-1",
            "target": "ctl2",
            "index": "1",
            "devices": "fence-a,fence-b",
        },
        {"id": "hakit-fl-ctl2-2", "target": "ctl2", "index": "2", "devices": "fence-c"},
    ]


# ------------------------------------------------------ bytes and determinism


def test_same_model_renders_identical_bytes():
    first = render.to_bytes(make_cib())
    assert render.to_bytes(make_cib()) == first
    assert render.serialize(render.render(make_cib())) == first


def test_bytes_have_no_declaration_indentation_and_final_newline():
    # crmsh 4.4's "configure load xml" refuses an encoding declaration.
    data = render.to_bytes(make_cib())
    lines = data.decode().splitlines()
    assert lines[0].startswith("<cib ")
    assert lines[1] == "  <configuration>"
    assert data.endswith(b"</cib>\n")
    assert not data.endswith(b"\n\n")


def test_output_follows_declaration_order_not_sorting():
    swapped = make_cib(resources=(APP, DB, VIP, FENCE))
    root = render.render(swapped)
    assert ids(root.find("configuration/resources")) == [
        "app-clone",
        "db-clone",
        "vip-public",
        "fence-ctl1",
    ]


ODD = "<a & 'b' \"c\" >"


def test_odd_values_are_escaped_and_read_back():
    vip = dataclasses.replace(VIP, params=(("ip", ODD),), description=ODD)
    data = render.to_bytes(make_cib(resources=(vip,), constraints=()))
    assert b"&lt;a &amp; 'b' &quot;c&quot; &gt;" in data
    root = etree.fromstring(data)
    assert by_id(root, "vip-public-instance_attributes-ip").get("value") == ODD
    assert by_id(root, "vip-public").get("description") == ODD


def test_non_ascii_is_written_as_utf8():
    vip = dataclasses.replace(VIP, description="Zürich")
    data = render.to_bytes(make_cib(resources=(vip,), constraints=()))
    assert "Zürich".encode() in data


def test_value_xml_cannot_hold_is_a_render_error():
    vip = dataclasses.replace(VIP, params=(("ip", "bell\x07"),))
    with pytest.raises(render.RenderError):
        render.render(make_cib(resources=(vip,), constraints=()))


# ------------------------------------------------------------------ crm text


def statements(text):
    """Statements of crm text, continuation lines joined, split like crmsh."""
    return [shlex.split(line) for line in text.replace(" \\\n\t", " ").splitlines()]


def test_crm_text_statement_order():
    text = render.render_crm(make_cib())
    assert text.endswith("\n")
    assert [words[0] for words in statements(text)] == [
        "node",
        "node",
        "primitive",
        "primitive",
        "primitive",
        "clone",
        "primitive",
        "clone",
        "location",
        "colocation",
        "order",
        "fencing_topology",
        "property",
        "rsc_defaults",
        "op_defaults",
    ]


def test_crm_text_is_deterministic():
    assert render.render_crm(make_cib()) == render.render_crm(make_cib())


def test_crm_primitive_and_ops():
    text = render.render_crm(make_cib())
    assert (
        "primitive vip-public ocf:heartbeat:IPaddr2 description='public VIP' \\\n"
        "\tparams ip=192.0.2.10 cidr_netmask=24 \\\n"
        "\tmeta target-role=Started resource-stickiness=10 \\\n"
        "\top start interval=0s timeout=20s id=vip-public-start-interval-0s \\\n"
        "\top monitor interval=10s timeout=20s id=vip-public-monitor-interval-10s"
        " OCF_CHECK_LEVEL=10 \\\n"
        "\top stop interval=0s timeout=20s id=vip-public-stop-interval-0s\n"
    ) in text
    assert "primitive fence-ctl1 stonith:fence_ipmilan \\\n" in text
    assert "primitive app ocf:heartbeat:Dummy\n" in text
    assert "node 1: ctl1\nnode 2: ctl2\n" in text


def test_crm_promotable_clone_is_a_clone_with_meta():
    text = render.render_crm(make_cib())
    assert "ms" not in [words[0] for words in statements(text)]
    assert (
        "clone db-clone db \\\n\tmeta promotable=true promoted-max=1 interleave=true\n"
    ) in text
    assert (
        "op monitor interval=10s timeout=20s role=Promoted"
        " id=db-monitor-interval-10s-role-Promoted"
    ) in text


def test_crm_constraints():
    lines = render.render_crm(make_cib()).splitlines()
    assert "location l-fence-ctl1 fence-ctl1 -INFINITY: ctl1" in lines
    assert (
        "colocation c-vip-with-db INFINITY: _rsc_set_ vip-public db-clone:Promoted"
        in lines
    )
    assert (
        "order o-db-then-app Optional: db-clone:promote ( app-clone vip-public )"
        " [ vip-public sequential=true ]"
    ) in lines


@pytest.mark.parametrize(
    ("sets", "expected"),
    [
        # two plain words alone would be read as a simple first/then pair
        ((ResourceSet(("a", "b")),), "_rsc_set_ a b"),
        (
            (ResourceSet(("a",)), ResourceSet(("b",))),
            "a ( b sequential=true )",
        ),
        # neighbouring plain sets with the same qualifier must stay apart
        (
            (ResourceSet(("a",)), ResourceSet(("b",)), ResourceSet(("c",))),
            "a ( b sequential=true ) ( c sequential=true )",
        ),
        # a different qualifier already separates them for crmsh
        (
            (
                ResourceSet(("a",), action=Action.PROMOTE),
                ResourceSet(("b",), action=Action.START),
            ),
            "_rsc_set_ a:promote b:start",
        ),
        ((ResourceSet(("a", "b"), sequential=False),), "( a b )"),
        ((ResourceSet(("a", "b"), sequential=False, require_all=False),), "[ a b ]"),
        ((ResourceSet(("a", "b"), require_all=False),), "[ a b sequential=true ]"),
        (
            (
                ResourceSet(("a",)),
                ResourceSet(("b", "c"), sequential=False),
                ResourceSet(("d",)),
            ),
            "a ( b c ) d",
        ),
    ],
)
def test_crm_order_sets(sets, expected):
    text = render.render_crm(make_cib(constraints=(Order("o", sets),)))
    assert f"order o Mandatory: {expected}\n" in text


def test_crm_fencing_topology_groups_levels_by_target():
    text = render.render_crm(make_cib())
    assert (
        "fencing_topology \\\n\tctl1: fence-ctl1 \\\n\tctl2: fence-a,fence-b fence-c\n"
    ) in text


def test_crm_option_sets_keep_their_ids():
    text = render.render_crm(make_cib())
    assert (
        "property cib-bootstrap-options: \\\n\tstonith-enabled=true \\\n"
        "\tcluster-name=lab\n"
    ) in text
    assert "rsc_defaults hakit-rsc_defaults: \\\n" in text
    assert "op_defaults hakit-op_defaults: \\\n\ttimeout=30s\n" in text


def test_crm_values_are_quoted_for_a_shell_like_split():
    values = (ODD, "", "a b", "it's", "$HOME `x`;|", "#x", "k=v", "back\\slash")
    vip = dataclasses.replace(
        VIP, params=tuple((f"p{n}", value) for n, value in enumerate(values))
    )
    text = render.render_crm(make_cib(resources=(vip,), constraints=()))
    words = next(w for w in statements(text) if w[:2] == ["primitive", "vip-public"])
    params = words[words.index("params") + 1 : words.index("meta")]
    assert params == [f"p{n}={value}" for n, value in enumerate(values)]


@pytest.mark.parametrize(
    "value", ["two\nlines", "cr\r", "tab\there", 'a\\"b', "trailing\\", "Zürich"]
)
def test_crm_cannot_carry_value(value):
    vip = dataclasses.replace(VIP, params=(("ip", value),))
    with pytest.raises(render.RenderError):
        render.render_crm(make_cib(resources=(vip,), constraints=()))
