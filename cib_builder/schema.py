"""Validate a CIB against the Pacemaker RelaxNG schema it names.

The schema is the one in the document's ``validate-with`` attribute, read from
Pacemaker's installed schema directory (``/usr/share/pacemaker/<name>.rng``,
which includes its sibling files).  Schemas are loaded on first use and cached
per file.  RelaxNG is a backstop with terse messages: :mod:`cib_builder.checks`
catches ordinary mistakes first.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

from lxml import etree

from cib_builder import render

#: Where Pacemaker installs its schemas (package pacemaker-schemas on Debian).
SCHEMA_DIR = Path("/usr/share/pacemaker")

#: The names ``validate-with`` may take that have a schema file of their own.
_NAME = re.compile(r"pacemaker-(?:\d+\.\d+|next)\Z")


class SchemaError(Exception):
    """Base class of schema problems that are not validation findings."""


class SchemaNotFoundError(SchemaError):
    """The schema a document names is not installed (or is no schema name)."""


def version_key(name: str) -> tuple[float, ...]:
    """Sort key: numeric version, ``pacemaker-next`` last."""
    tail = name.split("-", 1)[1]
    if tail == "next":
        return (float("inf"),)
    return tuple(float(part) for part in tail.split("."))


def available_schemas(schema_dir: Path | None = None) -> list[str]:
    """Names of the installed schemas, oldest first (``pacemaker-next`` last)."""
    folder = schema_dir or SCHEMA_DIR
    names = [path.stem for path in folder.glob("pacemaker-*.rng")]
    return sorted((name for name in names if _NAME.match(name)), key=version_key)


@functools.cache
def _load(path: str) -> etree.RelaxNG:
    """Parse the schema at ``path`` (once: the result is cached per path)."""
    return etree.RelaxNG(etree.parse(path))


def schema_path(name: str, schema_dir: Path | None = None) -> Path:
    """The file of schema ``name``.

    Raises:
        SchemaNotFoundError: ``name`` is no schema name or is not installed.
    """
    folder = schema_dir or SCHEMA_DIR
    path = folder / f"{name}.rng"
    if not _NAME.match(name) or not path.is_file():
        installed = ", ".join(available_schemas(folder)) or "none"
        raise SchemaNotFoundError(
            f"schema {name!r} is not installed in {folder} (installed: {installed})"
        )
    return path


def validate(tree: etree._Element, schema_dir: Path | None = None) -> list[str]:
    """Validate a CIB document against the schema named by its ``validate-with``.

    A tree built in memory has no line numbers, so it is validated as the text
    :func:`cib_builder.render.serialize` writes: lines then refer to that file.

    Args:
        tree: the ``<cib>`` element or an element tree holding it.
        schema_dir: where the schemas are; Pacemaker's directory by default.

    Returns:
        One ``line N: message`` entry per schema error (just the message when
        libxml2 knows no line, as for IDREF errors); empty when valid.

    Raises:
        SchemaNotFoundError: the document names no schema, or one that is not
            installed.
    """
    root = tree.getroot() if isinstance(tree, etree._ElementTree) else tree
    name = root.get("validate-with")
    if not name:
        raise SchemaNotFoundError("the document has no validate-with attribute")
    rng = _load(str(schema_path(name, schema_dir)))
    if root.sourceline is None:
        root = etree.fromstring(render.serialize(root))
    if rng.validate(root):
        return []
    return [
        f"line {error.line}: {error.message}" if error.line > 0 else error.message
        for error in rng.error_log
    ]
