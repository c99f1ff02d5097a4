"""Render a CIB model as Pacemaker XML or as crm shell text.

This is the only module of the CIB builder that writes XML.  Rendering is a pure
function of the model: ids of nested elements derive from their parent's id and
their own fields, elements keep declaration order, and nothing depends on time,
host or counters, so the same model always renders byte-identical output.

Id scheme (``p`` is a resource id, ``o`` an operation id, ``c`` a constraint id):

- ``p-instance_attributes`` / ``p-instance_attributes-<name>``: parameters;
- ``p-meta_attributes`` / ``p-meta_attributes-<name>``: meta attributes
  (primitives and clones alike);
- ``o = p-<op>-interval-<n>s``, plus ``-role-<Role>`` when the op names a role;
  ``o-instance_attributes-OCF_CHECK_LEVEL`` carries the op's ``depth``;
- ``c-set-<n>``: the n-th resource set of a constraint, counted from 1;
- ``hakit-fl-<target>-<index>``: fencing levels;
- ``cib-bootstrap-options-<name>``: cluster options, in Pacemaker's own set
  (the one ``crm_attribute`` and ``pcs property`` write, which Pacemaker reads
  first);
- ``hakit-rsc_defaults-<name>`` and ``hakit-op_defaults-<name>``: defaults.

Top-level ids the model gives start with ``hakit-`` (see
:data:`cib_builder.model.OWNED_PREFIX`); the ids made here follow suit.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable, Mapping

from lxml import etree

from cib_builder.model import (
    Cib,
    Clone,
    Constraint,
    FencingLevel,
    Location,
    Op,
    Order,
    Pairs,
    Primitive,
    ResourceSet,
    RuleLocation,
    hakit_id,
)

BOOTSTRAP_ID = "cib-bootstrap-options"
RSC_DEFAULTS_ID = hakit_id("rsc_defaults")
OP_DEFAULTS_ID = hakit_id("op_defaults")
CHECK_LEVEL = "OCF_CHECK_LEVEL"

_CONTINUE = " \\\n\t"
#: crmsh reads ``name=value`` tokens: a bare value may not hold shell syntax.
_BARE_VALUE = re.compile(r"[A-Za-z0-9_@%+=:,./-]+\Z")
#: What crmsh 4.4 cannot load back unchanged: it splits statements at line
#: breaks, expands tabs, and re-quotes values in double quotes internally, where
#: a backslash before a double quote or at the end is read as an escape.
_CRM_UNSAFE = re.compile(r'[\n\r\t]|\\"|\\\Z')
_CRM_UNSAFE_WHY = 'line break, tab, \\" or a final backslash'


class RenderError(ValueError):
    """The model holds a value that the requested syntax cannot carry."""


# --------------------------------------------------------------------------- XML


def _element(
    parent: etree._Element | None, tag: str, attrs: Mapping[str, str] | None = None
) -> etree._Element:
    """Create ``tag`` (under ``parent``) with ``attrs`` in the given order."""
    elem = etree.Element(tag) if parent is None else etree.SubElement(parent, tag)
    attrs = attrs or {}
    for name, value in attrs.items():
        try:
            elem.set(name, value)
        except ValueError as exc:
            owner = attrs.get("id", tag)
            raise RenderError(f"{owner}: {name} is not XML text: {value!r}") from exc
    return elem


def _nvset(
    parent: etree._Element, tag: str, set_id: str, pairs: Pairs
) -> etree._Element:
    """Append an nvpair set ``set_id`` whose pairs get ids ``<set_id>-<name>``."""
    nvset = _element(parent, tag, {"id": set_id})
    for name, value in pairs:
        _element(
            nvset, "nvpair", {"id": f"{set_id}-{name}", "name": name, "value": value}
        )
    return nvset


def op_id(owner: str, op: Op) -> str:
    """Id of operation ``op`` of resource ``owner``."""
    base = f"{owner}-{op.name}-interval-{op.interval}s"
    return f"{base}-role-{op.role.value}" if op.role else base


def _op(parent: etree._Element, owner: str, op: Op) -> None:
    ident = op_id(owner, op)
    attrs = {
        "id": ident,
        "name": op.name,
        "interval": f"{op.interval}s",
        "timeout": f"{op.timeout}s",
    }
    if op.role:
        attrs["role"] = op.role.value
    elem = _element(parent, "op", attrs)
    if op.depth is not None:
        pairs = ((CHECK_LEVEL, str(op.depth)),)
        _nvset(elem, "instance_attributes", f"{ident}-instance_attributes", pairs)


def _primitive(parent: etree._Element, rsc: Primitive) -> None:
    attrs = {"id": rsc.id, "class": rsc.agent.standard}
    if rsc.agent.provider:
        attrs["provider"] = rsc.agent.provider
    attrs["type"] = rsc.agent.type
    if rsc.description:
        attrs["description"] = rsc.description
    elem = _element(parent, "primitive", attrs)
    if rsc.params:
        _nvset(elem, "instance_attributes", f"{rsc.id}-instance_attributes", rsc.params)
    if rsc.meta:
        _nvset(elem, "meta_attributes", f"{rsc.id}-meta_attributes", rsc.meta)
    if rsc.ops:
        operations = _element(elem, "operations")
        for op in rsc.ops:
            _op(operations, rsc.id, op)


def clone_meta(clone: Clone) -> Pairs:
    """Meta attributes of ``clone`` as rendered.

    The ``promotable`` flag wins over a ``promotable`` meta attribute: its value
    becomes ``true`` in place, or the pair is put first when missing.
    """
    if not clone.promotable:
        return clone.meta
    if clone.meta_value("promotable") is None:
        return (("promotable", "true"), *clone.meta)
    return tuple(
        (name, "true" if name == "promotable" else value) for name, value in clone.meta
    )


def _clone(parent: etree._Element, clone: Clone) -> None:
    # Meta attributes first, as crmsh stores a clone: a CIB loaded with
    # `crm configure load` then equals the rendered one, and a patch built
    # against it is empty when nothing changed.
    elem = _element(parent, "clone", {"id": clone.id})
    meta = clone_meta(clone)
    if meta:
        _nvset(elem, "meta_attributes", f"{clone.id}-meta_attributes", meta)
    _primitive(elem, clone.child)


def _resource_set(parent: etree._Element, set_id: str, rset: ResourceSet) -> None:
    attrs = {"id": set_id}
    if not rset.sequential:
        attrs["sequential"] = "false"
    if not rset.require_all:
        attrs["require-all"] = "false"
    if rset.action:
        attrs["action"] = rset.action.value
    if rset.role:
        attrs["role"] = rset.role.value
    elem = _element(parent, "resource_set", attrs)
    for rsc in rset.resources:
        _element(elem, "resource_ref", {"id": rsc})


def _constraint(parent: etree._Element, con: Constraint) -> None:
    if isinstance(con, Location):
        attrs = {"id": con.id, "rsc": con.rsc, "score": con.score, "node": con.node}
        _element(parent, "rsc_location", attrs)
        return
    if isinstance(con, RuleLocation):
        elem = _element(parent, "rsc_location", {"id": con.id, "rsc": con.rsc})
        rule = _element(elem, "rule", {"id": f"{con.id}-rule", "score": con.score})
        _element(
            rule,
            "expression",
            {
                "id": f"{con.id}-rule-expr",
                "attribute": con.attribute,
                "operation": "eq",
                "value": con.value,
                "type": "string",
            },
        )
        return
    if isinstance(con, Order):
        elem = _element(parent, "rsc_order", {"id": con.id, "kind": con.kind.value})
    else:
        elem = _element(parent, "rsc_colocation", {"id": con.id, "score": con.score})
    for position, rset in enumerate(con.sets, start=1):
        _resource_set(elem, f"{con.id}-set-{position}", rset)


def fencing_level_id(level: FencingLevel) -> str:
    """Id of a fencing level: ``hakit-fl-<target>-<index>``."""
    return level.id


def render(cib: Cib) -> etree._Element:
    """Render the whole CIB document: configuration and an empty status.

    Raises:
        RenderError: a value cannot be stored in XML (control characters).
    """
    root = _element(
        None,
        "cib",
        {
            "validate-with": cib.schema,
            # No crm_feature_set: the cluster fills in its own.  A value newer
            # than the installed Pacemaker makes crm_simulate abort.
            "epoch": "1",
            "num_updates": "0",
            "admin_epoch": "0",
        },
    )
    config = _element(root, "configuration")
    crm_config = _element(config, "crm_config")
    _nvset(crm_config, "cluster_property_set", BOOTSTRAP_ID, cib.properties)
    nodes = _element(config, "nodes")
    for node in cib.nodes:
        _element(nodes, "node", {"id": str(node.nodeid), "uname": node.name})
    resources = _element(config, "resources")
    for rsc in cib.resources:
        if isinstance(rsc, Clone):
            _clone(resources, rsc)
        else:
            _primitive(resources, rsc)
    constraints = _element(config, "constraints")
    for con in cib.constraints:
        _constraint(constraints, con)
    if cib.fencing:
        topology = _element(config, "fencing-topology")
        for level in cib.fencing:
            attrs = {
                "id": fencing_level_id(level),
                "target": level.target,
                "index": str(level.index),
                "devices": ",".join(level.devices),
            }
            _element(topology, "fencing-level", attrs)
    if cib.rsc_defaults:
        defaults = _element(config, "rsc_defaults")
        _nvset(defaults, "meta_attributes", RSC_DEFAULTS_ID, cib.rsc_defaults)
    if cib.op_defaults:
        defaults = _element(config, "op_defaults")
        _nvset(defaults, "meta_attributes", OP_DEFAULTS_ID, cib.op_defaults)
    _element(root, "status")
    return root


def serialize(tree: etree._Element) -> bytes:
    """Pretty-print ``tree`` as UTF-8 with a final newline and no XML declaration.

    crmsh 4.4 (``crm configure load xml``) refuses a document whose
    declaration names an encoding, and UTF-8 needs no declaration.
    """
    body: bytes = etree.tostring(tree, pretty_print=True, encoding="UTF-8")
    if body.startswith(b"<?xml"):
        body = body.split(b"\n", 1)[1]
    return body


def to_bytes(cib: Cib) -> bytes:
    """Render ``cib`` as the bytes of a CIB file."""
    return serialize(render(cib))


# --------------------------------------------------------------------- crm shell


def _value(value: str) -> str:
    """Quote ``value`` for crmsh, which splits a statement like a POSIX shell.

    Raises:
        RenderError: crmsh 4.4 cannot read the value back unchanged.
    """
    if _CRM_UNSAFE.search(value):
        raise RenderError(f"crm syntax cannot carry {value!r}: {_CRM_UNSAFE_WHY}")
    if not value.isascii():
        raise RenderError(f"crmsh rewrites non-ASCII text as &#...; in {value!r}")
    return value if _BARE_VALUE.match(value) else shlex.quote(value)


def _pairs(pairs: Pairs) -> str:
    return " ".join(f"{name}={_value(value)}" for name, value in pairs)


def _crm_op(owner: str, op: Op) -> str:
    words = [
        f"op {op.name}",
        f"interval={op.interval}s",
        f"timeout={op.timeout}s",
    ]
    if op.role:
        words.append(f"role={op.role.value}")
    words.append(f"id={op_id(owner, op)}")
    if op.depth is not None:
        words.append(f"{CHECK_LEVEL}={op.depth}")
    return " ".join(words)


def _crm_primitive(rsc: Primitive) -> str:
    head = f"primitive {rsc.id} {rsc.agent}"
    if rsc.description:
        head += f" description={_value(rsc.description)}"
    parts = [head]
    if rsc.params:
        parts.append(f"params {_pairs(rsc.params)}")
    if rsc.meta:
        parts.append(f"meta {_pairs(rsc.meta)}")
    parts.extend(_crm_op(rsc.id, op) for op in rsc.ops)
    return _CONTINUE.join(parts)


def _crm_clone(clone: Clone) -> str:
    text = f"clone {clone.id} {clone.child.id}"
    meta = clone_meta(clone)
    return f"{text}{_CONTINUE}meta {_pairs(meta)}" if meta else text


def _crm_sets(sets: Iterable[ResourceSet], qualifier: str) -> str:
    """Resource sets in crm syntax, one crm set per model set.

    crmsh merges neighbouring plain (sequential, require-all) sets with the same
    action or role into one set, which changes a colocation's meaning; such a
    second set is written ``( ... sequential=true )`` to keep it apart.  Two
    plain resources alone would parse as a simple constraint, so crmsh's own
    ``_rsc_set_`` marker keeps them a set.
    """
    words: list[str] = []
    previous: str | None = None  # qualifier of the previous set when it was plain
    for rset in sets:
        attr = rset.action if qualifier == "action" else rset.role
        suffix = f":{attr.value}" if attr else ""
        refs = [f"{rsc}{suffix}" for rsc in rset.resources]
        plain = rset.sequential and rset.require_all
        if not rset.require_all:
            tail = ["sequential=true"] if rset.sequential else []
            words += ["[", *refs, *tail, "]"]
        elif not rset.sequential:
            words += ["(", *refs, ")"]
        elif previous == suffix:
            words += ["(", *refs, "sequential=true", ")"]
        else:
            words += refs
        previous = suffix if plain else None
    if len(words) == 2:  # noqa: PLR2004 -- crmsh reads two words as rsc + with-rsc
        words.insert(0, "_rsc_set_")
    return " ".join(words)


def _crm_constraint(con: Constraint) -> str:
    if isinstance(con, Location):
        return f"location {con.id} {con.rsc} {con.score}: {con.node}"
    if isinstance(con, RuleLocation):
        return (
            f"location {con.id} {con.rsc} rule {con.score}: "
            f"{con.attribute} eq {con.value}"
        )
    if isinstance(con, Order):
        return f"order {con.id} {con.kind.value}: {_crm_sets(con.sets, 'action')}"
    return f"colocation {con.id} {con.score}: {_crm_sets(con.sets, 'role')}"


def _crm_fencing(levels: tuple[FencingLevel, ...]) -> str:
    """``fencing_topology``: crmsh numbers each target's levels 1, 2, ... in order."""
    by_target: dict[str, list[FencingLevel]] = {}
    for level in levels:
        by_target.setdefault(level.target, []).append(level)
    parts = ["fencing_topology"]
    for target, found in by_target.items():
        ordered = sorted(found, key=lambda level: level.index)
        parts.append(f"{target}: " + " ".join(",".join(lv.devices) for lv in ordered))
    return _CONTINUE.join(parts)


