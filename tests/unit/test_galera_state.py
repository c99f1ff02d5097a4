"""The Galera agent's pure rules: positions, grastate.dat, the bootstrap election."""

from __future__ import annotations

import os
import random
import stat
from pathlib import Path

import pytest

from ocf_agents.galera import state
from ocf_agents.galera.state import EMPTY, Position, Report

UUID_A = "5e1f3c4a-9b0d-11ef-8a3e-0242ac120002"
UUID_B = "77777777-1111-2222-3333-444444444444"


def rep(seqno: int, safe: bool = False, uuid: str = UUID_A) -> Report:
    return Report(Position(uuid, seqno), safe)


GRASTATE = """# GALERA saved state
version: 2.1
uuid:    {uuid}
seqno:   {seqno}
safe_to_bootstrap: {safe}
"""


def write_grastate(path: Path, seqno: int, safe: int, uuid: str = UUID_A) -> None:
    (path / "grastate.dat").write_text(
        GRASTATE.format(uuid=uuid, seqno=seqno, safe=safe)
    )


class TestPosition:
    def test_round_trip(self) -> None:
        pos = Position.parse(f"{UUID_A}:70")
        assert pos == Position(UUID_A, 70)
        assert str(pos) == f"{UUID_A}:70"
        assert pos.known and not pos.empty

    def test_unknown_and_empty(self) -> None:
        assert not Position.parse(f"{UUID_A}:-1").known
        assert EMPTY.empty and not EMPTY.known

    @pytest.mark.parametrize("text", ["", "70", f"{UUID_A}", f"{UUID_A}:x", "zz:1"])
    def test_malformed(self, text: str) -> None:
        with pytest.raises(ValueError, match="not a Galera position"):
            Position.parse(text)

    def test_report_encoding(self) -> None:
        for report in (rep(5), rep(5, safe=True), Report(EMPTY, False)):
            assert Report.decode(report.encode()) == report
        assert rep(9, safe=True).encode() == f"{UUID_A}:9:safe"


class TestGrastate:
    def test_missing_file_means_never_joined(self, tmp_path: Path) -> None:
        assert state.read_grastate(str(tmp_path)) is None

    def test_reads_position_and_flag(self, tmp_path: Path) -> None:
        write_grastate(tmp_path, 70, 1)
        got = state.read_grastate(str(tmp_path))
        assert got == state.GraState(Position(UUID_A, 70), True)

    def test_crashed_node_has_unknown_seqno(self, tmp_path: Path) -> None:
        write_grastate(tmp_path, -1, 0)
        got = state.read_grastate(str(tmp_path))
        assert got is not None
        assert not got.position.known and not got.safe_to_bootstrap

    def test_garbage_is_an_error(self, tmp_path: Path) -> None:
        (tmp_path / "grastate.dat").write_text("hello\n")
        with pytest.raises(ValueError, match="no valid uuid"):
            state.read_grastate(str(tmp_path))

    def test_mark_safe_keeps_the_rest_owner_and_mode(self, tmp_path: Path) -> None:
        write_grastate(tmp_path, 42, 0)
        path = tmp_path / "grastate.dat"
        os.chmod(path, 0o640)
        if os.geteuid() == 0:
            os.chown(path, 65534, 65534)
        assert state.mark_safe_to_bootstrap(str(tmp_path))
        text = path.read_text()
        assert "safe_to_bootstrap: 1" in text and "safe_to_bootstrap: 0" not in text
        assert f"uuid:    {UUID_A}" in text and "seqno:   42" in text
        info = path.stat()
        assert stat.S_IMODE(info.st_mode) == 0o640
        if os.geteuid() == 0:
            assert (info.st_uid, info.st_gid) == (65534, 65534)
        assert sorted(p.name for p in tmp_path.iterdir()) == ["grastate.dat"]

    def test_mark_safe_without_file(self, tmp_path: Path) -> None:
        assert not state.mark_safe_to_bootstrap(str(tmp_path))


def test_recovered_position_takes_the_last_line() -> None:
    log = (
        "2026-11-22  1:00:00 0 [Note] WSREP: Recovered position: "
        f"{UUID_B}:3\n"
        "2026-11-22  1:00:01 0 [Note] InnoDB: something\n"
        f"2026-11-22  1:00:02 0 [Note] WSREP: Recovered position: {UUID_A}:71\n"
    )
    assert state.recovered_position(log) == Position(UUID_A, 71)
    assert state.recovered_position("[ERROR] Aborting\n") is None


