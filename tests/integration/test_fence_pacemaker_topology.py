"""Pacemaker's fencer walks a two-level fencing topology of hakit's agents.

ctl2 has level 1 = fence_hakit_ipmi on ipmi_sim and level 2 =
fence_hakit_redfish on the sushy-tools emulator.  The fencer tries level 1
(each device up to pcmk_off_retries=2 times) and moves to level 2 only when
level 1 fails; the fence fails when every level has failed.  power_timeout is
5 s on both devices, so a level that cannot power off fails in ~5 s per try.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from tests.lab import fencing

pytestmark = [pytest.mark.pacemaker, pytest.mark.ipmi_sim, pytest.mark.redfish_sim]

IPMI = "fence-ctl2-ipmi"
REDFISH = "fence-ctl2-redfish"
#: What stonith_admin passes as --timeout; the fencer allows 1.2 x this per level.
STONITH_TIMEOUT = 60


@pytest.fixture
def topology(pcmk_cluster, installed_agents, ipmi_sim, redfish_emulator):
    devices = [
        fencing.ipmi_device(IPMI, ipmi_sim, power_timeout=5),
        fencing.redfish_device(REDFISH, redfish_emulator, power_timeout=5),
    ]
    with fencing.configured(pcmk_cluster, devices, {"ctl2": [IPMI, REDFISH]}):
        ipmi_sim.clear_history()
        yield pcmk_cluster, ipmi_sim, redfish_emulator


def fence_ctl2(cluster):
    """Fence ctl2; return the result, its seconds and the new history events."""
    before = fencing.fence_history(cluster)
    done, seconds = fencing.stonith_admin_fence(
        cluster, "ctl2", timeout=STONITH_TIMEOUT
    )
    new = [e for e in fencing.fence_history(cluster) if e not in before]
    return done, seconds, new


def test_the_topology_is_in_the_cib(topology):
    # The seed CIB has no <fencing-topology>: load_xml must create the section.
    cluster, _, _ = topology
    out = cluster.run(["cibadmin", "--query", "--scope", "fencing-topology"]).stdout
    levels = ET.fromstring(out).iter("fencing-level")
    assert [
        (lv.get("target"), lv.get("index"), lv.get("devices")) for lv in levels
    ] == [
        ("ctl2", "1", IPMI),
        ("ctl2", "2", REDFISH),
    ]


def test_healthy_level_1_fences_alone(topology):
    cluster, bmc, emulator = topology
    done, seconds, new = fence_ctl2(cluster)
    assert done.returncode == 0, done.stderr
    assert bmc.power is False
    assert "set power 0" in bmc.history
    assert emulator.power(emulator.systems_uris[0]) == "On"
    assert [(e.action, e.target, e.status) for e in new] == [("off", "ctl2", "success")]
    assert seconds < 5


@pytest.mark.slow
def test_stuck_level_1_falls_through_to_level_2(topology):
    cluster, bmc, emulator = topology
    bmc.set_fault("stuck_on")  # acknowledges off, stays on
    done, seconds, new = fence_ctl2(cluster)
    assert done.returncode == 0, done.stderr
    assert emulator.power(emulator.systems_uris[0]) == "Off"
    assert "set power 0" in bmc.history
    assert bmc.power is True
    assert [(e.action, e.target, e.status) for e in new] == [("off", "ctl2", "success")]
    # Level 1: at most 2 tries of power_timeout 5 s; level 2 takes under 1 s.
    assert seconds < STONITH_TIMEOUT / 3, f"fall-through took {seconds:.1f} s"


@pytest.mark.slow
def test_every_level_failing_fails_the_fence(topology):
    cluster, bmc, emulator = topology
    bmc.set_fault("stuck_on")
    emulator.set_reset_error(True)  # every Reset answers HTTP 500
    done, seconds, new = fence_ctl2(cluster)
    assert done.returncode != 0
    assert bmc.power is True
    assert "set power 0" in bmc.history
    assert emulator.power(emulator.systems_uris[0]) == "On"
    assert [(e.target, e.status) for e in new] == [("ctl2", "failed")]
    assert not [e for e in new if e.status == "success"]  # no node reported fenced
    node = cluster.crm_mon_xml().find(f"nodes/node[@name='{cluster.node}']")
    assert node is not None and node.get("online") == "true"
    assert seconds < STONITH_TIMEOUT / 3, f"failing fence took {seconds:.1f} s"
