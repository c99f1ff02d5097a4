"""Coded problems found in a CIB model before it is rendered.

Every check returns ``Problem`` values with a stable code; ``check`` runs them
all and never stops at the first.  RelaxNG validation and ``crm_verify`` run
later as backstops; these checks catch ordinary mistakes with a clear message
and the cluster-level rules that neither of them knows.

Codes:
    HK101 id is not a valid XML id          HK102 id used twice
    HK103 reference to an unknown resource  HK104 fencing level names an
                                                  unknown device or node
    HK201 clone-to-clone order whose dependent clone is not interleaved
    HK202 promotable clone without a usable promoted-max or promote timeout
    HK203 role or action that needs a promotable clone used on another one
    HK204 two monitors of one primitive with the same interval
    HK205 stateful clone (promotable or notified) without its own
          failure-timeout and migration-threshold
    HK301 node without a fence device       HK302 fence device that may run
                                                  on the node it fences
    HK303 stonith disabled                  HK304 even node count (warning)
    HK401 VIP not colocated with the HAProxy clone
    Agents and parameters (HK5xx): :mod:`cib_builder.agents`; loads into a
    live cluster (HK6xx): :mod:`cib_builder.merge`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from cib_builder.model import (
    MINUS_INFINITY,
    Action,
    Cib,
    Clone,
    Colocation,
    Location,
    Order,
    Primitive,
    Role,
    RuleLocation,
    hakit_id,
)
from ha_common.kinds import to_bool

ERROR = "error"
WARNING = "warning"

#: Promotion of a database member may wait for SST: never less than this.
MIN_PROMOTE_TIMEOUT = 300

_ID_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")


@dataclass(frozen=True)
class Problem:
    """One finding: stable code, severity, the object concerned and a message.

    ``field`` is the topology field the object comes from, when known.
    """

    code: str
    severity: str
    subject: str
    message: str
    field: str = ""

    def __str__(self) -> str:
        """Render as ``HK201 error o-x: message`` (``o-x (field)`` with a field)."""
        where = f"{self.subject} ({self.field})" if self.field else self.subject
        return f"{self.code} {self.severity} {where}: {self.message}"


def _ids(cib: Cib) -> list[tuple[str, str]]:
    found = [(rsc.id, "resource") for rsc in cib.resources]
    found += [
        (rsc.child.id, "resource") for rsc in cib.resources if isinstance(rsc, Clone)
    ]
    found += [(con.id, "constraint") for con in cib.constraints]
    return found


def check_ids(cib: Cib) -> list[Problem]:
    """HK101/HK102: syntax and uniqueness of ids."""
    problems = []
    seen: set[str] = set()
    for ident, kind in _ids(cib):
        if not _ID_RE.match(ident):
            problems.append(
                Problem("HK101", ERROR, ident, f"{kind} id is not a valid XML id")
            )
        if ident in seen:
            problems.append(Problem("HK102", ERROR, ident, f"{kind} id is used twice"))
        seen.add(ident)
    return problems


def _members(con: Order | Colocation) -> list[str]:
    return [rsc for rset in con.sets for rsc in rset.resources]


def check_references(cib: Cib) -> list[Problem]:
    """HK103/HK104: constraints and fencing levels refer to what exists."""
    known = cib.resource_ids()
    nodes = {node.name for node in cib.nodes}
    problems = []
    for con in cib.constraints:
        names = (
            [con.rsc] if isinstance(con, (Location, RuleLocation)) else _members(con)
        )
        for name in names:
            if name not in known:
                problems.append(
                    Problem("HK103", ERROR, con.id, f"unknown resource {name!r}")
                )
        if isinstance(con, Location) and con.node not in nodes:
            problems.append(
                Problem("HK103", ERROR, con.id, f"unknown node {con.node!r}")
            )
    for level in cib.fencing:
        if level.target not in nodes:
            problems.append(
                Problem(
                    "HK104",
                    ERROR,
                    level.id,
                    f"target {level.target!r} is not a node",
                )
            )
        for device in level.devices:
            rsc = known.get(device)
            if not isinstance(rsc, Primitive) or rsc.agent.standard != "stonith":
                problems.append(
                    Problem(
                        "HK104",
                        ERROR,
                        level.id,
                        f"{device!r} is not a stonith device",
                    )
                )
    return problems


def check_orders(cib: Cib) -> list[Problem]:
    """HK201/HK203: clone orders are interleaved; roles fit their resources."""
    known = cib.resource_ids()
    problems = []
    for con in cib.constraints:
        if not isinstance(con, (Order, Colocation)):
            continue
        earlier_clone = False
        for rset in con.sets:
            needs_promotable = rset.role in (Role.PROMOTED, Role.UNPROMOTED) or (
                rset.action in (Action.PROMOTE, Action.DEMOTE)
            )
            for name in rset.resources:
                rsc = known.get(name)
                if needs_promotable and not (isinstance(rsc, Clone) and rsc.promotable):
                    problems.append(
                        Problem(
                            "HK203", ERROR, con.id, f"{name} is not a promotable clone"
                        )
                    )
                if (
                    isinstance(con, Order)
                    and earlier_clone
                    and isinstance(rsc, Clone)
                    and rsc.meta_value("interleave") != "true"
                ):
                    problems.append(
                        Problem(
                            "HK201",
                            ERROR,
                            con.id,
                            f"{name} depends on a clone but is not interleaved: "
                            "one node's failure would restart it everywhere",
                        )
                    )
            earlier_clone = earlier_clone or any(
                isinstance(known.get(n), Clone) for n in rset.resources
            )
    return problems


def check_resources(cib: Cib) -> list[Problem]:
    """HK202/HK204: promotable clones and monitor operations."""
    problems = []
    for rsc in cib.resources:
        if isinstance(rsc, Clone) and rsc.promotable:
            limit = rsc.meta_value("promoted-max")
            if (
                limit is None
                or not limit.isdigit()
                or not 1 <= int(limit) <= len(cib.nodes)
            ):
                problems.append(
                    Problem(
                        "HK202",
                        ERROR,
                        rsc.id,
                        f"promoted-max must be between 1 and {len(cib.nodes)}",
                    )
                )
            promote = [op for op in rsc.child.ops if op.name == "promote"]
            if not promote or promote[0].timeout < MIN_PROMOTE_TIMEOUT:
                problems.append(
                    Problem(
                        "HK202",
                        ERROR,
                        rsc.id,
                        f"promote needs a timeout of at least {MIN_PROMOTE_TIMEOUT} s",
                    )
                )
    for prim in cib.primitives():
        intervals = [op.interval for op in prim.ops if op.name == "monitor"]
        if len(intervals) != len(set(intervals)):
            problems.append(
                Problem(
                    "HK204", ERROR, prim.id, "two monitor operations share an interval"
                )
            )
    return problems


#: The failure policy every stateful clone carries itself.
STATEFUL_META = ("failure-timeout", "migration-threshold")


def check_stateful(cib: Cib) -> list[Problem]:
    """HK205: stateful clones carry their own failure policy.

    A promotable clone, or one whose instances are notified of each other
    (a database, a message broker), keeps data on each node.  Without its own
    failure-timeout, transient failures pile up; with a defaults set's
    migration-threshold, they ban a healthy member from its own data.
    """
    problems = []
    for rsc in cib.resources:
        if not isinstance(rsc, Clone):
            continue
        if not (rsc.promotable or rsc.meta_value("notify") == "true"):
            continue
        missing = [name for name in STATEFUL_META if rsc.meta_value(name) is None]
        if missing:
            problems.append(
                Problem(
                    "HK205",
                    ERROR,
                    rsc.id,
                    f"stateful clone without its own {' and '.join(missing)}: "
                    "transient failures would pile up and ban a member from "
                    "its own data",
                )
            )
    return problems


def check_fencing(cib: Cib, properties: dict[str, str] | None = None) -> list[Problem]:
    """HK301-HK304: every node fenced by a device that never runs on it."""
    props = dict(cib.properties) if properties is None else properties
    problems = []
    try:
        stonith = to_bool(props.get("stonith-enabled", "true"))
    except ValueError:
        stonith = True  # not a boolean: crm_verify reports it
    if not stonith:
        problems.append(
            Problem(
                "HK303",
                ERROR,
                "cib-bootstrap-options",
                "stonith-enabled is false: no data safety",
            )
        )
    fenced = {level.target for level in cib.fencing}
    for node in cib.nodes:
        if node.name not in fenced:
            problems.append(Problem("HK301", ERROR, node.name, "no fence device"))
    avoid = {
        (con.rsc, con.node)
        for con in cib.constraints
        if isinstance(con, Location) and con.score == MINUS_INFINITY
    }
    for level in cib.fencing:
        for device in level.devices:
            if (device, level.target) not in avoid:
                problems.append(
                    Problem(
                        "HK302",
                        ERROR,
                        device,
                        f"may run on {level.target}, the node it fences",
                    )
                )
    if len(cib.nodes) % 2 == 0:
        problems.append(
            Problem(
                "HK304",
                WARNING,
                "nodes",
                f"{len(cib.nodes)} nodes: an odd count survives more failures",
            )
        )
    return problems


def check_vips(cib: Cib) -> list[Problem]:
    """HK401: every VIP is colocated with the HAProxy clone.

    A VIP colocated with the OpenDaylight clone instead (it follows the
    shard leader, for ODL's own clients) is placed on purpose.
    """
    vips = [p.id for p in cib.primitives() if p.agent.type == "IPaddr2"]
    haproxy = [
        r.id
        for r in cib.resources
        if isinstance(r, Clone) and r.child.id == hakit_id("haproxy")
    ]
    if not vips or not haproxy:
        return []
    anchors = {haproxy[0], hakit_id("opendaylight-clone")}
    colocated: set[str] = set()
    for con in cib.constraints:
        if (
            isinstance(con, Colocation)
            and anchors & set(_members(con))
            and not con.score.startswith("-")
            and con.score not in ("0", "+0")
        ):
            colocated.update(_members(con))
    return [
        Problem("HK401", ERROR, vip, "VIP is not colocated with the HAProxy clone")
        for vip in vips
        if vip not in colocated
    ]


CHECKS = (
    check_ids,
    check_references,
    check_orders,
    check_resources,
    check_stateful,
    check_fencing,
    check_vips,
)


def check(cib: Cib) -> list[Problem]:
    """Run every check; errors first, each group in model order."""
    return ordered([problem for func in CHECKS for problem in func(cib)])


def ordered(problems: list[Problem]) -> list[Problem]:
    """Errors first, otherwise in the order found."""
    return sorted(problems, key=lambda p: p.severity != ERROR)


def errors(problems: list[Problem]) -> list[Problem]:
    """Only the problems that block rendering."""
    return [p for p in problems if p.severity == ERROR]
