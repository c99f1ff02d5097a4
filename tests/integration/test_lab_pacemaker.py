"""Prove the live-cluster lab fixture: start, resources, failure recovery, stop."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path
from xml.sax.saxutils import quoteattr

import pytest

from tests.lab.pacemaker import Cluster, ClusterStartError, ResourceInstance

pytestmark = pytest.mark.pacemaker

STARTED = [ResourceInstance(node="node1", role="Started", active=True, failed=False)]


def dummy_xml(rsc_id: str, state: Path, monitor: str = "1s") -> str:
    """Return a ``<cib><configuration>`` update holding one Dummy primitive."""
    ia = f"{rsc_id}-instance_attributes"
    return f"""\
<cib><configuration><resources>
  <primitive id="{rsc_id}" class="ocf" provider="heartbeat" type="Dummy">
    <instance_attributes id="{ia}">
      <nvpair id="{ia}-state" name="state" value={quoteattr(str(state))}/>
    </instance_attributes>
    <operations>
      <op id="{rsc_id}-monitor-interval-{monitor}" name="monitor"
          interval="{monitor}" timeout="10s"/>
    </operations>
  </primitive>
</resources></configuration></cib>
"""


@contextlib.contextmanager
def dummy(cluster: Cluster, rsc_id: str, state: Path) -> Iterator[str]:
    """Run a Dummy primitive for the duration of the block, then remove it."""
    cluster.load_xml(dummy_xml(rsc_id, state))
    try:
        cluster.wait_until(
            lambda: cluster.resource_state(rsc_id) == STARTED, 30, f"{rsc_id} Started"
        )
        yield rsc_id
    finally:
        cluster.delete_resource(rsc_id)


@contextlib.contextmanager
def stopped_for_a_while(cluster: Cluster) -> Iterator[None]:
    """Stop the session cluster inside the block and always start it again."""
    cluster.stop()
    try:
        yield
    finally:
        cluster.start()


def _alive(pids: list[int]) -> list[int]:
    """Return those of *pids* that still exist and are not zombies."""
    alive = []
    for pid in pids:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        if stat.rpartition(")")[2].split()[0] != "Z":
            alive.append(pid)
    return alive


def test_node_online_and_dc_idle(pcmk_cluster: Cluster) -> None:
    root = pcmk_cluster.crm_mon_xml()
    node = root.find("nodes/node[@name='node1']")
    assert node is not None
    assert node.get("online") == "true"
    assert root.find("summary/current_dc").get("name") == "node1"
    assert pcmk_cluster.dc() == "node1"
    assert pcmk_cluster.controller_state("node1") == "S_IDLE"
    quorum = pcmk_cluster.run(["corosync-quorumtool", "-s"]).stdout
    assert "Quorate:          Yes" in quorum


def test_dummy_primitive_runs_on_node1(pcmk_cluster: Cluster, tmp_path: Path) -> None:
    state = tmp_path / "lab-run.state"
    with dummy(pcmk_cluster, "lab-run", state):
        assert pcmk_cluster.resource_state("lab-run") == STARTED
        assert state.exists()
        assert pcmk_cluster.fail_count("lab-run") == 0


def test_monitor_failure_is_restarted(pcmk_cluster: Cluster, tmp_path: Path) -> None:
    state = tmp_path / "lab-fail.state"
    with dummy(pcmk_cluster, "lab-fail", state):
        pcmk_cluster.wait_idle()
        t0 = time.monotonic()
        state.unlink()  # Dummy's next monitor returns 7 (not running)
        pcmk_cluster.wait_until(
            lambda: pcmk_cluster.fail_count("lab-fail") == 1, 15, "fail count 1"
        )
        pcmk_cluster.wait_until(
            lambda: pcmk_cluster.resource_state("lab-fail") == STARTED, 15, "restart"
        )
        recovered = time.monotonic() - t0
        assert state.exists()
        assert pcmk_cluster.fail_count("lab-fail") == 1
        assert "lab-fail_monitor_1000" in pcmk_cluster.pacemaker_log()
        assert recovered < 10, f"recovery took {recovered:.2f}s"
        pcmk_cluster.cleanup("lab-fail")
        pcmk_cluster.wait_until(
            lambda: pcmk_cluster.fail_count("lab-fail") == 0, 15, "fail count cleared"
        )


def test_stop_and_remove_resource(pcmk_cluster: Cluster, tmp_path: Path) -> None:
    state = tmp_path / "lab-rm.state"
    with dummy(pcmk_cluster, "lab-rm", state):
        assert state.exists()
    assert pcmk_cluster.resource_state("lab-rm") == []
    assert not state.exists()  # Dummy's stop removes its state file
    resources = pcmk_cluster.run(["cibadmin", "--query", "--scope", "resources"]).stdout
    assert "lab-rm" not in resources
    pcmk_cluster.delete_resource("lab-rm")  # removing a missing resource is a no-op


@pytest.mark.slow
def test_stop_leaves_no_process_and_restart_works(pcmk_cluster: Cluster) -> None:
    pids = [pcmk_cluster.corosync_pid, pcmk_cluster.pacemakerd_pid]
    assert None not in pids
    # based, fenced, execd, attrd, schedulerd, controld (+ any agent running now)
    children = pcmk_cluster.pacemaker_child_pids
    assert len(children) >= 6
    with stopped_for_a_while(pcmk_cluster):
        assert set(pcmk_cluster.last_stopped_pids) >= set(pids)
        assert _alive([*pids, *children]) == []
        assert pcmk_cluster.corosync_pid is None
        assert list(Path("/dev/shm").glob(f"qb-*{pids[0]}*")) == []
        pcmk_cluster.stop()  # idempotent
    assert pcmk_cluster.controller_state("node1") == "S_IDLE"


@pytest.mark.slow
def test_failed_start_cleans_up(pcmk_cluster: Cluster, tmp_path: Path) -> None:
    broken = Cluster(tmp_path / "broken")
    with stopped_for_a_while(pcmk_cluster):
        with pytest.raises(ClusterStartError) as excinfo:
            broken.start(timeout=2.5)  # quorate after ~0.5 s, DC idle after ~5 s
        # corosync, pacemakerd and its daemons had been started, and are gone
        assert len(broken.last_stopped_pids) >= 2
        assert _alive(broken.last_stopped_pids) == []
        assert broken.corosync_pid is None
        assert "corosync log" in str(excinfo.value)
        broken.stop()  # still idempotent after a failed start


def test_stop_without_start_is_harmless(tmp_path: Path) -> None:
    """stop() of a cluster never started signals nothing and writes nothing."""
    cluster = Cluster(tmp_path)
    before = sorted(tmp_path.rglob("*"))
    cluster.stop()
    cluster.stop()  # and again
    assert cluster.last_stopped_pids == []
    assert cluster.corosync_pid is None
    assert sorted(tmp_path.rglob("*")) == before
