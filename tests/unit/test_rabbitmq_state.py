"""The pure rules of ocf:hakit:rabbitmq: term files, reports, policy, first boot."""

from __future__ import annotations

import pytest

from ocf_agents.rabbitmq import state
from ocf_agents.rabbitmq.state import BOOT, JOIN, WAIT, Report, decide

A, B, C = "rabbit@a", "rabbit@b", "rabbit@c"
MEMBERS = [A, B, C]


def test_term_files():
    text = "{['rabbit@a',rabbit@b,'rabbit@c'],['rabbit@a','rabbit@b']}."
    assert state.cluster_members(text) == [A, B]
    assert state.running_at_shutdown("[rabbit@c].\n") == [C]
    with pytest.raises(ValueError):
        state.cluster_members("garbage")


@pytest.mark.parametrize(
    "report", [Report(A, False), Report(A, True, 1), Report(B, True, 3)]
)
def test_report_round_trip(report):
    assert Report.decode(report.encode()) == report


@pytest.mark.parametrize("text", ["", "rabbit@a", "rabbit@a data x", "a data 1"])
def test_malformed_reports(text):
    with pytest.raises(ValueError):
        Report.decode(text)


def test_running_members_are_joined():
    got = decide(Report(A, True, 3), {"n2": [B, C]}, {}, MEMBERS)
    assert (got.action, got.peers) == (JOIN, (B, C))


def test_the_last_member_down_boots_and_the_others_wait_for_it():
    reports = {"n1": Report(A, True, 3), "n3": Report(C, True, 1)}
    assert decide(Report(C, True, 1), {}, reports, MEMBERS).action == BOOT
    waiting = decide(Report(A, True, 3), {}, reports, MEMBERS)
    assert (waiting.action, waiting.awaits) == (WAIT, (C,))
    assert C in waiting.reason


def test_after_a_crash_at_once_the_chosen_one_boots_once_all_reported():
    reports = {n: Report(m, True, 3) for n, m in zip(("n1", "n2"), (A, B))}
    missing = decide(Report(A, True, 3), {}, reports, MEMBERS)
    assert (missing.action, missing.awaits) == (WAIT, (C,))
    reports["n3"] = Report(C, True, 3)
    first = decide(Report(A, True, 3), {}, reports, MEMBERS)
    assert (first.action, first.force) == (BOOT, True)
    after = decide(Report(B, True, 3), {}, reports, MEMBERS, inflight={A: "starting"})
    assert (after.action, after.awaits) == (WAIT, (A,))


def test_the_chosen_one_is_decided_only_once_the_starts_showed_themselves():
    reports = {n: Report(m, True, 3) for n, m in zip(("n1", "n2", "n3"), MEMBERS)}
    early = decide(Report(A, True, 3), {}, reports, MEMBERS, settled=False)
    assert (early.action, early.awaits) == (WAIT, ())


def test_among_equals_a_member_whose_start_runs_is_chosen():
    """A's start was not issued with B's and C's: B boots, C waits for B only."""
    reports = {n: Report(m, True, 3) for n, m in zip(("n1", "n2", "n3"), MEMBERS)}
    b = decide(Report(B, True, 3), {}, reports, MEMBERS, inflight={C: "starting"})
    assert (b.action, b.force) == (BOOT, True)
    c = decide(Report(C, True, 3), {}, reports, MEMBERS, inflight={B: "starting"})
    assert (c.action, c.awaits) == (WAIT, (B,))
    # A's start comes while B boots: A waits for B, though its name is lower.
    a = decide(
        Report(A, True, 3), {}, reports, MEMBERS, inflight={B: "booting", C: "starting"}
    )
    assert (a.action, a.awaits) == (WAIT, (B,))


def test_fewer_members_at_stop_beats_a_running_start():
    reports = {
        "n1": Report(A, True, 2),
        "n2": Report(B, True, 3),
        "n3": Report(C, True, 3),
    }
    got = decide(Report(B, True, 3), {}, reports, MEMBERS, inflight={C: "starting"})
    assert (got.action, got.awaits) == (WAIT, (A,))


def test_an_operator_override_boots_at_once():
    got = decide(Report(B, True, 3), {}, {}, MEMBERS, forced=True)
    assert (got.action, got.force) == (BOOT, True)


def test_an_empty_node_waits_for_data_holders():
    holders = {"n1": Report(A, True, 2), "n2": Report(B, False)}
    got = decide(Report(B, False), {}, holders, [])
    assert (got.action, got.awaits) == (WAIT, (A,))


def test_the_cluster_is_created_by_the_lowest_of_the_starts_in_flight():
    empty = {"n1": Report(A, False), "n2": Report(B, False), "n3": Report(C, False)}
    # C's start alone (A and B reported from their probes, no start issued).
    alone = decide(Report(C, False), {}, empty, [])
    assert alone.action == BOOT
    assert decide(Report(C, False), {}, empty, [], settled=False).action == WAIT
    both = {B: "starting"}
    assert decide(Report(C, False), {}, empty, [], inflight=both).awaits == (B,)
    assert decide(Report(B, False), {}, empty, [], inflight={C: "starting"}).action == (
        BOOT
    )
    # Whoever comes later waits for the one that boots first.
    late = decide(Report(A, False), {}, empty, [], inflight={B: "booting"})
    assert (late.action, late.awaits) == (WAIT, (B,))


def test_policy_parsing():
    policy = state.parse_policy('ha-all;^(?!amq\\.).*;{"ha-mode":"all"};queues')
    assert policy.argv() == [
        "set_policy",
        "--apply-to",
        "queues",
        "ha-all",
        "^(?!amq\\.).*",
        '{"ha-mode": "all"}',
    ]
    for bad in ("x;y", "x;;{}", 'x y;.*;{"a":1}', "x;.*;[1]", "x;.*;not json"):
        with pytest.raises(ValueError):
            state.parse_policy(bad)


def test_minority():
    assert state.minority(1, 3)
    assert not state.minority(2, 3)
    assert not state.minority(1, 2)
