"""pytest fixtures that provide the lab's real services on 127.0.0.1.

Load with ``pytest_plugins = ["tests.lab.fixtures"]`` (in a test module or the
root conftest).  Expensive work is session scoped: one RabbitMQ node for the
session, and one *template* per OpenStack service whose databases and keys
every test then copies into its own ``tmp_path`` (milliseconds).

MariaDB Galera: ``galera_lab`` gives three initialised, stopped members on
127.0.0.1 (torn down after the test); ``galera_namespaced`` puts one member
per node into the namespaced three-node lab ``pcmk_three`` (defined in
``tests/integration/conftest.py``).

When something the lab needs is missing (the OpenStack venv, the RabbitMQ
or MariaDB binaries), a fixture fails the test when ``CI=true`` and skips it
with the reason otherwise (``tests.unavailable``, STYLE.md section 8).
"""

from __future__ import annotations

import atexit
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.unavailable import unavailable

from .galera import (
    GaleraLab,
    NamespacedGalera,
    galera_missing,
    make_workdir,
    pick_ports,
)
from .ipmi import (
    IpmiSim,
    free_udp_port,
    ipmi_sim_missing,
    pyghmi_missing,
)
from .openstack import (
    Service,
    openstack_venv,
    prepare_keystone,
    prepare_nova_conductor,
    prepare_placement,
    venv_missing,
)
from .ports import (
    KEYSTONE_PORT,
    PLACEMENT_PORT,
    RABBIT_DIST_PORT,
    RABBIT_EPMD_PORT,
    RABBIT_NODE_PORT,
    free_port,
    port_is_free,
)
from .pyghmi_bmc import PyghmiBmc
from .rabbitmq import RabbitNode, localhost_resolves, rabbitmq_missing
from .redfish import RedfishEmulator, redfish_missing

if TYPE_CHECKING:
    from .multinode import MultiCluster


@dataclass(frozen=True)
class LabPorts:
    """The loopback ports of this session's lab services."""

    keystone: int
    placement: int
    rabbit_node: int
    rabbit_dist: int
    rabbit_epmd: int


@pytest.fixture(scope="session")
def lab_ports() -> LabPorts:
    """Return the planned ports, swapping any that is taken for a free one.

    A taken epmd port means another run's epmd: this session then starts its
    own on another port instead of sharing (and later stopping) a foreign one.
    """
    chosen: list[int] = []
    for planned in (
        KEYSTONE_PORT,
        PLACEMENT_PORT,
        RABBIT_NODE_PORT,
        RABBIT_DIST_PORT,
        RABBIT_EPMD_PORT,
    ):
        port = planned
        while not port_is_free(port) or port in chosen:
            port = free_port()
        chosen.append(port)
    return LabPorts(*chosen)


@pytest.fixture(scope="session")
def openstack_venv_path() -> Path:
    """Return the complete OpenStack test virtualenv, or skip/fail."""
    try:
        venv = openstack_venv()
    except (OSError, subprocess.SubprocessError) as err:
        unavailable(f"cannot locate the OpenStack venv: {err}")
    reason = venv_missing(venv)
    if reason:
        unavailable(reason)
    return venv


@pytest.fixture(scope="session")
def rabbit_node(
    tmp_path_factory: pytest.TempPathFactory, lab_ports: LabPorts
) -> Iterator[RabbitNode]:
    """Start one RabbitMQ node for the session; stop it (and its epmd) at the end."""
    reason = rabbitmq_missing()
    if reason is None and not localhost_resolves():
        reason = "localhost does not resolve to 127.0.0.1"
    if reason:
        unavailable(reason)
    node = RabbitNode(
        tmp_path_factory.mktemp("rabbitmq"),
        node_port=lab_ports.rabbit_node,
        dist_port=lab_ports.rabbit_dist,
        epmd_port=lab_ports.rabbit_epmd,
    )
    try:
        node.start(timeout=90)
        yield node
    finally:
        node.stop()


@pytest.fixture
def rabbitmq(rabbit_node: RabbitNode) -> RabbitNode:
    """Return the session's RabbitMQ node, running (restarted if a test killed it)."""
    if not rabbit_node.is_running():
        rabbit_node.start(timeout=90)
    return rabbit_node


