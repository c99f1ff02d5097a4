"""A rendered CIB against Pacemaker itself: RelaxNG, crm_verify, crmsh, golden file.

The model is a small but complete controller cluster written out by hand, so a
change in the renderer shows up here without going through the recipe.
Regenerate the golden file with ``tests/contract/golden_cib.py --write``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from lxml import etree

from cib_builder import render, schema
from cib_builder.model import (
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
from tests.contract.golden_cib import GOLDEN
from tests.unavailable import unavailable

NODES = ("ctl1", "ctl2", "ctl3")
TOOL_PATH = os.pathsep.join(
    [os.environ.get("PATH", ""), "/usr/sbin", "/usr/bin", "/sbin", "/bin"]
)
#: A password as BMCs get them: every character XML and shells care about.
ODD_PASSWORD = "p&ss<w>'rd\"$x `y` #z \\q"


def _fence(node: str, position: int) -> Primitive:
    return Primitive(
        id=f"fence-{node}",
        agent=AgentRef("stonith", "fence_ipmilan"),
        params=(
            ("pcmk_host_list", node),
            ("ip", f"198.51.100.{position}"),
            ("username", "admin"),
            ("password", ODD_PASSWORD),
            ("lanplus", "1"),
        ),
        ops=(Op("monitor", 60, 20),),
        description=f"IPMI power fencing of {node}",
    )


def small_cib() -> Cib:
    """Three controllers: fencing, a VIP in front of HAProxy, a promotable DB."""
    fences = tuple(_fence(node, n) for n, node in enumerate(NODES, start=1))
    vip = Primitive(
        id="vip-public",
        agent=AgentRef("ocf", "IPaddr2", provider="heartbeat"),
        params=(("ip", "192.0.2.10"), ("cidr_netmask", "24")),
        ops=(
            Op("start", 0, 20),
            Op("stop", 0, 20),
            Op("monitor", 10, 20, depth=10),
        ),
    )
    haproxy = Clone(
        "haproxy-clone",
        Primitive(
            "haproxy",
            AgentRef("systemd", "haproxy"),
            ops=(Op("monitor", 10, 20),),
        ),
        meta=(("interleave", "true"),),
    )
    db = Clone(
        "db-clone",
        Primitive(
            "db",
            AgentRef("ocf", "Stateful", provider="pacemaker"),
            ops=(
                Op("promote", 0, 30),
                Op("demote", 0, 30),
                Op("monitor", 10, 20, Role.PROMOTED),
                Op("monitor", 11, 20, Role.UNPROMOTED),
            ),
        ),
        meta=(
            ("promoted-max", "1"),
            ("promoted-node-max", "1"),
            ("clone-max", "3"),
            ("interleave", "true"),
        ),
        promotable=True,
    )
    app = Clone(
        "app-clone",
        Primitive(
            "app",
            AgentRef("ocf", "Dummy", provider="heartbeat"),
            ops=(Op("monitor", 10, 20),),
        ),
        meta=(("interleave", "true"),),
    )
    avoid_own_node = tuple(
        Location(f"l-fence-{node}-not-on-{node}", f"fence-{node}", node, MINUS_INFINITY)
        for node in NODES
    )
    return Cib(
        nodes=tuple(Node(name, n) for n, name in enumerate(NODES, start=1)),
        properties=(
            ("stonith-enabled", "true"),
            ("no-quorum-policy", "stop"),
            ("cluster-name", "hakit-small"),
        ),
        rsc_defaults=(("resource-stickiness", "100"),),
        op_defaults=(("timeout", "30s"),),
        resources=(*fences, vip, haproxy, db, app),
        constraints=(
            *avoid_own_node,
            Colocation(
                "c-vip-with-haproxy",
                (ResourceSet(("vip-public",)), ResourceSet(("haproxy-clone",))),
            ),
            Order(
                "o-vip-then-haproxy",
                (ResourceSet(("vip-public",)), ResourceSet(("haproxy-clone",))),
            ),
            Order(
                "o-db-promote-then-app",
                (
                    ResourceSet(("db-clone",), action=Action.PROMOTE),
                    ResourceSet(("app-clone",), action=Action.START),
                ),
            ),
        ),
        fencing=tuple(FencingLevel(node, 1, (f"fence-{node}",)) for node in NODES),
    )


def sets_cib() -> Cib:
    """The small cluster with every kind of resource set crmsh must keep apart."""
    base = small_cib()
    one = ResourceSet
    return Cib(
        nodes=base.nodes,
        properties=base.properties,
        rsc_defaults=base.rsc_defaults,
        op_defaults=base.op_defaults,
        resources=base.resources,
        fencing=base.fencing,
        constraints=(
            Colocation(
                "c-three-plain",
                (one(("vip-public",)), one(("haproxy-clone",)), one(("app-clone",))),
            ),
            Colocation(
                "c-roles",
                (
                    one(("vip-public",), role=Role.STARTED),
                    one(("db-clone",), role=Role.PROMOTED),
                ),
            ),
            Colocation(
                "c-scored",
                (
                    one(("vip-public", "app-clone"), sequential=False),
                    one(("db-clone",), role=Role.PROMOTED),
                ),
                score="500",
            ),
            Order(
                "o-require-any",
                (
                    one(("db-clone",), action=Action.PROMOTE),
                    one(("vip-public", "haproxy-clone"), require_all=False),
                    one(("app-clone",), require_all=False, sequential=False),
                ),
                kind=Kind.OPTIONAL,
            ),
            Order("o-one-set", (one(("vip-public", "haproxy-clone")),)),
            Colocation("c-one-set", (one(("vip-public", "haproxy-clone")),)),
            Order(
                "o-mixed",
                (
                    one(("vip-public",)),
                    one(("haproxy-clone",), sequential=False),
                    one(("app-clone",)),
                    one(("db-clone",)),
                ),
            ),
        ),
    )


#: Golden files, by stem: tests/golden/cib/<stem>.xml.
MODELS = {"small": small_cib}


# ------------------------------------------------------------------- helpers


def _tool(name: str) -> str:
    path = shutil.which(name, path=TOOL_PATH)
    if path is None:
        unavailable(f"{name} is not installed")
    return str(path)


def _run(argv: list[str], **kwargs) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv, capture_output=True, text=True, timeout=60, check=False, **kwargs
    )


@pytest.fixture
def schemas_installed() -> None:
    name = small_cib().schema
    if not (schema.SCHEMA_DIR / f"{name}.rng").is_file():
        unavailable(f"Pacemaker schema {name} is not installed in {schema.SCHEMA_DIR}")


def _with_online_nodes(root: etree._Element) -> etree._Element:
    """A copy of ``root`` whose status has every node online (LAB section 6).

    With an empty status every node is unclean and crm_verify warns about
    fencing them; that is cluster state, not configuration.
    """
    copy = etree.fromstring(etree.tostring(root))
    status = copy.find("status")
    for node in copy.iterfind("configuration/nodes/node"):
        etree.SubElement(
            status,
            "node_state",
            id=node.get("id"),
            uname=node.get("uname"),
            in_ccm="true",
            crmd="online",
            join="member",
            expected="member",
        )
    return copy


def _crm_verify(path: Path) -> tuple[int, str]:
    proc = _run([_tool("crm_verify"), "--xml-file", str(path), "-V"])
    return proc.returncode, proc.stdout + proc.stderr


def _crm_load(tmp_path: Path, cib: Cib) -> etree._Element:
    """Load ``render_crm(cib)`` into an empty CIB file with crmsh; return the CIB."""
    crm = _tool("crm")
    empty = _run([_tool("cibadmin"), "--empty", cib.schema])
    assert empty.returncode == 0, empty.stderr
    cib_file = tmp_path / "cib.xml"
    cib_file.write_text(empty.stdout)
    text_file = tmp_path / "config.crm"
    text_file.write_text(render.render_crm(cib))
    env = {**os.environ, "CIB_file": str(cib_file), "HOME": str(tmp_path)}
    # -F: crmsh checks agents against this host, and systemd:haproxy may be
    # absent here; the configuration itself is checked by the asserts below.
    proc = _run([crm, "-F", "configure", "load", "update", str(text_file)], env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "syntax" not in (proc.stdout + proc.stderr).lower()
    return etree.parse(str(cib_file)).getroot()


def _ids(root: etree._Element, xpath: str) -> list[str]:
    return [elem.get("id") for elem in root.xpath(xpath)]


def _sets(root: etree._Element) -> dict[str, list[object]]:
    """Each constraint's attributes and sets, ignoring generated set ids."""
    found: dict[str, list[object]] = {}
    for con in root.iterfind("configuration/constraints/*"):
        sets = [
            (
                {k: v for k, v in rset.attrib.items() if k != "id"},
                [ref.get("id") for ref in rset],
            )
            for rset in con
        ]
        found[con.get("id")] = [dict(con.attrib), *sets]
    return found


