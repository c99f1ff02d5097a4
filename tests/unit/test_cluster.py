"""The cluster tool wrappers over canned tool output: no Pacemaker needed."""

from __future__ import annotations

from unittest import mock

import pytest

from ha_common.command import CommandNotFoundError, CommandTimeoutError, Completed
from ha_common.deadline import Deadline
from ocf_agents._runtime import cluster

NODE_ENV = "OCF_RESKEY_CRM_meta_on_node"


@pytest.fixture
def tool(monkeypatch):
    """Replace run_cmd; ``tool.answer(rc, stdout, stderr)`` sets what it returns."""
    fake = mock.create_autospec(cluster.run_cmd, spec_set=True)

    def answer(returncode=0, stdout="", stderr=""):
        fake.side_effect = lambda argv, *a, **k: Completed(
            argv[0], returncode, stdout, stderr
        )

    fake.answer = answer
    answer()
    monkeypatch.setattr(cluster, "run_cmd", fake)
    return fake


def argv_of(tool):
    return tool.call_args.args[0]


def test_nodes_lists_every_known_node_with_its_state(tool):
    tool.answer(stdout="1 ctl1 member\n2 ctl2 lost\n3 ctl3 member\n\n")
    assert cluster.nodes(Deadline(5)) == {
        "ctl1": "member",
        "ctl2": "lost",
        "ctl3": "member",
    }
    assert argv_of(tool) == ["crm_node", "-l"]


def test_partition_is_the_sorted_members(tool):
    tool.answer(stdout="ctl3 ctl1\n")
    assert cluster.partition(Deadline(5)) == ["ctl1", "ctl3"]
    assert argv_of(tool) == ["crm_node", "-p"]


def test_this_node_prefers_what_execd_said(tool):
    assert cluster.this_node({"on_node": "ctl2"}) == "ctl2"
    tool.assert_not_called()
    tool.answer(stdout="ctl9\n")
    assert cluster.this_node({}) == "ctl9"
    assert argv_of(tool) == ["crm_node", "-n"]


def test_a_failing_tool_names_itself_and_its_complaint(tool):
    tool.answer(returncode=102, stderr="error: Could not connect to controller\n")
    with pytest.raises(cluster.ClusterToolError) as info:
        cluster.partition()
    assert "crm_node -p failed (exit 102)" in str(info.value)
    assert "Could not connect" in str(info.value)


@pytest.mark.parametrize("error", [CommandNotFoundError, CommandTimeoutError])
def test_run_errors_become_cluster_tool_errors(tool, error):
    tool.side_effect = error("crm_node: something")
    with pytest.raises(cluster.ClusterToolError, match="crm_node: something"):
        cluster.local_node()


def test_calls_are_bounded_by_the_deadline_and_the_call_limit(tool):
    tool.answer(stdout="ctl1\n")
    deadline = Deadline(60)
    cluster.local_node(deadline)
    assert tool.call_args.args[1] is deadline
    assert tool.call_args.kwargs["limit"] == cluster.CALL_TIMEOUT


def test_query_all_asks_every_node(tool, monkeypatch):
    monkeypatch.setenv(NODE_ENV, "ctl1")
    tool.answer(
        stdout='name="galera-position" host="ctl1" value="u:5"\n'
        'name="galera-position" host="ctl2" value=""\n'
        'name="other" host="ctl3" value="x"\n'
    )
    assert cluster.query_all("galera-position") == {"ctl1": "u:5"}
    assert NODE_ENV not in tool.call_args.kwargs["env"]


def test_query_of_an_attribute_nobody_set_is_empty(tool):
    tool.answer(returncode=78, stderr="Could not query value: attribute does not exist")
    assert cluster.query_all("galera-position") == {}


def test_private_attribute(tool):
    cluster.set_attr("x-primary", "uuid", private=True)
    assert argv_of(tool) == ["attrd_updater", "-n", "x-primary", "-U", "uuid", "-p"]


@pytest.mark.parametrize(
    ("crm_node_l", "gone"),
    [
        # corosync's nodelist still shows the removed node, as lost
        ("1 ctl1 member\n2 ctl2 member\n3 ctl3 lost\n", {"ctl3"}),
        # the removal purged it from the controller's peer cache
        ("1 ctl1 member\n2 ctl2 member\n", {"ctl3"}),
        # back as a member (a node that rejoins is never forgotten)
        ("1 ctl1 member\n2 ctl2 member\n3 ctl3 member\n", set()),
    ],
)
def test_removed_are_nodes_out_of_the_cib_that_are_not_members(tool, crm_node_l, gone):
    cib_nodes = '<nodes><node id="1" uname="ctl1"/><node id="2" uname="ctl2"/></nodes>'
    answers = {"cibadmin": cib_nodes, "crm_node": crm_node_l}
    tool.side_effect = lambda argv, *a, **k: Completed(argv[0], 0, answers[argv[0]], "")
    assert cluster.removed(["ctl3"], Deadline(5)) == gone
    # ctl2 is still configured: not removed, whatever its state
    assert cluster.removed(["ctl2"], Deadline(5)) == set()
