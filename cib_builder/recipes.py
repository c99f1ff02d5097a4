"""What a topology implies: the OpenStack controller-cluster recipe.

``build(topology)`` returns the CIB model for the reference design of the OPNFV
HA guideline: fencing first (one device per node and level, never placed on
its own target), VIPs in front of an HAProxy clone, Galera as a promotable
clone, clustered RabbitMQ, and the OpenStack services as interleaved clones
ordered after the database and the message bus with resource sets.
"""

from __future__ import annotations

from collections.abc import Iterable

from cib_builder.model import (
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
    RuleLocation,
    hakit_id,
)
from cib_builder.topology import Bmc, NodeSpec, Override, Topology
from ocf_agents.opendaylight.spec import ATTR_ROLE
from ocf_agents.openstack.services import API, SERVICES, Service

#: Services that run active/passive in the reference design (one instance).
ACTIVE_PASSIVE = frozenset({"cinder-volume"})

#: How long a failure counts against a node before Pacemaker forgets it, so a
#: repaired node takes its share of clones back without an operator.
FAILURE_TIMEOUT = "60s"

#: The failure policy of a stateful clone (Galera, RabbitMQ), set on the clone
#: itself so that no defaults set of the operator's can take it away.  Each
#: instance owns the data on its node: moving it elsewhere never repairs
#: anything, so monitor failures (a member that is briefly not Primary during
#: a partition) never ban it from its own data; Pacemaker recovers it in place
#: every time.  A failed start still bans the node (start-failure-is-fatal),
#: and the failures expire so the count stays readable.
STATEFUL_FAILURE_POLICY = (
    ("failure-timeout", FAILURE_TIMEOUT),
    ("migration-threshold", "INFINITY"),
)

PROPERTIES_RECHECK = "60s"

#: The node attribute where ocf:hakit:opendaylight's level 10 monitor
#: publishes the member's shard role (its declaration's ATTR_ROLE).
ODL_ROLE_ATTRIBUTE = ATTR_ROLE
#: How much a leader-following VIP prefers the shard leader's node: more than
#: any stickiness, so it follows the leader, yet not a ban of the others.
LEADER_SCORE = "1000"


def _hakit(agent: str) -> AgentRef:
    return AgentRef("ocf", agent, provider="hakit")


def _pairs(**values: str) -> tuple[tuple[str, str], ...]:
    return tuple(values.items())


def _ops(
    override: Override | None,
    *,
    start: int,
    stop: int,
    monitor: int,
    monitor_timeout: int = 20,
    extra: Iterable[Op] = (),
) -> tuple[Op, ...]:
    timeouts = dict(override.timeouts) if override else {}
    interval = (override.monitor_interval if override else None) or monitor
    ops = [
        Op("start", 0, timeouts.get("start", start)),
        Op("stop", 0, timeouts.get("stop", stop)),
    ]
    for op in extra:
        every = op.interval
        if op.name == "monitor" and override and override.monitor_interval:
            # Monitors must keep distinct intervals: Unpromoted and deep ones
            # check less often.
            rarer = op.role is Role.UNPROMOTED or op.depth is not None
            every = override.monitor_interval * (3 if rarer else 1)
        ops.append(
            Op(op.name, every, timeouts.get(op.name, op.timeout), op.role, op.depth)
        )
    if not any(op.name == "monitor" for op in extra):
        ops.append(Op("monitor", interval, timeouts.get("monitor", monitor_timeout)))
    return tuple(ops)


def _clone_meta(override: Override | None, **meta: str) -> tuple[tuple[str, str], ...]:
    values = dict(meta)
    if override and override.clone_max is not None:
        values["clone-max"] = str(override.clone_max)
    return tuple(values.items())


def _params(
    base: Iterable[tuple[str, str]], override: Override | None
) -> tuple[tuple[str, str], ...]:
    values = dict(base)
    if override:
        values.update(override.params)
    return tuple(values.items())


def _override_origins(
    name: str, override: Override | None
) -> tuple[tuple[str, str], ...]:
    """Parameter -> topology field, for the parameters an override sets."""
    if override is None:
        return ()
    return tuple((key, f"overrides.{name}.params.{key}") for key, _ in override.params)


# -- fencing -----------------------------------------------------------------


def _password_script(bmc: Bmc) -> str:
    if bmc.password_script:
        return bmc.password_script
    # Run without a shell by the fence agent: a plain command, no redirection.
    return f"/bin/cat {bmc.password_file}"


