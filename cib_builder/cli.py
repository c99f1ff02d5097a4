"""``hakit-cib``: compile a topology into a verified CIB, and simulate failures.

Exit codes: 0 ok, 1 problems found, 2 usage or topology error, 4 an external
tool failed.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from typing import NoReturn

import click

from cib_builder import (
    agents,
    checks,
    corosync,
    merge,
    pacemaker,
    pipeline,
    render,
    topology,
)
from ha_common import __version__

EXIT_PROBLEMS = 1
EXIT_USAGE = 2
EXIT_TOOL = 4


def _fail(message: str, code: int) -> NoReturn:
    click.echo(message, err=True)
    sys.exit(code)


def _load(path: str, *, installed: bool = True) -> pipeline.Build:
    """Build ``path`` and print every finding; ``installed`` adds HK505/HK506."""
    try:
        result = pipeline.build(path)
    except topology.TopologyError as exc:
        _fail(str(exc), EXIT_USAGE)
    for warning in result.topology.warnings:
        click.echo(f"{path}: warning: {warning}", err=True)
    problems = list(result.problems)
    if installed:
        found = agents.check_installed(result.cib, pacemaker.agent_lookup)
        problems = checks.ordered(problems + found)
        result = pipeline.Build(
            result.topology,
            result.cib,
            tuple(problems),
            result.xml,
            result.schema_errors,
        )
    for problem in problems:
        click.echo(str(problem), err=True)
    for error in result.schema_errors:
        click.echo(f"schema: {error}", err=True)
    return result


def _live(cib_file: str | None) -> bytes:
    """The CIB to merge into: ``cib_file``, or the running cluster's."""
    if cib_file is None:
        try:
            return pacemaker.query_live()
        except pacemaker.ToolError as exc:
            _fail(str(exc), EXIT_TOOL)
    with open(cib_file, "rb") as handle:
        return handle.read()


def _merge(result: pipeline.Build, live_text: bytes, prune: bool) -> merge.Merged:
    """Merge the build into ``live_text``; print the problems; exit on errors."""
    try:
        live = merge.parse_live(live_text)
    except merge.MergeError as exc:
        _fail(str(exc), EXIT_USAGE)
    merged = merge.merge(live, render.render(result.cib), prune=prune)
    for problem in merged.problems:
        click.echo(str(problem), err=True)
    if not merged.ok:
        sys.exit(EXIT_PROBLEMS)
    return merged


def _new_errors(live_text: bytes, merged_text: bytes) -> list[str]:
    """crm_verify errors of the merged CIB that the live one does not have."""
    before = set(pacemaker.verify_errors(live_text))
    return [e for e in pacemaker.verify_errors(merged_text) if e not in before]


def _merged_output(
    result: pipeline.Build, fmt: str, cib_file: str | None, prune: bool
) -> bytes:
    """The merged CIB or the patch to it; exit on problems.

    The merged CIB keeps the live CIB's version (admin_epoch, epoch,
    num_updates): ``cibadmin --replace`` accepts it as long as the cluster's
    CIB has not changed since, and refuses it (rc 103) once it has, so a
    change made meanwhile, or newer status, is never overwritten.
    """
    live_text = _live(cib_file)
    merged = _merge(result, live_text, prune)
    merged_text = render.serialize(merged.cib)
    try:
        errors = _new_errors(live_text, merged_text)
        if fmt == "patch":
            data = pacemaker.patch(live_text, merged_text)
        else:
            data = merged_text
    except pacemaker.ToolError as exc:
        _fail(str(exc), EXIT_TOOL)
    for error in errors:
        click.echo(f"crm_verify: {error}", err=True)
    if errors:
        sys.exit(EXIT_PROBLEMS)
    return data


live_option = click.option(
    "--live",
    is_flag=True,
    help="merge into the running cluster's CIB (cibadmin --query)",
)
cib_option = click.option(
    "--cib",
    "--against",
    "cib_file",
    type=click.Path(exists=True, dir_okay=False),
    help="merge into this CIB file (a saved cibadmin --query) instead",
)
prune_option = click.option(
    "--prune",
    is_flag=True,
    help="also remove resources, constraints, fencing levels and properties "
    "that hakit did not generate (never nodes, status or the properties "
    "Pacemaker maintains)",
)


