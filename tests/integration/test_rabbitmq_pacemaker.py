"""ocf:hakit:rabbitmq as a clone under the real 3-node Pacemaker of the lab.

Pacemaker itself probes, starts, monitors and recovers the instances (one
``rabbit@ctlN`` per lab node); the clone has hakit-cib's meta for RabbitMQ
(notify, interleave, the stateful failure policy), and the DC runs one
action at a time (``batch-limit=1``), the hardest case for a clone whose
members wait for each other.  The test only kills beams and checks the
outcome: all three members running and clustered again, the confirmed
persistent messages still there.
"""

from __future__ import annotations

import contextlib
import time
from xml.sax.saxutils import quoteattr

import pytest

from cib_builder.recipes import STATEFUL_FAILURE_POLICY
from tests.lab.rabbitmq import rabbitmq_missing
from tests.lab.rabbitmq_agent import RabbitAgents
from tests.unavailable import unavailable

pytestmark = [pytest.mark.daemon, pytest.mark.pacemaker, pytest.mark.timeout(600)]

NODES = ["ctl1", "ctl2", "ctl3"]
PRIMITIVE = "rabbitmq"
CLONE = "rabbitmq-clone"


def clone_xml(params: dict[str, str]) -> str:
    """The clone as hakit-cib's recipe writes it (ops and meta), with ``params``."""
    nvpairs = "\n".join(
        f'<nvpair id="{PRIMITIVE}-ia-{name}" name="{name}" value={quoteattr(value)}/>'
        for name, value in sorted(params.items())
    )
    meta = "\n".join(
        f'<nvpair id="{CLONE}-{name}" name="{name}" value="{value}"/>'
        for name, value in (
            ("clone-max", "3"),
            ("notify", "true"),
            ("interleave", "true"),
            *STATEFUL_FAILURE_POLICY,
        )
    )
    return f"""\
<configuration><resources>
  <clone id="{CLONE}">
    <meta_attributes id="{CLONE}-meta">
{meta}
    </meta_attributes>
    <primitive id="{PRIMITIVE}" class="ocf" provider="hakit" type="rabbitmq">
      <instance_attributes id="{PRIMITIVE}-ia">
{nvpairs}
      </instance_attributes>
      <operations>
        <op id="{PRIMITIVE}-start" name="start" interval="0" timeout="300s"/>
        <op id="{PRIMITIVE}-stop" name="stop" interval="0" timeout="120s"/>
        <op id="{PRIMITIVE}-notify" name="notify" interval="0" timeout="30s"/>
        <op id="{PRIMITIVE}-monitor" name="monitor" interval="10s" timeout="30s"/>
      </operations>
    </primitive>
  </clone>
</resources></configuration>
"""


@contextlib.contextmanager
def loaded_clone(cluster, tmp_path, batch_limit: str = ""):
    """The clone loaded into the lab's Pacemaker (``batch-limit`` set first)."""
    reason = rabbitmq_missing()
    if reason:
        unavailable(reason)
    lab = RabbitAgents(cluster, tmp_path / "rabbit", resource=PRIMITIVE)
    lab.setup()
    ctl1 = cluster.node("ctl1")
    property_cmd = ["crm_attribute", "-t", "crm_config", "-n", "batch-limit"]
    if batch_limit:
        ctl1.run([*property_cmd, "-v", batch_limit])
    try:
        ctl1.load_xml(clone_xml(lab.params()))
        yield lab
    finally:
        try:
            if batch_limit:
                ctl1.run([*property_cmd, "-D"], check=False)
            ctl1.delete_resource(CLONE, timeout=240)
            for node in NODES:
                ctl1.run(
                    ["crm_resource", "--cleanup", "-r", CLONE, "-N", node], check=False
                )
        finally:
            lab.teardown()


@pytest.fixture
def rabbit_clone(pcmk_three, installed_agents, tmp_path):
    """The clone, Pacemaker issuing one action at a time (``batch-limit=1``)."""
    with loaded_clone(pcmk_three, tmp_path, batch_limit="1") as lab:
        yield lab


def started(cluster) -> set[str]:
    """Nodes where Pacemaker reports the clone's instance active and Started."""
    state = cluster.node("ctl1").resource_state(CLONE)
    return {i.node for i in state if i.node and i.active and i.role == "Started"}


def wait_formed(cluster, lab: RabbitAgents, timeout: float = 240) -> float:
    """All instances Started and all members clustered; the seconds it took."""
    began = time.monotonic()
    end = began + timeout
    while True:
        if started(cluster) == set(NODES):
            try:
                members = lab.running_nodes("ctl1")
            except RuntimeError:
                members = []
            if members == [lab.nodename(n) for n in NODES]:
                return time.monotonic() - began
        if time.monotonic() > end:
            raise AssertionError(
                f"not formed after {timeout} s: started on {started(cluster)}\n"
                + cluster.run(["crm_mon", "-1", "-A", "-f"], node="ctl1").stdout
            )
        time.sleep(1)


def test_formed_one_start_at_a_time_recovers_a_beam_and_reforms_after_all_die(
    pcmk_three, rabbit_clone
):
    """No start waits on a start Pacemaker has not issued.

    With ``batch-limit=1`` the DC runs one action at a time, so a start
    that waited for the other members' starts would hold the cluster until
    its timeout (300 s).  The first start creates the cluster, the others
    join.  A killed beam is restarted and rejoins with its messages; after
    all three beams are killed, the members re-form the same way, keeping
    the confirmed persistent messages of a durable queue.
    """
    lab = rabbit_clone
    took = wait_formed(pcmk_three, lab, timeout=150)
    print(f"formed one start at a time in {took:.1f} s")
    shown = pcmk_three.run(["crm_mon", "-1", "-f"], node="ctl1").stdout
    _, _, failed = shown.partition("Failed Resource Actions")
    assert "start" not in failed, shown

    assert lab.publish("ctl2", "keep-on-2", 30, "classic") == 30
    victim = lab.beam("ctl2")
    assert victim is not None
    lab.kill("ctl2")
    began = time.monotonic()
    end = began + 120
    while (restarted := lab.beam("ctl2")) is None or restarted.pid == victim.pid:
        # Pacemaker's 10 s monitor notices, stops and starts the instance.
        assert time.monotonic() < end, "Pacemaker did not restart the member"
        time.sleep(0.5)
    wait_formed(pcmk_three, lab)
    print(f"killed beam of ctl2: clustered again in {time.monotonic() - began:.1f} s")
    failures = pcmk_three.run(["crm_mon", "-1", "-f"], node="ctl1").stdout
    assert "ctl2" in failures and "monitor" in failures, failures
    assert lab.wait_depth("ctl2", "keep-on-2", 30) == 30

    # A classic durable queue: a quorum queue declared seconds before every
    # member is killed can come back empty (RabbitMQ 3.10 had not yet saved
    # its Ra server's registration: "pre init for 0 registered servers", a
    # new Ra server under the same name); quorum queues that existed longer
    # survive full crashes in test_rabbitmq_agent.py's test_04.
    assert lab.publish("ctl2", "kept", 20, "classic") == 20
    for node in NODES:
        lab.kill(node)
    began = time.monotonic()
    took = wait_formed(pcmk_three, lab, timeout=240)
    print(f"all three beams killed: re-formed one start at a time in {took:.1f} s")
    assert time.monotonic() - began < 240
    for queue, count in (("kept", 20), ("keep-on-2", 30)):
        depth = lab.wait_depth("ctl2", queue, count)
        assert depth == count, lab.ctl(
            "ctl2", "list_queues", "name", "type", "messages", "leader", "members"
        )
