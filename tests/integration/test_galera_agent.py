"""ocf:hakit:galera on a real 3-node MariaDB Galera cluster, driven action by action.

Every node is a real Corosync/Pacemaker node in its own namespaces (the
``pcmk_three`` lab) with its own mariadbd; the agent's node attributes go
through the real pacemaker-attrd.  No Galera resource is defined in the CIB:
the test plays Pacemaker's part (start, promote the nodes the agent gives a
score, recover failed ones), so each step can be checked.
"""

from __future__ import annotations

import time

import pytest

from tests.lab.galera import ROWS_TABLE
from tests.lab.galera_agent import (
    FAILED_PROMOTED,
    NOT_RUNNING,
    PROMOTED,
    RUNNING,
    GaleraAgent,
)

pytestmark = [pytest.mark.daemon, pytest.mark.pacemaker, pytest.mark.timeout(900)]

NODES = ("ctl1", "ctl2", "ctl3")


@pytest.fixture
def agent(pcmk_three, galera_namespaced, installed_agents):
    agent = GaleraAgent.for_lab(pcmk_three, galera_namespaced)
    try:
        yield agent
    finally:
        agent.stop_all()
        for name in (
            f"galera-{a}" for a in ("position", "waiting", "primary", "force-bootstrap")
        ):
            for node in NODES:
                pcmk_three.run(
                    ["attrd_updater", "-N", node, "-n", name, "-D"],
                    node=node,
                    check=False,
                )
        for node in NODES:
            pcmk_three.run(
                ["attrd_updater", "-N", node, "-n", "master-galera", "-D"],
                node=node,
                check=False,
            )


def cluster_uuid(agent: GaleraAgent, node: str) -> str:
    return agent.lab.status(node)["wsrep_cluster_state_uuid"]


def assert_all_promoted(agent: GaleraAgent) -> None:
    for node in NODES:
        result = agent.monitor(node, role="Promoted")
        assert result.rc == PROMOTED, f"{result}\n{agent.log_tail(node)}"
        status = agent.lab.status(node)
        assert status["wsrep_cluster_size"] == "3"
        assert status["wsrep_local_state_comment"] == "Synced"


def test_clean_start_stop_and_restart_keep_the_cluster(agent):
    for node in NODES:
        assert agent.probe(node).rc == NOT_RUNNING
    # The first two starts publish and wait: nobody may bootstrap yet.
    for node in NODES[:2]:
        assert agent.run(node, "start").rc == RUNNING
    waiting = agent.wait_attribute(
        "galera-waiting", lambda v: "ctl3" in v.get("ctl2", "")
    )
    assert "waiting for ctl3 to report" in waiting["ctl2"]
    assert not agent.scores()
    assert agent.run("ctl3", "start").rc == RUNNING
    positions = agent.positions()
    assert set(positions) == set(NODES)
    agent.promote_all()
    assert_all_promoted(agent)
    uuid = cluster_uuid(agent, "ctl1")
    agent.lab.sql(
        "ctl2",
        "CREATE DATABASE hakit;"
        f" CREATE TABLE {ROWS_TABLE} (id INT PRIMARY KEY, payload VARCHAR(64));",
    )
    agent.lab.sql("ctl3", f"INSERT INTO {ROWS_TABLE} VALUES (1, 'a'), (2, 'b');")

    # Clean full stop: demote one by one; the last one down is safe to bootstrap.
    for node in ("ctl2", "ctl3", "ctl1"):
        assert agent.run(node, "demote").rc == RUNNING
        assert agent.mariadbd_pid(node) is None
    positions = agent.wait_attribute(
        "galera-position", lambda v: v.get("ctl1", "").endswith(":safe")
    )
    assert positions["ctl1"].endswith(":safe"), positions
    seqnos = {n: int(p.split(":")[1]) for n, p in positions.items()}
    assert seqnos["ctl1"] >= max(seqnos.values())
    for node in NODES:
        assert agent.run(node, "stop").rc == RUNNING
        assert agent.probe(node).rc == NOT_RUNNING

    # Restart: the cluster comes back with the same uuid and the rows.
    agent.bring_up()
    assert_all_promoted(agent)
    for node in NODES:
        assert cluster_uuid(agent, node) == uuid
        assert agent.lab.rows(node) == {1, 2}


def test_monitor_fails_a_live_node_that_is_not_primary(agent):
    agent.bring_up()
    agent.kill9("ctl2")
    agent.kill9("ctl3")
    # ctl1 is alive but loses quorum: a failure, never "running" or "stopped".
    end = time.monotonic() + 30
    while agent.lab.status("ctl1").get("wsrep_cluster_status") == "Primary":
        assert time.monotonic() < end
        time.sleep(0.5)
    result = agent.monitor("ctl1", role="Promoted")
    assert result.rc == FAILED_PROMOTED, result
    assert "Primary" in result.reason
    probe = agent.probe("ctl1")
    assert probe.rc == FAILED_PROMOTED
    for node in ("ctl2", "ctl3"):
        result = agent.monitor(node, role="Promoted")
        assert result.rc == FAILED_PROMOTED and "not running" in result.reason
    agent.recover()
    assert_all_promoted(agent)
