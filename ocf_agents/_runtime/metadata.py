"""Render OCF meta-data XML from an ``AgentSpec``.

The output satisfies both ``ra-api-1.dtd`` (what ``ocf-tester`` checks through
the DOCTYPE line) and resource-agents' OCF 1.1 ``metadata.rng``.  The DTD knows
neither ``reloadable``, ``unique-group`` nor ``deprecated``; those facts stay in
the declaration and are described in the long description instead.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from ocf_agents._runtime.spec import Action, AgentSpec, Param

DOCTYPE = '<!DOCTYPE resource-agent SYSTEM "ra-api-1.dtd">'


def _desc(parent: ET.Element, tag: str, text: str) -> None:
    element = ET.SubElement(parent, tag, {"lang": "en"})
    element.text = text


def _value_note(param: Param) -> str:
    """``Integer, default 5.``: the content facts, as a sentence."""
    kind = param.kind.ocf_type.capitalize()
    if param.default is None:
        return f"{kind}, not set by default."
    return f"{kind}, default {param.default or '(empty)'}."


def _param_longdesc(param: Param) -> str:
    """The long description, never equal to the short one.

    crmsh (``crm ra info``) shows no title for a parameter whose short and
    long descriptions are equal, so a parameter declared without a longdesc
    gets its shortdesc as a sentence followed by its type and default.
    """
    text = param.longdesc
    notes = []
    if not text:
        text = param.shortdesc.rstrip(".") + "."
        notes.append(_value_note(param))
    if param.kind.choices:
        notes.append("Allowed values: " + ", ".join(param.kind.choices) + ".")
    if param.reloadable:
        notes.append("Changing it does not require a restart.")
    if param.replaces:
        notes.append(f"Replaces the deprecated parameter {param.replaces}.")
    if param.secret:
        notes.append("The value is never logged.")
    return " ".join([text, *notes]) if notes else text


def _param(parent: ET.Element, param: Param) -> None:
    attrs = {
        "name": param.name,
        "unique": "1" if param.unique else "0",
        "required": "1" if param.required else "0",
    }
    element = ET.SubElement(parent, "parameter", attrs)
    _desc(element, "longdesc", _param_longdesc(param))
    _desc(element, "shortdesc", param.shortdesc)
    content = {"type": param.kind.ocf_type}
    if param.default is not None:
        content["default"] = param.default
    ET.SubElement(element, "content", content)


def _action(parent: ET.Element, action: Action) -> None:
    attrs = {"name": action.name, "timeout": f"{action.timeout}s"}
    if action.interval is not None:
        attrs["interval"] = f"{action.interval}s"
    if action.depth is not None:
        attrs["depth"] = str(action.depth)
    if action.role is not None:
        attrs["role"] = action.role
    ET.SubElement(parent, "action", attrs)


def render(spec: AgentSpec) -> str:
    """Return the meta-data document of ``spec``, with XML declaration and DOCTYPE."""
    root = ET.Element("resource-agent", {"name": spec.name, "version": spec.version})
    ET.SubElement(root, "version").text = "1.1"
    _desc(root, "longdesc", spec.longdesc)
    _desc(root, "shortdesc", spec.shortdesc)
    params = ET.SubElement(root, "parameters")
    for param in spec.params:
        _param(params, param)
    actions = ET.SubElement(root, "actions")
    for action in spec.actions:
        _action(actions, action)
    ET.indent(root, space="  ")
    body = ET.tostring(root, encoding="unicode")
    return f'<?xml version="1.0"?>\n{DOCTYPE}\n{body}\n'