class TestElection:
    nodes = ["ctl1", "ctl2", "ctl3"]

    def test_waits_for_every_node(self) -> None:
        got = state.elect(self.nodes, {"ctl1": rep(9), "ctl2": rep(3)})
        assert got.winner is None
        assert got.reason == "waiting for ctl3 to report"

    def test_highest_seqno_wins_even_against_safe(self) -> None:
        got = state.elect(
            self.nodes, {"ctl1": rep(9, safe=True), "ctl2": rep(70), "ctl3": rep(59)}
        )
        assert got.winner == "ctl2"
        assert "70" in got.reason

    def test_ties_prefer_safe_then_lowest_name(self) -> None:
        tie = {"ctl1": rep(70), "ctl2": rep(70, safe=True), "ctl3": rep(70)}
        assert state.elect(self.nodes, tie).winner == "ctl2"
        tie = {"ctl3": rep(70), "ctl2": rep(70), "ctl1": rep(12)}
        assert state.elect(self.nodes, tie).winner == "ctl2"

    def test_every_node_agrees_whatever_the_order(self) -> None:
        reports = {"ctl1": rep(5), "ctl2": rep(8), "ctl3": rep(8)}
        rng = random.Random(7)
        winners = set()
        for _ in range(20):
            items = list(reports.items())
            rng.shuffle(items)
            nodes = list(self.nodes)
            rng.shuffle(nodes)
            winners.add(state.elect(nodes, dict(items)).winner)
        assert winners == {"ctl2"}

    def test_unknown_position_blocks(self) -> None:
        got = state.elect(self.nodes, {"ctl1": rep(9), "ctl2": rep(-1), "ctl3": rep(3)})
        assert got.winner is None
        assert "ctl2" in got.reason and "unknown" in got.reason

    def test_different_clusters_block(self) -> None:
        got = state.elect(
            self.nodes, {"ctl1": rep(9), "ctl2": rep(3, uuid=UUID_B), "ctl3": rep(3)}
        )
        assert got.winner is None
        assert "different clusters" in got.reason

    def test_empty_nodes_are_behind(self) -> None:
        empty = Report(EMPTY, False)
        got = state.elect(self.nodes, {"ctl1": empty, "ctl2": rep(0), "ctl3": empty})
        assert got.winner == "ctl2"

    def test_new_cluster_starts_on_the_lowest_name(self) -> None:
        empty = Report(EMPTY, False)
        got = state.elect(self.nodes, dict.fromkeys(self.nodes, empty))
        assert got.winner == "ctl1"
        assert "creates the cluster" in got.reason

    def test_reports_of_other_nodes_are_ignored(self) -> None:
        got = state.elect(
            ["ctl1", "ctl2"], {"ctl1": rep(1), "ctl2": rep(2), "x": rep(99)}
        )
        assert got.winner == "ctl2"

    def test_force_names_a_node_even_if_behind(self) -> None:
        got = state.elect(self.nodes, {"ctl1": rep(1), "ctl2": rep(2)}, forced="ctl1")
        assert got.winner == "ctl1" and got.forced

    def test_force_needs_a_report(self) -> None:
        got = state.elect(self.nodes, {"ctl1": rep(1)}, forced="ctl3")
        assert got.winner is None
        assert "has not reported" in got.reason


class TestAddresses:
    def test_cluster_address(self) -> None:
        assert state.parse_cluster_address("gcomm://a,b:4567,c?pc.wait_prim=no") == [
            "a",
            "b:4567",
            "c",
        ]

    @pytest.mark.parametrize(
        "text",
        ["a,b", "gcomm://", "gcomm://a;reboot", "gcomm://a b", "gcomm://a?x=$(id)"],
    )
    def test_bad_cluster_address(self, text: str) -> None:
        with pytest.raises(ValueError):
            state.parse_cluster_address(text)

    def test_expected_nodes(self) -> None:
        hosts = ["10.0.0.1", "10.0.0.2:4567"]
        mapping = {"ctl1": "10.0.0.1", "ctl2": "10.0.0.2", "ctl9": "10.0.0.9"}
        assert state.expected_nodes(hosts, mapping) == ["ctl1", "ctl2"]
        assert state.expected_nodes(["n1", "n2:4567"], {}) == ["n1", "n2"]


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ("10.0.0.1", ("10.0.0.1", 4567)),
        ("10.0.0.1:4999", ("10.0.0.1", 4999)),
        ("ctl1", ("ctl1", 4567)),
        ("[fd00::1]:5000", ("fd00::1", 5000)),
        ("[fd00::1]", ("fd00::1", 4567)),
        ("fd00::1", ("fd00::1", 4567)),
    ],
)
def test_split_host_port(entry: str, expected: tuple[str, int]) -> None:
    assert state.split_host_port(entry, 4567) == expected
