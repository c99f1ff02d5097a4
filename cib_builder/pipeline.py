"""topology -> model -> checks -> render -> schema in one call (CLI and tests)."""

from __future__ import annotations

import os
from dataclasses import dataclass

from cib_builder import agents, checks, recipes, render, schema, topology
from cib_builder.model import Cib


@dataclass(frozen=True)
class Build:
    """Everything one build produced."""

    topology: topology.Topology
    cib: Cib
    problems: tuple[checks.Problem, ...]
    xml: bytes
    schema_errors: tuple[str, ...]

    @property
    def ok(self) -> bool:
        """No blocking problem and a schema-valid document."""
        return not checks.errors(list(self.problems)) and not self.schema_errors


def build(path: str | os.PathLike[str]) -> Build:
    """Compile the topology file at ``path``.

    Raises:
        topology.TopologyError: the file is unusable (every problem listed).
    """
    topo = topology.load(path)
    cib = recipes.build(topo)
    problems = tuple(checks.ordered(checks.check(cib) + agents.check_declared(cib)))
    try:
        tree = render.render(cib)
    except render.RenderError as exc:
        # A value the topology let through but no CIB tool can carry.
        raise topology.TopologyError(
            topo.source, (topology.Problem("(render)", str(exc)),)
        ) from None
    return Build(
        topology=topo,
        cib=cib,
        problems=problems,
        xml=render.serialize(tree),
        schema_errors=tuple(schema.validate(tree)),
    )
