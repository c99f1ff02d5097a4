"""The CIB as plain frozen data: what the recipe builds and the renderer writes.

The model knows nothing of XML or topology files.  Ids are given explicitly for
top-level objects; ids of nested elements (attribute sets, operations) are
derived by the renderer from their parent's id, so the same model always
renders the same document.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Union

Pairs = tuple[tuple[str, str], ...]


class Role(Enum):
    """Resource roles with the Pacemaker 2.1 names."""

    STARTED = "Started"
    STOPPED = "Stopped"
    PROMOTED = "Promoted"
    UNPROMOTED = "Unpromoted"


class Action(Enum):
    """Actions an ordering constraint refers to."""

    START = "start"
    STOP = "stop"
    PROMOTE = "promote"
    DEMOTE = "demote"


class Kind(Enum):
    """How strongly an ordering applies."""

    MANDATORY = "Mandatory"
    OPTIONAL = "Optional"
    SERIALIZE = "Serialize"


INFINITY = "INFINITY"
MINUS_INFINITY = "-INFINITY"

#: Every object hakit generates (resources, constraints, fencing levels and the
#: defaults sets) has an id that starts with this: a load into a live cluster
#: touches only these, and the operator's own objects stay as they are.
OWNED_PREFIX = "hakit-"


def owned(ident: str) -> bool:
    """Tell whether the object with id ``ident`` is one hakit generates."""
    return ident.startswith(OWNED_PREFIX)


def hakit_id(name: str) -> str:
    """The id hakit gives the object it calls ``name``: ``hakit-<name>``."""
    return OWNED_PREFIX + name


@dataclass(frozen=True)
class AgentRef:
    """A resource agent: ``ocf:hakit:galera``, ``systemd:haproxy``, ``stonith:...``."""

    standard: str
    type: str
    provider: str | None = None

    def __str__(self) -> str:
        """The colon notation used by crm and pcs."""
        if self.provider:
            return f"{self.standard}:{self.provider}:{self.type}"
        return f"{self.standard}:{self.type}"


@dataclass(frozen=True)
class Op:
    """An operation of a primitive; ``interval`` and ``timeout`` in seconds."""

    name: str
    interval: int = 0
    timeout: int = 20
    role: Role | None = None
    depth: int | None = None


@dataclass(frozen=True)
class Primitive:
    """A primitive resource, or a stonith device (``agent.standard`` stonith).

    ``origin`` is the topology field the resource comes from
    (``services.galera``, ``nodes[2].bmc``); ``origins`` maps a parameter to
    the field that set it, when that is not ``origin`` itself.  Both serve
    messages only: they are not rendered.
    """

    id: str
    agent: AgentRef
    params: Pairs = ()
    meta: Pairs = ()
    ops: tuple[Op, ...] = ()
    description: str = ""
    origin: str = ""
    origins: Pairs = ()

    def origin_of(self, param: str) -> str:
        """The topology field that set parameter ``param``."""
        return dict(self.origins).get(param, self.origin)


@dataclass(frozen=True)
class Clone:
    """A clone of one primitive; promotable when ``promotable`` is set."""

    id: str
    child: Primitive
    meta: Pairs = ()
    promotable: bool = False

    def meta_value(self, name: str) -> str | None:
        """The value of meta attribute ``name``, if set."""
        return dict(self.meta).get(name)


Resource = Union[Primitive, Clone]  # runtime alias: Python 3.9 has no X | Y


@dataclass(frozen=True)
class ResourceSet:
    """A set of resources inside an order or colocation constraint."""

    resources: tuple[str, ...]
    sequential: bool = True
    require_all: bool = True
    action: Action | None = None
    role: Role | None = None


@dataclass(frozen=True)
class Location:
    """A location preference of one resource for (or against) one node."""

    id: str
    rsc: str
    node: str
    score: str


@dataclass(frozen=True)
class RuleLocation:
    """A preference of one resource for nodes whose attribute equals ``value``.

    The attribute is usually a transient one an agent publishes (a role).
    """

    id: str
    rsc: str
    attribute: str
    value: str
    score: str


@dataclass(frozen=True)
class Order:
    """An ordering constraint over resource sets (in sequence)."""

    id: str
    sets: tuple[ResourceSet, ...]
    kind: Kind = Kind.MANDATORY


@dataclass(frozen=True)
class Colocation:
    """A colocation constraint over resource sets.

    As in Pacemaker, with sets the *last* set is placed first and every
    earlier set is colocated with the one after it.
    """

    id: str
    sets: tuple[ResourceSet, ...]
    score: str = INFINITY


Constraint = Union[Location, RuleLocation, Order, Colocation]


@dataclass(frozen=True)
class FencingLevel:
    """One fencing-topology level: devices tried together for a target node."""

    target: str
    index: int
    devices: tuple[str, ...]

    @property
    def id(self) -> str:
        """The level's id: ``hakit-fl-<target>-<index>``."""
        return hakit_id(f"fl-{self.target}-{self.index}")


@dataclass(frozen=True)
class Node:
    """A cluster node with its corosync node id."""

    name: str
    nodeid: int


@dataclass(frozen=True)
class Cib:
    """The whole configuration section of a CIB."""

    nodes: tuple[Node, ...]
    properties: Pairs
    rsc_defaults: Pairs
    op_defaults: Pairs
    resources: tuple[Resource, ...]
    constraints: tuple[Constraint, ...]
    fencing: tuple[FencingLevel, ...] = ()
    schema: str = "pacemaker-3.9"
    notes: tuple[str, ...] = field(default=())

    def resource_ids(self) -> dict[str, Resource]:
        """Every resource id (clones and their primitives) -> its object."""
        found: dict[str, Resource] = {}
        for rsc in self.resources:
            found[rsc.id] = rsc
            if isinstance(rsc, Clone):
                found[rsc.child.id] = rsc.child
        return found

    def primitives(self) -> tuple[Primitive, ...]:
        """Every primitive, including those inside clones, in order."""
        return tuple(
            rsc.child if isinstance(rsc, Clone) else rsc for rsc in self.resources
        )
