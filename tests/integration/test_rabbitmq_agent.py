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

import json
import os
import random
import re
import shutil
import subprocess
import time

import pytest

from tests.lab.agents import LIBDIR, agent_path
from tests.lab.agents import NodeRun as Run
from tests.lab.probe import run_probed, top_level
from tests.lab.rabbitmq import rabbitmq_missing
from tests.lab.rabbitmq_agent import (
    AMQP_PORT,
    GENERIC,
    NOT_RUNNING,
    RUNNING,
    RabbitAgents,
)
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


def test_01b_the_monitor_runs_no_program_and_imports_nothing_heavy(rabbits, tmp_path):
    """The recurring monitor of a running member, as the installed launcher runs it.

    Nothing is run (no Erlang CLI, no attrd call when the view is unchanged)
    and no heavy library is imported: it runs every few seconds on every node.
    """
    node = rabbits.cluster.node("ctl1")
    assert rabbits.monitor("ctl1").rc == RUNNING  # publishes the view once
    env = rabbits.environment("ctl1", "monitor", interval="10000")
    env["PYTHONPATH"] = str(LIBDIR)
    body = (
        "import subprocess\n"
        "ran = []\n"
        "real = subprocess.Popen.__init__\n"
        "def spy(self, args, *a, **k):\n"
        "    ran.append(args)\n"
        "    return real(self, args, *a, **k)\n"
        "subprocess.Popen.__init__ = spy\n"
        "import atexit, os\n"
        "atexit.register(lambda: open(os.environ['RAN_OUT'], 'w').write(repr(ran)))\n"
        "from ocf_agents._runtime.dispatch import main\n"
        "main('rabbitmq', ['rabbitmq', 'monitor'])\n"
    )
    env["RAN_OUT"] = str(tmp_path / "ran.txt")
    done, loaded = run_probed(
        node.command(["/usr/bin/python3", "-sS"]),
        "import sys\n" + body,
        tmp_path / "modules.txt",
        env=env,
        timeout=60,
    )
    assert done.returncode == RUNNING, done.stderr
    assert (tmp_path / "ran.txt").read_text() == "[]"
    heavy = {"requests", "urllib3", "lxml", "click", "pyghmi", "redfish", "pika"}
    assert not top_level(loaded) & heavy


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
    """Cut ctl3's link 0 (RabbitMQ's network; corosync keeps link 1).

    The majority's monitors run as Pacemaker runs them, publishing that they
    run without ctl3: that, not the count alone, makes ctl3's minority a
    failure (a node that booted first after a full crash is alone too).
    """
    pcmk_three.set_link("ctl3", 0, False)
    try:
        end = time.monotonic() + 60
        while True:
            for node in ("ctl1", "ctl2"):
                rabbits.monitor(node)
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


POLICY = 'hk-limit;^limited\\.;{"max-length": 1000};queues'


def test_06_the_policy_is_set_once_and_applies(rabbits):
    """A start sets the ``policy`` parameter; later starts find it set."""
    rabbits.extra = {"policy": POLICY}
    try:
        for node in ("ctl1", "ctl2"):
            assert rabbits.run(node, "stop").rc == RUNNING
            started = rabbits.run(node, "start")
            assert started.rc == RUNNING, f"{started}\n{rabbits.log_tail(node)}"
    finally:
        rabbits.extra = {}
    policies = json.loads(rabbits.ctl("ctl3", "list_policies", "--formatter", "json"))
    mine = [p for p in policies if p["name"] == "hk-limit"]
    assert len(mine) == 1, policies
    assert mine[0]["pattern"] == "^limited\\."
    assert mine[0]["apply-to"] == "queues"
    assert json.loads(mine[0]["definition"]) == {"max-length": 1000}
    assert "policy hk-limit set" in rabbits.log_tail("ctl1", 100)
    # ctl2 found it set: no second set_policy (the debug line is not in HA_LOGFILE).
    assert "policy hk-limit set" not in rabbits.log_tail("ctl2", 100)
    # It governs a queue that matches it, on the real broker.
    assert rabbits.publish("ctl2", "limited.q", 3, "classic") == 3
    queues = json.loads(
        rabbits.ctl("ctl2", "list_queues", "name", "policy", "--formatter", "json")
    )
    assert {"name": "limited.q", "policy": "hk-limit"} in queues


def test_07_a_node_without_its_application_fails_at_every_level(rabbits):
    level10 = rabbits.run(
        "ctl2", "monitor", env_extra={"OCF_CHECK_LEVEL": "10"}, interval="10000"
    )
    assert level10.rc == RUNNING, f"{level10}\n{rabbits.log_tail('ctl2')}"
    rabbits.ctl("ctl2", "stop_app")
    try:
        for env_extra in ({}, {"OCF_CHECK_LEVEL": "10"}):
            failed = rabbits.run(
                "ctl2", "monitor", env_extra=env_extra, interval="10000"
            )
            assert failed.rc == GENERIC, str(failed)
            assert "without its application" in failed.reason
        # A probe of the live beam never says "not running" either.
        assert rabbits.run("ctl2", "monitor").rc == GENERIC
    finally:
        recover(rabbits, ["ctl2"])
    assert_all_running(rabbits)


