"""ocf:hakit:rabbitmq on three real RabbitMQ 3.10 nodes on loopback, action by action.

The test plays Pacemaker: it runs the agent's actions with the environment
pacemaker-execd gives (starts of a clone's instances at once), on nodes
``rabbit1..3@localhost`` with the management plugin.  Node attributes go
through a file-backed ``attrd_updater`` stand-in (no Pacemaker here);
RabbitMQ, its CLI and the AMQP clients are real.  One cluster serves the
module, in order: formed from empty, kill -9 of one node, a wiped node,
full crashes, a minority.
"""

from __future__ import annotations

import os
import random
import shutil
import time

import pytest

from tests.lab.rabbitmq import localhost_resolves, rabbitmq_missing
from tests.lab.rabbitmq_agent import GENERIC, NOT_RUNNING, RUNNING, AgentCluster
from tests.unavailable import unavailable

pytestmark = [pytest.mark.daemon, pytest.mark.slow, pytest.mark.timeout(900)]

NODES = [1, 2, 3]
#: Full-crash rounds; HAKIT_RABBITMQ_CRASH_ROUNDS=10 for the long run.
ROUNDS = int(os.environ.get("HAKIT_RABBITMQ_CRASH_ROUNDS", "2"))
SEED = int(os.environ.get("HAKIT_RABBITMQ_SEED", "1313"))


@pytest.fixture(scope="module")
def rabbits(tmp_path_factory):
    reason = rabbitmq_missing()
    if reason:
        unavailable(reason)
    if not localhost_resolves():
        unavailable("localhost does not resolve to 127.0.0.1")
    try:
        import pika  # noqa: F401, PLC0415
    except ImportError:
        unavailable("pika is not installed (pip install -e .[test])")
    cluster = AgentCluster(tmp_path_factory.mktemp("rabbit-agent"))
    try:
        yield cluster
    finally:
        cluster.teardown()


def publish(cluster: AgentCluster, index: int, queue: str, count: int, **args) -> int:
    """Publish ``count`` persistent messages with confirms; return the confirmed."""
    import pika  # noqa: PLC0415

    params = pika.ConnectionParameters(
        "127.0.0.1", cluster.amqp_port(index), connection_attempts=3, retry_delay=1
    )
    with pika.BlockingConnection(params) as conn:
        channel = conn.channel()
        channel.queue_declare(queue, durable=True, arguments=args or None)
        channel.confirm_delivery()
        confirmed = 0
        for n in range(count):
            channel.basic_publish(
                "",
                queue,
                f"m{n}".encode(),
                pika.BasicProperties(delivery_mode=2),
                mandatory=True,
            )
            confirmed += 1  # basic_publish raises unless the broker confirmed
    return confirmed


def depth(cluster: AgentCluster, index: int, queue: str) -> int:
    """Messages ready in ``queue``, read through node ``index``."""
    import pika  # noqa: PLC0415

    params = pika.ConnectionParameters("127.0.0.1", cluster.amqp_port(index))
    with pika.BlockingConnection(params) as conn:
        return conn.channel().queue_declare(queue, passive=True).method.message_count


def wait_depth(cluster, index, queue, wanted, timeout=30.0) -> int:
    """Queue depth once it reaches ``wanted`` (a queue recovers after its node)."""
    end = time.monotonic() + timeout
    while True:
        try:
            found = depth(cluster, index, queue)
        except Exception:  # noqa: BLE001 - the queue may still be recovering
            found = -1
        if found == wanted or time.monotonic() > end:
            return found
        time.sleep(1)


def assert_all_running(cluster: AgentCluster) -> None:
    for index in NODES:
        result = cluster.monitor(index)
        assert result.rc == RUNNING, f"{result}\n{log_tail(cluster, index)}"
    assert cluster.running_nodes(1) == [cluster.nodename(i) for i in NODES]


def log_tail(cluster: AgentCluster, index: int, lines: int = 30) -> str:
    try:
        text = cluster.agent_log(index).read_text()
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def recover(cluster: AgentCluster, nodes: list[int]) -> None:
    """Pacemaker's recovery of failed instances: stop each, then start them at once."""
    for index in nodes:
        stopped = cluster.run(index, "stop")
        assert stopped.rc == RUNNING, f"{stopped}\n{log_tail(cluster, index)}"
    for result in cluster.on_all("start", nodes):
        assert result.rc == RUNNING, f"{result}\n{log_tail(cluster, result.node)}"


