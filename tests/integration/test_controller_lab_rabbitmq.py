"""The controller cluster with RabbitMQ and an RPC worker: scenario 2 with messaging.

The lab of test_controller_lab.py plus hakit-cib's RabbitMQ clone
(``ocf:hakit:rabbitmq``, one member per node) and a nova-conductor clone
(``ocf:hakit:nova-conductor``) whose transport_url names the three members,
ordered after RabbitMQ as hakit-cib orders every OpenStack service.  The
clone forms by itself in the lab's busy first transition (issue #13's
formation stall); a killed node's RabbitMQ member and conductor come back
by themselves, durable queues keep their confirmed persistent messages, and
the conductors of the survivors stay connected to a live member.
"""

from __future__ import annotations

import time

import pytest

from tests.lab import scenarios

pytestmark = [pytest.mark.lab, pytest.mark.pacemaker, pytest.mark.daemon]
pytestmark += [pytest.mark.slow]


def conductors_connected(lab) -> dict[str, str | None]:
    return {node: scenarios.conductor_peer(lab, node) for node in lab.live()}


def test_rabbitmq_and_conductors_run_everywhere(controller_lab_rabbitmq):
    lab = controller_lab_rabbitmq
    took = scenarios.wait_all_running(lab, timeout=300)
    names = [lab.rabbit.nodename(n) for n in lab.cluster.names]
    assert lab.rabbit.running_nodes("ctl1") == names
    members = {lab.cluster.nodes[n].address for n in lab.cluster.names}
    end = time.monotonic() + 60
    while None in (peers := conductors_connected(lab)).values():
        assert time.monotonic() < end, f"conductors not connected: {peers}"
        time.sleep(1)
    assert set(peers.values()) <= members
    print(f"RabbitMQ clustered, conductors connected ({peers}): {took:.1f} s")


def test_scenario_2_kill_the_vips_node_keeps_messages_and_rpc(
    controller_lab_rabbitmq,
):
    lab = controller_lab_rabbitmq
    scenarios.wait_all_running(lab, timeout=300)
    before = {node: scenarios.conductor_socket(lab, node) for node in lab.live()}
    result = scenarios.kill_node(lab)
    print(scenarios.report(result))
    assert result.notes["durable messages missing"] == []
    victim = lab.cluster.nodes[result.node].address
    names = [lab.rabbit.nodename(n) for n in lab.cluster.names]
    assert lab.rabbit.running_nodes("ctl1") == names
    # Each conductor names another node's member first: one survivor's was
    # the killed node's.  A killed node sends no RST, so that connection
    # stays ESTABLISHED until oslo.messaging's heartbeat gives it up (60 s
    # by default): wait for a new connection, not a snapshot.
    moved = [
        n
        for n, sock in before.items()
        if n != result.node and sock and sock[0] == victim
    ]
    # oslo.messaging does not always take the first host (a CI run had two
    # conductors on one member): when none used the victim's, only the
    # messages and the rejoin are checked here (test_rabbitmq_agent's
    # test_10 always cuts the conductor's member).
    print(f"survivors whose member was killed: {moved or 'none this run'}")
    end = time.monotonic() + 150
    now: dict[str, tuple[str, str] | None] = {}
    while moved:
        now = {n: scenarios.conductor_socket(lab, n) for n in moved}
        if all(now[n] is not None and now[n] != before[n] for n in moved):
            break
        assert time.monotonic() < end, f"no new connection: before {before}, now {now}"
        time.sleep(2)
    print(f"conductors before {before}; killed {victim}; reconnected: {now}")
    assert len(lab.live()) == 3
