#!/usr/bin/env python3
"""Write or check the golden CIB files (``--write`` writes them)."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "golden" / "cib"


def rendered() -> dict[str, bytes]:
    """The rendered XML of every golden CIB model, by file stem."""
    sys.path.insert(0, str(ROOT))
    from cib_builder import render  # noqa: PLC0415
    from tests.contract.test_render_contract import MODELS  # noqa: PLC0415

    return {name: render.to_bytes(build()) for name, build in MODELS.items()}


def main() -> int:
    """Write the files with --write; otherwise list the ones that differ."""
    sys.path.insert(0, str(ROOT))
    from tests.contract.golden import cli  # noqa: PLC0415

    return cli(__doc__ or "", GOLDEN, rendered())


if __name__ == "__main__":
    sys.exit(main())