def test_08_an_operator_lets_one_node_boot_first(rabbits):
    """All three died at once and two stay down: one node boots when told to."""
    for node in NODES:
        rabbits.kill(node)
    for node in NODES:
        assert rabbits.monitor(node).rc == NOT_RUNNING
    # ctl1 and ctl3 are down for good: their nodes left the cluster, and a
    # node that leaves takes its transient attributes (their reports) along.
    for node in ("ctl1", "ctl3"):
        rabbits.cluster.run(
            ["attrd_updater", "-N", node, "-n", "rabbitmq-report", "-D"], node="ctl2"
        )
    assert rabbits.wait_attributes("report", lambda v: list(v) == ["ctl2"])
    # Without an override ctl2 waits, says for whom, and gives up in time.
    waited = rabbits.run("ctl2", "start", timeout="75000")
    assert waited.rc == GENERIC, str(waited)
    assert "gave up waiting" in waited.reason
    waiting = rabbits.attributes("waiting")
    assert "rabbit@ctl1" in waiting.get("ctl2", ""), waiting
    # The operator's time-limited override: ctl2 boots at once.
    until = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 600))
    rabbits.cluster.run(
        ["attrd_updater", "-N", "ctl2", "-n", "rabbitmq-force-boot", "-U", until],
        node="ctl2",
    )
    assert rabbits.wait_attributes("force-boot", lambda v: "ctl2" in v)
    started = rabbits.run("ctl2", "start")
    assert started.rc == RUNNING, f"{started}\n{rabbits.log_tail('ctl2')}"
    log = rabbits.log_tail("ctl2", 60)
    assert "an operator allowed this node to boot first" in log
    assert not rabbits.wait_attributes("force-boot", lambda v: not v)
    # The others join it with their data.
    for result in rabbits.on_all("start", ["ctl1", "ctl3"]):
        assert result.rc == RUNNING, f"{result}\n{rabbits.log_tail(result.node)}"
    assert_all_running(rabbits)
    assert rabbits.wait_depth("ctl1", "keep-on-3", 50) == 50


def test_09_a_member_removed_from_the_cluster_is_forgotten(rabbits, pcmk_three):
    """ctl3 stops for good and is removed with crm_node -R; it comes back new.

    The post-stop notification only marks rabbit@ctl3 (its node is still a
    Pacemaker node then); the next monitor after the removal forgets it.
    When the node returns, its instance finds itself forgotten: it is
    reset, joins again, and says why.
    """
    rabbits.extra = {"forget_on_removal": "true"}
    try:
        assert rabbits.run("ctl3", "stop").rc == RUNNING
        for node in ("ctl1", "ctl2"):
            notified = rabbits.run(
                node,
                "notify",
                notify_type="post",
                notify_operation="stop",
                notify_stop_uname="ctl3",
            )
            assert notified.rc == RUNNING, str(notified)
        # ctl3 is still a Pacemaker node: a stopped member is not forgotten.
        assert rabbits.monitor("ctl1").rc == RUNNING
        assert "rabbit@ctl3" in disc_nodes(rabbits, "ctl1")
        pcmk_three.kill_node("ctl3")
        # The operator removes the node once the cluster has seen it go and
        # has a DC again: a DC elected later writes every corosync peer,
        # the lost one too, back into the CIB's nodes.
        pcmk_three.wait_until(
            lambda: (
                "ctl3" not in pcmk_three.online("ctl1")
                and pcmk_three.dc("ctl1") in ("ctl1", "ctl2")
            ),
            60,
            "ctl3 lost, a DC among the others",
        )
        end = time.monotonic() + 90
        while "rabbit@ctl3" in disc_nodes(rabbits, "ctl1"):
            if "ctl3" in configured_nodes(pcmk_three):
                pcmk_three.run(["crm_node", "--force", "-R", "ctl3"], node="ctl1")
            assert time.monotonic() < end, rabbits.log_tail("ctl1") + str(
                configured_nodes(pcmk_three)
            )
            assert rabbits.monitor("ctl1").rc == RUNNING
            time.sleep(1)
        assert "RabbitMQ forgot rabbit@ctl3" in rabbits.log_tail("ctl1", 50)
        assert rabbits.monitor("ctl2").rc == RUNNING  # drops its candidate
    finally:
        rabbits.extra = {}
        if not pcmk_three.node("ctl3").running:
            pcmk_three.restart_node("ctl3", timeout=60)
    started = rabbits.run("ctl3", "start")
    assert started.rc == RUNNING, f"{started}\n{rabbits.log_tail('ctl3')}"
    log = rabbits.log_tail("ctl3", 100)
    assert "is inconsistent with the cluster" in log
    assert "joining again as a new member" in log
    assert_all_running(rabbits)
    kept = list(rabbits.data_dir("ctl3").parent.glob("rabbit@ctl3.reset-*"))
    assert len(kept) == 1, kept


