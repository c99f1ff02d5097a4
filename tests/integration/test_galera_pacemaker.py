"""ocf:hakit:galera as a promotable clone under a real 3-node Pacemaker cluster.

Pacemaker itself starts the instances, reads the promotion scores the agent
sets, promotes, monitors and recovers; the test only kills mariadbd and checks
the outcome: every member Promoted again, no acknowledged row lost, the
cluster uuid kept.
"""

from __future__ import annotations

import time
from xml.sax.saxutils import quoteattr

import pytest

from tests.lab.galera import ROWS_TABLE
from tests.lab.galera_agent import GaleraAgent, SqlWriter

pytestmark = [pytest.mark.daemon, pytest.mark.pacemaker, pytest.mark.timeout(600)]

NODES = ("ctl1", "ctl2", "ctl3")
CLONE = "galera-clone"


def clone_xml(params: dict[str, str]) -> str:
    nvpairs = "\n".join(
        f'<nvpair id="galera-ia-{name}" name="{name}" value={quoteattr(value)}/>'
        for name, value in sorted(params.items())
    )
    return f"""\
<configuration><resources>
  <clone id="{CLONE}">
    <meta_attributes id="{CLONE}-meta">
      <nvpair id="{CLONE}-promotable" name="promotable" value="true"/>
      <nvpair id="{CLONE}-promoted-max" name="promoted-max" value="3"/>
      <nvpair id="{CLONE}-clone-max" name="clone-max" value="3"/>
      <nvpair id="{CLONE}-notify" name="notify" value="true"/>
      <nvpair id="{CLONE}-interleave" name="interleave" value="true"/>
    </meta_attributes>
    <primitive id="galera" class="ocf" provider="hakit" type="galera">
      <instance_attributes id="galera-ia">
{nvpairs}
      </instance_attributes>
      <operations>
        <op id="galera-start" name="start" interval="0" timeout="120s"/>
        <op id="galera-stop" name="stop" interval="0" timeout="120s"/>
        <op id="galera-promote" name="promote" interval="0" timeout="300s"/>
        <op id="galera-demote" name="demote" interval="0" timeout="120s"/>
        <op id="galera-notify" name="notify" interval="0" timeout="30s"/>
        <op id="galera-mon-p" name="monitor" interval="5s" timeout="30s"
            role="Promoted"/>
        <op id="galera-mon-u" name="monitor" interval="7s" timeout="30s"
            role="Unpromoted"/>
      </operations>
    </primitive>
  </clone>
</resources></configuration>
"""


def roles(cluster) -> dict[str, str]:
    state = cluster.node("ctl1").resource_state(CLONE)
    return {i.node: i.role for i in state if i.node and i.active}


def wait_all_promoted(cluster, agent: GaleraAgent, timeout: float = 180) -> float:
    began = time.monotonic()
    end = began + timeout
    while True:
        current = roles(cluster)
        if current == dict.fromkeys(NODES, "Promoted"):
            return time.monotonic() - began
        if time.monotonic() > end:
            raise AssertionError(
                f"not all Promoted after {timeout} s: {current}, "
                f"waiting {agent.waiting()}, scores {agent.scores()}"
            )
        time.sleep(0.5)


def wait_failure_seen(cluster, victims: list[str], timeout: float = 30) -> None:
    """Pacemaker's monitor has noticed every victim (it is no longer Promoted)."""
    end = time.monotonic() + timeout
    pending = set(victims)
    while pending:
        current = roles(cluster)
        pending = {n for n in pending if current.get(n) == "Promoted"}
        assert time.monotonic() < end, f"failures of {sorted(pending)} not noticed"
        time.sleep(0.2)


@pytest.fixture
def galera_clone(pcmk_three, galera_namespaced, installed_agents):
    agent = GaleraAgent.for_lab(pcmk_three, galera_namespaced)
    ctl1 = pcmk_three.node("ctl1")
    ctl1.load_xml(clone_xml(agent.params))
    try:
        yield agent
    finally:
        ctl1.delete_resource(CLONE, timeout=120)
        for node in NODES:
            ctl1.run(
                ["crm_resource", "--cleanup", "-r", CLONE, "-N", node], check=False
            )


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
