"""ocf:hakit:rabbitmq on three real RabbitMQ 3.10 nodes, one per node of the 3-node lab.

Each member runs inside its own node of the ``pcmk_three`` lab (network,
mount and UTS namespaces, hostname ``ctlN``), so its name is the real
``rabbit@ctlN`` and the agent's node attributes go through that node's real
pacemaker-attrd.  No RabbitMQ resource is in the CIB: the test plays
Pacemaker's part, running the installed agent's actions inside the nodes
with pacemaker-execd's environment (clone starts at once), so each step can
be checked.  One set of members serves the module, in order: formed from
empty, kill -9 of one beam, a wiped node, full crashes, an isolated member.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import time

import pytest

from tests.lab.rabbitmq import rabbitmq_missing
from tests.lab.rabbitmq_agent import GENERIC, NOT_RUNNING, RUNNING, RabbitAgents
from tests.unavailable import unavailable

pytestmark = [
    pytest.mark.daemon,
    pytest.mark.pacemaker,
    pytest.mark.slow,
    pytest.mark.timeout(900),
]

NODES = ["ctl1", "ctl2", "ctl3"]
#: Full-crash rounds; HAKIT_RABBITMQ_CRASH_ROUNDS=10 for the long run.
ROUNDS = int(os.environ.get("HAKIT_RABBITMQ_CRASH_ROUNDS", "2"))
SEED = int(os.environ.get("HAKIT_RABBITMQ_SEED", "1313"))


@pytest.fixture(scope="module")
def rabbits(pcmk_three, installed_agents, tmp_path_factory):
    reason = rabbitmq_missing()
    if reason:
        unavailable(reason)
    try:
        import pika  # noqa: F401, PLC0415
    except ImportError:
        unavailable("pika is not installed (pip install -e .[test])")
    lab = RabbitAgents(pcmk_three, tmp_path_factory.mktemp("rabbit-agent"))
    try:
        lab.setup()
        yield lab
    finally:
        for node in NODES:
            lab.run(node, "stop")
        lab.teardown()


def assert_all_running(lab: RabbitAgents) -> None:
    for node in NODES:
        result = lab.monitor(node)
        assert result.rc == RUNNING, f"{result}\n{lab.log_tail(node)}"
    assert lab.running_nodes("ctl1") == [lab.nodename(n) for n in NODES]


def recover(lab: RabbitAgents, nodes: list[str]) -> None:
    """Pacemaker's recovery of failed instances: stop each, then start them at once."""
    for node in nodes:
        stopped = lab.run(node, "stop")
        assert stopped.rc == RUNNING, f"{stopped}\n{lab.log_tail(node)}"
    for result in lab.on_all("start", nodes):
        assert result.rc == RUNNING, f"{result}\n{lab.log_tail(result.node)}"


def test_00_a_beam_of_the_same_name_elsewhere_is_not_this_node(rabbits):
    """A process named like rabbit@ctl1's beam, outside ctl1's network namespace.

    Its pid file gone, the agent looks for the node's beam in /proc; a beam
    of the same node name in another namespace (here the host's: another lab
    or a container) is not this node, so the probe says "not running"
    instead of failing on a listener that is not there.
    """
    stray = subprocess.Popen(
        ["beam.smp", "300"],
        executable="/bin/sleep",
        env={"RABBITMQ_NODENAME": rabbits.nodename("ctl1")},
    )
    try:
        probe = rabbits.run("ctl1", "monitor")
        assert probe.rc == NOT_RUNNING, str(probe)
    finally:
        stray.kill()
        stray.wait()


def test_01_forms_the_cluster_from_empty(rabbits):
    for node in NODES:
        assert rabbits.run(node, "monitor").rc == NOT_RUNNING
    for result in rabbits.on_all("start"):
        assert result.rc == RUNNING, f"{result}\n{rabbits.log_tail(result.node)}"
    assert_all_running(rabbits)
    assert not rabbits.attributes("waiting")
    # The monitors' views, published for the peers through the real attrd.
    running = rabbits.wait_attributes("running", lambda v: len(v) == len(NODES))
    assert sorted(running) == NODES
    assert all(len(view.split(",")) == len(NODES) for view in running.values())
    # Starting a running instance again is a success.
    assert rabbits.run("ctl2", "start").rc == RUNNING