# -------------------------------------------------------------------- golden


def test_matches_golden_file():
    golden = GOLDEN / "small.xml"
    assert golden.exists(), "run tests/contract/golden_cib.py --write and review"
    assert render.to_bytes(small_cib()) == golden.read_bytes()


def test_every_golden_model_has_a_file():
    from tests.contract import golden_cib

    assert set(golden_cib.rendered()) == {path.stem for path in GOLDEN.glob("*.xml")}


# -------------------------------------------------------------------- schema


@pytest.mark.pacemaker
@pytest.mark.usefixtures("schemas_installed")
@pytest.mark.parametrize("build", [small_cib, sets_cib])
def test_valid_against_the_named_schema(build):
    assert schema.validate(render.render(build())) == []


@pytest.mark.pacemaker
@pytest.mark.usefixtures("schemas_installed")
def test_schema_errors_carry_lines_of_the_written_file():
    root = render.render(small_cib())
    root.find("configuration/resources/primitive").set("class", "no-such-class")
    lines = render.serialize(root).splitlines()
    line = next(n for n, text in enumerate(lines, 1) if b"no-such-class" in text)
    problems = schema.validate(root)
    assert problems
    assert problems[0].startswith(f"line {line}: ")


@pytest.mark.pacemaker
@pytest.mark.usefixtures("schemas_installed")
def test_parsed_document_is_validated_with_its_own_lines(tmp_path):
    path = tmp_path / "cib.xml"
    path.write_bytes(render.to_bytes(small_cib()))
    assert schema.validate(etree.parse(str(path))) == []


