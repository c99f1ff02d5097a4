#!/usr/bin/env python3
"""Write or check the golden meta-data files (``make golden`` writes them)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "golden" / "ocf"
FENCE_GOLDEN = ROOT / "tests" / "golden" / "fence"


def rendered() -> dict[str, str]:
    """Meta-data of every registered agent, by agent name."""
    sys.path.insert(0, str(ROOT))
    from ocf_agents._runtime import metadata, registry  # noqa: PLC0415

    return {name: metadata.render(registry.spec(name)) for name in registry.names()}


def fence_rendered() -> dict[str, str]:
    """Metadata of every fence agent hakit ships, by agent name."""
    sys.path.insert(0, str(ROOT))
    from fence_agents import registry  # noqa: PLC0415
    from fence_agents._runtime import metadata  # noqa: PLC0415

    return {name: metadata.of_agent(registry.agent(name)) for name in registry.names()}


def sync(directory: Path, documents: dict[str, bytes], write: bool) -> int:
    """Write ``documents`` as ``<name>.xml`` or list those that differ (exit 1)."""
    stale = []
    directory.mkdir(parents=True, exist_ok=True)
    for name, data in documents.items():
        path = directory / f"{name}.xml"
        if write:
            path.write_bytes(data)
        elif not path.exists() or path.read_bytes() != data:
            stale.append(name)
    if write:
        print(f"wrote {len(documents)} files in {directory}")
    for name in stale:
        print(f"stale: {name}")
    return 1 if stale else 0


def cli(description: str, directory: Path, documents: dict[str, bytes]) -> int:
    """The ``--write`` command line both golden scripts share."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    return sync(directory, documents, args.write)


def main() -> int:
    """Write the files with --write; otherwise list the ones that differ.

    Both families: the OCF agents' meta-data and the fence agents' metadata.
    """
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    stale = 0
    for directory, documents in (
        (GOLDEN, rendered()),
        (FENCE_GOLDEN, fence_rendered()),
    ):
        encoded = {name: text.encode() for name, text in documents.items()}
        stale |= sync(directory, encoded, args.write)
    return stale


if __name__ == "__main__":
    sys.exit(main())
