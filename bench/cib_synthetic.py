"""Synthetic CIB models of any size, and the timed paths of the CIB builder.

``synthetic_cib(nodes, resources)`` builds a :class:`cib_builder.model.Cib` with
the shapes ``cib_builder.recipes.build`` produces, scaled up:

- one fence device per node (IPMI and Redfish alternately, the recipe's
  parameters), each with a ``-INFINITY`` location on the node it fences and a
  fencing level 1 for that node;
- ``VIPS`` IPaddr2 VIPs and an interleaved HAProxy clone, tied by a
  colocation and an optional order over resource sets;
- one promotable clone (the recipe's Galera clone);
- the rest: interleaved clones of ``ocf:hakit:<service>`` (three in four)
  and ``ocf:heartbeat:Dummy`` primitives (one in four), each with start, stop
  and monitor operations;
- order constraints over resource sets that chain those resources in tiers of
  ``TIER``: Galera promoted before tier 1, tier k before tier k+1.

``resources`` counts top-level resources (a clone is one), fence devices,
VIPs, HAProxy and Galera included.  The model is deterministic and passes
``checks.check`` and the schema with no error.

The timed paths:

- ``run_reference(path)`` is ``pipeline.build(path)``: the whole path from a
  topology file; ``reference_phases(path, timings)`` does the same steps one by
  one and records each step's time;
- ``run_synthetic(cib, timings)`` is what ``pipeline.build`` does after the
  recipe: ``checks.check``, ``render.render``, ``render.to_bytes`` and
  ``schema.validate`` of the rendered tree.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from cib_builder import agents, checks, pipeline, recipes, render, schema, topology
from cib_builder.model import (
    INFINITY,
    MINUS_INFINITY,
    Action,
    AgentRef,
    Cib,
    Clone,
    Colocation,
    Constraint,
    FencingLevel,
    Kind,
    Location,
    Node,
    Op,
    Order,
    Primitive,
    Resource,
    ResourceSet,
    Role,
)
from ocf_agents.openstack.services import API, SERVICES

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT / "examples" / "opnfv-3-controllers.toml"

#: (nodes, top-level resources) measured by the benchmarks, smallest first.
SIZES: tuple[tuple[int, int], ...] = (
    (8, 250),
    (16, 500),
    (32, 1000),
    (32, 2000),
    (64, 4000),
)

#: Resources per tier of the order chain.
TIER = 20

#: Number of VIPs in front of HAProxy.
VIPS = 4

#: The steps of ``run_synthetic`` and ``reference_phases``, in order.
SYNTHETIC_PHASES = ("check", "render", "to_bytes", "validate")
REFERENCE_PHASES = ("load", "recipe", *SYNTHETIC_PHASES)


# -- the model ----------------------------------------------------------------


def _node_name(index: int, width: int) -> str:
    return f"node-{index:0{width}d}"


def _fence_device(index: int, node: str) -> Primitive:
    """Fence device of ``node`` with the parameters the recipe writes."""
    bmc = f"10.20.{index // 250}.{index % 250 + 1}"
    params: list[tuple[str, str]]
    if index % 2:
        agent = "fence_hakit_ipmi"
        kind = "ipmi"
        params = [
            ("ip", bmc),
            ("ipport", "623"),
            ("username", "admin"),
            ("password_script", f"/usr/local/bin/bmc-password {node}"),
            ("lanplus", "1"),
            ("cipher", "3"),
            ("privlvl", "administrator"),
        ]
    else:
        agent = "fence_hakit_redfish"
        kind = "redfish"
        params = [
            ("ip", bmc),
            ("ipport", "443"),
            ("username", "admin"),
            ("password_script", f"/usr/local/bin/bmc-password {node}"),
            ("systems_uri", "/redfish/v1/Systems/1"),
            ("ssl_ca_file", "/etc/hakit/bmc-ca.pem"),
        ]
    params += [("pcmk_host_list", node), ("pcmk_host_check", "static-list")]
    return Primitive(
        id=f"fence-{node}",
        agent=AgentRef("stonith", agent),
        params=tuple(params),
        ops=(Op("monitor", 60, 20),),
        description=f"fencing of {node} through its {kind} BMC",
    )


def _ops(start: int, stop: int = 60, monitor: int = 10) -> tuple[Op, ...]:
    return (Op("start", 0, start), Op("stop", 0, stop), Op("monitor", monitor, 20))


def _vip(index: int) -> Primitive:
    return Primitive(
        id=f"vip-{index:02d}",
        agent=AgentRef("ocf", "IPaddr2", provider="heartbeat"),
        params=(
            ("ip", f"172.16.{index}.10"),
            ("cidr_netmask", "24"),
            ("nic", f"eth{index}"),
        ),
        ops=_ops(20, 20),
        description=f"virtual IP {index}, in front of HAProxy",
    )


def _haproxy() -> Clone:
    child = Primitive(id="haproxy", agent=AgentRef("systemd", "haproxy"), ops=_ops(60))
    return Clone("haproxy-clone", child, (("interleave", "true"),))


def _galera(names: list[str]) -> Clone:
    """The recipe's promotable Galera clone over every node."""
    count = str(len(names))
    child = Primitive(
        id="galera",
        agent=AgentRef("ocf", "galera", provider="hakit"),
        params=(
            ("wsrep_cluster_address", "gcomm://" + ",".join(names)),
            ("cluster_host_map", ";".join(f"{n}:{n}.internal" for n in names)),
        ),
        ops=(
            Op("start", 0, 120),
            Op("stop", 0, 120),
            Op("promote", 0, 300),
            Op("demote", 0, 120),
            Op("monitor", 10, 30, Role.PROMOTED),
            Op("monitor", 30, 30, Role.UNPROMOTED),
        ),
        description="MariaDB Galera member: promoted = synced in the primary component",
    )
    meta = (
        ("promotable", "true"),
        ("promoted-max", count),
        ("promoted-node-max", "1"),
        ("clone-max", count),
        ("clone-node-max", "1"),
        ("ordered", "true"),
        ("interleave", "true"),
        ("notify", "true"),
        *recipes.STATEFUL_FAILURE_POLICY,
    )
    return Clone("galera-clone", child, meta, promotable=True)


