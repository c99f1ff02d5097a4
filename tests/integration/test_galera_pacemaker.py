"""ocf:hakit:galera as a promotable clone under a real 3-node Pacemaker cluster.

Pacemaker itself starts the instances, reads the promotion scores the agent
sets, promotes, monitors and recovers; the test only kills mariadbd and checks
the outcome: every member Promoted again, no acknowledged row lost, the
cluster uuid kept.
"""

from __future__ import annotations

import time

import pytest

from tests.lab.galera import ROWS_TABLE
from tests.lab.galera_agent import SqlWriter
from tests.lab.galera_clone import NODES, wait_all_promoted, wait_failure_seen

pytestmark = [pytest.mark.daemon, pytest.mark.pacemaker, pytest.mark.timeout(600)]


def test_pacemaker_promotes_all_and_repairs_killed_members(pcmk_three, galera_clone):
    agent = galera_clone
    took = wait_all_promoted(pcmk_three, agent)
    print(f"three members Promoted {took:.1f} s after the clone was loaded")
    attrs = pcmk_three.run(["crm_mon", "-1", "-A"], node="ctl1").stdout
    assert "galera-position" in attrs
    lab = agent.lab
    lab.sql(
        "ctl1",
        "CREATE DATABASE hakit;"
        f" CREATE TABLE {ROWS_TABLE} (id INT PRIMARY KEY, payload VARCHAR(64));",
    )
    uuid = lab.status("ctl1")["wsrep_cluster_state_uuid"]
    writer = SqlWriter(lab, agent)
    writer.start()
    try:
        for victims in (["ctl2"], list(NODES)):
            writer.wait_acked(len(writer.acked) + 10)
            for node in victims:
                agent.kill9(node)
            began = time.monotonic()
            wait_failure_seen(pcmk_three, victims)
            wait_all_promoted(pcmk_three, agent, timeout=240)
            print(
                f"killed {victims}: all Promoted again in "
                f"{time.monotonic() - began:.1f} s"
            )
            writer.wait_acked(len(writer.acked) + 5)
    finally:
        writer.stop()
    acked = writer.acked
    for node in NODES:
        assert lab.status(node)["wsrep_cluster_state_uuid"] == uuid
        missing = acked - lab.rows(node)
        assert not missing, f"{node} lost {sorted(missing)[:20]}"