@click.group()
@click.version_option(
    __version__,
    "-V",
    "--version",
    prog_name="hakit-cib",
    message="%(prog)s %(version)s",
)
def main() -> None:
    """Compile an OpenStack controller-cluster topology into a Pacemaker CIB."""


@main.command()
@click.argument("topology_file", type=click.Path(exists=True, dir_okay=False))
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="default: stdout")
@click.option(
    "--format", "fmt", type=click.Choice(["xml", "crm", "patch"]), default="xml"
)
@live_option
@cib_option
@prune_option
def build(  # noqa: PLR0913, PLR0917 - one parameter per option
    topology_file: str,
    output: str | None,
    fmt: str,
    live: bool,
    cib_file: str | None,
    prune: bool,
) -> None:
    """Write the CIB for TOPOLOGY_FILE.

    Alone, the CIB for a new cluster (or for offline tools).  With --live or
    --cib, the given CIB with hakit's configuration merged in: loadable into a
    running cluster with any of the README's routes.  --format patch is the
    crm_diff patch from the live (or given) CIB to that merge.
    """
    if live and cib_file:
        _fail("--live and --cib exclude each other", EXIT_USAGE)
    merging = live or cib_file is not None or fmt == "patch"
    if fmt == "crm" and merging:
        _fail("crm syntax is for a new cluster only: use --format xml", EXIT_USAGE)
    if prune and not merging:
        _fail("--prune needs a CIB to merge into: --live or --cib FILE", EXIT_USAGE)
    result = _load(topology_file)
    if not result.ok:
        sys.exit(EXIT_PROBLEMS)
    if fmt == "crm":
        data = render.render_crm(result.cib).encode()
    elif not merging:
        data = result.xml
    else:
        data = _merged_output(result, fmt, cib_file, prune)
    if output:
        with open(output, "wb") as handle:
            handle.write(data)
    else:
        sys.stdout.buffer.write(data)


@main.command()
@click.argument("topology_file", type=click.Path(exists=True, dir_okay=False))
def check(topology_file: str) -> None:
    """Check TOPOLOGY_FILE: lint codes, agents, Pacemaker's schema and crm_verify."""
    result = _load(topology_file)
    try:
        verdict = pacemaker.verify(result.xml, [n.name for n in result.cib.nodes])
    except pacemaker.ToolError as exc:
        _fail(str(exc), EXIT_TOOL)
    for message in verdict.messages:
        click.echo(f"crm_verify: {message}", err=True)
    summary = (
        f"{len(result.cib.nodes)} nodes, {len(result.cib.resources)} resources, "
        f"{len(result.cib.constraints)} constraints, "
        f"{len(result.cib.fencing)} fencing levels"
    )
    if result.ok and verdict.ok and not result.problems:
        click.echo(f"ok: {summary}; schema {result.cib.schema} valid; crm_verify clean")
        return
    if result.ok and verdict.ok:
        click.echo(f"ok with warnings: {summary}")
        return
    _fail(f"problems found: {summary}", EXIT_PROBLEMS)


