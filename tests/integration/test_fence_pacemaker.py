"""Pacemaker's fencer drives hakit's fence agents: stonith_admin -> agent -> BMC.

One device per test, for the node ctl2 (not a cluster member, so fencing it is
safe): fence_hakit_ipmi on ipmi_sim, fence_hakit_redfish on the sushy-tools
emulator.  Fencing topologies are in test_fence_pacemaker_topology.py.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from tests.lab import fencing

pytestmark = [pytest.mark.pacemaker]


@pytest.fixture
def device(pcmk_cluster, installed_agents, ipmi_sim):
    with fencing.configured(
        pcmk_cluster, [fencing.ipmi_device("fence-ctl2", ipmi_sim)]
    ):
        yield pcmk_cluster, ipmi_sim


@pytest.fixture
def redfish_stonith(pcmk_cluster, installed_agents, redfish_emulator):
    dev = fencing.redfish_device("fence-ctl2-redfish", redfish_emulator)
    with fencing.configured(pcmk_cluster, [dev]):
        yield pcmk_cluster, redfish_emulator


@pytest.mark.parametrize(
    ("agent", "params"),
    [
        ("fence_hakit_ipmi", {"ip", "username", "password_script", "method", "plug"}),
        # The fencer runs the venv-python launcher (Debian has no python3-redfish).
        ("fence_hakit_redfish", {"systems_uri", "ssl_ca_file", "password_script"}),
    ],
)
def test_metadata_through_the_fencer(pcmk_cluster, installed_agents, agent, params):
    out = pcmk_cluster.run(["stonith_admin", "--metadata", "--agent", agent]).stdout
    names = {p.get("name") for p in ET.fromstring(out).iter("parameter")}
    assert params <= names


@pytest.mark.ipmi_sim
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


@pytest.mark.ipmi_sim
def test_failed_fencing_is_reported_as_failed(device):
    cluster, bmc = device
    bmc.set_fault("stuck_on")
    result = cluster.run(
        ["stonith_admin", "--fence", "ctl2", "--timeout", "60"], check=False, timeout=90
    )
    assert result.returncode != 0
    assert bmc.power is True


@pytest.mark.redfish_sim
def test_stonith_admin_off_and_reboot_drive_the_redfish_system(redfish_stonith):
    cluster, emulator = redfish_stonith
    system = emulator.systems_uris[0]
    before = fencing.fence_history(cluster, "ctl2")

    done, _ = fencing.stonith_admin_fence(cluster, "ctl2")
    assert done.returncode == 0, done.stderr
    assert emulator.power(system) == "Off"

    done, _ = fencing.stonith_admin_fence(cluster, "ctl2", reboot=True)
    assert done.returncode == 0, done.stderr
    assert emulator.power(system) == "On"

    new = [e for e in fencing.fence_history(cluster, "ctl2") if e not in before]
    assert sorted((e.action, e.status) for e in new) == [
        ("off", "success"),
        ("reboot", "success"),
    ]
