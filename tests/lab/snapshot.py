"""Keep what an install replaces, and put it back when the tests are done.

Tests that need hakit where the cluster tools look for it (launchers in
``/usr/lib/ocf/resource.d/hakit/`` and ``/usr/sbin``, ``hakit-cib``, the
library) install into the live system.  A :class:`Snapshot` taken before
records each of those paths: a copy of what was there (files, symlinks and
whole directories, with modes and owners), or that nothing was.
:meth:`Snapshot.restore` then puts every path back as it was: the copies
return, and what did not exist is removed, up to the highest directory the
install created.

The paths come from the installer itself (``install.py --list``), so a new
launcher cannot be forgotten here.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path


def _highest_missing(path: Path) -> Path:
    """``path``, or the highest of its missing parents (what an install creates)."""
    highest = path
    for parent in path.parents:
        if parent.exists() or parent.is_symlink():
            break
        highest = parent
    return highest


def _clone(src: Path, dst: Path) -> None:
    """Copy ``src`` to ``dst`` as it is: symlinks as links, modes, times, owners."""
    info = src.lstat()
    if src.is_symlink():
        os.symlink(os.readlink(src), dst)
    elif src.is_dir():
        dst.mkdir()
        for child in src.iterdir():
            _clone(child, dst / child.name)
        shutil.copystat(src, dst)
    else:
        shutil.copy2(src, dst, follow_symlinks=False)
    if os.geteuid() == 0:
        os.chown(dst, info.st_uid, info.st_gid, follow_symlinks=False)


def _remove(path: Path) -> None:
    """Remove ``path`` whatever it is; nothing if it does not exist."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


class Snapshot:
    """What was at some paths, kept in a private directory until restored."""

    def __init__(self, paths: Iterable[str | Path]) -> None:
        """Copy what is at each of ``paths`` now (absolute paths)."""
        wanted: set[Path] = set()
        for given in paths:
            if not Path(given).is_absolute():
                raise ValueError(f"not an absolute path: {given}")
            wanted.add(_highest_missing(Path(given)))
        self._store = Path(tempfile.mkdtemp(prefix="hakit-snapshot-"))
        self._kept: dict[Path, Path | None] = {}
        for path in sorted(wanted):
            if any(parent in self._kept for parent in path.parents):
                continue  # kept with its directory
            if path.exists() or path.is_symlink():
                copy = self._store / str(len(self._kept))
                _clone(path, copy)
                self._kept[path] = copy
            else:
                self._kept[path] = None

    @property
    def paths(self) -> tuple[Path, ...]:
        """The paths kept (a missing one as its highest missing directory)."""
        return tuple(self._kept)

    def restore(self) -> None:
        """Put every path back as it was and drop the copies.  Runs once."""
        kept, self._kept = self._kept, {}
        for path, copy in kept.items():
            _remove(path)
            if copy is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
                _clone(copy, path)
        shutil.rmtree(self._store, ignore_errors=True)