def test_02_kill_9_rejoins_with_its_data(rabbits):
    # A classic durable queue homed on rabbit@ctl3, with confirmed persistent messages.
    assert rabbits.publish("ctl3", "keep-on-3", 50, "classic") == 50
    assert rabbits.publish("ctl1", "quorum-q", 20, "quorum") == 20
    rabbits.kill("ctl3")
    failed = rabbits.monitor("ctl3")
    assert failed.rc == NOT_RUNNING, str(failed)
    recover(rabbits, ["ctl3"])
    assert_all_running(rabbits)
    assert "reset" not in rabbits.log_tail("ctl3", 200).lower()
    assert rabbits.wait_depth("ctl3", "keep-on-3", 50) == 50
    assert rabbits.wait_depth("ctl1", "keep-on-3", 50) == 50
    assert rabbits.wait_depth("ctl3", "quorum-q", 20) == 20


def test_03_a_wiped_node_is_forgotten_and_rejoins(rabbits):
    stopped = rabbits.run("ctl2", "stop")
    assert stopped.rc == RUNNING, str(stopped)
    assert rabbits.monitor("ctl2").rc == NOT_RUNNING
    shutil.rmtree(rabbits.data_dir("ctl2"))
    started = rabbits.run("ctl2", "start")
    assert started.rc == RUNNING, f"{started}\n{rabbits.log_tail('ctl2')}"
    log = rabbits.agent_log("ctl2").read_text()
    assert "is inconsistent with the cluster" in log
    assert "forgets it, then it is reset and joins again" in log
    assert_all_running(rabbits)
    assert rabbits.wait_depth("ctl2", "keep-on-3", 50) == 50


@pytest.mark.parametrize("round_no", range(ROUNDS))
def test_04_full_crash_reforms_without_an_operator(rabbits, round_no):
    rng = random.Random(SEED + round_no)
    before = rabbits.depth("ctl1", "quorum-q")
    assert rabbits.publish(NODES[round_no % 3], "quorum-q", 10, "quorum") == 10
    order = NODES[:]
    rng.shuffle(order)
    staggered = rng.random() < 0.5 if round_no > 1 else round_no == 0
    for node in order:
        rabbits.kill(node)
        if staggered:
            time.sleep(rng.uniform(1.0, 3.0))
    for node in NODES:
        assert rabbits.monitor(node).rc == NOT_RUNNING
    recover(rabbits, NODES)
    assert_all_running(rabbits)
    how = "staggered " + "->".join(order) if staggered else "at once"
    assert rabbits.wait_depth("ctl2", "quorum-q", before + 10) == before + 10, how
    assert rabbits.wait_depth("ctl3", "keep-on-3", 50) == 50, how


def test_05_the_isolated_member_fails_its_monitor(rabbits, pcmk_three):
    """Cut ctl3's link 0 (RabbitMQ's network; corosync keeps link 1)."""
    pcmk_three.set_link("ctl3", 0, False)
    try:
        end = time.monotonic() + 60
        while True:
            result = rabbits.monitor("ctl3")
            # A probe of a live beam never says "not running".
            assert result.rc != NOT_RUNNING, str(result)
            if "minority" in result.reason or time.monotonic() > end:
                break
            time.sleep(1)
        assert result.rc == GENERIC, str(result)
        assert "minority" in result.reason
        assert rabbits.run("ctl3", "monitor").rc != NOT_RUNNING
        # The majority keeps serving.
        for node in ("ctl1", "ctl2"):
            end = time.monotonic() + 30
            while (majority := rabbits.monitor(node)).rc != RUNNING:
                assert time.monotonic() < end, str(majority)
                time.sleep(1)
        # A quorum queue whose leader was cut off elects another one first:
        # until then its publishes are nacked (not confirmed, not counted).
        end = time.monotonic() + 60
        while True:
            try:
                assert rabbits.publish("ctl1", "majority-q", 5, "quorum") == 5
                break
            except RuntimeError:
                assert time.monotonic() < end, "the majority never confirmed"
                time.sleep(2)
        # Pacemaker stops the failed instance (still cut off) ...
        stopped = rabbits.run("ctl3", "stop")
        assert stopped.rc == RUNNING, f"{stopped}\n{rabbits.log_tail('ctl3')}"
    finally:
        pcmk_three.set_link("ctl3", 0, True)
    # ... and starts it again once it can: it rejoins with its data.
    started = rabbits.run("ctl3", "start")
    assert started.rc == RUNNING, f"{started}\n{rabbits.log_tail('ctl3')}"
    assert_all_running(rabbits)
    assert rabbits.wait_depth("ctl3", "keep-on-3", 50) == 50
    # What the majority confirmed while ctl3 was cut off is there too (a
    # nacked attempt may have stored a few messages before its nack).
    end = time.monotonic() + 45
    while True:
        try:
            found = rabbits.depth("ctl3", "majority-q")
        except RuntimeError:  # the queue may still be recovering
            found = -1
        if found >= 5:
            break
        assert time.monotonic() < end, f"majority-q holds {found}"
        time.sleep(1)