@pytest.fixture(scope="session")
def keystone_template(
    tmp_path_factory: pytest.TempPathFactory,
    openstack_venv_path: Path,
    lab_ports: LabPorts,
) -> Service:
    """Prepare keystone once per session (db_sync, keys, bootstrap: ~12 s)."""
    return prepare_keystone(
        tmp_path_factory.mktemp("keystone-template"),
        lab_ports.keystone,
        venv=openstack_venv_path,
    )


@pytest.fixture
def keystone_service(
    tmp_path: Path, keystone_template: Service, openstack_venv_path: Path
) -> Service:
    """Return a private, prepared (not started) keystone copied from the template."""
    return prepare_keystone(
        tmp_path / "keystone",
        keystone_template.port or KEYSTONE_PORT,
        template=keystone_template,
        venv=openstack_venv_path,
    )


@pytest.fixture(scope="session")
def placement_template(
    tmp_path_factory: pytest.TempPathFactory,
    openstack_venv_path: Path,
    lab_ports: LabPorts,
) -> Service:
    """Prepare placement once per session (db sync)."""
    return prepare_placement(
        tmp_path_factory.mktemp("placement-template"),
        lab_ports.placement,
        venv=openstack_venv_path,
    )


@pytest.fixture
def placement_service(
    tmp_path: Path, placement_template: Service, openstack_venv_path: Path
) -> Service:
    """Return a private, prepared (not started) no-auth placement."""
    return prepare_placement(
        tmp_path / "placement",
        placement_template.port or PLACEMENT_PORT,
        template=placement_template,
        venv=openstack_venv_path,
    )


@pytest.fixture(scope="session")
def nova_template(
    tmp_path_factory: pytest.TempPathFactory,
    openstack_venv_path: Path,
    lab_ports: LabPorts,
) -> Service:
    """Prepare nova's databases once per session (api_db sync + db sync: ~7 s)."""
    return prepare_nova_conductor(
        tmp_path_factory.mktemp("nova-template"),
        f"rabbit://guest:guest@127.0.0.1:{lab_ports.rabbit_node}/",
        keystone_port=lab_ports.keystone,
        placement_port=lab_ports.placement,
        venv=openstack_venv_path,
    )


@pytest.fixture
def nova_conductor_service(
    tmp_path: Path,
    nova_template: Service,
    rabbitmq: RabbitNode,
    lab_ports: LabPorts,
    openstack_venv_path: Path,
) -> Service:
    """Return a private, prepared (not started) nova-conductor using ``rabbitmq``."""
    return prepare_nova_conductor(
        tmp_path / "nova",
        rabbitmq.amqp_url,
        keystone_port=lab_ports.keystone,
        placement_port=lab_ports.placement,
        template=nova_template,
        venv=openstack_venv_path,
    )


@pytest.fixture(scope="session")
def installed_agents(request: pytest.FixtureRequest) -> Path:
    """hakit's agents installed where Pacemaker and ocf-tester find them.

    What the install replaces (launchers, ``hakit-cib``, the library
    directory) is kept and put back when pytest ends, after every session
    fixture, so no cluster still runs the launchers while they change.
    """
    from .agents import (  # noqa: PLC0415
        hold_install,
        install_lab_agents,
        keep_installed,
    )

    if os.geteuid() != 0:
        unavailable("installing OCF agents needs root")
    if not Path("/usr/lib/ocf/resource.d/heartbeat").is_dir():
        unavailable("resource-agents is not installed")
    request.config.add_cleanup(hold_install().close)
    kept = keep_installed(redfish_python=sys.executable)
    request.config.add_cleanup(kept.restore)
    return install_lab_agents(sys.executable)


