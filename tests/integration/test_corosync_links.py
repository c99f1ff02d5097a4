"""hakit's corosync.conf in the 3-node lab: redundant links proven by cutting them.

``pcmk_three`` runs the corosync.conf ``hakit-cib`` generates from
``tests/lab/lab-3-controllers.toml``: two knet links per node (two bridges),
encrypted, votequorum with wait_for_all, token 1000 ms.  Cutting one link of
a node changes nothing above corosync; cutting both makes it a partition of
one, which loses quorum and stops its resources while the other two carry on;
restoring the links brings it back.
"""

from __future__ import annotations

import re
import time

import pytest

from tests.lab.multinode import MultiCluster

pytestmark = [pytest.mark.pacemaker, pytest.mark.slow]

RSC = "hk-links-dummy"
STATE = f"/run/resource-agents/{RSC}.state"
VICTIM = "ctl3"
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
</resources><constraints>
  <rsc_location id="{RSC}-prefers" rsc="{RSC}" node="{VICTIM}" score="100"/>
</constraints></configuration>
"""


def link_status(cluster: MultiCluster, seen_from: str) -> dict[tuple[int, int], bool]:
    """(nodeid, link) -> connected, as ``corosync-cfgtool -n`` shows it."""
    text = cluster.run(["corosync-cfgtool", "-n"], node=seen_from).stdout
    status: dict[tuple[int, int], bool] = {}
    nodeid = 0
    for line in text.splitlines():
        found = re.search(r"nodeid:\s*(\d+)", line)
        if found:
            nodeid = int(found.group(1))
            continue
        found = re.search(r"LINK:\s*(\d+)(.*)$", line)
        if found and nodeid:
            rest = found.group(2).split(")")[-1]  # after the addresses
            connected = re.search(r"\bconnected\b", rest) is not None
            status[(nodeid, int(found.group(1)))] = connected
    return status


def memberships(cluster: MultiCluster, node: str) -> int:
    """How many memberships corosync on *node* has formed so far."""
    log = cluster.node(node).corosync_log_path.read_text(errors="replace")
    return log.count("A new membership")


def state_file(cluster: MultiCluster, node: str) -> bool:
    return (cluster.node(node).root() / STATE.lstrip("/")).exists()


@pytest.fixture
def lab(pcmk_three: MultiCluster):
    mc = pcmk_three
    first = mc.names[0]
    mc.node(first).set_property("no-quorum-policy", "stop")
    mc.node(first).load_xml(DUMMY)
    mc.wait_until(lambda: mc.where(RSC, first) == [VICTIM], 30, f"{RSC} on {VICTIM}")
    try:
        yield mc
    finally:
        for link in range(len(mc.links[VICTIM])):
            mc.set_link(VICTIM, link, True)
        mc.wait_until(mc.settled, 60, "all three back")
        mc.node(first).delete_resource(RSC)
        mc.run(
            [
                "cibadmin",
                "--delete",
                "--xml-text",
                f'<rsc_location id="{RSC}-prefers"/>',
            ]
        )


def test_the_lab_runs_hakits_generated_corosync_conf(pcmk_three: MultiCluster):
    mc = pcmk_three
    conf = mc.run(["cat", "/etc/corosync/corosync.conf"]).stdout
    assert conf.startswith("# corosync.conf written by hakit-cib")
    assert "crypto_cipher: aes256" in conf and "ring1_addr: 192.168.88.13" in conf
    status = link_status(mc, "ctl1")
    assert status == {(n, link): True for n in (2, 3) for link in (0, 1)}


def test_one_link_down_changes_nothing_above_corosync(lab: MultiCluster):
    mc = lab
    before = memberships(mc, "ctl1")
    mc.set_link(VICTIM, 0, False)
    mc.wait_until(
        lambda: not link_status(mc, "ctl1").get((3, 0), True), 20, "link 0 seen down"
    )
    # Longer than the token and consensus together: a lost node would show.
    time.sleep(5)
    assert link_status(mc, "ctl1")[(3, 1)] is True
    assert memberships(mc, "ctl1") == before
    assert mc.online("ctl1") == {"ctl1", "ctl2", "ctl3"}
    assert mc.where(RSC, "ctl1") == [VICTIM]
    assert state_file(mc, VICTIM)
    mc.set_link(VICTIM, 0, True)
    mc.wait_until(lambda: link_status(mc, "ctl1").get((3, 0)), 30, "link 0 back")


def test_both_links_down_isolate_the_node_until_they_come_back(lab: MultiCluster):
    mc = lab
    for link in (0, 1):
        mc.set_link(VICTIM, link, False)
    # The two others keep quorum and take the resource over (stonith is off
    # in this lab); the isolated node loses quorum and stops its copy.
    mc.wait_until(lambda: mc.online("ctl1") == {"ctl1", "ctl2"}, 30, "ctl3 lost")
    mc.wait_until(lambda: mc.quorate("ctl1") and not mc.quorate(VICTIM), 30, "quorum")
    mc.wait_until(
        lambda: mc.where(RSC, "ctl1") in (["ctl1"], ["ctl2"]), 30, "moved to a survivor"
    )
    mc.wait_until(lambda: not state_file(mc, VICTIM), 30, f"{RSC} stopped on {VICTIM}")
    for link in (0, 1):
        mc.set_link(VICTIM, link, True)
    mc.wait_until(mc.settled, 60, "ctl3 rejoined")
    assert mc.online("ctl1") == {"ctl1", "ctl2", "ctl3"}
