"""ClusterLabs ocf-tester passes for every agent whose service runs here for real."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.lab import agents
from tests.lab.fixtures import lab_unavailable

pytestmark = [pytest.mark.daemon, pytest.mark.openstack, pytest.mark.slow]


def ocf_tester(name: str, instance: str, params: dict) -> subprocess.CompletedProcess:
    tool = shutil.which("ocf-tester", path="/usr/sbin:/usr/bin")
    if tool is None:
        lab_unavailable("ocf-tester is not installed (Debian package resource-agents)")
    argv = [tool, "-n", instance]
    for key, value in params.items():
        argv += ["-o", f"{key}={value}"]
    argv.append(str(agents.agent_path(name)))
    return subprocess.run(
        argv,
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
