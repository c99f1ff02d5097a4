"""The whole controller cluster of ``make lab``: Galera, RabbitMQ and an RPC worker.

The lab of test_controller_lab.py plus hakit-cib's promotable Galera clone
behind HAProxy on the VIP (one active member, the others as backups; a
writer in the client namespace inserts through the VIP), RabbitMQ
(``ocf:hakit:rabbitmq``, one member per node) and a nova-conductor clone
(``ocf:hakit:nova-conductor``) whose transport_url names the three members,
ordered after RabbitMQ as hakit-cib orders every OpenStack service.  The
RabbitMQ clone forms by itself in the lab's busy first transition (issue
#13's formation stall).  Scenario 2 (the VIP's node killed) keeps every
acknowledged row and every confirmed durable message, and the survivors'
conductors move to a live member; scenario 4 (every node killed at once,
then powered on) brings everything back by itself without losing a row.
"""

from __future__ import annotations

import time

import pytest

from tests.lab import scenarios

pytestmark = [pytest.mark.lab, pytest.mark.pacemaker, pytest.mark.daemon]
pytestmark += [pytest.mark.slow]


def conductors_connected(lab) -> dict[str, set[str]]:
    return {node: scenarios.conductor_peers(lab, node) for node in lab.live()}


def rabbitmq_clustered(lab) -> None:
    names = [lab.rabbit.nodename(n) for n in lab.cluster.names]
    assert lab.rabbit.running_nodes("ctl1") == names


def test_everything_runs_and_galera_is_written_through_the_vip(controller_lab_full):
    lab = controller_lab_full
    took = scenarios.wait_all_running(lab, timeout=300)
    rabbitmq_clustered(lab)
    members = {lab.cluster.nodes[n].address for n in lab.cluster.names}
    end = time.monotonic() + 60
    while not all((peers := conductors_connected(lab)).values()):
        assert time.monotonic() < end, f"conductors not connected: {peers}"
        time.sleep(1)
    assert set().union(*peers.values()) <= members
    writer = scenarios.start_writer(lab)
    try:
        writer.wait_acked(20, timeout=60)
    finally:
        missing = scenarios.stop_writer(lab, writer)
    assert missing == dict.fromkeys(lab.cluster.names, [])
    print(
        f"Galera Promoted on every node, RabbitMQ clustered, conductors"
        f" connected ({peers}), keystone and VIP up: {took:.1f} s"
    )


def test_scenario_2_kill_the_vips_node_keeps_writes_messages_and_rpc(
    controller_lab_full,
):
    lab = controller_lab_full
    scenarios.wait_all_running(lab, timeout=300)
    owner = {lab.cluster.nodes[n].address: n for n in lab.cluster.names}
    before = {node: scenarios.conductor_sockets(lab, node) for node in lab.live()}
    # The victim is a node whose member serves another node's conductor, so
    # the kill always cuts a survivor's conductor off its member (each
    # conductor names another node's member first, but oslo.messaging does
    # not always keep to the first host): the VIP goes there first.
    victims = sorted(
        owner[peer]
        for n, socks in before.items()
        for peer, _ in socks
        if owner[peer] != n
    )
    assert victims, f"every conductor uses its own node's member: {before}"
    scenarios.move_vip(lab, victims[0])
    result = scenarios.kill_node(lab)
    print(scenarios.report(result))
    assert result.node == victims[0]
    assert result.notes["acknowledged rows missing"] == []
    assert int(result.notes["rows acknowledged"][0]) > 20
    assert result.notes["durable messages missing"] == []
    rabbitmq_clustered(lab)
    # A killed node sends no RST: a connection to it stays ESTABLISHED
    # until oslo.messaging's heartbeat gives it up (the lab sets 10 s; 60 s
    # by default).  Each cut survivor must have dropped every connection to
    # the victim it had and hold one to a member again.
    victim = lab.cluster.nodes[result.node].address
    cut = {n: {s for s in socks if s[0] == victim} for n, socks in before.items()}
    cut = {n: old for n, old in cut.items() if old and n != result.node}
    end = time.monotonic() + 150
    now: dict[str, set[tuple[str, str]]] = {}
    while True:
        now = {n: scenarios.conductor_sockets(lab, n) for n in cut}
        if all(now[n] and not (now[n] & cut[n]) for n in cut):
            break
        assert time.monotonic() < end, f"no new connection: before {before}, now {now}"
        time.sleep(2)
    print(f"conductors before {before}; killed {victim}; reconnected: {now}")
    assert len(lab.live()) == 3


def test_scenario_4_whole_cluster_killed_then_powered_on(controller_lab_full):
    lab = controller_lab_full
    result = scenarios.whole_cluster(lab)
    print(scenarios.report(result))
    assert result.notes["acknowledged rows missing"] == []
    assert scenarios.galera_promoted(lab)
    rabbitmq_clustered(lab)
    assert len(lab.live()) == 3