@pytest.mark.pacemaker
@pytest.mark.usefixtures("schemas_installed")
def test_available_schemas_are_sorted_by_version():
    names = schema.available_schemas()
    assert small_cib().schema in names
    assert names.index("pacemaker-2.10") > names.index("pacemaker-2.9")
    assert names[-1] == "pacemaker-next"


def test_missing_schema_is_a_clear_error(tmp_path):
    (tmp_path / "pacemaker-3.0.rng").write_text("<grammar/>")
    root = render.render(small_cib())
    with pytest.raises(schema.SchemaNotFoundError, match="pacemaker-3.0"):
        schema.validate(root, schema_dir=tmp_path)


@pytest.mark.parametrize("name", ["", "../../etc/passwd", "pacemaker"])
def test_names_that_are_no_schema_are_refused(tmp_path, name):
    (tmp_path / "pacemaker.rng").write_text("<grammar/>")
    root = render.render(small_cib())
    root.set("validate-with", name)
    with pytest.raises(schema.SchemaNotFoundError):
        schema.validate(root, schema_dir=tmp_path)


# ---------------------------------------------------------------- crm_verify


@pytest.mark.pacemaker
def test_crm_verify_accepts_the_configuration(tmp_path):
    path = tmp_path / "cib.xml"
    path.write_bytes(render.serialize(_with_online_nodes(render.render(small_cib()))))
    rc, output = _crm_verify(path)
    assert rc == 0, output
    assert "error" not in output.lower(), output
    assert "warning" not in output.lower(), output


@pytest.mark.pacemaker
def test_crm_verify_finds_no_error_in_the_file_as_written(tmp_path):
    path = tmp_path / "cib.xml"
    path.write_bytes(render.to_bytes(small_cib()))
    _rc, output = _crm_verify(path)
    # Warnings here are about the empty status (unclean nodes, no quorum).
    assert "error" not in output.lower(), output


@pytest.mark.pacemaker
def test_crm_verify_check_is_not_vacuous(tmp_path):
    cib = small_cib()
    without_fencing = Cib(
        nodes=cib.nodes,
        properties=cib.properties,
        rsc_defaults=cib.rsc_defaults,
        op_defaults=cib.op_defaults,
        resources=cib.resources[len(NODES) :],
        constraints=cib.constraints[len(NODES) :],
    )
    path = tmp_path / "cib.xml"
    path.write_bytes(
        render.serialize(_with_online_nodes(render.render(without_fencing)))
    )
    rc, output = _crm_verify(path)
    assert rc != 0
    assert "STONITH" in output


# --------------------------------------------------------------------- crmsh


@pytest.mark.pacemaker
def test_crm_text_loads_offline_with_the_same_objects(tmp_path):
    cib = small_cib()
    expected = render.render(cib)
    loaded = _crm_load(tmp_path, cib)
    resources = "configuration/resources/*"
    assert _ids(loaded, resources) == _ids(expected, resources)
    # crmsh derives attribute set and nvpair ids the same way; op ids are given.
    for xpath in (
        "//resources//*[@id]",
        "//crm_config//*[@id]",
        "//rsc_defaults//*[@id]",
        "//op_defaults//*[@id]",
        "//constraints/*",
    ):
        assert sorted(_ids(loaded, xpath)) == sorted(_ids(expected, xpath)), xpath
    assert _ids(loaded, "//nodes/node") == _ids(expected, "//nodes/node")
    assert not loaded.xpath("//master")
    assert loaded.xpath(
        "//clone[@id='db-clone']/meta_attributes/nvpair"
        "[@name='promotable'][@value='true']"
    )
    password = loaded.xpath("//nvpair[@name='password']/@value")
    assert password == [ODD_PASSWORD] * len(NODES)
    levels = [
        (lv.get("target"), lv.get("index"), lv.get("devices"))
        for lv in loaded.iterfind("configuration/fencing-topology/fencing-level")
    ]
    assert levels == [
        (lv.target, str(lv.index), ",".join(lv.devices)) for lv in cib.fencing
    ]
    assert _sets(loaded) == _sets(expected)
    assert schema.validate(loaded) == []


@pytest.mark.pacemaker
def test_crm_text_keeps_every_resource_set(tmp_path):
    cib = sets_cib()
    loaded = _crm_load(tmp_path, cib)
    assert _sets(loaded) == _sets(render.render(cib))
