#!/usr/bin/env python3
"""Write or check the golden CIB files (``--write`` writes them)."""

from __future__ import annotations

import argparse
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
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    stale = []
    GOLDEN.mkdir(parents=True, exist_ok=True)
    documents = rendered()
    for name, data in documents.items():
        path = GOLDEN / f"{name}.xml"
        if args.write:
            path.write_bytes(data)
        elif not path.exists() or path.read_bytes() != data:
            stale.append(name)
    if args.write:
        print(f"wrote {len(documents)} files in {GOLDEN}")
    for name in stale:
        print(f"stale: {name}")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
