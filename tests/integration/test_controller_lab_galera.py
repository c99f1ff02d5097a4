"""The controller cluster with Galera behind the VIP: no acknowledged write lost.

The lab of test_controller_lab.py plus hakit-cib's promotable Galera clone
(tests/lab/lab-cluster-galera.toml), reached by a writer in the client
namespace through HAProxy on the VIP (one active member, the others as
backups).  Scenario 2 (the VIP's node killed) and scenario 4 (every node
killed at once, then powered on) must keep every acknowledged row.
"""

from __future__ import annotations

import pytest

from tests.lab import scenarios

pytestmark = [pytest.mark.lab, pytest.mark.pacemaker, pytest.mark.daemon]
pytestmark += [pytest.mark.slow]


def test_galera_promoted_everywhere_and_written_through_the_vip(controller_lab_galera):
    lab = controller_lab_galera
    took = scenarios.wait_all_running(lab, timeout=240)
    writer = scenarios.start_writer(lab)
    try:
        writer.wait_acked(20, timeout=60)
    finally:
        missing = scenarios.stop_writer(lab, writer)
    assert missing == dict.fromkeys(lab.cluster.names, [])
    print(f"Galera Promoted on every node, keystone and VIP up: {took:.1f} s")


def test_scenario_2_kill_the_vips_node_keeps_every_acknowledged_write(
    controller_lab_galera,
):
    lab = controller_lab_galera
    result = scenarios.kill_node(lab)
    print(scenarios.report(result))
    assert result.notes["acknowledged rows missing"] == []
    assert int(result.notes["rows acknowledged"][0]) > 20
    assert len(lab.live()) == 3


def test_scenario_4_whole_cluster_killed_then_powered_on(controller_lab_galera):
    lab = controller_lab_galera
    result = scenarios.whole_cluster(lab)
    print(scenarios.report(result))
    assert result.notes["acknowledged rows missing"] == []
    assert scenarios.galera_promoted(lab)
    assert len(lab.live()) == 3
