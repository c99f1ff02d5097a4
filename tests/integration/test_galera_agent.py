"""ocf:hakit:galera on a real 3-node MariaDB Galera cluster, driven action by action.

Every node is a real Corosync/Pacemaker node in its own namespaces (the
``pcmk_three`` lab) with its own mariadbd; the agent's node attributes go
through the real pacemaker-attrd.  No Galera resource is defined in the CIB:
the test plays Pacemaker's part (start, promote the nodes the agent gives a
score, recover failed ones), so each step can be checked.
"""

from __future__ import annotations

import os
import random
import shutil
import time
from datetime import datetime, timedelta, timezone

import pytest

from tests.lab.galera import ROWS_TABLE
from tests.lab.galera_agent import (
    FAILED_PROMOTED,
    NOT_RUNNING,
    PROMOTED,
    RUNNING,
    GaleraAgent,
    SqlWriter,
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


def wait_survivors_settled(agent: GaleraAgent, survivors: list[str]) -> None:
    """Let the survivors notice the dead (about 6 s of evs.suspect_timeout).

    Pacemaker's monitor would only see the new state then, too.
    """
    end = time.monotonic() + 40
    for node in survivors:
        while True:
            try:
                status = agent.lab.status(node)
            except Exception:  # noqa: BLE001 - a member that stopped answering
                break
            if status.get("wsrep_cluster_status") != "Primary":
                break
            if status.get("wsrep_cluster_size") == str(len(survivors)):
                break
            assert time.monotonic() < end, f"{node} still sees dead members: {status}"
            time.sleep(0.3)


def assert_no_acknowledged_row_lost(agent: GaleraAgent, writer: SqlWriter) -> None:
    writer.pause()
    try:
        acked = set(writer.acked)
        seen = {node: agent.lab.rows(node) for node in NODES}
    finally:
        writer.resume()
    for node, rows in seen.items():
        missing = acked - rows
        assert not missing, f"{node} lost acknowledged rows {sorted(missing)[:20]}"
    assert seen["ctl1"] == seen["ctl2"] == seen["ctl3"], "members differ"


KILL_PATTERNS = ("one", "two staggered", "all at once", "all staggered")


def kill(
    agent: GaleraAgent, pattern: str, order: list[str], rng: random.Random
) -> list[str]:
    """Kill mariadbds per ``pattern``; return the survivors."""
    count = {"one": 1, "two staggered": 2}.get(pattern, 3)
    victims = order[:count]
    if pattern == "all at once":
        for node in victims:
            agent.kill9(node)
    else:
        for node in victims:
            agent.kill9(node)
            time.sleep(rng.uniform(0.2, 2.0))  # the writer keeps writing
    return [n for n in NODES if n not in victims]


def test_crash_rounds_never_lose_an_acknowledged_row(agent):
    """Seeded random kill -9 orders; every acknowledged row survives every round."""
    seed = int(os.environ.get("HAKIT_GALERA_SEED", "20261122"))
    rounds = int(os.environ.get("HAKIT_GALERA_ROUNDS", "20"))
    rng = random.Random(seed)
    agent.bring_up()
    agent.lab.sql(
        "ctl1",
        "CREATE DATABASE hakit;"
        f" CREATE TABLE {ROWS_TABLE} (id INT PRIMARY KEY, payload VARCHAR(64));",
    )
    uuid = cluster_uuid(agent, "ctl1")
    writer = SqlWriter(agent.lab, agent)
    writer.start()
    try:
        for number in range(rounds):
            pattern = KILL_PATTERNS[number % len(KILL_PATTERNS)]
            order = rng.sample(NODES, len(NODES))
            writer.wait_acked(len(writer.acked) + 5)
            began = time.monotonic()
            survivors = kill(agent, pattern, order, rng)
            wait_survivors_settled(agent, survivors)
            agent.recover()
            assert_all_promoted(agent)
            writer.wait_acked(len(writer.acked) + 3)
            print(
                f"round {number} ({pattern}, order {order}): recovered in "
                f"{time.monotonic() - began:.1f} s, {len(writer.acked)} rows acked"
            )
            assert_no_acknowledged_row_lost(agent, writer)
            for node in NODES:
                assert cluster_uuid(agent, node) == uuid, f"round {number}: new uuid"
    finally:
        writer.stop()
    assert_no_acknowledged_row_lost(agent, writer)


def test_a_node_behind_never_bootstraps_and_force_bootstrap_expires(agent):
    agent.bring_up()
    lab = agent.lab
    lab.sql(
        "ctl1",
        "CREATE DATABASE hakit;"
        f" CREATE TABLE {ROWS_TABLE} (id INT PRIMARY KEY, payload VARCHAR(64));"
        f" INSERT INTO {ROWS_TABLE} VALUES (1, 'a'), (2, 'b');",
    )
    assert agent.run("ctl3", "demote").rc == RUNNING  # ctl3 falls behind
    lab.sql("ctl1", f"INSERT INTO {ROWS_TABLE} VALUES (3, 'c'), (4, 'd');")
    for node in ("ctl2", "ctl1"):
        assert agent.run(node, "demote").rc == RUNNING
    for node in NODES:
        assert agent.run(node, "stop").rc == RUNNING

    # ctl1 (the most advanced) is away: nobody may bootstrap, and ctl3 says why.
    for node in ("ctl3", "ctl2"):
        assert agent.run(node, "start").rc == RUNNING
    refused = agent.run("ctl3", "promote")
    assert refused.rc == 1
    assert "waiting for ctl1 to report" in refused.reason
    assert agent.mariadbd_pid("ctl3") is None
    # ctl1 reports: it is the only node allowed, ctl3 (behind) still refuses.
    assert agent.run("ctl1", "start").rc == RUNNING
    assert agent.wait_attribute("master-galera", lambda v: "ctl1" in v) == {
        "ctl1": "100"
    }
    refused = agent.run("ctl3", "promote")
    assert refused.rc == 1
    assert "ctl1 has the highest seqno" in refused.reason, refused
    assert agent.mariadbd_pid("ctl3") is None
    assert agent.run("ctl1", "stop").rc == RUNNING  # ctl1 is lost for good

    # An expired override is ignored, and the reason is visible.
    past = (datetime.now(timezone.utc) - timedelta(minutes=1)).isoformat()
    agent.set_attribute("ctl2", "galera-force-bootstrap", past)
    assert agent.monitor("ctl2").rc == RUNNING
    waiting = agent.wait_attribute(
        "galera-waiting", lambda v: "expired" in v.get("ctl2", "")
    )
    assert "force-bootstrap on ctl2 expired" in waiting["ctl2"]
    assert agent.run("ctl2", "promote").rc == 1
    # A valid one lets ctl2 bootstrap without ctl1, once.
    soon = (datetime.now(timezone.utc) + timedelta(minutes=5)).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )
    agent.set_attribute("ctl2", "galera-force-bootstrap", soon)
    assert agent.monitor("ctl2").rc == RUNNING
    promoted = agent.run("ctl2", "promote")
    assert promoted.rc == RUNNING, f"{promoted}\n{agent.log_tail('ctl2')}"
    assert agent.wait_attribute("galera-force-bootstrap", lambda v: not v) == {}
    assert agent.monitor("ctl3").rc == RUNNING  # learns of the Primary Component
    assert agent.run("ctl3", "promote").rc == RUNNING
    for node in ("ctl2", "ctl3"):
        assert lab.rows(node) == {1, 2, 3, 4}


