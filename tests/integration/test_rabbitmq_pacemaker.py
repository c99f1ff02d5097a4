"""ocf:hakit:rabbitmq as a clone under the real 3-node Pacemaker of the lab.

Pacemaker itself probes, starts, monitors and recovers the instances (one
``rabbit@ctlN`` per lab node); the clone has hakit-cib's meta for RabbitMQ
(notify, interleave, the stateful failure policy).  The test only kills a
beam and checks the outcome: all three members running and clustered again,
the killed member's confirmed persistent messages still there.
"""

from __future__ import annotations

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


@pytest.fixture
def rabbit_clone(pcmk_three, installed_agents, tmp_path):
    reason = rabbitmq_missing()
    if reason:
        unavailable(reason)
    lab = RabbitAgents(pcmk_three, tmp_path / "rabbit", resource=PRIMITIVE)
    lab.setup()
    ctl1 = pcmk_three.node("ctl1")
    ctl1.load_xml(clone_xml(lab.params()))
    try:
        yield lab
    finally:
        try:
            ctl1.delete_resource(CLONE, timeout=240)
            for node in NODES:
                ctl1.run(
                    ["crm_resource", "--cleanup", "-r", CLONE, "-N", node], check=False
                )
        finally:
            lab.teardown()


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


def test_pacemaker_forms_the_cluster_and_recovers_a_killed_beam(
    pcmk_three, rabbit_clone
):
    lab = rabbit_clone
    took = wait_formed(pcmk_three, lab)
    print(f"three members running and clustered {took:.1f} s after the load")
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
