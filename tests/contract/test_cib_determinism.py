"""``hakit-cib build`` writes the same bytes in every fresh process.

Within one process, dict and set order is fixed, so building twice there
proves little: string hashing is seeded per process, and an iteration over a
set of names would reorder the CIB from one run to the next.  Each build here
runs in its own interpreter with another ``PYTHONHASHSEED``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "opnfv-3-controllers.toml"
SEEDS = ("1", "2", "4242")


def build_in_fresh_process(seed: str, *options: str) -> bytes:
    """Run ``hakit-cib build EXAMPLE`` under ``PYTHONHASHSEED=seed``."""
    env = {
        "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
        "PYTHONHASHSEED": seed,
        "PYTHONPATH": str(ROOT),
        "LANG": "C.UTF-8",
    }
    code = "import sys; from cib_builder.cli import main; sys.exit(main())"
    done = subprocess.run(
        [sys.executable, "-c", code, "build", str(EXAMPLE), *options],
        env=env,
        capture_output=True,
        timeout=120,
        check=False,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr.decode()
    assert done.stdout
    return done.stdout


@pytest.mark.parametrize("fmt", ["xml", "crm"])
def test_build_is_byte_identical_across_hash_seeds(fmt):
    outputs = {seed: build_in_fresh_process(seed, "--format", fmt) for seed in SEEDS}
    assert len(set(outputs.values())) == 1, f"outputs differ between seeds {SEEDS}"


def test_fresh_process_matches_the_in_process_build():
    from cib_builder import pipeline  # noqa: PLC0415

    assert build_in_fresh_process(SEEDS[0]) == pipeline.build(EXAMPLE).xml
