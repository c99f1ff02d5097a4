"""The generated CIB is accepted by a live cluster through every usual tool.

The single-node lab cluster (node1) cannot run the controller topology, so
each load happens in maintenance mode (nothing starts, nothing is fenced),
with an empty <nodes> section (membership fills it in), and the
original configuration is restored afterwards.
"""

from __future__ import annotations

import shutil

import pytest
from lxml import etree

from cib_builder import pipeline
from tests.lab.fixtures import lab_unavailable

pytestmark = [pytest.mark.pacemaker]

EXAMPLE = "examples/opnfv-3-controllers.toml"
EXPECTED = (
    "galera-clone",
    "rabbitmq-clone",
    "keystone-clone",
    "vip-public",
    "fence-ctl1",
    "haproxy-clone",
    "cinder-volume",
)


def loadable(path):
    """The example's CIB, in maintenance mode, with an empty <nodes>."""
    tree = etree.fromstring(pipeline.build(EXAMPLE).xml)
    config = tree.find("configuration")
    for node in list(config.find("nodes")):
        config.find("nodes").remove(node)
    options = config.find("crm_config/cluster_property_set")
    etree.SubElement(
        options,
        "nvpair",
        id="cib-bootstrap-options-maintenance-mode",
        name="maintenance-mode",
        value="true",
    )
    path.write_bytes(etree.tostring(tree, encoding="UTF-8"))
    return path


@pytest.fixture
def restore(pcmk_cluster, tmp_path):
    saved = tmp_path / "saved-configuration.xml"
    saved.write_text(
        pcmk_cluster.run(["cibadmin", "--query", "--scope", "configuration"]).stdout
    )
    yield pcmk_cluster
    pcmk_cluster.run(
        ["cibadmin", "--replace", "--scope", "configuration", "--xml-file", str(saved)]
    )
    pcmk_cluster.wait_idle()


def live_ids(cluster):
    resources = cluster.run(["cibadmin", "--query", "--scope", "resources"]).stdout
    root = etree.fromstring(resources.encode())
    return {e.get("id") for e in root.iter("primitive", "clone")}


def assert_loaded(cluster):
    ids = live_ids(cluster)
    for rsc in EXPECTED:
        assert rsc in ids
    constraints = cluster.run(["cibadmin", "--query", "--scope", "constraints"]).stdout
    assert "o-galera-before-openstack" in constraints
    assert 'action="promote"' in constraints
    levels = cluster.run(["cibadmin", "--query", "--scope", "fencing-topology"]).stdout
    assert levels.count("<fencing-level") == 3


def test_crm_configure_load_xml_update(restore, tmp_path):
    cluster = restore
    path = loadable(tmp_path / "cib.xml")
    # -F: the hakit and systemd agents named in the CIB are not installed here.
    cluster.run(["crm", "-F", "configure", "load", "xml", "update", str(path)])
    assert_loaded(cluster)


def test_cibadmin_replace(restore, tmp_path):
    cluster = restore
    path = loadable(tmp_path / "cib.xml")
    config = tmp_path / "configuration.xml"
    tree = etree.parse(str(path))
    config.write_bytes(etree.tostring(tree.find("configuration")))
    cluster.run(
        ["cibadmin", "--replace", "--scope", "configuration", "--xml-file", str(config)]
    )
    assert_loaded(cluster)


def test_pcs_cluster_cib_push(restore, tmp_path):
    cluster = restore
    if shutil.which("pcs", path="/usr/sbin:/usr/bin") is None:
        lab_unavailable("pcs is not installed")
    path = loadable(tmp_path / "cib.xml")
    cluster.run(["pcs", "cluster", "cib-push", str(path), "--config"], timeout=120)
    assert_loaded(cluster)


@pytest.mark.slow
def test_three_node_lab_accepts_the_full_cib(pcmk_three, tmp_path):
    """The example's nodes are ctl1-3, as in the lab: load it whole (maintenance)."""
    cluster = pcmk_three
    saved = tmp_path / "saved.xml"
    saved.write_text(
        cluster.run(["cibadmin", "--query", "--scope", "configuration"]).stdout
    )
    tree = etree.fromstring(pipeline.build(EXAMPLE).xml)
    options = tree.find("configuration/crm_config/cluster_property_set")
    etree.SubElement(
        options,
        "nvpair",
        id="cib-bootstrap-options-maintenance-mode",
        name="maintenance-mode",
        value="true",
    )
    path = tmp_path / "cib.xml"
    path.write_bytes(etree.tostring(tree, encoding="UTF-8"))
    try:
        cluster.run(
            ["crm", "-F", "configure", "load", "xml", "update", str(path)], timeout=120
        )
        ids = live_ids(cluster)
        for rsc in EXPECTED:
            assert rsc in ids
        for node in ("ctl1", "ctl2", "ctl3"):
            verify = cluster.run(["crm_verify", "-L"], node=node, check=False)
            assert "error" not in (verify.stdout + verify.stderr).lower()
    finally:
        cluster.run(
            [
                "cibadmin",
                "--replace",
                "--scope",
                "configuration",
                "--xml-file",
                str(saved),
            ]
        )