def test_01_forms_the_cluster_from_empty(rabbits):
    for index in NODES:
        assert rabbits.run(index, "monitor").rc == NOT_RUNNING
    for result in rabbits.on_all("start"):
        assert result.rc == RUNNING, f"{result}\n{log_tail(rabbits, result.node)}"
    assert_all_running(rabbits)
    assert "rabbitmq-waiting" not in rabbits.attributes("rabbitmq-waiting") or not (
        rabbits.attributes("rabbitmq-waiting")
    )
    # The monitor's view, published for the peers.
    running = rabbits.attributes("rabbitmq-running")
    assert sorted(running) == ["n1", "n2", "n3"]
    assert all(len(view.split(",")) == 3 for view in running.values())
    # Starting a running instance again is a success.
    assert rabbits.run(2, "start").rc == RUNNING


def test_02_kill_9_rejoins_with_its_data(rabbits):
    # A classic durable queue homed on rabbit3, with confirmed persistent messages.
    assert publish(rabbits, 3, "keep-on-3", 50, **{"x-queue-type": "classic"}) == 50
    assert publish(rabbits, 1, "quorum-q", 20, **{"x-queue-type": "quorum"}) == 20
    rabbits.kill(3)
    failed = rabbits.monitor(3)
    assert failed.rc == NOT_RUNNING, str(failed)
    recover(rabbits, [3])
    assert_all_running(rabbits)
    assert "reset" not in log_tail(rabbits, 3, 200).lower()
    assert wait_depth(rabbits, 3, "keep-on-3", 50) == 50
    assert wait_depth(rabbits, 1, "keep-on-3", 50) == 50
    assert wait_depth(rabbits, 3, "quorum-q", 20) == 20


def test_03_a_wiped_node_is_forgotten_and_rejoins(rabbits):
    stopped = rabbits.run(2, "stop")
    assert stopped.rc == RUNNING, str(stopped)
    assert rabbits.monitor(2).rc == NOT_RUNNING
    shutil.rmtree(rabbits.data_dir(2))
    started = rabbits.run(2, "start")
    assert started.rc == RUNNING, f"{started}\n{log_tail(rabbits, 2)}"
    log = rabbits.agent_log(2).read_text()
    assert "is inconsistent with the cluster" in log
    assert "forgets it, then it is reset and joins again" in log
    assert_all_running(rabbits)
    assert wait_depth(rabbits, 2, "keep-on-3", 50) == 50


@pytest.mark.parametrize("round_no", range(ROUNDS))
def test_04_full_crash_reforms_without_an_operator(rabbits, round_no):
    rng = random.Random(SEED + round_no)
    before = depth(rabbits, 1, "quorum-q")
    quorum = {"x-queue-type": "quorum"}
    assert publish(rabbits, 1 + round_no % 3, "quorum-q", 10, **quorum) == 10
    order = NODES[:]
    rng.shuffle(order)
    staggered = rng.random() < 0.5 if round_no > 1 else round_no == 0
    for index in order:
        rabbits.kill(index)
        if staggered:
            time.sleep(rng.uniform(1.0, 3.0))
    for index in NODES:
        assert rabbits.monitor(index).rc == NOT_RUNNING
    recover(rabbits, NODES)
    assert_all_running(rabbits)
    how = "staggered " + "->".join(map(str, order)) if staggered else "at once"
    assert wait_depth(rabbits, 2, "quorum-q", before + 10) == before + 10, how
    assert wait_depth(rabbits, 3, "keep-on-3", 50) == 50, how


def test_05_the_isolated_member_fails_its_monitor(rabbits):
    rabbits.kill(2)
    rabbits.kill(3)
    end = time.monotonic() + 30
    while True:
        result = rabbits.monitor(1)
        if result.rc != RUNNING or time.monotonic() > end:
            break
        time.sleep(1)
    assert result.rc == GENERIC, str(result)
    assert "minority" in result.reason
    # A probe of a live beam never says "not running".
    assert rabbits.run(1, "monitor").rc != NOT_RUNNING
    recover(rabbits, [2, 3])
    assert_all_running(rabbits)
