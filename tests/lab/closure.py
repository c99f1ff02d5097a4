"""The installed files of a Python distribution and of everything it requires.

The lab's fence_hakit_redfish must run as the cluster's user (pacemaker-controld
reads its meta-data as ``hacluster``), but Debian 12 has no python3-redfish and
the project virtualenv that has it may sit where that user cannot go (a
checkout under ``/root`` or in a ``mktemp -d`` directory).  So the lab copies
the DMTF library, with the versions of its dependencies the virtualenv tested,
beside hakit's library: this module says which files those are.

Run by the interpreter whose libraries are wanted, as a script::

    .venv/bin/python tests/lab/closure.py redfish

prints one ``absolute-source<TAB>path-relative-to-its-site-directory`` line a
file.  Requirements behind an extra are left out; one that is not installed
(excluded by its environment marker, as pip decided) is skipped.
"""

from __future__ import annotations

import re
import sys
from importlib import metadata
from pathlib import Path

#: The distribution's name at the start of a requirement (PEP 508).
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def _key(name: str) -> str:
    """The normalised form of a distribution name (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def distributions(name: str) -> list[metadata.Distribution]:
    """``name``'s distribution and those it requires, each once.

    Raises:
        metadata.PackageNotFoundError: ``name`` itself is not installed.
    """
    found = [metadata.distribution(name)]
    seen = {_key(name)}
    todo = list(found)
    while todo:
        for requirement in todo.pop().requires or ():
            if "extra" in requirement.partition(";")[2]:
                continue
            match = _NAME.match(requirement)
            if match is None or _key(match.group()) in seen:
                continue
            seen.add(_key(match.group()))
            try:
                dist = metadata.distribution(match.group())
            except metadata.PackageNotFoundError:
                continue
            found.append(dist)
            todo.append(dist)
    return found


def files(name: str) -> list[tuple[Path, str]]:
    """Every installed file of ``name`` and its requirements: (source, relative).

    Files outside the site directory (console scripts) are left out.

    Raises:
        metadata.PackageNotFoundError: ``name`` is not installed.
        ValueError: a distribution has no file list (no RECORD).
    """
    listed: list[tuple[Path, str]] = []
    for dist in distributions(name):
        if dist.files is None:
            raise ValueError(f"{dist.metadata['Name']} lists no files (no RECORD)")
        for entry in dist.files:
            relative = entry.as_posix()
            if relative.startswith("../") or "__pycache__" in entry.parts:
                continue
            listed.append((Path(str(dist.locate_file(entry))), relative))
    return listed


def main(argv: list[str]) -> int:
    """Print the files of the distribution named in ``argv``."""
    if len(argv) != 1:
        print("usage: closure.py DISTRIBUTION", file=sys.stderr)
        return 2
    try:
        listed = files(argv[0])
    except (metadata.PackageNotFoundError, ValueError) as exc:
        print(f"closure.py: {argv[0]}: {exc or 'not installed'}", file=sys.stderr)
        return 1
    for source, relative in listed:
        print(f"{source}\t{relative}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
