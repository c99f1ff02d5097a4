"""hakit's CIB goes into a running three-node cluster without harm, by every route.

The cluster (the namespaced lab, nodes ctl1-ctl3) already has a
configuration: Pacemaker's own properties, its nodes and status, and an
operator's running resource with a property of the operator's.  Each route
the README documents loads the lab topology's CIB built with ``hakit-cib
build --live``; afterwards the operator's resource runs untouched, status and
nodes are as they were, nothing is fenced, and a new patch is empty.

The operator's cluster is in maintenance mode (its own property, which the
load keeps): hakit's resources are defined but never started here, and the
fence devices, whose BMCs are each node's loopback, never act.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from lxml import etree

from cib_builder.model import owned

pytestmark = [pytest.mark.pacemaker, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
TOPOLOGY = ROOT / "tests" / "lab" / "lab-3-controllers.toml"
NODE = "ctl1"
OPERATOR_RESOURCE = "op-dummy"
#: Properties Pacemaker maintains on a running cluster.
MAINTAINED = ("dc-version", "cluster-infrastructure", "have-watchdog", "cluster-name")


def xml(text: str) -> etree._Element:
    return etree.fromstring(text.encode(), etree.XMLParser(remove_blank_text=True))


def canonical(elem: etree._Element) -> bytes:
    return etree.tostring(elem, method="c14n")


class Lab:
    """The three-node cluster seen from ctl1, with hakit-cib run there."""

    def __init__(self, cluster, workdir: Path) -> None:
        self.cluster = cluster
        self.workdir = workdir

    def run(self, argv, check=True, timeout=120):
        return self.cluster.run(argv, node=NODE, check=check, timeout=timeout)

    def hakit_cib(self, *args: str, check=True):
        """Run the installed hakit-cib, as an operator would on a node."""
        return self.run(["hakit-cib", *args], check=check)

    def cib(self) -> etree._Element:
        return xml(self.run(["cibadmin", "--query"]).stdout)

    def configuration(self) -> etree._Element:
        return self.cib().find("configuration")

    def settle(self) -> None:
        self.cluster.wait_until(self.cluster.settled, 60, "the cluster to settle")

    def patch(self, topology: Path = TOPOLOGY) -> str:
        done = self.hakit_cib("build", str(topology), "--live", "--format", "patch")
        return done.stdout


def operator_state(cib: etree._Element) -> dict[str, object]:
    """What a load must leave alone: the operator's and Pacemaker's state."""
    config = cib.find("configuration")
    options = {
        nv.get("name"): nv.get("value")
        for nv in config.iterfind("crm_config/cluster_property_set/nvpair")
    }
    history = sorted(
        (op.get("id"), op.get("call-id"), op.get("operation"))
        for op in cib.iterfind(
            f"status/node_state/lrm/lrm_resources/lrm_resource[@id='{OPERATOR_RESOURCE}']"
            "/lrm_rsc_op"
        )
    )
    nodes = sorted(
        (n.get("uname"), n.get("crmd"), n.get("join"), n.get("in_ccm"))
        for n in cib.iterfind("status/node_state")
    )
    operator_objects = {
        elem.get("id"): canonical(elem)
        for section in ("resources", "constraints")
        for elem in config.find(section)
        if not owned(elem.get("id", ""))
    }
    return {
        "maintained": {name: options.get(name) for name in MAINTAINED},
        "maintenance-mode": options.get("maintenance-mode"),
        "batch-limit": options.get("batch-limit"),
        "nodes": canonical(config.find("nodes")),
        "node_state": nodes,
        "history": history,
        "operator": operator_objects,
    }


@pytest.fixture(scope="module")
def lab(pcmk_three, installed_agents, tmp_path_factory):
    """ctl1..ctl3 with an operator's running resource, in maintenance mode."""
    cluster = pcmk_three
    workdir = tmp_path_factory.mktemp("cib-live")
    lab = Lab(cluster, workdir)
    original = workdir / "original.xml"
    original.write_text(
        lab.run(["cibadmin", "--query", "--scope", "configuration"]).stdout
    )
    lab.run(
        [
            "crm", "configure", "primitive", OPERATOR_RESOURCE, "ocf:pacemaker:Dummy",
            "op", "monitor", "interval=10s",
        ]
    )  # fmt: skip
    cluster.wait_until(
        lambda: bool(cluster.where(OPERATOR_RESOURCE, NODE)), 60, "op-dummy started"
    )
    lab.run(["crm_attribute", "-t", "crm_config", "-n", "batch-limit", "-v", "29"])
    lab.run(
        ["crm_attribute", "-t", "crm_config", "-n", "maintenance-mode", "-v", "true"]
    )
    lab.settle()
    lab.operator_config = workdir / "operator.xml"
    lab.operator_config.write_text(
        lab.run(["cibadmin", "--query", "--scope", "configuration"]).stdout
    )
    yield lab
    lab.run(
        [
            "cibadmin",
            "--replace",
            "--scope",
            "configuration",
            "--xml-file",
            str(original),
        ]
    )
    cluster.wait_until(
        lambda: not cluster.where(OPERATOR_RESOURCE, NODE), 60, "op-dummy removed"
    )
    lab.settle()


