"""Prove the MariaDB Galera lab: formation, replication, crash and IST rejoin.

Real ``mariadbd`` processes only (LAB.md section 15).  The loopback lab forms
a three-member cluster from scratch (bootstrap n1, join n2 and n3 by rsync
SST), keeps a :class:`~tests.lab.galera.RowWriter` inserting while a member
is killed with SIGKILL and brought back with its recovered position, and
checks that no acknowledged row is lost.  The namespaced variant starts one
member inside a node of the three-node Pacemaker lab (no Pacemaker resource).
"""

from __future__ import annotations

import stat
import time

import pytest

from tests.lab.galera import (
    MONITOR_USER,
    NS_CONFIG,
    GaleraLab,
    NamespacedGalera,
    Position,
)

pytestmark = [pytest.mark.daemon, pytest.mark.slow]


def _form(lab: GaleraLab) -> float:
    """Bootstrap n1, join n2 then n3; return the seconds until all are Synced."""
    took = lab.start_cluster(timeout=120)
    print(f"3 members Synced from scratch in {took:.1f}s ({lab.timings})")
    return took


def test_three_members_from_scratch_replicate(galera_lab: GaleraLab) -> None:
    lab = galera_lab
    _form(lab)
    for name in lab.names:
        status = lab.status(name)
        assert status["wsrep_local_state_comment"] == "Synced"
        assert status["wsrep_cluster_status"] == "Primary"
        assert status["wsrep_cluster_size"] == "3"
        assert status["wsrep_ready"] == "ON"
    assert len({lab.status(n)["wsrep_cluster_state_uuid"] for n in lab.names}) == 1

    writer = lab.row_writer()
    writer.start()
    try:
        writer.wait_acked(100, timeout=30)
    finally:
        writer.stop()
    acked = writer.acked
    assert len(acked) >= 100
    for name in lab.names:
        rows = lab.rows(name)
        assert acked <= rows, f"{name} lacks {sorted(acked - rows)[:10]}"
        assert rows <= acked | writer.uncertain

    # A grant-less monitor user reads the wsrep status through its 0600 file.
    option_file = lab.create_monitor_user("n1")
    assert stat.S_IMODE(option_file.stat().st_mode) == 0o600
    seen = lab.sql(
        "n3",
        "SELECT CURRENT_USER(); SHOW STATUS LIKE 'wsrep_cluster_status'",
        option_file=option_file,
    )
    assert seen == [[f"{MONITOR_USER}@localhost"], ["wsrep_cluster_status", "Primary"]]


def test_kill9_member_rejoins_by_ist_without_losing_rows(galera_lab: GaleraLab) -> None:
    lab = galera_lab
    _form(lab)
    writer = lab.row_writer(["n1", "n2"])
    writer.start()
    try:
        writer.wait_acked(50, timeout=30)
        lab.kill9("n3")
        assert not lab.is_running("n3")
        assert lab.grastate("n3")["seqno"] == "-1"  # a crash leaves no seqno
        t0 = time.monotonic()
        writer.wait_acked(len(writer.acked) + 100, timeout=30)
        print(f"100 rows acked {time.monotonic() - t0:.1f}s after the kill")

        position = lab.recover_position("n3")
        assert isinstance(position, Position)
        assert position.uuid == lab.status("n1")["wsrep_cluster_state_uuid"]
        assert position.seqno > 0
        lab.join("n3", start_position=position)
        took = lab.wait_synced("n3", timeout=60)
        print(f"n3 recovered at {position}, rejoined in {took:.1f}s")
        writer.wait_acked(len(writer.acked) + 50, timeout=30)
    finally:
        writer.stop()

    log = lab.error_log("n3")
    assert "Receiving IST:" in log
    # IST runs the rsync SST script too (--bypass), which says which it did.
    assert "rsync IST completed on joiner" in log
    assert "rsync SST completed on joiner" not in log
    assert lab.status("n3")["wsrep_cluster_size"] == "3"
    acked = writer.acked
    for name in lab.names:
        rows = lab.rows(name)
        assert acked <= rows, f"{name} lost acknowledged rows {sorted(acked - rows)}"
        assert rows <= acked | writer.uncertain
    print(f"{len(acked)} rows acked, {len(writer.uncertain)} uncertain")


@pytest.mark.pacemaker
def test_namespaced_member_starts_inside_a_node(
    galera_namespaced: NamespacedGalera,
) -> None:
    lab = galera_namespaced
    first = lab.names[0]
    node = lab.node(first)
    config = lab.host_path(first, NS_CONFIG).read_text()
    assert "wsrep_cluster_address = gcomm://192.168.77.11,192.168.77.12" in config
    assert f"wsrep_node_address = {node.address}\n" in config

    lab.bootstrap(first)
    took = lab.wait_synced(first, timeout=60)
    print(f"{first}: bootstrapped inside its namespaces in {took:.1f}s")
    status = lab.status(first)
    assert status["wsrep_cluster_status"] == "Primary"
    assert status["wsrep_incoming_addresses"] == f"{node.address}:3306"
    pid_file = lab.host_path(first, node.pid_file)
    assert int(pid_file.read_text()) == lab.pid(first)
    others = lab.names[1:]
    assert not any(lab.host_path(n, node.pid_file).exists() for n in others)
    assert lab.stop(first) < 30
    assert lab.grastate(first)["safe_to_bootstrap"] == "1"
