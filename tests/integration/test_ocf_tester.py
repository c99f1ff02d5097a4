"""ClusterLabs ocf-tester passes for every agent whose service runs here for real."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from collections.abc import Callable, Sequence

import pytest

from tests.lab import agents
from tests.unavailable import unavailable

pytestmark = [pytest.mark.daemon, pytest.mark.slow]


def ocf_tester(
    name: str,
    instance: str,
    params: dict,
    wrap: Callable[[Sequence[str]], list[str]] = list,
) -> subprocess.CompletedProcess:
    """Run ocf-tester on the installed agent; ``wrap`` prefixes e.g. nsenter."""
    tool = shutil.which("ocf-tester", path="/usr/sbin:/usr/bin")
    if tool is None:
        unavailable("ocf-tester is not installed (Debian package resource-agents)")
    argv = [tool, "-n", instance]
    for key, value in params.items():
        argv += ["-o", f"{key}={value}"]
    argv.append(str(agents.agent_path(name)))
    return subprocess.run(
        wrap(argv),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "OCF_ROOT": "/usr/lib/ocf"},
    )


def check(name: str, params: dict) -> None:
    instance = f"ocft-{name}"
    try:
        result = ocf_tester(name, instance, params)
        assert result.returncode == 0, result.stdout + result.stderr
        assert f"{agents.agent_path(name)} passed all tests" in result.stdout
    finally:
        # ocf-tester leaves the resource running (its last step starts it).
        stopped = agents.run(name, "stop", params, instance=instance)
        assert stopped.rc == 0, stopped.err


@pytest.mark.openstack
def test_keystone(installed_agents, keystone_service, tmp_path):
    svc = keystone_service
    check(
        "keystone",
        {
            "binary": svc.argv[0],
            "config": svc.config_files[0],
            "config_flag": "-c",
            "user": "root",
            "port": svc.port,
            "pidfile": tmp_path / "keystone.pid",
        },
    )


@pytest.mark.openstack
def test_placement_api(installed_agents, placement_service, tmp_path):
    svc = placement_service
    check(
        "placement-api",
        {
            "binary": svc.argv[0],
            "config": svc.config_files[0],
            "config_flag": "-c",
            "user": "root",
            "port": svc.port,
            "pidfile": tmp_path / "placement.pid",
        },
    )


@pytest.mark.openstack
def test_nova_conductor(installed_agents, rabbitmq, nova_conductor_service, tmp_path):
    svc = nova_conductor_service
    check(
        "nova-conductor",
        {
            "binary": svc.argv[0],
            "config": " ".join(str(p) for p in svc.config_files),
            "user": "root",
            "pidfile": tmp_path / "conductor.pid",
        },
    )


GALERA_NODE = "ctl1"
GALERA_INSTANCE = "galera-test"
#: Node attributes ocf:hakit:galera keeps for an instance (see its spec).
GALERA_ATTRS = (
    *(
        f"{GALERA_INSTANCE}-{what}"
        for what in ("position", "waiting", "primary", "force-bootstrap")
    ),
    f"master-{GALERA_INSTANCE}",
)


def attributes_left(node, names: Sequence[str], timeout: float = 10) -> list[str]:
    """The attributes of ``names`` that still have a value anywhere after ``timeout``.

    attrd applies a deletion asynchronously, so poll.
    """
    end = time.monotonic() + timeout
    while True:
        left = []
        for name in names:
            query = ["attrd_updater", "-Q", "-A", "-n", name]
            if re.search(r'value="[^"]', node.run(query, check=False).stdout):
                left.append(name)
        if not left or time.monotonic() > end:
            return left
        time.sleep(0.2)


@pytest.mark.pacemaker
@pytest.mark.timeout(600)
def test_galera_single_member(pcmk_three, galera_namespaced, installed_agents):
    """ocf-tester inside one node of the 3-node lab, on a one-member Galera.

    The address names only this node, so the election lets it bootstrap
    alone; the other two mariadbds stay stopped.  ocf-tester talks to the
    node's own pacemaker-attrd (the agent's node attributes) and uses its
    private /run/resource-agents.
    """
    node = pcmk_three.node(GALERA_NODE)
    member = galera_namespaced.nodes[GALERA_NODE]
    params = {
        "wsrep_cluster_address": f"gcomm://{member.address}",
        "cluster_host_map": f"{GALERA_NODE}:{member.address}",
        "config": member.config,
        "datadir": member.datadir,
        "socket": member.socket,
        "log": member.error_log,
    }
    try:
        result = ocf_tester("galera", GALERA_INSTANCE, params, wrap=node.command)
        assert result.returncode == 0, result.stdout + result.stderr
        assert f"{agents.agent_path('galera')} passed all tests" in result.stdout
    finally:
        # ocf-tester ends stopped here (no migrate_to), but a failed run may not.
        env = {
            "OCF_ROOT": str(agents.OCF_ROOT),
            "OCF_RESOURCE_INSTANCE": GALERA_INSTANCE,
            "OCF_RESKEY_CRM_meta_timeout": "120000",
            "OCF_RESKEY_CRM_meta_interval": "0",
            **{f"OCF_RESKEY_{k}": str(v) for k, v in params.items()},
        }
        stopped = node.run(
            [str(agents.agent_path("galera")), "stop"],
            check=False,
            timeout=150,
            env=env,
        )
        for attr in GALERA_ATTRS:
            node.run(
                ["attrd_updater", "-N", GALERA_NODE, "-n", attr, "-D"], check=False
            )
        assert stopped.returncode == 0, stopped.stderr
    assert not attributes_left(node, GALERA_ATTRS)
    # No mariadbd of the lab's config runs on any node (pid file + command line).
    assert not galera_namespaced.strays(), "mariadbd still runs after stop"


RABBIT_NODE = "ctl1"
RABBIT_INSTANCE = "rabbitmq-test"


@pytest.mark.pacemaker
@pytest.mark.timeout(600)
def test_rabbitmq_single_member(pcmk_three, installed_agents, tmp_path):
    """ocf-tester inside one node of the 3-node lab, on a one-member RabbitMQ.

    ``rabbit@ctl1`` (a fresh data directory, no plugin) is the only member:
    without ``clone_max`` the agent boots it alone.  ocf-tester talks to the
    node's own pacemaker-attrd.  ocf-tester exports a 20 s timeout for every
    action; a RabbitMQ boot takes 11-15 s here, so the test passes the start
    timeout Pacemaker would (the agent's advertised 300 s) as
    ``CRM_meta_timeout``.
    """
    from tests.lab.rabbitmq import rabbitmq_missing  # noqa: PLC0415
    from tests.lab.rabbitmq_agent import ATTRS, RabbitAgents  # noqa: PLC0415

    reason = rabbitmq_missing()
    if reason:
        unavailable(reason)
    lab = RabbitAgents(pcmk_three, tmp_path / "rabbit", management=False)
    lab.setup()
    node = pcmk_three.node(RABBIT_NODE)
    params = {**lab.params(), "CRM_meta_timeout": "300000"}
    attrs = [f"{RABBIT_INSTANCE}-{what}" for what in ATTRS]
    try:
        result = ocf_tester("rabbitmq", RABBIT_INSTANCE, params, wrap=node.command)
        assert result.returncode == 0, result.stdout + result.stderr
        assert f"{agents.agent_path('rabbitmq')} passed all tests" in result.stdout
    finally:
        env = {
            "OCF_ROOT": str(agents.OCF_ROOT),
            "OCF_RESOURCE_INSTANCE": RABBIT_INSTANCE,
            "OCF_RESKEY_CRM_meta_timeout": "120000",
            "OCF_RESKEY_CRM_meta_interval": "0",
            **{f"OCF_RESKEY_{k}": str(v) for k, v in params.items()},
        }
        env["OCF_RESKEY_CRM_meta_timeout"] = "120000"
        stopped = node.run(
            [str(agents.agent_path("rabbitmq")), "stop"],
            check=False,
            timeout=150,
            env=env,
        )
        for attr in attrs:
            node.run(
                ["attrd_updater", "-N", RABBIT_NODE, "-n", attr, "-D"], check=False
            )
        lab.teardown()
        assert stopped.returncode == 0, stopped.stderr
    assert lab.beam(RABBIT_NODE) is None, "beam still runs after stop"
    assert not attributes_left(node, attrs)