@pytest.fixture(scope="session")
def private_agents(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """hakit's fence agents installed in a private directory; return it.

    The launchers run under the system python3 like the packaged ones (the
    Redfish agent under this virtualenv's, which has the DMTF library), and
    nothing in the live system changes: use it for tests that only run
    fence agents.
    """
    from .agents import install_private  # noqa: PLC0415

    return install_private(tmp_path_factory.mktemp("hakit-private"), sys.executable)


def _started_redfish(workdir: Path, systems: int) -> RedfishEmulator:
    """Start an emulator on a free port; two retries in case the port got taken."""
    reason = redfish_missing()
    if reason:
        unavailable(reason)
    for attempt in range(2):
        emulator = RedfishEmulator(workdir / f"redfish-{attempt}", free_port(), systems)
        try:
            emulator.start(timeout=30)
        except RuntimeError:
            continue  # its log stays in the attempt's directory
        return emulator
    emulator = RedfishEmulator(workdir / "redfish-2", free_port(), systems)
    emulator.start(timeout=30)
    return emulator


@pytest.fixture
def redfish_emulator(tmp_path: Path) -> Iterator[RedfishEmulator]:
    """A started sushy-tools emulator: 1 system (On), TLS, power changes at once."""
    emulator = _started_redfish(tmp_path, systems=1)
    try:
        yield emulator
    finally:
        emulator.stop()


@pytest.fixture
def redfish_multi(tmp_path: Path) -> Iterator[RedfishEmulator]:
    """A started sushy-tools emulator: 3 systems (On), TLS, power changes at once."""
    emulator = _started_redfish(tmp_path, systems=3)
    try:
        yield emulator
    finally:
        emulator.stop()


@pytest.fixture
def ipmi_sim(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[IpmiSim]:
    """Start a fresh OpenIPMI ``ipmi_sim`` (power on, no faults) for one test.

    It listens on a fresh UDP port.  Keyword arguments of :class:`IpmiSim`
    (``initial_power``, ``bridged``) can be given with indirect parametrization.
    """
    reason = ipmi_sim_missing()
    if reason:
        unavailable(reason)
    kwargs = getattr(request, "param", None) or {}
    sim = IpmiSim(tmp_path / "ipmi_sim", free_udp_port(), **kwargs)
    try:
        sim.start(timeout=15)
        yield sim
    finally:
        sim.stop()


@pytest.fixture
def pyghmi_bmc(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[PyghmiBmc]:
    """Start a fresh pyghmi BMC process (power on, no faults) for one test.

    It listens on a fresh UDP port.  Keyword arguments of :class:`PyghmiBmc`
    (``power_delay``, ``kg``, ``initial_power``) can be given with indirect
    parametrization.
    """
    reason = pyghmi_missing()
    if reason:
        unavailable(reason)
    kwargs = getattr(request, "param", None) or {}
    bmc = PyghmiBmc(free_udp_port(), workdir=tmp_path / "pyghmi_bmc", **kwargs)
    try:
        bmc.start(timeout=15)
        yield bmc
    finally:
        bmc.stop()


def _torn_down_at_exit(lab: GaleraLab) -> Callable[[], None]:
    """Register a safety net that kills ``lab``'s mariadbds at interpreter exit.

    mariadbd drops to mysql with setuid, which clears a parent-death signal,
    so nothing else stops them when a test run ends abruptly.
    """

    def _safety_net() -> None:
        try:
            lab.teardown()
        except Exception as exc:
            print(f"{lab!r}: teardown at exit failed: {exc}", file=sys.stderr)

    atexit.register(_safety_net)
    return _safety_net


@pytest.fixture
def galera_lab() -> Iterator[GaleraLab]:
    """Three initialised, stopped MariaDB Galera members n1..n3 on 127.0.0.1.

    Ports are the planned ones (SQL 30306-30308, gcomm 30567/30577/30587) or,
    when one is taken, free ones of 30000-31999.  Every file lives in a fresh
    mysql-owned temp dir; every mariadbd the test started is killed and the
    dir removed afterwards.  Initialising takes about 1.5 s.
    """
    reason = galera_missing()
    if reason:
        unavailable(reason)
    lab = GaleraLab(make_workdir(), ports=pick_ports())
    safety_net = _torn_down_at_exit(lab)
    try:
        lab.setup()
        yield lab
    finally:
        try:
            lab.teardown()
        finally:
            atexit.unregister(safety_net)


@pytest.fixture
def galera_namespaced(pcmk_three: MultiCluster) -> Iterator[NamespacedGalera]:
    """One initialised, stopped Galera member per node of ``pcmk_three``.

    Each node has its own ``/etc/mysql/hakit-galera.cnf`` (node address,
    ports 3306/4567/4568/4444, ``gcomm://`` of all three node addresses) and
    a freshly initialised ``/var/lib/mysql``.  No Pacemaker resource is
    created; the mariadbds the test started are killed afterwards.
    """
    reason = galera_missing()
    if reason:
        unavailable(reason)
    lab = NamespacedGalera(pcmk_three)
    safety_net = _torn_down_at_exit(lab)
    try:
        lab.setup()
        yield lab
    finally:
        try:
            lab.teardown()
        finally:
            atexit.unregister(safety_net)