@pytest.fixture
def operators_cluster(lab):
    """The operator's configuration before each test, hakit's objects gone."""
    lab.run(
        [
            "cibadmin", "--replace", "--scope", "configuration",
            "--xml-file", str(lab.operator_config),
        ]
    )  # fmt: skip
    lab.settle()
    return lab


def _crm(mode: str):
    return lambda lab, path, topology: lab.run(
        ["crm", "configure", "load", "xml", mode, str(path)]
    )


def _patch(lab, path, topology=TOPOLOGY):
    patch = lab.workdir / "hakit.patch"
    text = lab.patch(topology)
    # Only the configuration, and in it neither nodes nor Pacemaker's options.
    paths = re.findall(r'path="([^"]*)"', text)
    assert paths, text
    assert all(p.startswith("/cib/configuration") for p in paths), paths
    assert not [p for p in paths if "/nodes" in p], paths
    assert "dc-version" not in text
    patch.write_text(text)
    lab.run(["cibadmin", "--patch", "--xml-file", str(patch)])


ROUTES = {
    "crm configure load xml update": _crm("update"),
    "crm configure load xml replace": _crm("replace"),
    "cibadmin --replace": lambda lab, path, topology: lab.run(
        ["cibadmin", "--replace", "--xml-file", str(path)]
    ),
    "cibadmin --replace --scope configuration": lambda lab, path, topology: lab.run(
        ["cibadmin", "--replace", "--scope", "configuration", "--xml-file", str(path)]
    ),
    "pcs cluster cib-push --config": lambda lab, path, topology: lab.run(
        ["pcs", "cluster", "cib-push", str(path), "--config"]
    ),
    "cibadmin --patch": _patch,
}


EXAMPLE = ROOT / "examples" / "opnfv-3-controllers.toml"
#: The shipped example names systemd units, which crmsh cannot look up without
#: systemd (the lab's nodes have none): it is loaded by the other routes here.
CASES = [(TOPOLOGY, route) for route in ROUTES] + [
    (EXAMPLE, route) for route in ROUTES if not route.startswith("crm ")
]


@pytest.mark.parametrize(
    ("topology", "route"), CASES, ids=[f"{t.stem}: {r}" for t, r in CASES]
)
def test_every_route_loads_hakits_objects_and_keeps_the_operators(
    operators_cluster, topology, route
):
    lab = operators_cluster
    before = operator_state(lab.cib())
    where = lab.cluster.where(OPERATOR_RESOURCE, NODE)
    built = lab.workdir / "cib.xml"
    lab.hakit_cib("build", str(topology), "--live", "-o", str(built))
    ours = {
        elem.get("id")
        for elem in xml(built.read_text()).iter()
        if owned(elem.get("id", ""))
        and elem.getparent().tag in ("resources", "constraints", "fencing-topology")
    }

    ROUTES[route](lab, built, topology)
    lab.settle()

    cib = lab.cib()
    loaded = {elem.get("id") for elem in cib.find("configuration").iter()}
    assert ours <= loaded
    assert {"hakit-galera-clone", "hakit-fence-ctl3", "hakit-fl-ctl1-1"} <= ours
    options = {
        nv.get("name"): nv.get("value")
        for nv in cib.iterfind("configuration/crm_config/cluster_property_set/nvpair")
    }
    assert options["stonith-enabled"] == "true"
    assert options["no-quorum-policy"] == "stop"
    # The operator's resource, property, nodes, status and Pacemaker's own
    # properties are as they were; the resource was neither stopped nor
    # restarted (its operation history is the same).
    assert operator_state(cib) == before
    assert lab.cluster.where(OPERATOR_RESOURCE, NODE) == where
    assert lab.cluster.online(NODE) == {"ctl1", "ctl2", "ctl3"}
    history = lab.run(["stonith_admin", "--history", "*"], check=False)
    assert "ctl" not in history.stdout, history.stdout
    # Loaded once, nothing is left to change.
    assert lab.patch(topology) == ""