def _fence_device(
    device_id: str, node: NodeSpec, bmc: Bmc, topology: Topology, origin: str
) -> Primitive:
    # fence option -> (value, the BMC key it comes from)
    params: list[tuple[str, str, str]] = [
        ("ip", bmc.address, "address"),
        ("ipport", str(bmc.port), "port"),
        ("username", bmc.username, "username"),
        (
            "password_script",
            _password_script(bmc),
            "password_script" if bmc.password_script else "password_file",
        ),
    ]
    if bmc.type == "ipmi":
        agent = "fence_hakit_ipmi"
        params.append(("lanplus", "1" if bmc.lanplus else "0", "lanplus"))
        if bmc.cipher is not None:
            params.append(("cipher", str(bmc.cipher), "cipher"))
        params.append(("privlvl", bmc.privlvl, "privlvl"))
    else:
        agent = "fence_hakit_redfish"
        if bmc.systems_uri:
            params.append(("systems_uri", bmc.systems_uri, "systems_uri"))
        if bmc.ssl_insecure:
            params.append(("ssl_insecure", "1", "ssl_insecure"))
        if bmc.ssl_ca_file:
            params.append(("ssl_ca_file", bmc.ssl_ca_file, "ssl_ca_file"))
    params.append(("pcmk_host_list", node.name, ""))
    params.append(("pcmk_host_check", "static-list", ""))
    if topology.allow_two_node and len(topology.nodes) == 2 and topology.fencing_delay:
        # A random delay keeps the two nodes from fencing each other at once.
        params.append(("pcmk_delay_max", f"{topology.fencing_delay}s", ""))
    return Primitive(
        id=device_id,
        agent=AgentRef("stonith", agent),
        params=tuple((name, value) for name, value, _ in params),
        ops=(Op("monitor", 60, 20),),
        description=f"fencing of {node.name} through its {bmc.type} BMC",
        origin=origin,
        origins=tuple((name, f"{origin}.{key}") for name, _, key in params if key),
    )


def _fencing(
    topology: Topology,
) -> tuple[list[Resource], list[Constraint], list[FencingLevel]]:
    devices: list[Resource] = []
    constraints: list[Constraint] = []
    levels: list[FencingLevel] = []
    for position, node in enumerate(topology.nodes):
        bmcs = ((node.bmc, "bmc"), (node.fallback_bmc, "fallback_bmc"))
        for index, (bmc, key) in enumerate(bmcs, start=1):
            if bmc is None:
                continue
            name = f"fence-{node.name}" + ("" if index == 1 else f"-{index}")
            device_id = hakit_id(name)
            origin = f"nodes[{position}].{key}"
            devices.append(_fence_device(device_id, node, bmc, topology, origin))
            constraints.append(
                Location(
                    hakit_id(f"l-{name}-avoid-self"),
                    device_id,
                    node.name,
                    MINUS_INFINITY,
                )
            )
            levels.append(FencingLevel(node.name, index, (device_id,)))
    return devices, constraints, levels


# -- services ----------------------------------------------------------------


def _override(topology: Topology, name: str) -> Override | None:
    return dict(topology.overrides).get(name)


def _vips(topology: Topology) -> list[Primitive]:
    vips = []
    for position, vip in enumerate(topology.vips):
        origin = f"vips[{position}]"
        params = [("ip", vip.address), ("cidr_netmask", str(vip.prefix))]
        if vip.nic:
            params.append(("nic", vip.nic))
        vips.append(
            Primitive(
                id=hakit_id(f"vip-{vip.name}"),
                agent=AgentRef("ocf", "IPaddr2", provider="heartbeat"),
                params=tuple(params),
                ops=_ops(None, start=20, stop=20, monitor=10),
                description=f"{vip.name} virtual IP, "
                + (
                    "with the OpenDaylight shard leader"
                    if topology.opendaylight and vip.name == topology.odl_leader_vip
                    else "in front of HAProxy"
                ),
                origin=origin,
                origins=(
                    ("ip", f"{origin}.address"),
                    ("cidr_netmask", f"{origin}.prefix"),
                    ("nic", f"{origin}.nic"),
                ),
            )
        )
    return vips


def _simple_clone(name: str, agent: AgentRef, override: Override | None) -> Clone:
    rsc_id = hakit_id(name)
    child = Primitive(
        id=rsc_id,
        agent=agent,
        params=_params((), override),
        ops=_ops(override, start=60, stop=60, monitor=10),
        origin=f"services.{name}",
        origins=_override_origins(name, override),
    )
    return Clone(f"{rsc_id}-clone", child, _clone_meta(override, interleave="true"))


def _haproxy(topology: Topology) -> Clone:
    override = _override(topology, "haproxy")
    if topology.haproxy == "ocf":
        # hakit's own agent: resource-agents 4.12 ships no ocf:heartbeat:haproxy.
        return _simple_clone("haproxy", _hakit("haproxy"), override)
    return _simple_clone("haproxy", AgentRef("systemd", "haproxy"), override)