def _filler(index: int) -> Resource:
    """The ``index``-th service: an interleaved hakit clone or a Dummy."""
    if index % 4 == 3:
        rsc_id = f"dummy-{index:05d}"
        return Primitive(
            id=rsc_id,
            agent=AgentRef("ocf", "Dummy", provider="heartbeat"),
            params=(("state", f"/run/hakit-bench/{rsc_id}.state"),),
            ops=_ops(20, 20),
        )
    svc = SERVICES[index % len(SERVICES)]
    rsc_id = f"{svc.name}-{index:05d}"
    params: tuple[tuple[str, str], ...] = ()
    if index % 3 == 0:
        params = (("config", f"/etc/{svc.name}/{rsc_id}.conf"),)
    child = Primitive(
        id=rsc_id,
        agent=AgentRef("ocf", svc.name, provider="hakit"),
        params=params,
        ops=_ops(60 if svc.kind == API else 90),
        description=svc.summary,
    )
    return Clone(f"{rsc_id}-clone", child, (("interleave", "true"),))


def _tier_orders(galera: Clone, tiers: list[tuple[str, ...]]) -> list[Constraint]:
    orders: list[Constraint] = []
    previous = ResourceSet((galera.id,), action=Action.PROMOTE)
    before = "galera"
    for number, tier in enumerate(tiers, start=1):
        current = ResourceSet(tier, sequential=False)
        orders.append(
            Order(f"o-{before}-before-tier-{number:03d}", (previous, current))
        )
        previous, before = current, f"tier-{number:03d}"
    return orders


