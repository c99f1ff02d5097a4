"""Fixtures for integration tests that need real cluster daemons.

``pcmk_cluster`` is one live single-node Corosync + Pacemaker cluster per test
session.  With ``CI=true`` a missing tool or privilege fails the requesting
test instead of skipping it (``tests.unavailable``).
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# tests/lab is a plain directory, not an installed package: make it importable
# whatever the rootdir/import mode (a bare `pytest` does not add the CWD).
_REPO = Path(__file__).resolve().parents[2]
if str(_REPO) not in sys.path:
    sys.path.insert(0, str(_REPO))

from tests.lab.controllers import ControllerLab  # noqa: E402
from tests.lab.galera import NamespacedGalera, galera_missing  # noqa: E402
from tests.lab.galera_agent import GaleraAgent  # noqa: E402
from tests.lab.galera_clone import CLONE, clone_xml  # noqa: E402
from tests.lab.ipmi import pyghmi_missing  # noqa: E402
from tests.lab.multinode import MULTI_REQUIRED_TOOLS, MultiCluster  # noqa: E402
from tests.lab.pacemaker import REQUIRED_TOOLS, SAFE_PATH, Cluster  # noqa: E402
from tests.lab.rabbitmq import rabbitmq_missing  # noqa: E402
from tests.lab.redfish import redfish_missing  # noqa: E402
from tests.unavailable import unavailable  # noqa: E402


def _cluster_unavailable_reason() -> str | None:
    """Return why a live cluster cannot run here, or None if it can."""
    missing = [
        tool for tool in REQUIRED_TOOLS if shutil.which(tool, path=SAFE_PATH) is None
    ]
    if missing:
        return f"Pacemaker/Corosync tools not installed: {', '.join(missing)}"
    if os.geteuid() != 0:
        return "a live Pacemaker cluster needs root (it writes /var/lib/pacemaker)"
    return None


def _running(cluster: Any, label: str) -> Iterator[Any]:
    """Start ``cluster``, yield it, and always stop it (also at interpreter exit).

    A killed interpreter is covered by the daemons' pdeathsig.
    """

    def _safety_net() -> None:
        try:
            cluster.stop()
        except Exception as exc:
            print(f"{label}: stop at exit failed: {exc}", file=sys.stderr)

    atexit.register(_safety_net)
    try:
        cluster.start()
        yield cluster
    finally:
        try:
            cluster.stop()
        finally:
            atexit.unregister(_safety_net)


@pytest.fixture(scope="session")
def pcmk_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """Yield a started single-node cluster (node1); stop it at session end.

    Tests that add resources must remove them again (``delete_resource``).  A
    test may stop() and start() the cluster as long as it leaves it running.
    Only one such cluster can run per host (it uses /var/lib/pacemaker and
    the host's IPC names), so do not combine it with pytest-xdist.
    """
    reason = _cluster_unavailable_reason()
    if reason:
        unavailable(reason)
    yield from _running(Cluster(tmp_path_factory.mktemp("pcmk")), "pcmk_cluster")


def _three_nodes_unavailable_reason() -> str | None:
    """Return why the namespaced three-node lab cannot run here, or None."""
    missing = [
        tool
        for tool in MULTI_REQUIRED_TOOLS
        if shutil.which(tool, path=SAFE_PATH) is None
    ]
    if missing:
        return f"tools for the three-node lab not installed: {', '.join(missing)}"
    if os.geteuid() != 0:
        return "the three-node lab needs root (network and mount namespaces)"
    if not Path("/proc/self/ns/net").exists():
        return "the kernel has no network namespaces"
    return None


@pytest.fixture(scope="session")
def pcmk_three(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MultiCluster]:
    """Yield a started three-node cluster (ctl1..ctl3) in private namespaces.

    Each node has its own network, mount and UTS namespace, so this can run
    next to ``pcmk_cluster`` without sharing /run, /dev/shm, the CIB or IPC.
    Tests may kill_node()/restart_node() but must leave all nodes running
    and remove the resources they add.
    """
    reason = _three_nodes_unavailable_reason()
    if reason:
        unavailable(reason)
    yield from _running(MultiCluster(tmp_path_factory.mktemp("pcmk3")), "pcmk_three")


@pytest.fixture
def galera_clone(
    request: pytest.FixtureRequest,
    pcmk_three: MultiCluster,
    galera_namespaced: NamespacedGalera,
    installed_agents: Path,
) -> Iterator[GaleraAgent]:
    """ocf:hakit:galera loaded as a promotable clone into ``pcmk_three``.

    Yields the agent driver (its lab, parameters and attribute readers); the
    clone is stopped, deleted and its failures cleaned up afterwards.  With
    indirect parametrization, ``request.param`` is a dict whose ``params``
    entry adds agent parameters and whose other keys go to
    :func:`tests.lab.galera_clone.clone_xml` (``demote_timeout``...).
    """
    options = dict(getattr(request, "param", None) or {})
    agent = GaleraAgent.for_lab(
        pcmk_three, galera_namespaced, **options.pop("params", {})
    )
    ctl1 = pcmk_three.node("ctl1")
    ctl1.load_xml(clone_xml(agent.params, **options))
    try:
        yield agent
    finally:
        ctl1.delete_resource(CLONE, timeout=120)
        for node in pcmk_three.names:
            ctl1.run(
                ["crm_resource", "--cleanup", "-r", CLONE, "-N", node], check=False
            )


def _controller_lab(
    tmp_path_factory: pytest.TempPathFactory,
    venv: Path,
    name: str,
    extra_missing: str | None = None,
    **options: bool,
) -> Iterator[ControllerLab]:
    """Start a :class:`ControllerLab` with ``options`` for the fixture ``name``."""
    reason = (
        _three_nodes_unavailable_reason()
        or redfish_missing()
        or pyghmi_missing()
        or extra_missing
    )
    if reason:
        unavailable(reason)
    workdir = tmp_path_factory.mktemp(name)
    yield from _running(ControllerLab(workdir, venv=venv, **options), name)


@pytest.fixture(scope="module")
def controller_lab(
    tmp_path_factory: pytest.TempPathFactory,
    installed_agents: Path,
    openstack_venv_path: Path,
) -> Iterator[ControllerLab]:
    """The whole controller cluster of ``make lab`` (tests/lab/controllers.py).

    Three namespaced nodes, each with an IPMI BMC (fencing level 1) and a
    Redfish system (level 2) whose power-off kills the node and whose
    power-on boots it; hakit-cib's CIB of tests/lab/lab-cluster.toml (VIP,
    HAProxy clone, keystone clone) loaded with ``crm configure load xml
    update``.  Module scoped: it runs beside
    no other three-node lab of the same module.
    """
    yield from _controller_lab(tmp_path_factory, openstack_venv_path, "controller_lab")


@pytest.fixture(scope="module")
def controller_lab_full(
    tmp_path_factory: pytest.TempPathFactory,
    installed_agents: Path,
    openstack_venv_path: Path,
) -> Iterator[ControllerLab]:
    """``controller_lab`` plus Galera behind the VIP, RabbitMQ and nova-conductor.

    The lab ``make lab`` runs: the Galera clone behind HAProxy on the VIP,
    RabbitMQ (3 members) and a nova-conductor clone.
    """
    yield from _controller_lab(
        tmp_path_factory,
        openstack_venv_path,
        "controller_lab_full",
        galera_missing() or rabbitmq_missing(),
        galera=True,
        rabbitmq=True,
    )
