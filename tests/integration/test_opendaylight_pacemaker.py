"""ocf:hakit:opendaylight: a clone of three members under the lab's 3-node Pacemaker.

Each lab node gets its own Karaf-like home (the stand-in of
:mod:`tests.lab.odl_standin`, member-N of the ODL cluster) bind-mounted at
one path inside its mount namespace, so the clone has one set of
parameters, as a real one does; each member's REST port is 8181 on the
loopback of its node's network namespace.  Pacemaker itself probes,
starts, monitors (level 0 and level 10) and recovers the instances.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from xml.sax.saxutils import quoteattr

import pytest

from tests.lab import odl

pytestmark = [pytest.mark.daemon, pytest.mark.pacemaker, pytest.mark.timeout(600)]

NODES = ["ctl1", "ctl2", "ctl3"]
PRIMITIVE = "odl"
CLONE = "odl-clone"
REST_PORT = 8181
_ATTR = re.compile(r'host="(?P<host>[^"]*)" value="(?P<value>[^"]*)"')


def clone_xml(params: dict[str, str]) -> str:
    """The clone as hakit-cib's recipe writes it, with faster monitors."""
    nvpairs = "\n".join(
        f'<nvpair id="{PRIMITIVE}-ia-{name}" name="{name}" value={quoteattr(value)}/>'
        for name, value in sorted(params.items())
    )
    return f"""\
<configuration><resources>
  <clone id="{CLONE}">
    <meta_attributes id="{CLONE}-meta">
      <nvpair id="{CLONE}-interleave" name="interleave" value="true"/>
    </meta_attributes>
    <primitive id="{PRIMITIVE}" class="ocf" provider="hakit" type="opendaylight">
      <instance_attributes id="{PRIMITIVE}-ia">
{nvpairs}
      </instance_attributes>
      <operations>
        <op id="{PRIMITIVE}-start" name="start" interval="0" timeout="120s"/>
        <op id="{PRIMITIVE}-stop" name="stop" interval="0" timeout="60s"/>
        <op id="{PRIMITIVE}-monitor" name="monitor" interval="5s" timeout="30s"/>
        <op id="{PRIMITIVE}-monitor-10" name="monitor" interval="7s" timeout="30s">
          <instance_attributes id="{PRIMITIVE}-monitor-10-ia">
            <nvpair id="{PRIMITIVE}-monitor-10-depth" name="OCF_CHECK_LEVEL"
                    value="10"/>
          </instance_attributes>
        </op>
      </operations>
    </primitive>
  </clone>
</resources></configuration>
"""


class OdlLab:
    """Three member homes, one mounted in each node at :attr:`home`."""

    def __init__(self, cluster) -> None:  # noqa: ANN001 - MultiCluster
        self.cluster = cluster
        self.root = Path(tempfile.mkdtemp(prefix="hakit-odl3-", dir="/tmp"))
        self.root.chmod(0o755)
        self.home = self.root / "home"
        self.home.mkdir()
        self.homes: dict[str, Path] = {}
        self.mounted: list[str] = []

    def setup(self) -> None:
        for index, node in enumerate(NODES, start=1):
            home = odl.make_home(self.root / node, REST_PORT)
            odl.set_switches(
                home,
                member=f"member-{index}",
                role="Leader" if index == 1 else "Follower",
            )
            self.homes[node] = home
            self.cluster.node(node).run(["mount", "--bind", str(home), str(self.home)])
            self.mounted.append(node)
        self.credentials = odl.write_private(self.root / "creds", "admin:s3cret-odl\n")

    def params(self) -> dict[str, str]:
        return {
            "home": str(self.home),
            "user": odl.STANDIN_USER,
            "rest_port": str(REST_PORT),
            "credentials": str(self.credentials),
            "stop_grace": "2",
        }

    def pid(self, node: str) -> int | None:
        pid = odl.jvm_pid(self.homes[node])
        return pid if pid is not None and odl.alive(pid) else None

    def teardown(self) -> None:
        for node in NODES:
            odl.kill(self.pid(node))
        for node in self.mounted:
            self.cluster.node(node).run(["umount", str(self.home)], check=False)
        subprocess.run(["rm", "-rf", str(self.root)], check=False)


