"""Only agents that exist, only parameters they declare (HK501-HK506).

A CIB that names an agent the controllers do not have, or a parameter the
agent does not know, loads and then fails on every node.  These checks run
before anything is written:

- hakit's own agents (``ocf:hakit:*``, ``stonith:fence_hakit_*``) are checked
  against their declarations, the same ones that produce their meta-data and
  parse their input: exact, and offline (:func:`check_declared`);
- agents of other providers (``ocf:heartbeat:IPaddr2``, ``systemd:haproxy``)
  against what the building machine knows of them, through a lookup that
  :mod:`cib_builder.pacemaker` implements with ``crm_resource
  --show-metadata`` (:func:`check_installed`).  An agent the machine cannot
  tell about is a warning; one whose provider is installed without it is an
  error.

Codes:
    HK501 error    an ``ocf:hakit``/``fence_hakit`` agent hakit does not ship
    HK502 error    a parameter the agent does not declare
    HK503 error    a value the parameter does not accept (or a secret)
    HK504 error    a required parameter is missing
    HK505 error    an agent known not to exist (its provider is installed
                   on this machine without it)
    HK506 warning  an agent that could not be checked on this machine
"""

from __future__ import annotations

import difflib
import functools
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cib_builder.checks import ERROR, WARNING, Problem
from cib_builder.model import AgentRef, Cib, Primitive
from ha_common import kinds

if TYPE_CHECKING:
    from ocf_agents._runtime.spec import Param

PROVIDER = "hakit"
#: Pacemaker's own fencing parameters (``pcmk_host_list``...), valid on every
#: stonith device and checked by the fencer, not by the agent.
PACEMAKER_FENCING_PREFIX = "pcmk_"


@dataclass(frozen=True)
class Parameter:
    """What an agent declares about one parameter."""

    name: str
    required: bool = False
    secret: bool = False
    convert: Callable[[str], object] | None = None


@dataclass(frozen=True)
class Declaration:
    """The parameters an agent accepts; ``aliases`` maps old names to new."""

    params: tuple[Parameter, ...]
    aliases: tuple[tuple[str, str], ...] = ()

    def find(self, name: str) -> Parameter | None:
        """The parameter called ``name`` (or an alias of it)."""
        name = dict(self.aliases).get(name, name)
        for param in self.params:
            if param.name == name:
                return param
        return None


@dataclass(frozen=True)
class Found:
    """The building machine has the agent, and this is what it declares."""

    declaration: Declaration


@dataclass(frozen=True)
class Missing:
    """The building machine does not have the agent.

    ``known`` is set when that proves the agent does not exist (its provider
    is installed here without it), not merely that it is not installed.
    """

    reason: str
    known: bool = False


Lookup = Callable[[AgentRef], "Found | Missing"]


class UnknownAgentError(LookupError):
    """A hakit agent name that hakit does not ship."""


def is_hakit(agent: AgentRef) -> bool:
    """Tell whether ``agent`` is one of hakit's own (OCF or fence)."""
    if agent.standard == "ocf":
        return agent.provider == PROVIDER
    return agent.standard == "stonith" and agent.type.startswith("fence_hakit_")


def _convert(param: Param, value: str) -> object:
    """Convert and check ``value`` exactly as the agent will."""
    converted = param.kind.convert(value)
    if param.check is not None:
        param.check(converted)
    return converted


def _ocf_declaration(name: str) -> Declaration:
    from ocf_agents._runtime import registry  # noqa: PLC0415

    if not registry.exists(name):
        raise UnknownAgentError(", ".join(registry.names()))
    spec = registry.spec(name)
    params = tuple(
        Parameter(p.name, p.required, p.secret, functools.partial(_convert, p))
        for p in spec.params
    )
    aliases = tuple((p.replaces, p.name) for p in spec.params if p.replaces)
    return Declaration(params, aliases)


def _fence_declaration(name: str) -> Declaration:
    from fence_agents import registry  # noqa: PLC0415

    if not registry.exists(name):
        raise UnknownAgentError(", ".join(registry.names()))
    options = registry.agent(name).options
    params = tuple(
        Parameter(opt.name, opt.required, opt.secret, opt.kind.convert)
        for opt in options
    )
    aliases = tuple((alias, opt.name) for opt in options for alias in opt.aliases)
    return Declaration(params, aliases)


