"""``hakit-cib``: compile a topology into a verified CIB, and simulate failures.

Exit codes: 0 ok, 1 problems found, 2 usage or topology error, 4 an external
tool failed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

import click

from cib_builder import pacemaker, pipeline, render, topology

EXIT_PROBLEMS = 1
EXIT_USAGE = 2
EXIT_TOOL = 4


def _load(path: str) -> pipeline.Build:
    try:
        result = pipeline.build(path)
    except topology.TopologyError as exc:
        click.echo(str(exc), err=True)
        sys.exit(EXIT_USAGE)
    for warning in result.topology.warnings:
        click.echo(f"{path}: warning: {warning}", err=True)
    for problem in result.problems:
        click.echo(str(problem), err=True)
    for error in result.schema_errors:
        click.echo(f"schema: {error}", err=True)
    return result


def _patch(new: bytes, against: str | None) -> bytes:
    """A crm_diff patch from ``against`` (a file, or the live CIB) to ``new``."""
    with tempfile.TemporaryDirectory(prefix="hakit-cib-") as tmp:
        new_path = os.path.join(tmp, "new.xml")
        with open(new_path, "wb") as handle:
            handle.write(new)
        if against is None:
            old_path = os.path.join(tmp, "live.xml")
            live = subprocess.run(
                ["cibadmin", "--query"], capture_output=True, timeout=60, check=False
            )
            if live.returncode != 0:
                raise pacemaker.ToolError("cibadmin --query failed: is the cluster up?")
            with open(old_path, "wb") as handle:
                handle.write(live.stdout)
        else:
            old_path = against
        diff = subprocess.run(
            ["crm_diff", "--no-version", "--original", old_path, "--new", new_path],
            capture_output=True,
            timeout=60,
            check=False,
        )
    if diff.returncode not in (0, 1):  # 1 = there are differences
        raise pacemaker.ToolError(f"crm_diff failed: {diff.stderr.decode().strip()}")
    return diff.stdout


@click.group()
def main() -> None:
    """Compile an OpenStack controller-cluster topology into a Pacemaker CIB."""


@main.command()
@click.argument("topology_file", type=click.Path(exists=True, dir_okay=False))
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="default: stdout")
@click.option(
    "--format", "fmt", type=click.Choice(["xml", "crm", "patch"]), default="xml"
)
@click.option(
    "--against",
    type=click.Path(exists=True, dir_okay=False),
    help="CIB to diff against for --format patch (default: the live cluster)",
)
def build(
    topology_file: str, output: str | None, fmt: str, against: str | None
) -> None:
    """Write the CIB for TOPOLOGY_FILE (a full CIB, crm syntax, or a patch)."""
    result = _load(topology_file)
    if not result.ok:
        sys.exit(EXIT_PROBLEMS)
    if fmt == "xml":
        data = result.xml
    elif fmt == "crm":
        data = render.render_crm(result.cib).encode()
    else:
        try:
            data = _patch(result.xml, against)
        except pacemaker.ToolError as exc:
            click.echo(str(exc), err=True)
            sys.exit(EXIT_TOOL)
    if output:
        with open(output, "wb") as handle:
            handle.write(data)
    else:
        sys.stdout.buffer.write(data)


@main.command()
@click.argument("topology_file", type=click.Path(exists=True, dir_okay=False))
def check(topology_file: str) -> None:
    """Check TOPOLOGY_FILE: lint codes, Pacemaker's schema and crm_verify."""
    result = _load(topology_file)
    try:
        verdict = pacemaker.verify(result.xml, [n.name for n in result.cib.nodes])
    except pacemaker.ToolError as exc:
        click.echo(str(exc), err=True)
        sys.exit(EXIT_TOOL)
    for message in verdict.messages:
        click.echo(f"crm_verify: {message}", err=True)
    summary = (
        f"{len(result.cib.nodes)} nodes, {len(result.cib.resources)} resources, "
        f"{len(result.cib.constraints)} constraints, "
        f"{len(result.cib.fencing)} fencing levels"
    )
    if result.ok and verdict.ok:
        click.echo(f"ok: {summary}; schema {result.cib.schema} valid; crm_verify clean")
        return
    click.echo(f"problems found: {summary}", err=True)
    sys.exit(EXIT_PROBLEMS)


@main.command()
@click.argument("topology_file", type=click.Path(exists=True, dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
def simulate(topology_file: str, fmt: str) -> None:
    """Show what Pacemaker does when each node (and a pair of nodes) fails."""
    result = _load(topology_file)
    if not result.ok:
        sys.exit(EXIT_PROBLEMS)
    try:
        report = pacemaker.simulate(result.cib, result.xml)
    except pacemaker.ToolError as exc:
        click.echo(str(exc), err=True)
        sys.exit(EXIT_TOOL)
    if fmt == "json":
        click.echo(json.dumps(report.as_dict(), indent=2, sort_keys=True))
    else:
        click.echo(pacemaker.format_text(report), nl=False)


if __name__ == "__main__":
    main()