@pytest.fixture
def odl_clone(pcmk_three, installed_agents) -> Iterator[OdlLab]:
    if shutil.which("python3") is None:
        pytest.fail("the Karaf stand-in needs python3")
    lab = OdlLab(pcmk_three)
    ctl1 = pcmk_three.node("ctl1")
    try:
        lab.setup()
        ctl1.load_xml(clone_xml(lab.params()))
        yield lab
    finally:
        try:
            ctl1.delete_resource(CLONE, timeout=120)
            for node in NODES:
                ctl1.run(
                    ["crm_resource", "--cleanup", "-r", CLONE, "-N", node], check=False
                )
            for name in ("odl-shard-role", "odl-waiting"):
                for node in NODES:
                    ctl1.run(
                        ["attrd_updater", "-n", name, "-D", "-N", node], check=False
                    )
        finally:
            lab.teardown()


def started(cluster) -> set[str]:
    state = cluster.node("ctl1").resource_state(CLONE)
    return {i.node for i in state if i.node and i.active and i.role == "Started"}


def attribute(cluster, name: str) -> dict[str, str]:
    done = cluster.run(
        ["attrd_updater", "-Q", "-A", "-n", name], node="ctl1", check=False
    )
    return {m["host"]: m["value"] for m in _ATTR.finditer(done.stdout) if m["value"]}


def wait(cluster, predicate, timeout: float, what: str) -> float:
    began = time.monotonic()
    while not predicate():
        if time.monotonic() - began > timeout:
            raise AssertionError(
                f"{what}: not after {timeout} s\n"
                + cluster.run(["crm_mon", "-1", "-A", "-f"], node="ctl1").stdout
            )
        time.sleep(0.5)
    return time.monotonic() - began


def test_pacemaker_runs_three_members_publishes_roles_and_recovers_a_killed_jvm(
    pcmk_three, odl_clone
):
    lab = odl_clone
    took = wait(pcmk_three, lambda: started(pcmk_three) == set(NODES), 120, "started")
    print(f"three members started and ready {took:.1f} s after the load")
    assert all(lab.pid(node) for node in NODES)
    roles = {"ctl1": "Leader", "ctl2": "Follower", "ctl3": "Follower"}
    wait(
        pcmk_three,
        lambda: attribute(pcmk_three, "odl-shard-role") == roles,
        60,
        "shard roles published by the level 10 monitor",
    )
    assert attribute(pcmk_three, "odl-waiting") == {}, "cleared once ready"

    # The shard leader moves: the attribute follows.
    odl.set_switches(lab.homes["ctl1"], member="member-1", role="Follower")
    odl.set_switches(lab.homes["ctl3"], member="member-3", role="Leader")
    moved = {"ctl1": "Follower", "ctl2": "Follower", "ctl3": "Leader"}
    wait(
        pcmk_three,
        lambda: attribute(pcmk_three, "odl-shard-role") == moved,
        60,
        "moved",
    )

    victim = lab.pid("ctl2")
    assert victim is not None
    os.kill(victim, signal.SIGKILL)
    began = time.monotonic()
    wait(
        pcmk_three,
        lambda: (
            lab.pid("ctl2") not in (None, victim) and started(pcmk_three) == set(NODES)
        ),
        120,
        "ctl2's member restarted",
    )
    print(
        f"killed JVM on ctl2: restarted and ready in {time.monotonic() - began:.1f} s"
    )
    failures = pcmk_three.run(["crm_mon", "-1", "-f"], node="ctl1").stdout
    assert "ctl2" in failures and "monitor" in failures, failures


def test_a_member_out_of_sync_is_recovered_and_waits_visibly(pcmk_three, odl_clone):
    lab = odl_clone
    wait(pcmk_three, lambda: started(pcmk_three) == set(NODES), 120, "started")
    old = lab.pid("ctl3")
    # ctl3 loses sync and stays slow to sync again after its restart.
    odl.set_switches(lab.homes["ctl3"], member="member-3", role="Follower", sync=False)
    wait(
        pcmk_three,
        lambda: (
            "SyncStatus" in attribute(pcmk_three, "odl-waiting").get("ctl3", "")
            or "DATASTORE" in attribute(pcmk_three, "odl-waiting").get("ctl3", "")
        ),
        90,
        "the restarted member says what it waits for",
    )
    assert lab.pid("ctl3") != old, "Pacemaker restarted the unsynced member"
    odl.set_switches(lab.homes["ctl3"], member="member-3", role="Follower", sync=True)
    wait(
        pcmk_three,
        lambda: (
            started(pcmk_three) == set(NODES)
            and "ctl3" not in attribute(pcmk_three, "odl-waiting")
        ),
        120,
        "synced again and started",
    )