def hakit_declaration(agent: AgentRef) -> Declaration:
    """The declaration of one of hakit's agents.

    Raises:
        UnknownAgentError: hakit ships no such agent; the message lists the
            ones it ships.
    """
    if agent.standard == "ocf":
        return _ocf_declaration(agent.type)
    return _fence_declaration(agent.type)


def _ocf_boolean(value: str) -> object:
    return kinds.to_bool(value)


def _ocf_integer(value: str) -> object:
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"{value!r} is not an integer") from None


_CONTENT = {"integer": _ocf_integer, "boolean": _ocf_boolean}


def parse_metadata(text: str) -> Declaration:
    """The parameters an OCF or fence agent's meta-data announces.

    Raises:
        ValueError: the text is not an agent's meta-data.
    """
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise ValueError(f"meta-data is not XML: {exc}") from None
    if root.tag != "resource-agent":
        raise ValueError(f"meta-data root is <{root.tag}>, not <resource-agent>")
    params = []
    for elem in root.iterfind("parameters/parameter"):
        content = elem.find("content")
        kind = content.get("type", "string") if content is not None else "string"
        params.append(
            Parameter(
                elem.get("name", ""),
                required=elem.get("required") == "1",
                convert=_CONTENT.get(kind),
            )
        )
    return Declaration(tuple(params))


def _problem(code: str, prim: Primitive, field: str, message: str) -> Problem:
    severity = WARNING if code == "HK506" else ERROR
    return Problem(code, severity, prim.id, message, field or prim.origin)


def check_params(prim: Primitive, declaration: Declaration) -> list[Problem]:
    """HK502-HK504: ``prim``'s parameters against ``declaration``."""
    problems = []
    names = [param.name for param in declaration.params]
    given = set()
    for name, value in prim.params:
        field = prim.origin_of(name)
        param = declaration.find(name)
        if param is None:
            if prim.agent.standard == "stonith" and name.startswith(
                PACEMAKER_FENCING_PREFIX
            ):
                continue
            close = difflib.get_close_matches(name, names, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            if not names:
                hint = "; it takes no parameters"
            problems.append(
                _problem(
                    "HK502",
                    prim,
                    field,
                    f"{prim.agent} has no parameter {name!r}{hint}",
                )
            )
            continue
        given.add(param.name)
        if param.secret:
            problems.append(
                _problem(
                    "HK503",
                    prim,
                    field,
                    f"{name} is a secret: everyone who can read the CIB would "
                    "see it; use the agent's file or script parameter",
                )
            )
        elif param.convert is not None:
            try:
                param.convert(value)
            except ValueError as exc:
                problems.append(
                    _problem("HK503", prim, field, f"{name}={value!r}: {exc}")
                )
    for param in declaration.params:
        if param.required and param.name not in given:
            problems.append(
                _problem(
                    "HK504",
                    prim,
                    "",
                    f"{prim.agent} requires parameter {param.name!r}",
                )
            )
    return problems


def check_declared(cib: Cib) -> list[Problem]:
    """HK501-HK504 for every primitive that names one of hakit's agents."""
    problems = []
    for prim in cib.primitives():
        if not is_hakit(prim.agent):
            continue
        try:
            declaration = hakit_declaration(prim.agent)
        except UnknownAgentError as exc:
            problems.append(
                _problem(
                    "HK501",
                    prim,
                    "",
                    f"{prim.agent}: hakit ships no such agent (it ships: {exc})",
                )
            )
            continue
        problems.extend(check_params(prim, declaration))
    return problems


def check_installed(cib: Cib, lookup: Lookup) -> list[Problem]:
    """HK502-HK506 for every primitive of another provider, through ``lookup``.

    Each agent is looked up once, however many resources use it.
    """
    problems = []
    seen: dict[AgentRef, Found | Missing] = {}
    for prim in cib.primitives():
        if is_hakit(prim.agent):
            continue
        if prim.agent not in seen:
            seen[prim.agent] = lookup(prim.agent)
        answer = seen[prim.agent]
        if isinstance(answer, Found):
            problems.extend(check_params(prim, answer.declaration))
        elif answer.known:
            problems.append(
                _problem("HK505", prim, "", f"{prim.agent}: {answer.reason}")
            )
        else:
            problems.append(
                _problem(
                    "HK506",
                    prim,
                    "",
                    f"{prim.agent} not checked: {answer.reason}",
                )
            )
    return problems