@main.command()
@click.argument("topology_file", type=click.Path(exists=True, dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
def simulate(topology_file: str, fmt: str) -> None:
    """Show what Pacemaker does when each node (and a pair of nodes) fails."""
    result = _load(topology_file)
    if not result.ok:
        sys.exit(EXIT_PROBLEMS)
    cluster = corosync.build(result.topology)
    try:
        report = pacemaker.simulate(result.cib, result.xml, quorum=cluster.quorum)
    except pacemaker.ToolError as exc:
        _fail(str(exc), EXIT_TOOL)
    if fmt == "json":
        data = {**report.as_dict(), "quorum": _quorum(cluster)}
        click.echo(json.dumps(data, indent=2, sort_keys=True))
    else:
        click.echo(f"quorum (corosync.conf from this topology): {_quorum(cluster)}")
        click.echo(pacemaker.format_text(report), nl=False)


def _quorum(cluster: corosync.Corosync) -> str:
    modes = ["wait_for_all" if cluster.wait_for_all else ""]
    modes += ["two_node" if cluster.two_node else ""]
    modes += ["last_man_standing" if cluster.last_man_standing else ""]
    shown = ", ".join(m for m in modes if m)
    return (
        f"{cluster.quorum} of {len(cluster.nodes)} votes (votequorum"
        f"{', ' + shown if shown else ''}); a node is declared dead "
        f"{cluster.effective_token} ms after its last token, consensus "
        f"{cluster.consensus} ms"
    )


@main.command(name="corosync")
@click.argument("topology_file", type=click.Path(exists=True, dir_okay=False))
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="default: stdout")
def corosync_conf(topology_file: str, output: str | None) -> None:
    """Write corosync.conf for TOPOLOGY_FILE (Corosync 3, knet, one line per link).

    Checked first (HK701-HK705), then by corosync -t where corosync is
    installed, and read back to the same settings.  The authkey itself is
    never in the topology: create it once with corosync-keygen and copy it to
    every node.
    """
    try:
        topo = topology.load(topology_file)
    except topology.TopologyError as exc:
        _fail(str(exc), EXIT_USAGE)
    cluster = corosync.build(topo)
    problems = corosync.check(cluster)
    for problem in problems:
        click.echo(str(problem), err=True)
    if checks.errors(problems):
        sys.exit(EXIT_PROBLEMS)
    text = corosync.render(cluster)
    if corosync.parse(text) != cluster:
        _fail("internal error: corosync.conf does not read back the same", 1)
    try:
        refused = pacemaker.corosync_test(text)
    except pacemaker.ToolError as exc:
        click.echo(f"corosync -t not run: {exc}", err=True)
        refused = None
    if refused:
        _fail(f"corosync -t: {refused}", EXIT_PROBLEMS)
    if output:
        with open(output, "w", encoding="utf-8") as handle:
            handle.write(text)
    else:
        click.echo(text, nl=False)


@main.command()
@click.argument("topology_file", type=click.Path(exists=True, dir_okay=False))
@live_option
@cib_option
@prune_option
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
def diff(
    topology_file: str, live: bool, cib_file: str | None, prune: bool, fmt: str
) -> None:
    """Show what loading TOPOLOGY_FILE would change, and what Pacemaker would do.

    Compares with the running cluster (--live, the default) or a saved CIB
    (--cib FILE); writes nothing.  The actions come from crm_simulate on that
    CIB's status with the change applied; those that would happen anyway are
    marked.
    """
    if live and cib_file:
        _fail("--live and --cib exclude each other", EXIT_USAGE)
    result = _load(topology_file)
    if not result.ok:
        sys.exit(EXIT_PROBLEMS)
    live_text = _live(cib_file)
    merged = _merge(result, live_text, prune)
    merged_text = render.serialize(merged.cib)
    try:
        errors = _new_errors(live_text, merged_text)
        before = pacemaker.transition(live_text)
        after = pacemaker.transition(merged_text)
    except pacemaker.ToolError as exc:
        _fail(str(exc), EXIT_TOOL)
    if fmt == "json":
        report = {
            "changes": [asdict(c) for c in merged.changes],
            "problems": [asdict(p) for p in merged.problems],
            "crm_verify": errors,
            "fenced": list(after.fenced),
            "actions": [
                {**asdict(a), "anyway": a in before.actions} for a in after.actions
            ],
        }
        click.echo(json.dumps(report, indent=2, sort_keys=True))
    else:
        click.echo(_diff_text(merged, errors, before, after), nl=False)
    if errors:
        sys.exit(EXIT_PROBLEMS)


def _diff_text(
    merged: merge.Merged,
    errors: list[str],
    before: pacemaker.Transition,
    after: pacemaker.Transition,
) -> str:
    lines = []
    if not merged.changes:
        lines.append("no changes: the CIB already holds this configuration")
    else:
        lines.append(f"{len(merged.changes)} change(s):")
        for change in merged.changes:
            lines.append(f"  {change}")
            lines.extend(f"      {detail}" for detail in change.details)
    lines.extend(f"crm_verify: {error}" for error in errors)
    lines.append("what Pacemaker would then do:")
    fenced = [f"  fence {node}" for node in after.fenced]
    actions = [
        f"  {line}" + (" (happens anyway)" if anyway else "")
        for line, anyway in pacemaker.summarize(after.actions, before.actions)
    ]
    lines.extend(fenced + actions or ["  nothing"])
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