def test_no_join_or_bootstrap_while_the_primary_component_is_gone(agent):
    """Peers announced as Primary but dead: nothing to join, nothing to elect.

    Their announcements are stale and their positions unknown (they were
    running when killed), so ctl3 (behind them) must neither join nor
    bootstrap, and must say why without leaving mariadbd running.
    """
    agent.bring_up()
    agent.lab.sql("ctl1", "CREATE DATABASE hakit;")
    assert agent.run("ctl3", "demote").rc == RUNNING
    agent.lab.sql("ctl1", "CREATE DATABASE hakit_after;")  # ctl3 falls behind
    agent.kill9("ctl1")
    agent.kill9("ctl2")  # their galera-primary announcements are now stale
    began = time.monotonic()
    result = agent.run("ctl3", "promote")
    took = time.monotonic() - began
    assert result.rc == 1, result
    assert "will not bootstrap on ctl3" in result.reason, result
    assert "position of ctl1, ctl2 is unknown" in result.reason, result
    assert took < 30, f"refused only after {took:.0f} s"
    assert agent.mariadbd_pid("ctl3") is None
    agent.recover()
    assert_all_promoted(agent)
    assert "hakit_after" in {row[0] for row in agent.lab.sql("ctl3", "SHOW DATABASES;")}


def test_created_member_and_monitor_credentials_from_an_option_file(agent):
    """enable_creation initialises an empty datadir; the monitor reads a 0600 file."""
    lab = agent.lab
    datadir = lab.host_path("ctl3", lab.nodes["ctl3"].datadir)
    for entry in datadir.iterdir():  # ctl3 starts with nothing at all
        if entry.is_dir():
            shutil.rmtree(entry)
        else:
            entry.unlink()
    agent.params["enable_creation"] = "true"
    agent.bring_up()
    assert_all_promoted(agent)
    assert (datadir / "mysql").is_dir()

    option_file = lab.create_monitor_user("ctl1")  # replicated to every member
    agent.params["check_defaults_file"] = str(option_file)
    for node in NODES:
        assert agent.monitor(node, role="Promoted").rc == PROMOTED
    # A wrong password: a failure that names the problem, not the secret.
    wrong = "Wr0ng-" + lab.monitor_password
    host_file = lab.host_path("ctl2", option_file)
    host_file.write_text(f"[client]\nuser=hakit_monitor\npassword={wrong}\n")
    result = agent.monitor("ctl2", role="Promoted")
    assert result.rc == FAILED_PROMOTED, result
    assert "1045" in result.reason or "denied" in result.reason, result
    assert wrong not in result.err and lab.monitor_password not in result.err
