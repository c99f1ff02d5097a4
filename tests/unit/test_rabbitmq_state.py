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
    got = decide(Report(A, True, 3), {"n2": [B, C]}, {}, MEMBERS, 3)
    assert (got.action, got.peers) == (JOIN, (B, C))


def test_the_last_member_down_boots_and_the_others_wait_for_it():
    reports = {"n1": Report(A, True, 3), "n3": Report(C, True, 1)}
    assert decide(Report(C, True, 1), {}, reports, MEMBERS, 3).action == BOOT
    waiting = decide(Report(A, True, 3), {}, reports, MEMBERS, 3)
    assert waiting.action == WAIT
    assert C in waiting.reason


def test_after_a_crash_at_once_the_chosen_one_boots_once_all_reported():
    reports = {n: Report(m, True, 3) for n, m in zip(("n1", "n2"), (A, B))}
    assert decide(Report(A, True, 3), {}, reports, MEMBERS, 3).action == WAIT
    reports["n3"] = Report(C, True, 3)
    first = decide(Report(A, True, 3), {}, reports, MEMBERS, 3)
    assert (first.action, first.force) == (BOOT, True)
    assert decide(Report(B, True, 3), {}, reports, MEMBERS, 3).action == WAIT


def test_an_operator_override_boots_at_once():
    got = decide(Report(B, True, 3), {}, {}, MEMBERS, 3, forced=True)
    assert (got.action, got.force) == (BOOT, True)


def test_an_empty_node_waits_for_data_holders_and_creates_only_when_all_empty():
    holders = {"n1": Report(A, True, 2)}
    assert decide(Report(B, False), {}, holders, [], 3).action == WAIT
    empty = {"n1": Report(A, False), "n2": Report(B, False)}
    assert decide(Report(A, False), {}, empty, [], 3).action == WAIT
    empty["n3"] = Report(C, False)
    assert decide(Report(A, False), {}, empty, [], 3).action == BOOT
    assert decide(Report(B, False), {}, empty, [], 3).action == WAIT


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
