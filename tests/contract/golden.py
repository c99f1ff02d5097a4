#!/usr/bin/env python3
"""Write or check the golden meta-data files (``make golden`` writes them)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "golden" / "ocf"


def rendered() -> dict[str, str]:
    """Meta-data of every registered agent, by agent name."""
    sys.path.insert(0, str(ROOT))
    from ocf_agents._runtime import metadata, registry  # noqa: PLC0415

    return {name: metadata.render(registry.spec(name)) for name in registry.names()}


def main() -> int:
    """Write the files with --write; otherwise list the ones that differ."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    stale = []
    GOLDEN.mkdir(parents=True, exist_ok=True)
    for name, text in rendered().items():
        path = GOLDEN / f"{name}.xml"
        if args.write:
            path.write_text(text)
        elif not path.exists() or path.read_text() != text:
            stale.append(name)
    if args.write:
        print(f"wrote {len(rendered())} files in {GOLDEN}")
    for name in stale:
        print(f"stale: {name}")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
