"""Fast paths stay lean: meta-data and monitor import no heavy library."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from ocf_agents._runtime import registry
from tests.contract.test_ocf_lifecycle import AGENT, run_agent
from tests.lab.probe import run_probed, top_level

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = ("requests", "urllib3", "pyghmi", "redfish", "sushy", "lxml", "click")

PROBE = """
from ocf_agents._runtime.dispatch import main
main(sys.argv[1], sys.argv[1:])  # argv[1] of main is the action
"""


def modules_loaded(tmp_path, name, action, environ=None, without_site=False):
    env = {"PATH": "/usr/bin:/bin", **(environ or {})}
    flags = "-s"
    if without_site:  # as the installed launchers run (python3 -sS)
        flags = "-sS"
        env["PYTHONPATH"] = str(ROOT)
    _, loaded = run_probed(
        [sys.executable, flags],
        PROBE,
        tmp_path / "modules.txt",
        env=env,
        args=(name, action),
        timeout=30,
    )
    return top_level(loaded)


@pytest.mark.parametrize("name", registry.names())
def test_meta_data_imports_nothing_heavy(tmp_path, name):
    loaded = modules_loaded(tmp_path, name, "meta-data")
    assert not loaded & set(FORBIDDEN)
    assert "psutil" not in loaded
    assert "ocf_agents.openstack.actions" not in loaded


def test_monitor_of_a_running_api_service_imports_nothing_heavy(tmp_path, fakesvc):
    params, extra = fakesvc
    assert run_agent(AGENT, "start", params, extra).rc == 0
    try:
        environ = {f"OCF_RESKEY_{k}": str(v) for k, v in params.items()}
        environ.update(extra, OCF_RESOURCE_INSTANCE=f"test-{AGENT}")
        loaded = modules_loaded(tmp_path, AGENT, "monitor", environ)
    finally:
        assert run_agent(AGENT, "stop", params, extra).rc == 0
    assert "ocf_agents" in loaded, "the probe did run the agent"
    assert not loaded & set(FORBIDDEN)


#: What a monitor must not pay for: it runs every few seconds on every node.
SLOW_STDLIB = (
    "logging",
    "dataclasses",
    "inspect",
    "subprocess",
    "typing",
    "re",
    "shlex",
)


def test_galera_monitor_imports_only_what_it_uses(tmp_path):
    """A monitor that logs nothing imports neither logging nor dataclasses."""
    environ = {
        "OCF_RESOURCE_INSTANCE": "galera:0",
        "HA_RSCTMP": str(tmp_path),
        "OCF_RESKEY_CRM_meta_interval": "10000",
        "OCF_RESKEY_wsrep_cluster_address": "gcomm://10.0.0.1",
        "OCF_RESKEY_datadir": str(tmp_path),
        "OCF_RESKEY_pidfile": str(tmp_path / "none.pid"),
    }
    loaded = modules_loaded(tmp_path, "galera", "monitor", environ, without_site=True)
    assert "ocf_agents" in loaded, "the probe did run the agent"
    assert not loaded & {*FORBIDDEN, *SLOW_STDLIB, "psutil"}
