"""pytest-benchmark benchmarks of the CIB builder (not part of ``make test``).

    .venv/bin/python -m pytest bench/test_cib_bench.py

The reference topology through ``pipeline.build``, and synthetic models of
``cib_synthetic.SIZES`` through check + render + to_bytes + validate.  These
are benchmarks, not timed tests: they assert that every run produced a valid
CIB, never a duration.  ``bench/cib_bench.py`` prints the same figures as a
table against the targets.
"""

from __future__ import annotations

from typing import Any

import cib_synthetic as cs
import pytest

SIZES = [pytest.param(n, r, id=f"{n}nodes-{r}rsc") for n, r in cs.SIZES]


def test_reference_pipeline(benchmark: Any) -> None:
    benchmark.group = "cib reference topology"
    build = benchmark(cs.run_reference, cs.REFERENCE)
    assert build.ok, (build.problems, build.schema_errors)
    benchmark.extra_info["resources"] = len(build.cib.resources)


@pytest.mark.parametrize(("nodes", "resources"), SIZES)
def test_synthetic(benchmark: Any, nodes: int, resources: int) -> None:
    cib = cs.synthetic_cib(nodes, resources)
    assert len(cib.resources) == resources
    cs.run_synthetic(cib)  # the schema is parsed once per process: not timed
    benchmark.group = "cib synthetic: check + render + to_bytes + validate"
    benchmark.extra_info.update(nodes=nodes, resources=resources)
    outcome = benchmark(cs.run_synthetic, cib)
    assert outcome.ok, (outcome.problems[:3], outcome.schema_errors[:3])
    benchmark.extra_info["xml_bytes"] = len(outcome.xml)