def configured_nodes(cluster) -> list[str]:
    """The unames in the CIB's nodes section, as ctl1 sees it."""
    text = cluster.run(["cibadmin", "--query", "--scope", "nodes"], node="ctl1").stdout
    return re.findall(r'uname="([^"]+)"', text)


def disc_nodes(lab: RabbitAgents, node: str) -> list[str]:
    status = json.loads(lab.ctl(node, "cluster_status", "--formatter", "json"))
    return sorted(status["disk_nodes"])


@pytest.fixture
def conductor_on_ctl1(rabbits, nova_template, lab_ports, openstack_venv_path, tmp_path):
    """nova-conductor inside ctl1, its transport_url naming all three members."""
    from tests.lab.openstack import prepare_nova_conductor  # noqa: PLC0415

    hosts = ",".join(f"guest:guest@{rabbits.address(n)}:{AMQP_PORT}" for n in NODES)
    svc = prepare_nova_conductor(
        tmp_path / "nova",
        f"rabbit://{hosts}/",
        keystone_port=lab_ports.keystone,
        placement_port=lab_ports.placement,
        template=nova_template,
        venv=openstack_venv_path,
    )
    params = {
        "binary": svc.argv[0],
        "config": " ".join(str(p) for p in svc.config_files),
        "user": "root",
        "amqp_grace": "60",
        "pidfile": str(tmp_path / "conductor.pid"),
        "console_log": str(tmp_path / "conductor.console"),
    }
    node = rabbits.cluster.node("ctl1")

    def conductor(action: str, level: int = 0) -> Run:
        env = {
            "OCF_ROOT": "/usr/lib/ocf",
            "OCF_RESOURCE_INSTANCE": "nova-conductor",
            "HA_RSCTMP": "/run/resource-agents",
            "OCF_CHECK_LEVEL": str(level),
            "OCF_RESKEY_CRM_meta_timeout": "120000",
            "OCF_RESKEY_CRM_meta_interval": "0" if action != "monitor" else "10000",
            **{f"OCF_RESKEY_{k}": v for k, v in params.items()},
        }
        done = node.run(
            [str(agent_path("nova-conductor")), action],
            check=False,
            timeout=150,
            env=env,
        )
        return Run("ctl1", action, done.returncode, done.stderr)

    try:
        yield conductor, params
    finally:
        conductor("stop")


def amqp_peer(rabbits: RabbitAgents) -> str | None:
    """The member address nova-conductor (in ctl1) holds an AMQP connection to.

    Read inside ctl1's network namespace: the only lab member addresses
    with connections to port 5672 there are the conductor's.
    """
    done = rabbits.cluster.node("ctl1").run(
        ["ss", "-Htn", "state", "established", f"( dport = :{AMQP_PORT} )"],
        check=False,
    )
    members = {rabbits.address(n) for n in NODES}
    for line in done.stdout.splitlines():
        peer = line.split()[-1].rsplit(":", 1)[0]
        if peer in members:
            return peer
    return None


def test_10_an_rpc_worker_keeps_its_connection_across_a_member_restart(
    rabbits, conductor_on_ctl1
):
    """The member nova-conductor uses stops and starts again (agent stop/start).

    oslo.messaging fails over to another member of its transport_url: the
    strict monitor (no grace) passes again while that member is still
    down, and the lenient one never fails.
    """
    conductor, params = conductor_on_ctl1
    for node in NODES:  # starting a running member changes nothing
        assert rabbits.run(node, "start").rc == RUNNING
    assert_all_running(rabbits)
    started = conductor("start")
    assert started.rc == RUNNING, str(started)
    end = time.monotonic() + 60
    while (peer := amqp_peer(rabbits)) is None:
        assert time.monotonic() < end, "nova-conductor never connected"
        time.sleep(1)
    member = next(n for n in NODES if rabbits.address(n) == peer)
    assert rabbits.run(member, "stop").rc == RUNNING
    try:
        end = time.monotonic() + 90
        while True:
            lenient = conductor("monitor")
            assert lenient.rc == RUNNING, str(lenient)
            strict = conductor("monitor", level=10)
            if strict.rc == RUNNING:
                break
            assert time.monotonic() < end, f"no failover: {strict}"
            time.sleep(2)
        moved = amqp_peer(rabbits)
        assert moved not in (None, peer), moved
    finally:
        restarted = rabbits.run(member, "start")
    assert restarted.rc == RUNNING, f"{restarted}\n{rabbits.log_tail(member)}"
    assert_all_running(rabbits)
    assert conductor("monitor", level=10).rc == RUNNING