def test_crm_refuses_the_example_only_for_systemd_units_here(operators_cluster):
    """Every agent the shipped example names exists, but for systemd units,
    which crmsh cannot look up on these systemd-less nodes."""
    lab = operators_cluster
    built = lab.workdir / "example.xml"
    lab.hakit_cib("build", str(EXAMPLE), "--live", "-o", str(built))
    done = lab.run(
        ["crm", "configure", "load", "xml", "update", str(built)], check=False
    )
    errors = [line for line in done.stderr.splitlines() if "ERROR" in line]
    assert errors
    assert all("systemd:" in line for line in errors), errors


def test_a_replace_built_before_a_change_is_refused(operators_cluster):
    """cibadmin --replace of a stale build fails instead of undoing the change."""
    lab = operators_cluster
    built = lab.workdir / "stale.xml"
    lab.hakit_cib("build", str(TOPOLOGY), "--live", "-o", str(built))
    lab.run(["crm_attribute", "-t", "crm_config", "-n", "batch-limit", "-v", "31"])
    refused = lab.run(["cibadmin", "--replace", "--xml-file", str(built)], check=False)
    assert refused.returncode != 0
    assert "older" in (refused.stdout + refused.stderr).lower()
    assert operator_state(lab.cib())["batch-limit"] == "31"


def changed_topology(workdir: Path) -> Path:
    """The lab topology with a parameter changed and one service more."""
    text = TOPOLOGY.read_text()
    text = text.replace(
        'enable = ["keystone", "placement-api", "nova-conductor"]',
        'enable = ["keystone", "placement-api", "nova-conductor", "glance-api"]',
    )
    text += '\n[overrides.keystone]\nparams = { healthcheck_timeout = "7" }\n'
    path = workdir / "changed.toml"
    path.write_text(text)
    return path


def test_a_changed_topology_changes_only_what_changed(operators_cluster):
    lab = operators_cluster
    _patch(lab, None)
    lab.settle()
    before = lab.configuration()
    changed = changed_topology(lab.workdir)

    report = json.loads(
        lab.hakit_cib("diff", str(changed), "--live", "--format", "json").stdout
    )
    changes = {(c["op"], c["id"]) for c in report["changes"]}
    assert changes == {
        ("change", "hakit-keystone-clone"),
        ("add", "hakit-glance-api-clone"),
        ("change", "hakit-o-galera-before-openstack"),
    }
    (keystone,) = [c for c in report["changes"] if c["id"] == "hakit-keystone-clone"]
    assert any("healthcheck_timeout" in line for line in keystone["details"])
    # Maintenance mode: Pacemaker would start nothing, and says so.
    assert report["fenced"] == []

    patch = lab.workdir / "changed.patch"
    patch.write_text(lab.patch(changed))
    lab.run(["cibadmin", "--patch", "--xml-file", str(patch)])
    lab.settle()
    after = lab.configuration()
    touched = {"hakit-keystone-clone", "hakit-glance-api-clone",
               "hakit-o-galera-before-openstack"}  # fmt: skip
    for section in ("resources", "constraints", "fencing-topology", "nodes"):
        old = {e.get("id"): canonical(e) for e in before.find(section)}
        new = {e.get("id"): canonical(e) for e in after.find(section)}
        assert {k: v for k, v in old.items() if k not in touched} == {
            k: v for k, v in new.items() if k not in touched
        }, section
    assert "hakit-glance-api-clone" in {e.get("id") for e in after.find("resources")}
    assert lab.patch(changed) == ""


def test_diff_says_what_pacemaker_would_do_and_prune_spares_pacemakers_own(
    operators_cluster,
):
    """Out of maintenance (a saved copy), the transition starts hakit's resources
    and leaves the operator's; --prune removes the operator's objects only."""
    lab = operators_cluster
    saved = lab.cib()
    for nvpair in saved.iter("nvpair"):
        if nvpair.get("name") == "maintenance-mode":
            nvpair.set("value", "false")
    path = lab.workdir / "saved.xml"
    path.write_bytes(etree.tostring(saved))

    text = lab.hakit_cib("diff", str(TOPOLOGY), "--cib", str(path)).stdout
    assert "start hakit-galera on ctl1, ctl2, ctl3" in text
    assert OPERATOR_RESOURCE not in text  # neither stopped nor moved

    pruned = json.loads(
        lab.hakit_cib(
            "diff", str(TOPOLOGY), "--cib", str(path), "--prune", "--format", "json"
        ).stdout
    )
    removed = {c["id"] for c in pruned["changes"] if c["op"] == "remove"}
    assert OPERATOR_RESOURCE in removed
    assert "batch-limit" in removed
    assert not removed & set(MAINTAINED)
    stops = [a for a in pruned["actions"] if a["resource"] == OPERATOR_RESOURCE]
    assert [a["action"] for a in stops] == ["stop"]
