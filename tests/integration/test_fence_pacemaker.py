"""Pacemaker's fencer drives fence_hakit_ipmi: stonith_admin -> agent -> BMC."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

pytestmark = [pytest.mark.pacemaker, pytest.mark.ipmi_sim]


def stonith_device(port: int) -> str:
    cib = ET.Element("cib")
    resources = ET.SubElement(ET.SubElement(cib, "configuration"), "resources")
    prim = ET.SubElement(
        resources,
        "primitive",
        {"id": "fence-ctl2", "class": "stonith", "type": "fence_hakit_ipmi"},
    )
    attrs = ET.SubElement(prim, "instance_attributes", {"id": "fence-ctl2-ia"})
    for name, value in (
        ("ip", "127.0.0.1"),
        ("ipport", str(port)),
        ("username", "admin"),
        ("password_script", "/bin/echo adminpass"),
        ("power_timeout", "10"),
        ("pcmk_host_list", "ctl2"),
        ("pcmk_host_check", "static-list"),
    ):
        ET.SubElement(
            attrs,
            "nvpair",
            {"id": f"fence-ctl2-ia-{name}", "name": name, "value": value},
        )
    ops = ET.SubElement(prim, "operations")
    ET.SubElement(
        ops,
        "op",
        {
            "id": "fence-ctl2-monitor-60s",
            "name": "monitor",
            "interval": "60s",
            "timeout": "20s",
        },
    )
    return ET.tostring(cib, encoding="unicode")


@pytest.fixture
def device(pcmk_cluster, installed_agents, ipmi_sim):
    pcmk_cluster.load_xml(stonith_device(ipmi_sim.port))
    try:
        pcmk_cluster.wait_until(
            lambda: any(s.active for s in pcmk_cluster.resource_state("fence-ctl2")),
            timeout=60,
            what="fence-ctl2 started",
        )
        yield pcmk_cluster, ipmi_sim
    finally:
        pcmk_cluster.delete_resource("fence-ctl2", timeout=60)


def test_metadata_through_the_fencer(pcmk_cluster, installed_agents):
    out = pcmk_cluster.run(
        ["stonith_admin", "--metadata", "--agent", "fence_hakit_ipmi"]
    ).stdout
    names = {p.get("name") for p in ET.fromstring(out).iter("parameter")}
    assert {"ip", "username", "password_script", "method", "plug"} <= names


def test_stonith_admin_off_and_reboot_drive_the_bmc(device):
    cluster, bmc = device
    bmc.clear_history()
    cluster.run(["stonith_admin", "--fence", "ctl2", "--timeout", "60"], timeout=90)
    assert bmc.power is False
    assert "set power 0" in bmc.history
    cluster.run(["stonith_admin", "--reboot", "ctl2", "--timeout", "60"], timeout=90)
    assert bmc.power is True
    history = cluster.run(["stonith_admin", "--history", "ctl2"]).stdout
    assert "ctl2" in history


def test_failed_fencing_is_reported_as_failed(device):
    cluster, bmc = device
    bmc.set_fault("stuck_on")
    result = cluster.run(
        ["stonith_admin", "--fence", "ctl2", "--timeout", "60"], check=False, timeout=90
    )
    assert result.returncode != 0
    assert bmc.power is True
