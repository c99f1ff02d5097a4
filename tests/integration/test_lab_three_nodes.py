"""Prove the three-node namespaced lab: quorum, failover, quorum loss, rejoin.

Fencing is off, so a killed node's resource is restarted on a survivor as soon
as the new membership forms (LAB section 4: about 5 s with token 1000).
"""

from __future__ import annotations

import re
import time

import pytest

from tests.lab.multinode import MultiCluster

pytestmark = [pytest.mark.pacemaker, pytest.mark.slow]

RSC = "hk-dummy3"
STATE = f"/run/resource-agents/{RSC}.state"
DUMMY = f"""\
<configuration><resources>
  <primitive id="{RSC}" class="ocf" provider="heartbeat" type="Dummy">
    <instance_attributes id="{RSC}-ia">
      <nvpair id="{RSC}-state" name="state" value="{STATE}"/>
    </instance_attributes>
    <operations>
      <op id="{RSC}-mon" name="monitor" interval="2s" timeout="10s"/>
    </operations>
  </primitive>
</resources></configuration>
"""


def quorate_text(cluster: MultiCluster, node: str) -> str:
    """Return ``corosync-quorumtool -s`` output inside *node* (exit 2 = no quorum)."""
    return cluster.run(["corosync-quorumtool", "-s"], node=node, check=False).stdout


def state_file_exists(cluster: MultiCluster, node: str) -> bool:
    """Tell whether the Dummy state file exists in *node*'s private /run."""
    return (cluster.node(node).root() / STATE.lstrip("/")).exists()


def test_three_nodes_online_with_quorum(pcmk_three: MultiCluster) -> None:
    for name in pcmk_three.names:
        assert re.search(r"^Quorate:\s+Yes", quorate_text(pcmk_three, name), re.M)
        assert pcmk_three.online(name) == set(pcmk_three.names)
        assert pcmk_three.run(["uname", "-n"], node=name).stdout.strip() == name


def test_failover_quorum_loss_and_rejoin(pcmk_three: MultiCluster) -> None:
    mc = pcmk_three
    first = mc.names[0]
    mc.node(first).set_property("no-quorum-policy", "stop")
    mc.node(first).load_xml(DUMMY)
    killed: list[str] = []
    try:
        mc.wait_until(lambda: len(mc.where(RSC, first)) == 1, 20, f"{RSC} started")
        (owner,) = mc.where(RSC, first)
        assert state_file_exists(mc, owner)
        others = [n for n in mc.names if n != owner]
        assert not any(state_file_exists(mc, n) for n in others)

        # 1. Crash the owner: the resource moves to a survivor, quorum stays.
        t0 = time.monotonic()
        mc.kill_node(owner)
        killed.append(owner)
        observer = others[0]

        def on_a_survivor() -> bool:
            where = mc.where(RSC, observer)  # read once: it changes under us
            return len(where) == 1 and where[0] in others

        mc.wait_until(on_a_survivor, 20, f"{RSC} restarted on a survivor")
        failover = time.monotonic() - t0
        (survivor,) = mc.where(RSC, observer)
        assert state_file_exists(mc, survivor)
        for name in others:
            assert re.search(r"^Quorate:\s+Yes", quorate_text(mc, name), re.M)
        print(f"failover {owner} -> {survivor}: {failover:.1f}s")

        # 2. Crash the other survivor: the last node loses quorum and stops it.
        victim = next(n for n in others if n != survivor)
        t0 = time.monotonic()
        mc.kill_node(victim)
        killed.append(victim)
        mc.wait_until(
            lambda: (
                re.search(r"^Quorate:\s+No", quorate_text(mc, survivor), re.M)
                is not None
            ),
            15,
            f"{survivor} not quorate",
        )
        mc.wait_until(
            lambda: not state_file_exists(mc, survivor) and not mc.where(RSC, survivor),
            20,
            f"{RSC} stopped on {survivor} without quorum",
        )
        print(f"quorum loss -> stopped: {time.monotonic() - t0:.1f}s")
    finally:
        # 3. Bring the killed nodes back (also on failure: the fixture is shared).
        # Together: with wait_for_all a restarted node is quorate only once
        # it has seen every node.
        if killed:
            took = mc.restart_nodes(killed)
            print(f"restart {killed}: settled after {took:.1f}s")
        mc.node(first).delete_resource(RSC)
    assert mc.settled()
    for name in mc.names:
        assert mc.online(name) == set(mc.names)
