"""hakit's OpenStack agents managed by a live Pacemaker: failure and recovery.

An API service (placement, as an interleaved clone) and an RPC worker
(nova-conductor) run under the single-node cluster; their processes are
killed and Pacemaker must notice through the agents' monitor and restart
them, with a fail count of one.
"""

from __future__ import annotations

import os
import signal
import time
import urllib.request
import xml.etree.ElementTree as ET

import pytest

from ocf_agents._runtime.proc import read_pidfile, session_members

pytestmark = [
    pytest.mark.pacemaker,
    pytest.mark.daemon,
    pytest.mark.openstack,
    pytest.mark.slow,
]


def primitive(rsc_id: str, agent: str, params: dict, monitor: str = "2s"):
    prim = ET.Element(
        "primitive", {"id": rsc_id, "class": "ocf", "provider": "hakit", "type": agent}
    )
    attrs = ET.SubElement(prim, "instance_attributes", {"id": f"{rsc_id}-ia"})
    for name, value in params.items():
        ET.SubElement(
            attrs,
            "nvpair",
            {"id": f"{rsc_id}-ia-{name}", "name": name, "value": str(value)},
        )
    ops = ET.SubElement(prim, "operations")
    for name, interval, timeout in (
        ("monitor", monitor, "20s"),
        ("start", "0s", "60s"),
        ("stop", "0s", "60s"),
    ):
        ET.SubElement(
            ops,
            "op",
            {
                "id": f"{rsc_id}-{name}-{interval}",
                "name": name,
                "interval": interval,
                "timeout": timeout,
            },
        )
    return prim


def configuration(*objects):
    cib = ET.Element("cib")
    resources = ET.SubElement(ET.SubElement(cib, "configuration"), "resources")
    resources.extend(objects)
    return ET.tostring(cib, encoding="unicode")


def clone(child, clone_id):
    element = ET.Element("clone", {"id": clone_id})
    meta = ET.SubElement(element, "meta_attributes", {"id": f"{clone_id}-meta"})
    ET.SubElement(
        meta,
        "nvpair",
        {"id": f"{clone_id}-meta-interleave", "name": "interleave", "value": "true"},
    )
    element.append(child)
    return element


def running(cluster, rsc_id):
    """Started on node1 with no operation pending (crm_mon shows a resource
    whose start is still running as Started already)."""
    mon = cluster.crm_mon_xml()
    for element in mon.iter("resource"):
        if element.get("id") != rsc_id:
            continue
        node = element.find("node")
        if (
            element.get("active") == "true"
            and element.get("failed") == "false"
            and element.get("role") == "Started"
            and not element.get("pending")
            and node is not None
            and node.get("name") == "node1"
        ):
            return True
    return False


def answers(url):
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status < 500
    except urllib.error.HTTPError as exc:
        return exc.code < 500
    except OSError:
        return False


@pytest.fixture
def managed(
    pcmk_cluster,
    installed_agents,
    placement_service,
    rabbitmq,
    nova_conductor_service,
    tmp_path,
):
    placement_pid = tmp_path / "placement.pid"
    conductor_pid = tmp_path / "conductor.pid"
    placement = primitive(
        "placement",
        "placement-api",
        {
            "binary": placement_service.argv[0],
            "config": placement_service.config_files[0],
            "config_flag": "-c",
            "user": "root",
            "port": placement_service.port,
            "pidfile": placement_pid,
            "console_log": tmp_path / "placement.console",
        },
    )
    conductor = primitive(
        "conductor",
        "nova-conductor",
        {
            "binary": nova_conductor_service.argv[0],
            "config": " ".join(str(p) for p in nova_conductor_service.config_files),
            "user": "root",
            "pidfile": conductor_pid,
            "console_log": tmp_path / "conductor.console",
        },
    )
    pcmk_cluster.load_xml(configuration(clone(placement, "placement-clone"), conductor))
    try:
        pcmk_cluster.wait_until(
            lambda: (
                running(pcmk_cluster, "placement")
                and running(pcmk_cluster, "conductor")
            ),
            timeout=90,
            what="placement and conductor started by Pacemaker",
        )
        pcmk_cluster.wait_idle()
        yield pcmk_cluster, placement_service, placement_pid, conductor_pid
    finally:
        for rsc in ("placement-clone", "conductor"):
            pcmk_cluster.delete_resource(rsc, timeout=60)


def wait_restarted(cluster, rsc_id, pidfile, old_pid, timeout=60):
    def restarted():
        new = read_pidfile(str(pidfile))
        return (
            new is not None
            and new != old_pid
            and cluster.fail_count(rsc_id) >= 1
            and running(cluster, rsc_id)
        )

    began = time.monotonic()
    cluster.wait_until(restarted, timeout=timeout, what=f"{rsc_id} restarted")
    return time.monotonic() - began


def test_pacemaker_restarts_a_killed_api_service(managed):
    cluster, svc, placement_pid, _ = managed
    assert answers(f"{svc.url}/")
    old = read_pidfile(str(placement_pid))
    assert cluster.fail_count("placement") == 0
    for pid in session_members(old):
        os.kill(pid, signal.SIGKILL)
    seconds = wait_restarted(cluster, "placement", placement_pid, old)
    assert cluster.fail_count("placement") == 1
    assert answers(f"{svc.url}/")
    print(f"placement restarted by Pacemaker {seconds:.2f} s after kill -9")


def test_pacemaker_restarts_a_killed_rpc_worker(managed):
    cluster, _, _, conductor_pid = managed
    old = read_pidfile(str(conductor_pid))
    assert cluster.fail_count("conductor") == 0
    os.kill(old, signal.SIGKILL)  # the main process only: its worker is orphaned
    seconds = wait_restarted(cluster, "conductor", conductor_pid, old)
    assert cluster.fail_count("conductor") == 1
    cluster.wait_until(
        lambda: session_members(old) == [],
        timeout=30,
        what="the orphaned conductor worker stopped",
    )
    print(f"nova-conductor restarted by Pacemaker {seconds:.2f} s after kill -9")
