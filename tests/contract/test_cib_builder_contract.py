"""The shipped topology against Pacemaker itself, and the ``hakit-cib`` CLI.

The example is compiled by the pipeline, validated against the RelaxNG schema
and ``crm_verify``, then run through ``crm_simulate``: the steady state, each
single-node failure and the loss of two nodes.  The simulation takes a few
seconds, so it runs once per module.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from unittest import mock

import pytest
from click.testing import CliRunner, Result
from lxml import etree

from cib_builder import (
    agents,
    cli,
    pacemaker,
    pipeline,
    recipes,
    render,
    schema,
    topology,
)
from cib_builder.model import Cib, Clone
from tests.unavailable import unavailable

pytestmark = pytest.mark.pacemaker

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "opnfv-3-controllers.toml"
NODES = ("ctl1", "ctl2", "ctl3")
VIPS = ("hakit-vip-public", "hakit-vip-internal", "hakit-vip-admin")
#: The tools ``cib_builder.pacemaker`` runs, on the PATH it runs them with.
TOOLS = ("crm_verify", "crm_simulate", "crm_attribute")
TOOL_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"


@pytest.fixture(scope="module", autouse=True)
def _pacemaker_tools() -> None:
    for name in TOOLS:
        if shutil.which(name, path=TOOL_PATH) is None:
            unavailable(f"{name} is not installed")
    name = example_cib().schema
    if not (schema.SCHEMA_DIR / f"{name}.rng").is_file():
        unavailable(f"Pacemaker schema {name} is not installed in {schema.SCHEMA_DIR}")


@pytest.fixture(scope="module")
def built() -> pipeline.Build:
    return pipeline.build(EXAMPLE)


@pytest.fixture(scope="module")
def report(built: pipeline.Build) -> pacemaker.Report:
    return pacemaker.simulate(built.cib, built.xml)


def scenario(report: pacemaker.Report, *failed: str) -> pacemaker.Scenario:
    (found,) = [s for s in report.scenarios if s.failed == list(failed)]
    return found


def hosts(where: list[str]) -> list[str]:
    """Node names of placement entries such as ``ctl1 (Promoted)``."""
    return [entry.split(" ")[0] for entry in where]


def primitive_ids(cib: Cib) -> list[str]:
    return sorted(p.id for p in cib.primitives())


def clone_children(cib: Cib) -> list[str]:
    return [rsc.child.id for rsc in cib.resources if isinstance(rsc, Clone)]


def assert_vips_follow_haproxy(placement: dict[str, list[str]]) -> None:
    haproxy = set(hosts(placement["hakit-haproxy"]))
    for vip in VIPS:
        assert len(placement[vip]) == 1, (vip, placement[vip])
        assert hosts(placement[vip])[0] in haproxy, vip


# -- schema and crm_verify ----------------------------------------------------------


def test_example_builds_clean(built):
    assert built.ok
    assert built.problems == ()
    assert built.schema_errors == ()
    assert built.topology.warnings == ()


def test_example_is_valid_against_its_schema(built):
    assert schema.validate(render.render(built.cib)) == []


def test_example_passes_crm_verify(built):
    verdict = pacemaker.verify(built.xml, [n.name for n in built.cib.nodes])
    assert verdict.ok, verdict.messages


# -- crm_simulate: steady state -----------------------------------------------------


def test_report_covers_the_steady_state_each_node_and_one_pair(report):
    assert report.nodes == list(NODES)
    assert [s.name for s in report.scenarios] == [
        "steady state",
        "ctl1 fails",
        "ctl2 fails",
        "ctl3 fails",
        "ctl1 and ctl2 fail",
    ]


def test_steady_state_runs_every_resource(built, report):
    steady = scenario(report)
    assert steady.quorate
    assert steady.fenced == []
    assert steady.stopped == []
    assert sorted(steady.placement) == primitive_ids(built.cib)
    for rsc, where in steady.placement.items():
        assert where, rsc
        assert set(hosts(where)) <= set(NODES), rsc


def test_steady_state_clones_run_on_every_node(built, report):
    placement = scenario(report).placement
    for child in clone_children(built.cib):
        assert sorted(hosts(placement[child])) == list(NODES), child


def test_steady_state_galera_is_promoted_everywhere(report):
    assert scenario(report).placement["hakit-galera"] == [
        f"{node} (Promoted)" for node in NODES
    ]


def test_steady_state_cinder_volume_runs_once(report):
    assert len(scenario(report).placement["hakit-cinder-volume"]) == 1


def test_steady_state_vips_each_run_once_beside_haproxy(report):
    assert_vips_follow_haproxy(scenario(report).placement)


def test_steady_state_no_fence_device_runs_on_its_target(report):
    placement = scenario(report).placement
    for node in NODES:
        assert node not in hosts(placement[f"hakit-fence-{node}"])


# -- crm_simulate: one node fails ---------------------------------------------------


@pytest.mark.parametrize("node", NODES)
def test_one_failed_node_keeps_quorum_and_is_fenced_alone(report, node):
    failed = scenario(report, node)
    assert failed.quorate
    assert failed.fenced == [node]
    assert failed.incomplete == []


@pytest.mark.parametrize("node", NODES)
def test_one_failed_node_moves_only_what_ran_on_it(report, node):
    steady = scenario(report).placement
    ran_there = {rsc for rsc, where in steady.items() if node in hosts(where)}
    failed = scenario(report, node)
    assert failed.actions
    for act in failed.actions:
        assert not act.blocked, act
        assert act.resource in ran_there, act
        if act.action == "stop":
            assert act.node == node, act
        elif act.action == "move":
            assert act.source == node, act
            assert act.dest != node, act
        else:
            assert act.action in ("start", "promote"), act
            assert act.node != node, act


@pytest.mark.parametrize("node", NODES)
def test_one_failed_node_stops_nothing_on_survivors(report, node):
    steady = scenario(report).placement
    after = scenario(report, node).placement
    for rsc, where in steady.items():
        survivors = {entry for entry in where if hosts([entry]) != [node]}
        assert survivors <= set(after[rsc]), rsc


@pytest.mark.parametrize("node", NODES)
def test_one_failed_node_leaves_everything_running_elsewhere(built, report, node):
    failed = scenario(report, node)
    assert failed.stopped == []
    assert sorted(failed.placement) == primitive_ids(built.cib)
    for rsc, where in failed.placement.items():
        assert where, rsc
        assert node not in hosts(where), rsc
    survivors = [n for n in NODES if n != node]
    assert failed.placement["hakit-galera"] == [f"{n} (Promoted)" for n in survivors]
    assert len(failed.placement["hakit-cinder-volume"]) == 1
    assert_vips_follow_haproxy(failed.placement)
    for child in clone_children(built.cib):
        assert sorted(hosts(failed.placement[child])) == survivors, child


# -- crm_simulate: two nodes fail ---------------------------------------------------


def test_two_failed_nodes_lose_quorum_fence_nobody_and_stop_everything(built, report):
    lost = scenario(report, "ctl1", "ctl2")
    assert not lost.quorate
    assert lost.fenced == []
    assert lost.stopped == primitive_ids(built.cib)
    assert all(where == [] for where in lost.placement.values())


def test_text_report_names_every_scenario(report):
    text = pacemaker.format_text(report)
    for item in report.scenarios:
        assert f"== {item.name}\n" in text
    assert "quorum: LOST" in text


# -- the CLI ------------------------------------------------------------------------


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli.main, list(args))


def example_cib() -> Cib:
    return recipes.build(topology.load(EXAMPLE))


def test_cli_build_writes_the_rendered_cib(tmp_path):
    out = tmp_path / "cib.xml"
    result = invoke("build", str(EXAMPLE), "-o", str(out))
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert out.read_bytes() == render.to_bytes(example_cib())


def test_cli_build_to_stdout():
    result = invoke("build", str(EXAMPLE))
    assert result.exit_code == 0, result.output
    assert result.stdout_bytes == render.to_bytes(example_cib())


def test_cli_build_crm_syntax():
    result = invoke("build", "--format", "crm", str(EXAMPLE))
    assert result.exit_code == 0, result.output
    assert result.stdout.strip()
    assert result.stdout == render.render_crm(example_cib())


def test_cli_check_good_file():
    result = invoke("check", str(EXAMPLE))
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("ok: 3 nodes")


def test_cli_simulate_json_matches_the_report(report):
    result = invoke("simulate", "--format", "json", str(EXAMPLE))
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["nodes"] == report.nodes
    assert [s["name"] for s in data["scenarios"]] == [s.name for s in report.scenarios]
    assert [s["fenced"] for s in data["scenarios"]] == [
        s.fenced for s in report.scenarios
    ]


def test_cli_simulate_text(report):
    with mock.patch.object(
        pacemaker, "simulate", autospec=True, return_value=report
    ) as simulate:
        result = invoke("simulate", str(EXAMPLE))
    assert result.exit_code == 0, result.output
    first, rest = result.stdout.split("\n", 1)
    assert first.startswith("quorum (corosync.conf from this topology): 2 of 3 votes")
    assert rest == pacemaker.format_text(report)
    simulate.assert_called_once()
    assert simulate.call_args.kwargs["quorum"] == 2


BROKEN_SECRET = "hunter2-do-not-print"


def broken_topology(tmp_path: Path) -> Path:
    """The example with an unknown key and an inline password."""
    text = EXAMPLE.read_text(encoding="utf-8")
    text = text.replace(
        "allow_two_node = false", "allow_two_node = false\nfencing_dealy = 5"
    )
    script = 'password_script = "/usr/local/bin/bmc-password ctl2"'
    assert script in text
    text = text.replace(script, f'{script}\npassword = "{BROKEN_SECRET}"')
    path = tmp_path / "broken.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("command", ["build", "check", "simulate"])
def test_cli_broken_topology_exits_2_with_one_line_per_problem(tmp_path, command):
    path = broken_topology(tmp_path)
    result = invoke(command, str(path))
    assert result.exit_code == 2
    assert isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 2, lines
    assert lines[0].startswith(f"{path}: cluster.fencing_dealy: ")
    assert lines[1].startswith(f"{path}: nodes[1].bmc.password: ")
    assert BROKEN_SECRET not in result.output


def test_cli_missing_file_is_a_usage_error(tmp_path):
    result = invoke("build", str(tmp_path / "absent.toml"))
    assert result.exit_code == 2
    assert "Traceback" not in result.output


def short_promote_timeout(tmp_path: Path) -> Path:
    """A valid topology whose model fails lint: galera promote under 300 s."""
    text = EXAMPLE.read_text(encoding="utf-8")
    text += "\n[overrides.galera]\ntimeouts = { promote = 60 }\n"
    path = tmp_path / "short-promote.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("command", ["build", "check", "simulate"])
def test_cli_lint_error_exits_1(tmp_path, command):
    path = short_promote_timeout(tmp_path)
    out = tmp_path / "cib.xml"
    args = [command, str(path)] + (["-o", str(out)] if command == "build" else [])
    with mock.patch.object(pacemaker, "simulate", autospec=True) as simulate:
        result = invoke(*args)
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert "HK202" in result.stderr
    assert not out.exists()
    simulate.assert_not_called()


def test_cli_lint_error_from_the_model_exits_1(tmp_path):
    model = example_cib()
    props = tuple(
        (k, "false" if k == "stonith-enabled" else v) for k, v in model.properties
    )
    broken = Cib(
        nodes=model.nodes,
        properties=props,
        rsc_defaults=model.rsc_defaults,
        op_defaults=model.op_defaults,
        resources=model.resources,
        constraints=model.constraints,
        fencing=model.fencing,
    )
    with mock.patch.object(recipes, "build", autospec=True, return_value=broken):
        result = invoke("build", str(EXAMPLE))
    assert result.exit_code == 1, result.output
    assert "HK303" in result.stderr
    assert result.stdout == ""


def test_cli_tool_failure_exits_4():
    with mock.patch.object(
        pacemaker,
        "verify",
        autospec=True,
        side_effect=pacemaker.ToolError("crm_verify is not installed"),
    ):
        result = invoke("check", str(EXAMPLE))
    assert result.exit_code == 4
    assert "crm_verify is not installed" in result.stderr
    assert "Traceback" not in result.output


CONTROL_CHARACTER_CASES = {
    "override param of galera": (
        "",
        '[overrides.galera]\nparams = { x = "a\\u0001b" }',
    ),
    "password_script argument": (
        '"/usr/local/bin/bmc-password ctl1"',
        '"/usr/local/bin/bmc-password ctl1\\u0001"',
    ),
    "extra_args of keystone": (
        "",
        '[overrides.keystone]\nparams = { extra_args = "--x \\u0001" }',
    ),
}


@pytest.mark.parametrize("case", sorted(CONTROL_CHARACTER_CASES))
def test_cli_control_character_is_a_topology_error(tmp_path, case):
    old, new = CONTROL_CHARACTER_CASES[case]
    text = EXAMPLE.read_text(encoding="utf-8")
    text = text.replace(old, new, 1) if old else text + "\n" + new + "\n"
    path = tmp_path / "control.toml"
    path.write_text(text, encoding="utf-8")
    result = invoke("build", str(path))
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit)


def test_build_patch_against_a_given_cib(tmp_path):
    """--format patch gives a crm_diff patch that cibadmin applies offline."""
    empty = tmp_path / "empty.xml"
    empty.write_text(
        subprocess.run(
            ["cibadmin", "--empty"], capture_output=True, text=True, check=True
        ).stdout
    )
    patch = tmp_path / "patch.xml"
    result = CliRunner().invoke(
        cli.main,
        [
            "build",
            str(EXAMPLE),
            "--format",
            "patch",
            "--against",
            str(empty),
            "-o",
            str(patch),
        ],
    )
    assert result.exit_code == 0, result.output
    assert b"<diff" in patch.read_bytes()
    applied = subprocess.run(
        ["cibadmin", "--patch", "--xml-file", str(patch)],
        env={**os.environ, "CIB_file": str(empty)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert applied.returncode == 0, applied.stderr
    assert "hakit-galera-clone" in empty.read_text()


def with_undeclared_odl_param(tmp_path: Path) -> Path:
    path = tmp_path / "odl.toml"
    path.write_text(EXAMPLE.read_text().replace('user = "odl"', 'odl_user = "odl"'))
    return path


@pytest.mark.parametrize("command", ["build", "check"])
def test_cli_a_parameter_the_agent_does_not_declare_names_the_field(tmp_path, command):
    result = invoke(command, str(with_undeclared_odl_param(tmp_path)))
    assert result.exit_code != 0, result.output
    assert "overrides.opendaylight.params.odl_user" in result.output + result.stderr
    assert "did you mean 'user'" in result.output + result.stderr


def test_cli_check_says_warnings_are_not_clean():
    missing = agents.Missing("no haproxy.service on this machine")
    with mock.patch.object(
        pacemaker, "agent_lookup", autospec=True, return_value=missing
    ):
        result = invoke("check", str(EXAMPLE))
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("ok with warnings: 3 nodes")
    assert "HK506 warning hakit-haproxy (services.haproxy)" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--prune"], "--prune needs a CIB to merge into"),
        (["--format", "crm", "--live"], "crm syntax is for a new cluster only"),
        (["--live", "--cib", str(EXAMPLE)], "--live and --cib exclude each other"),
    ],
)
def test_cli_build_usage_errors_exit_2(args, message):
    result = invoke("build", str(EXAMPLE), *args)
    assert result.exit_code == 2
    assert message in result.stderr


@pytest.mark.parametrize("command", [["build", "--live"], ["diff"]])
def test_cli_live_without_a_cluster_exits_4_in_one_line(command):
    error = pacemaker.ToolError("cibadmin --query failed: ... (is the cluster up?)")
    with mock.patch.object(pacemaker, "query_live", autospec=True, side_effect=error):
        result = invoke(command[0], str(EXAMPLE), *command[1:])
    assert result.exit_code == 4
    assert result.stderr.strip().splitlines()[-1] == str(error)
    assert "Traceback" not in result.output


def empty_cib(tmp_path: Path) -> Path:
    path = tmp_path / "empty.xml"
    path.write_text(
        subprocess.run(
            ["cibadmin", "--empty"], capture_output=True, text=True, check=True
        ).stdout
    )
    return path


def test_cli_build_cib_keeps_the_given_version(tmp_path):
    given = empty_cib(tmp_path)
    root = etree.fromstring(given.read_bytes())
    result = invoke("build", str(EXAMPLE), "--cib", str(given))
    assert result.exit_code == 0, result.output
    built = etree.fromstring(result.stdout_bytes)
    for name in ("admin_epoch", "epoch", "num_updates", "validate-with"):
        assert built.get(name) == root.get(name)
    assert (
        built.find("configuration/resources/clone[@id='hakit-galera-clone']")
        is not None
    )


def test_cli_diff_against_a_file_lists_changes_and_the_transition(tmp_path):
    result = invoke("diff", str(EXAMPLE), "--cib", str(empty_cib(tmp_path)))
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert "  add resource hakit-galera-clone" in lines
    assert "  add property stonith-enabled = 'true'" in lines
    # The empty CIB's nodes are all offline: Pacemaker would do nothing yet.
    assert lines[-2:] == ["what Pacemaker would then do:", "  nothing"]