def _crm_nvset(keyword: str, set_id: str, pairs: Pairs) -> str:
    return _CONTINUE.join(
        [f"{keyword} {set_id}:", *(f"{n}={_value(v)}" for n, v in pairs)]
    )


def render_crm(cib: Cib) -> str:
    """Render the configuration as crm shell text for ``crm configure load``.

    Object ids, parameter, meta and operation ids match :func:`render`; crmsh
    names resource sets and fencing levels itself and numbers fencing levels
    by position.

    Raises:
        RenderError: a value cannot be written in crm syntax.
    """
    statements = [f"node {node.nodeid}: {node.name}" for node in cib.nodes]
    for rsc in cib.resources:
        if isinstance(rsc, Clone):
            statements += [_crm_primitive(rsc.child), _crm_clone(rsc)]
        else:
            statements.append(_crm_primitive(rsc))
    statements += [_crm_constraint(con) for con in cib.constraints]
    if cib.fencing:
        statements.append(_crm_fencing(cib.fencing))
    if cib.properties:
        statements.append(_crm_nvset("property", BOOTSTRAP_ID, cib.properties))
    if cib.rsc_defaults:
        statements.append(_crm_nvset("rsc_defaults", RSC_DEFAULTS_ID, cib.rsc_defaults))
    if cib.op_defaults:
        statements.append(_crm_nvset("op_defaults", OP_DEFAULTS_ID, cib.op_defaults))
    return "".join(f"{statement}\n" for statement in statements)