def synthetic_cib(nodes: int, resources: int) -> Cib:
    """A valid CIB model of ``nodes`` nodes and ``resources`` top-level resources.

    Raises:
        ValueError: fewer than 3 nodes, or too few resources for the fixed
            part (a fence device per node, the VIPs, HAProxy and Galera).
    """
    fixed = nodes + VIPS + 2
    if nodes < 3 or resources <= fixed:
        raise ValueError(f"need >= 3 nodes and > {fixed} resources for {nodes} nodes")
    width = len(str(nodes))
    names = [_node_name(i, width) for i in range(1, nodes + 1)]
    devices = [_fence_device(i, name) for i, name in enumerate(names, start=1)]
    constraints: list[Constraint] = [
        Location(f"l-{dev.id}-avoid-self", dev.id, name, MINUS_INFINITY)
        for dev, name in zip(devices, names)
    ]
    levels = tuple(
        FencingLevel(name, 1, (dev.id,)) for dev, name in zip(devices, names)
    )

    vips = [_vip(i) for i in range(1, VIPS + 1)]
    haproxy = _haproxy()
    galera = _galera(names)
    filler = [_filler(i) for i in range(resources - fixed)]

    vip_set = ResourceSet(tuple(v.id for v in vips), sequential=False)
    constraints += [
        Colocation(
            "c-vips-with-haproxy", (vip_set, ResourceSet((haproxy.id,))), INFINITY
        ),
        Order(
            "o-vips-before-haproxy",
            (vip_set, ResourceSet((haproxy.id,))),
            kind=Kind.OPTIONAL,
        ),
    ]
    ids = [rsc.id for rsc in filler]
    tiers = [tuple(ids[i : i + TIER]) for i in range(0, len(ids), TIER)]
    constraints += _tier_orders(galera, tiers)

    return Cib(
        nodes=tuple(Node(name, i) for i, name in enumerate(names, start=1)),
        properties=(
            ("stonith-enabled", "true"),
            ("no-quorum-policy", "stop"),
            ("cluster-name", f"bench-{nodes}x{resources}"),
            ("cluster-recheck-interval", recipes.PROPERTIES_RECHECK),
        ),
        rsc_defaults=(
            ("resource-stickiness", "1"),
            ("migration-threshold", "3"),
            ("failure-timeout", recipes.FAILURE_TIMEOUT),
        ),
        op_defaults=(("timeout", "60s"), ("record-pending", "true")),
        resources=(*devices, *vips, haproxy, galera, *filler),
        constraints=tuple(constraints),
        fencing=levels,
    )


# -- the timed paths ----------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """What one run of the checked, rendered and validated path produced."""

    problems: tuple[checks.Problem, ...]
    xml: bytes
    schema_errors: tuple[str, ...]

    @property
    def ok(self) -> bool:
        """No blocking problem and a schema-valid document (as ``Build.ok``)."""
        return not checks.errors(list(self.problems)) and not self.schema_errors


def run_reference(path: Path = REFERENCE) -> pipeline.Build:
    """The full path for a topology file: ``pipeline.build(path)``."""
    return pipeline.build(path)


def run_synthetic(cib: Cib, timings: dict[str, float] | None = None) -> Outcome:
    """Check, render, serialize and validate ``cib`` as ``pipeline.build`` does.

    Args:
        cib: the model, from ``synthetic_cib`` or a recipe.
        timings: when given, receives each step's wall time in seconds under
            the names in ``SYNTHETIC_PHASES``.
    """
    clock = time.perf_counter
    t0 = clock()
    problems = tuple(checks.check(cib) + agents.check_declared(cib))
    t1 = clock()
    tree = render.render(cib)
    t2 = clock()
    xml = render.to_bytes(cib)
    t3 = clock()
    schema_errors = tuple(schema.validate(tree))
    t4 = clock()
    if timings is not None:
        timings.update(check=t1 - t0, render=t2 - t1, to_bytes=t3 - t2)
        timings["validate"] = t4 - t3
    return Outcome(problems, xml, schema_errors)


def reference_phases(path: Path, timings: dict[str, float]) -> Outcome:
    """``pipeline.build(path)`` step by step, each step's time in ``timings``.

    The steps are the ones ``pipeline.build`` runs, in its order: loading the
    topology file, the recipe, then ``run_synthetic``'s steps.
    """
    t0 = time.perf_counter()
    topo = topology.load(path)
    t1 = time.perf_counter()
    cib = recipes.build(topo)
    t2 = time.perf_counter()
    timings.update(load=t1 - t0, recipe=t2 - t1)
    return run_synthetic(cib, timings)