def _galera(topology: Topology) -> Clone:
    assert topology.galera is not None
    override = _override(topology, "galera")
    count = len(topology.nodes)
    host_map = ";".join(f"{n.name}:{n.address}" for n in topology.nodes)
    promoted = (
        min(count, override.clone_max) if override and override.clone_max else count
    )
    child = Primitive(
        id=hakit_id("galera"),
        agent=_hakit("galera"),
        params=_params(
            (
                ("wsrep_cluster_address", topology.galera.cluster_address),
                ("cluster_host_map", host_map),
            ),
            override,
        ),
        ops=_ops(
            override,
            start=120,
            stop=120,
            monitor=10,
            extra=(
                Op("promote", 0, 300),
                Op("demote", 0, 120),
                Op("monitor", 10, 30, Role.PROMOTED),
                Op("monitor", 15, 30, Role.UNPROMOTED),
            ),
        ),
        description="MariaDB Galera member: promoted = synced in the primary component",
        origin="services.galera",
        origins=(
            ("wsrep_cluster_address", "services.galera.cluster_address"),
            ("cluster_host_map", "nodes"),
            *_override_origins("galera", override),
        ),
    )
    meta = _clone_meta(
        override,
        **{
            "promotable": "true",
            "promoted-max": str(promoted),
            "promoted-node-max": "1",
            "clone-max": str(count),
            "clone-node-max": "1",
            "ordered": "true",
            "interleave": "true",
            "notify": "true",
            **dict(STATEFUL_FAILURE_POLICY),
        },
    )
    return Clone(hakit_id("galera-clone"), child, meta, promotable=True)


def _rabbitmq(topology: Topology) -> Clone:
    override = _override(topology, "rabbitmq")
    child = Primitive(
        id=hakit_id("rabbitmq"),
        agent=_hakit("rabbitmq"),
        params=_params((), override),
        ops=_ops(
            override,
            start=300,
            stop=120,
            monitor=10,
            monitor_timeout=30,
            extra=(Op("notify", 0, 30), Op("monitor", 10, 30)),
        ),
        description="RabbitMQ cluster member",
        origin="services.rabbitmq",
        origins=_override_origins("rabbitmq", override),
    )
    meta = _clone_meta(
        override,
        notify="true",
        # Not ordered: after a full crash every member must start (and
        # report) at once for the agent to choose who boots first.
        interleave="true",
        **dict(STATEFUL_FAILURE_POLICY),
    )
    return Clone(hakit_id("rabbitmq-clone"), child, meta)


def _opendaylight(topology: Topology) -> Clone:
    override = _override(topology, "opendaylight")
    child = Primitive(
        id=hakit_id("opendaylight"),
        agent=_hakit("opendaylight"),
        params=_params((), override),
        ops=_ops(
            override,
            start=300,
            stop=120,
            monitor=10,
            monitor_timeout=30,
            # Level 10 adds the shard SyncStatus and publishes the shard role
            # (odl-shard-role) that a leader-following VIP is placed by.
            extra=(Op("monitor", 10, 30), Op("monitor", 30, 30, depth=10)),
        ),
        description="OpenDaylight controller (Karaf), clustered",
        origin="services.opendaylight",
        origins=_override_origins("opendaylight", override),
    )
    meta = _clone_meta(override, interleave="true")
    return Clone(hakit_id("opendaylight-clone"), child, meta)


def _openstack(topology: Topology, svc: Service, position: int) -> Resource:
    override = _override(topology, svc.name)
    child = Primitive(
        id=hakit_id(svc.name),
        agent=_hakit(svc.name),
        params=_params((), override),
        ops=_ops(
            override,
            start=60 if svc.kind == API else 90,
            stop=60,
            monitor=10,
        ),
        description=svc.summary,
        origin=f"services.openstack.enable[{position}]",
        origins=_override_origins(svc.name, override),
    )
    if svc.name in ACTIVE_PASSIVE:
        return child
    meta = _clone_meta(override, interleave="true")
    return Clone(f"{child.id}-clone", child, meta)


# -- constraints -------------------------------------------------------------


