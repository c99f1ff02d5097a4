"""Fence-agent metadata XML, in the format of ClusterLabs fence-agents.

Pacemaker's fencer reads it to learn the parameters and actions.  Aliases are
listed as deprecated parameters (never required) and the canonical name
carries ``obsoletes``, as fence-agents does.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence

from fence_agents._runtime.options import FLAG, Option

TYPE_CHECKING = False  # typing costs start-up time; see STYLE.md section 9
if TYPE_CHECKING:
    from fence_agents._runtime.driver import FenceAgent


def _getopt(opt: Option) -> str:
    value = "" if opt.kind is FLAG else f"=[{opt.metavar}]"
    if opt.short:
        return f"{opt.short}, {opt.long}{value}"
    return f"{opt.long}{value}"


def _parameter(parent: ET.Element, opt: Option, name: str, alias: bool) -> None:
    attrs = {
        "name": name,
        "unique": "0",
        "required": "1" if opt.required and not alias else "0",
    }
    if alias:
        attrs["deprecated"] = "1"
    elif opt.aliases:
        attrs["obsoletes"] = opt.aliases[0]
    element = ET.SubElement(parent, "parameter", attrs)
    ET.SubElement(element, "getopt", {"mixed": _getopt(opt)})
    if opt.kind.choices:
        content = ET.SubElement(element, "content", {"type": "select"})
        if opt.default is not None:
            content.set("default", opt.default)
        for choice in opt.kind.choices:
            ET.SubElement(content, "option", {"value": choice})
    else:
        content = ET.SubElement(element, "content", {"type": opt.kind.ocf_type})
        if opt.default is not None:
            content.set("default", opt.default)
    desc = ET.SubElement(element, "shortdesc", {"lang": "en"})
    desc.text = opt.shortdesc


def render(
    name: str,
    shortdesc: str,
    longdesc: str,
    options: Sequence[Option],
    actions: Sequence[str],
) -> str:
    """The metadata document of a fence agent."""
    root = ET.Element("resource-agent", {"name": name, "shortdesc": shortdesc})
    ET.SubElement(root, "longdesc").text = longdesc
    ET.SubElement(root, "vendor-url").text = ""
    params = ET.SubElement(root, "parameters")
    for opt in options:
        _parameter(params, opt, opt.name, alias=False)
        for alias in opt.aliases:
            _parameter(params, opt, alias, alias=True)
    acts = ET.SubElement(root, "actions")
    for action in actions:
        ET.SubElement(acts, "action", {"name": action})
    ET.indent(root, space="\t")
    return '<?xml version="1.0" ?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def of_agent(agent: FenceAgent) -> str:
    """The metadata document of ``agent``, from its declaration alone."""
    return render(
        agent.name, agent.shortdesc, agent.longdesc, agent.options, agent.actions
    )