def _orders(
    galera: Clone | None,
    rabbitmq: Clone | None,
    memcached: Clone | None,
    odl: Clone | None,
    openstack: dict[str, Resource],
) -> list[Constraint]:
    orders: list[Constraint] = []
    keystone = openstack.get("keystone")
    rest = tuple(r.id for name, r in openstack.items() if name != "keystone")
    tiers: list[ResourceSet] = []
    if keystone is not None:
        tiers.append(ResourceSet((keystone.id,)))
    if rest:
        tiers.append(ResourceSet(rest, sequential=False))
    if galera is not None and tiers:
        orders.append(
            Order(
                hakit_id("o-galera-before-openstack"),
                (ResourceSet((galera.id,), action=Action.PROMOTE), *tiers),
            )
        )
    if rabbitmq is not None and rest:
        orders.append(
            Order(
                hakit_id("o-rabbitmq-before-openstack"),
                (ResourceSet((rabbitmq.id,)), ResourceSet(rest, sequential=False)),
            )
        )
    if memcached is not None and keystone is not None:
        orders.append(
            Order(
                hakit_id("o-memcached-before-keystone"),
                (ResourceSet((memcached.id,)), ResourceSet((keystone.id,))),
            )
        )
    neutron = tuple(
        r.id for name, r in openstack.items() if name.startswith("neutron-")
    )
    if odl is not None and neutron:
        orders.append(
            Order(
                hakit_id("o-opendaylight-before-neutron"),
                (ResourceSet((odl.id,)), ResourceSet(neutron, sequential=False)),
            )
        )
    return orders


def _leader_vip_constraints(vip: Primitive, odl: Clone) -> list[Constraint]:
    """The VIP runs with a member, preferably the one whose shard is Leader."""
    return [
        Colocation(
            hakit_id("c-odl-vip-with-opendaylight"),
            (ResourceSet((vip.id,)), ResourceSet((odl.id,))),
        ),
        RuleLocation(
            hakit_id("l-odl-vip-on-shard-leader"),
            vip.id,
            ODL_ROLE_ATTRIBUTE,
            "Leader",
            LEADER_SCORE,
        ),
    ]


def _vip_constraints(vips: list[Primitive], haproxy: Clone | None) -> list[Constraint]:
    if not vips or haproxy is None:
        return []
    vip_set = ResourceSet(tuple(v.id for v in vips), sequential=False)
    return [
        # Sets colocate each earlier set with the later one: VIPs follow HAProxy.
        Colocation(
            hakit_id("c-vips-with-haproxy"), (vip_set, ResourceSet((haproxy.id,)))
        ),
        Order(
            hakit_id("o-vips-before-haproxy"),
            (vip_set, ResourceSet((haproxy.id,))),
            kind=Kind.OPTIONAL,
        ),
    ]


def build(topology: Topology) -> Cib:
    """Compile ``topology`` into the controller-cluster CIB model."""
    nodes = tuple(Node(n.name, i) for i, n in enumerate(topology.nodes, start=1))
    devices, constraints, levels = _fencing(topology)
    resources: list[Resource] = list(devices)

    vips = _vips(topology)
    resources.extend(vips)
    leader_vip = None
    if topology.opendaylight and topology.odl_leader_vip:
        leader_id = hakit_id(f"vip-{topology.odl_leader_vip}")
        leader_vip = next(v for v in vips if v.id == leader_id)
        vips.remove(leader_vip)
    haproxy = _haproxy(topology) if topology.haproxy else None
    memcached = (
        _simple_clone(
            "memcached",
            AgentRef("systemd", "memcached"),
            _override(topology, "memcached"),
        )
        if topology.memcached
        else None
    )
    galera = _galera(topology) if topology.galera else None
    rabbitmq = _rabbitmq(topology) if topology.rabbitmq else None
    odl = _opendaylight(topology) if topology.opendaylight else None
    for rsc in (haproxy, memcached, galera, rabbitmq, odl):
        if rsc is not None:
            resources.append(rsc)
    table = {svc.name: svc for svc in SERVICES}
    openstack = {
        name: _openstack(topology, table[name], position)
        for position, name in enumerate(topology.openstack)
    }
    resources.extend(openstack.values())

    constraints.extend(_vip_constraints(vips, haproxy))
    if leader_vip is not None and odl is not None:
        constraints.extend(_leader_vip_constraints(leader_vip, odl))
    constraints.extend(_orders(galera, rabbitmq, memcached, odl, openstack))

    properties = _pairs(
        **{
            "stonith-enabled": "true",
            "no-quorum-policy": "stop",
            "cluster-name": topology.name,
            "cluster-recheck-interval": PROPERTIES_RECHECK,
        }
    )
    return Cib(
        nodes=nodes,
        properties=properties,
        rsc_defaults=_pairs(
            **{
                "resource-stickiness": "1",
                "migration-threshold": "3",
                "failure-timeout": FAILURE_TIMEOUT,
            }
        ),
        op_defaults=_pairs(timeout="60s", **{"record-pending": "true"}),
        resources=tuple(resources),
        constraints=tuple(constraints),
        fencing=tuple(levels),
    )
