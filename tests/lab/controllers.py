"""The whole controller cluster, live: three nodes, BMCs that power them, hakit's CIB.

:class:`ControllerLab` is the lab of ``make lab`` and of the ``controller_lab``
integration fixture (issue #14).  It builds on the namespaced three-node lab
(:mod:`tests.lab.multinode`) and adds:

* **BMCs on the lab's own network.**  Each node's level-1 BMC is a pyghmi BMC
  (:class:`HubBmc`) and its level-2 BMC one system of a sushy-tools Redfish
  emulator; all of them run in the lab's bridge namespace on addresses of the
  bridge (``192.168.77.20``-``23``), which the nodes reach over ``eth0``.  A
  node's own loopback would not do: a fence agent runs on the *survivors*.
  Processes are put into that namespace by a long-lived thread that has
  entered it (:func:`netns_executor`); the BMCs' parent-death signals follow
  that thread, so it lives as long as the lab.
* **Power coupling.**  :class:`PowerCoupler` watches every BMC's power state
  (the ``transitions`` logs of the pyghmi BMC and of the emulator) and,
  when a node's power goes off, SIGKILLs every process of that node (every
  pid in its network namespace but the anchor that holds the namespaces);
  when it comes on again, it starts the node's corosync and pacemakerd, as a
  node that boots with its cluster stack enabled.  Fencing then has a real
  effect that can be observed.
* **hakit's CIB.**  ``hakit-cib build --live`` of :data:`LAB_CLUSTER` (run on
  ctl1 with the installed hakit-cib) is loaded with ``crm configure load xml
  update``: fence devices (fence_hakit_ipmi level 1, fence_hakit_redfish
  level 2), stonith-enabled, the VIP.
* **A client namespace** ``hk-cli-<id>`` on the bridge (``192.168.77.100``),
  from which :mod:`tests.lab.vip_client` probes the VIP.

Every address is inside the lab's namespaces (192.168.77.0/24 and
192.168.88.0/24 on the lab's bridges); nothing is sent elsewhere.  Everything
started is stopped by pid, and every namespace is deleted, by :meth:`stop`.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from .ipmi import ADMIN_PASSWORD
from .multinode import MultiCluster, _delete_netns, _ip, _netns_pids
from .pacemaker import (
    SAFE_PATH,
    ClusterError,
    WaitTimeoutError,
    _is_alive,
    _proc_identity,
    _signal,
    _wait_gone,
)
from .pyghmi_bmc import PyghmiBmc
from .redfish import PASSWORD as REDFISH_PASSWORD
from .redfish import TRANSITIONS_FILE, RedfishEmulator

#: The lab topology of the whole controller cluster.
LAB_CLUSTER = Path(__file__).resolve().parent / "lab-cluster.toml"
#: What ``galera=True`` appends to it: the Galera clone.
LAB_GALERA = Path(__file__).resolve().parent / "lab-cluster-galera.toml"

#: Level-1 (IPMI) BMC address of each node, on the lab bridge br0.
IPMI_BMCS = {"ctl1": "192.168.77.21", "ctl2": "192.168.77.22", "ctl3": "192.168.77.23"}
IPMI_PORT = 623
#: The Redfish emulator (level 2) serving one system per node.
REDFISH_ADDRESS = "192.168.77.20"
REDFISH_PORT = 443
REDFISH_UUIDS = {
    "ctl1": "7ab5c0de-0000-4000-8000-00000000c701",
    "ctl2": "7ab5c0de-0000-4000-8000-00000000c702",
    "ctl3": "7ab5c0de-0000-4000-8000-00000000c703",
}
#: The client namespace's address on br0.
CLIENT_ADDRESS = "192.168.77.100"
VIP = "192.168.77.10"
#: Where the fence devices read their passwords, and the services find their
#: files (lab-cluster.toml), in each node's private /run.
PASSWORD_DIR = "run/hakit"
#: HAProxy's frontend on every node (and so on the VIP), keystone's port.
FRONTEND_PORT = 5000
KEYSTONE_PORT = 5001
#: The nova-conductor clone's parameters (``rabbitmq=True``): the same on every
#: node, each node's ``/run/hakit/nova`` being its own directory.
CONDUCTOR_PARAMS = {
    "binary": "/run/hakit/venv/bin/nova-conductor",
    "config": "/run/hakit/nova/nova.conf",
    "user": "root",
    "amqp_grace": "60",
    "pidfile": "/run/hakit/nova-conductor.pid",
    "console_log": "/run/hakit/nova-conductor.console",
}
#: oslo.messaging's heartbeat_timeout_threshold of the lab's conductors: a
#: connection to a killed node's member (no RST comes) is given up after
#: this many seconds instead of the default 60 (README, RabbitMQ).
CONDUCTOR_HEARTBEAT = 10
#: HAProxy's Galera frontend (each member listens on its node's 3306).
GALERA_FRONTEND_PORT = 3307

HAPROXY_CFG = """\
# Written by tests/lab/controllers.py: keystone on every node behind the VIP.
global
    maxconn 2000
    # One line per request on HAProxy's stdout: the agent's console_log.
    log stdout format raw local0 info
defaults
    mode http
    log global
    option httplog
    timeout connect 500ms
    timeout client 10s
    timeout server 5s
    timeout check 500ms
    # A request whose server died is sent again, to another server
    # (redispatch on every retry): GETs are idempotent.
    retries 3
    option redispatch 1
    retry-on all-retryable-errors
    option http-server-close
frontend keystone
    bind *:{frontend}
    default_backend keystone
backend keystone
    option httpchk GET /v3
    default-server inter 500ms fastinter 200ms fall 2 rise 2
    default-server on-marked-down shutdown-sessions
{servers}
"""

GALERA_CFG = """\
listen galera
    bind *:{frontend}
    mode tcp
    option tcplog
    timeout client 90m
    timeout server 90m
    default-server inter 500ms fall 2 rise 2 on-marked-down shutdown-sessions
{servers}
"""

_CLONE_NEWNET = 0x40000000
_POLL = 0.05


# -- network namespaces for threads ----------------------------------------------


def _enter_netns(name: str) -> None:
    """Move the calling thread into the network namespace ``/run/netns/NAME``.

    setns(2) with CLONE_NEWNET changes only the calling thread; the processes
    it forks are born in that namespace.
    """
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(f"/run/netns/{name}", os.O_RDONLY | os.O_CLOEXEC)
    try:
        if libc.setns(fd, _CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"setns into {name}: {os.strerror(err)}")
    finally:
        os.close(fd)


def netns_executor(name: str) -> ThreadPoolExecutor:
    """Return a one-thread executor whose thread lives in network namespace NAME.

    The thread stays until :meth:`ThreadPoolExecutor.shutdown`, so children it
    starts under a parent-death signal live as long as the executor.
    """
    return ThreadPoolExecutor(
        max_workers=1,
        thread_name_prefix=f"netns-{name}",
        initializer=_enter_netns,
        initargs=(name,),
    )


# -- BMCs on the bridge --------------------------------------------------------------


class HubBmc(PyghmiBmc):
    """The lab's pyghmi BMC listening on a bridge address instead of 127.0.0.1.

    Start it from a thread inside the bridge namespace (:func:`netns_executor`).
    """

    def __init__(self, address: str, port: int, workdir: Path) -> None:
        """Describe the BMC; nothing starts before :meth:`start`."""
        super().__init__(port, workdir=workdir)
        self._bind = address

    @property
    def address(self) -> str:
        """Return the bridge address the BMC listens on."""
        return self._bind

    def transitions_file(self) -> Path:
        """Return the file the BMC appends each power change to."""
        return self.state_dir / "transitions"


# -- the cluster with its bridge-side extras ---------------------------------------


class ControllerCluster(MultiCluster):
    """The namespaced three-node cluster, plus BMC addresses and a client netns."""

    def __init__(
        self,
        workdir: Path,
        topology: Path = LAB_CLUSTER,
        token_coefficient: int | None = None,
    ) -> None:
        """Describe the cluster; nothing is created before :meth:`start`.

        ``token_coefficient`` replaces the topology's (lab-cluster.toml: 0)
        for experiments on detection time; consensus and knet's ping timing
        follow it.
        """
        super().__init__(
            workdir, topology=topology, token_coefficient=token_coefficient
        )
        self.client_ns = f"hk-cli-{self.id}"

    def namespaces(self) -> list[str]:
        """Every namespace this lab owns: nodes, the client, the hub last."""
        return [*self.netns.values(), self.client_ns, self.hub]

    def _setup_network(self) -> None:
        super()._setup_network()
        _ip("-n", self.hub, "link", "set", "lo", "up")
        for address in (REDFISH_ADDRESS, *IPMI_BMCS.values()):
            _ip("-n", self.hub, "addr", "add", f"{address}/24", "dev", "br0")
        _ip("netns", "add", self.client_ns)
        _ip("-n", self.client_ns, "link", "set", "lo", "up")
        _ip(
            "link", "add", "eth0", "netns", self.client_ns, "type", "veth",
            "peer", "name", "l0-client", "netns", self.hub,
        )  # fmt: skip
        _ip("-n", self.hub, "link", "set", "l0-client", "master", "br0", "up")
        _ip("-n", self.client_ns, "addr", "add", f"{CLIENT_ADDRESS}/24", "dev", "eth0")
        _ip("-n", self.client_ns, "link", "set", "eth0", "up")


# -- power coupling --------------------------------------------------------------------


class PowerCoupler:
    """Make each node's BMC power state real: off kills the node, on boots it.

    A thread reads the BMCs' transition logs every :data:`_POLL` seconds, so
    an off followed at once by an on (a reboot) is never missed.  Power-off
    of a node (from either of its BMCs) kills every process in the node's
    network namespace but its anchor, at once with SIGKILL, and forgets the
    daemons' pids.
    Power-on (both BMCs on) wipes the node's runtime state and starts corosync
    and then pacemakerd, from a long-lived thread so that their parent-death
    signal does not fire early.  Every event is kept in :attr:`events`
    (monotonic time, node, ``"off"``/``"on"``, pids killed).
    """

    def __init__(
        self,
        cluster: ControllerCluster,
        ipmi: dict[str, HubBmc],
        redfish: RedfishEmulator | None,
    ) -> None:
        """Couple ``cluster``'s nodes to their BMCs (call :meth:`start`)."""
        self.cluster = cluster
        self.ipmi = ipmi
        self.redfish = redfish
        self.events: list[tuple[float, str, str, list[int]]] = []
        self.powered = dict.fromkeys(cluster.names, True)
        self._offsets = dict.fromkeys(cluster.names, 0)
        self._ipmi_on = dict.fromkeys(cluster.names, True)
        self._redfish_on = dict.fromkeys(cluster.names, True)
        self._redfish_offset = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._boot = ThreadPoolExecutor(max_workers=1, thread_name_prefix="boot")
        self._boots: dict[str, Future[None]] = {}
        self.errors: list[str] = []
        self._lock = threading.Lock()

    def start(self) -> None:
        """Start watching, from the power states as they are now."""
        for name, bmc in self.ipmi.items():
            path = bmc.transitions_file()
            self._offsets[name] = path.stat().st_size if path.exists() else 0
            self._ipmi_on[name] = bmc.power
        if self.redfish is not None:
            path = self.redfish.faults_dir / TRANSITIONS_FILE
            self._redfish_offset = path.stat().st_size if path.exists() else 0
        self._thread = threading.Thread(target=self._run, name="power", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop watching (the boot thread stays until :meth:`close`)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def close(self) -> None:
        """End the boot thread: call after the cluster's daemons are stopped."""
        self._boot.shutdown(wait=True, cancel_futures=True)

    def wait_booted(self, name: str, timeout: float = 30) -> None:
        """Wait until the last boot of ``name`` has started its daemons."""
        future = self._boots.get(name)
        if future is not None:
            future.result(timeout=timeout)

    def last(self, name: str, what: str) -> float | None:
        """Monotonic time of the last ``what`` ("off"/"on") event of ``name``."""
        times = [t for t, n, w, _ in self.events if n == name and w == what]
        return times[-1] if times else None

    # -- the watcher --------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._poll()
            except Exception as exc:  # noqa: BLE001 - keep watching, report later
                self.errors.append(f"{type(exc).__name__}: {exc}")
            self._stop.wait(_POLL)

    def _poll(self) -> None:
        for name, bmc in self.ipmi.items():
            path = bmc.transitions_file()
            if not path.exists():
                continue
            with path.open() as handle:
                handle.seek(self._offsets[name])
                lines = handle.readlines()
                self._offsets[name] = handle.tell()
            for line in lines:
                if line.strip():
                    self._ipmi_on[name] = line.split()[1] == "1"
                    self._apply(name)
        if self.redfish is not None:
            path = self.redfish.faults_dir / TRANSITIONS_FILE
            if path.exists():
                with path.open() as handle:
                    handle.seek(self._redfish_offset)
                    lines = handle.readlines()
                    self._redfish_offset = handle.tell()
                names = {uuid: name for name, uuid in REDFISH_UUIDS.items()}
                for line in lines:
                    fields = line.split()
                    if len(fields) == 3 and fields[1] in names:
                        self._redfish_on[names[fields[1]]] = fields[2] == "On"
                        self._apply(names[fields[1]])

    def _apply(self, name: str) -> None:
        on = self._ipmi_on[name] and self._redfish_on[name]
        if on == self.powered[name]:
            return
        self.powered[name] = on
        if on:
            self.events.append((time.monotonic(), name, "on", []))
            self._boots[name] = self._boot.submit(self.boot, name)
        else:
            # The event's time is when the power went off (seen), not when
            # the last process was gone.
            seen = time.monotonic()
            pending = self._boots.get(name)
            if pending is not None:
                with contextlib.suppress(Exception):
                    pending.result(timeout=30)
            killed = self.power_off(name)
            self.events.append((seen, name, "off", killed))

    # -- what power does to a node --------------------------------------------

    def power_off(self, name: str) -> list[int]:
        """SIGKILL every process of node ``name`` but its anchor; return the pids."""
        node = self.cluster.nodes[name]
        anchor = node.anchor
        with self._lock:
            node._record_children()
            recorded = node._all_recorded()
            popens = (node._pacemakerd, node._corosync)
            # Forget the daemons first: a concurrent wait must not report
            # them as crashed, the node is simply off.
            node._pacemakerd = node._corosync = None
            node._pacemakerd_id = node._corosync_id = None
            node._children = {}
            killed: dict[int, Any] = {}
            for _ in range(20):
                procs = [
                    p
                    for p in map(_proc_identity, _netns_pids(self.cluster.netns[name]))
                    if p is not None and (anchor is None or p.pid != anchor.pid)
                ]
                procs += [p for p in recorded if _is_alive(p)]
                procs = [p for p in procs if _is_alive(p)]
                if not procs:
                    break
                for proc in procs:
                    _signal(proc, 9)
                    killed[proc.pid] = proc
                _wait_gone(procs, 5)
            for popen in popens:
                if popen is not None:
                    with contextlib.suppress(subprocess.TimeoutExpired):
                        popen.wait(timeout=2)
            self._network(name, up=False)
        return sorted(killed)

    def _network(self, name: str, *, up: bool) -> None:
        """Take the node's NICs down (power off) or up again (power on).

        A node whose processes are dead still has a kernel: without this, its
        NICs would keep answering ARP for the addresses it held (the VIP
        among them) and reset TCP connections, which no powered-off machine
        does.  Going down also forgets every address but the node's own, as a
        reboot does, so a VIP it held is not found there after power-on.
        """
        ns = self.cluster.netns[name]
        for link, address in enumerate(self.cluster.links[name]):
            nic = f"eth{link}"
            if up:
                _ip("-n", ns, "link", "set", nic, "up")
                continue
            _ip("-n", ns, "link", "set", nic, "down")
            _ip("-n", ns, "addr", "flush", "dev", nic)
            _ip("-n", ns, "addr", "add", f"{address}/24", "dev", nic)

    def boot(self, name: str) -> None:
        """Start ``name``'s cluster stack as a node powered on would."""
        node = self.cluster.nodes[name]
        with self._lock:
            if node._corosync is not None:
                return
            node.wipe_runtime()
            self._network(name, up=True)
            node.start_corosync()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            probe = node._probe(["corosync-cfgtool", "-s"])
            if probe is not None and probe.returncode == 0:
                break
            time.sleep(0.1)
        with self._lock:
            if node._corosync is not None and node._pacemakerd is None:
                node.start_pacemakerd()


# -- the lab ---------------------------------------------------------------------------


class ControllerLab:
    """The cluster, its BMCs, the power coupling and hakit's CIB (see module doc).

    Args:
        workdir: Directory for everything the lab writes.
        topology: The lab topology (:data:`LAB_CLUSTER`).
    """

    def __init__(
        self,
        workdir: Path,
        topology: Path = LAB_CLUSTER,
        *,
        venv: Path | None = None,
        galera: bool = False,
        rabbitmq: bool = False,
        token_coefficient: int | None = None,
    ) -> None:
        """Describe the lab; :meth:`start` builds it.

        Args:
            workdir: Directory for everything the lab writes.
            topology: The lab topology.
            venv: The OpenStack test virtualenv (keystone); needed by
                :data:`LAB_CLUSTER`, which runs keystone on every node.
            galera: Add the Galera clone (:data:`LAB_GALERA`) behind HAProxy.
            rabbitmq: Add hakit-cib's RabbitMQ clone (``ocf:hakit:rabbitmq``,
                one member per node, tests/lab/rabbitmq_agent.py's files) and
                an RPC worker consuming from it: a nova-conductor clone
                (``ocf:hakit:nova-conductor``, one per node, its
                transport_url naming the three members).
            token_coefficient: Corosync's token_coefficient, for experiments
                (default: the topology's; lab-cluster.toml sets 0).
        """
        self.workdir = Path(workdir)
        self.venv = venv
        self.galera_enabled = galera
        self.topology = topology
        self.galera: Any = None
        self.rabbit: Any = None
        self.cluster = ControllerCluster(
            self.workdir / "cluster", topology, token_coefficient
        )
        if galera or rabbitmq:
            self.workdir.mkdir(parents=True, exist_ok=True)
            text = topology.read_text()
            if galera:
                text += "\n" + LAB_GALERA.read_text()
            if rabbitmq:
                text = self._with_rabbitmq(text)
            self.topology = self.workdir / "lab-cluster-combined.toml"
            self.topology.write_text(text)
        self.ipmi = {
            name: HubBmc(address, IPMI_PORT, self.workdir / "bmc" / name)
            for name, address in IPMI_BMCS.items()
        }
        self.redfish = RedfishEmulator(
            self.workdir / "redfish", REDFISH_PORT, systems=len(REDFISH_UUIDS)
        )
        self.redfish.host = REDFISH_ADDRESS
        self.redfish.system_uuids = list(REDFISH_UUIDS.values())
        self.coupler = PowerCoupler(self.cluster, self.ipmi, self.redfish)
        self.timings: dict[str, float] = {}
        self._hub: ThreadPoolExecutor | None = None
        self._client: ThreadPoolExecutor | None = None

    # -- lifecycle ---------------------------------------------------------------

    def start(self, timeout: float = 120) -> None:
        """Start cluster, BMCs, coupling; load hakit's CIB; wait until settled.

        On failure everything started is stopped before the error propagates.
        """
        try:
            self._start(timeout)
        except BaseException:
            with contextlib.suppress(Exception):
                self.stop()
            raise

    def _start(self, timeout: float) -> None:
        t0 = time.monotonic()
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.cluster.start(timeout=60)
        self.timings["cluster"] = time.monotonic() - t0
        self._write_passwords()
        if self.galera_enabled:
            from .galera import NamespacedGalera  # noqa: PLC0415

            self.galera = NamespacedGalera(self.cluster)
            self.galera.setup()
            self.timings["galera prepared"] = time.monotonic() - t0
        if self.rabbit is not None:
            self.rabbit.setup()
        if self.venv is not None:
            self._prepare_services(self.venv)
            if self.rabbit is not None:
                self._prepare_conductors(self.venv)
            self.timings["services prepared"] = time.monotonic() - t0
        self._hub = netns_executor(self.cluster.hub)
        for bmc in self.ipmi.values():
            self._hub.submit(bmc.start, 15).result()
        self._hub.submit(self.redfish.start, 30).result()
        self.coupler.start()
        self.timings["bmcs"] = time.monotonic() - t0
        self.load_cib()
        self.wait(self.settled, timeout, "hakit's CIB loaded and the cluster idle")
        self.timings["ready"] = time.monotonic() - t0

    def stop(self) -> None:
        """Stop coupling, cluster, BMCs; delete every namespace.  Idempotent."""
        errors: list[str] = []
        self.coupler.stop()
        self._keep_node_logs()
        try:
            self.cluster.stop()
        except ClusterError as exc:
            errors.append(str(exc))
        self.coupler.close()
        if self._hub is not None:
            for bmc in self.ipmi.values():
                self._hub.submit(bmc.stop).result()
            self._hub.submit(self.redfish.stop).result()
            self._hub.shutdown(wait=True)
            self._hub = None
        if self._client is not None:
            self._client.shutdown(wait=True)
            self._client = None
        for ns in self.cluster.namespaces():
            _delete_netns(ns)
        if errors:
            raise ClusterError("; ".join(errors))

    def _keep_node_logs(self) -> None:
        """Copy the agents' logs (HAProxy's requests...) out of each node's /run.

        The nodes' /run is a tmpfs that goes with the lab; the copies stay in
        ``workdir/node-logs/<node>``.
        """
        for name, node in self.cluster.nodes.items():
            if node.anchor is None or not _is_alive(node.anchor):
                continue
            target = self.workdir / "node-logs" / name
            with contextlib.suppress(OSError):
                target.mkdir(parents=True, exist_ok=True)
                for log in (node.root() / "run/resource-agents").glob("*.log"):
                    shutil.copy(log, target / log.name)

    def _write_passwords(self) -> None:
        """Write each node's BMC password files into its private /run/hakit."""
        for node in self.cluster.nodes.values():
            self.write_password(node.node, "ipmi", ADMIN_PASSWORD)
            self.write_password(node.node, "redfish", REDFISH_PASSWORD)

    def write_password(self, node: str, kind: str, password: str) -> None:
        """Set the password ``node``'s fence agents use for ``kind`` BMCs."""
        folder = self.cluster.nodes[node].root() / PASSWORD_DIR
        folder.mkdir(mode=0o700, exist_ok=True)
        path = folder / f"{kind}-password"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(password + "\n")

    def _with_rabbitmq(self, text: str) -> str:
        """``text`` with RabbitMQ deployed, its parameters the lab's files."""
        from .rabbitmq_agent import RabbitAgents  # noqa: PLC0415

        self.rabbit = RabbitAgents(
            self.cluster, self.workdir / "rabbit", resource="hakit-rabbitmq"
        )
        marker = 'haproxy = "ocf"\n'
        if marker not in text:
            raise ValueError(f"{self.topology}: no [services] haproxy line")
        params = ", ".join(
            f"{key} = {json.dumps(value)}"
            for key, value in self.rabbit.params().items()
        )
        text = text.replace(marker, marker + "rabbitmq = true\n", 1)
        enabled = 'enable = ["keystone"]'
        if enabled not in text:
            raise ValueError(f"{self.topology}: no [services.openstack] {enabled}")
        text = text.replace(enabled, 'enable = ["keystone", "nova-conductor"]', 1)
        conductor = ", ".join(
            f"{key} = {json.dumps(value)}" for key, value in CONDUCTOR_PARAMS.items()
        )
        return (
            text
            + f"\n[overrides.rabbitmq]\nparams = {{ {params} }}\n"
            + f"\n[overrides.nova-conductor]\nparams = {{ {conductor} }}\n"
        )

    def _prepare_conductors(self, venv: Path) -> None:
        """Write each node's nova-conductor (sqlite, transport_url of all members).

        One database template, copied per node; the node's
        ``/run/hakit/nova`` links to its directory, so the clone's parameters
        are the same on every node.
        """
        from .openstack import prepare_nova_conductor  # noqa: PLC0415
        from .rabbitmq_agent import AMQP_PORT  # noqa: PLC0415

        names = self.cluster.names

        def url(first: int) -> str:
            order = names[first:] + names[:first]
            hosts = ",".join(
                f"guest:guest@{self.rabbit.address(n)}:{AMQP_PORT}" for n in order
            )
            return f"rabbit://{hosts}/"

        template = prepare_nova_conductor(
            self.workdir / "nova-template", url(0), KEYSTONE_PORT, venv=venv
        )
        for i, (name, node) in enumerate(self.cluster.nodes.items()):
            # Each conductor names the next node's member first (oslo.messaging
            # connects to the first host that answers), so a killed node
            # always cuts one survivor's conductor off its member.
            service = prepare_nova_conductor(
                self.workdir / "nova" / name,
                url((i + 1) % len(names)),
                KEYSTONE_PORT,
                template=template,
                venv=venv,
                heartbeat_timeout=CONDUCTOR_HEARTBEAT,
            )
            link = node.root() / PASSWORD_DIR / "nova"
            link.parent.mkdir(mode=0o700, exist_ok=True)
            link.unlink(missing_ok=True)
            link.symlink_to(service.workdir)

    def _prepare_services(self, venv: Path) -> None:
        """Write each node's haproxy.cfg and keystone (one template, copied).

        Keystone runs from a directory per node on the host (its own sqlite
        database, the same fernet keys); the node's ``/run/hakit/keystone``
        links to it, ``/run/hakit/venv`` to the virtualenv, so the clone's
        parameters are the same on every node.
        """
        from .openstack import prepare_keystone  # noqa: PLC0415

        template = prepare_keystone(
            self.workdir / "keystone-template", KEYSTONE_PORT, venv=venv
        )
        servers = "\n".join(
            f"    server {name} {node.address}:{KEYSTONE_PORT} check"
            for name, node in self.cluster.nodes.items()
        )
        config = HAPROXY_CFG.format(frontend=FRONTEND_PORT, servers=servers)
        if self.galera_enabled:
            # One writer at a time: the first member, the others as backups.
            members = "\n".join(
                f"    server {name} {node.address}:3306 check"
                + ("" if i == 0 else " backup")
                for i, (name, node) in enumerate(self.cluster.nodes.items())
            )
            config += GALERA_CFG.format(frontend=GALERA_FRONTEND_PORT, servers=members)
        for name, node in self.cluster.nodes.items():
            service = prepare_keystone(
                self.workdir / "keystone" / name,
                KEYSTONE_PORT,
                template=template,
                venv=venv,
            )
            gconf = service.workdir / "gunicorn_conf.py"
            gconf.write_text(
                gconf.read_text().replace(
                    f"'127.0.0.1:{KEYSTONE_PORT}'", f"'0.0.0.0:{KEYSTONE_PORT}'"
                )
            )
            run = node.root() / PASSWORD_DIR
            run.mkdir(mode=0o700, exist_ok=True)
            for link, target in (("keystone", service.workdir), ("venv", venv)):
                (run / link).unlink(missing_ok=True)
                (run / link).symlink_to(target)
            (run / "haproxy.cfg").write_text(config)

    # -- the CIB -------------------------------------------------------------------

    def load_cib(self, node: str = "ctl1") -> None:
        """Build the topology's CIB with the installed hakit-cib; load it."""
        built = self.workdir / "hakit-cib.xml"
        self.cluster.run(
            ["hakit-cib", "build", str(self.topology), "--live", "-o", str(built)],
            node=node,
            timeout=120,
        )
        self.cluster.run(
            ["crm", "configure", "load", "xml", "update", str(built)],
            node=node,
            timeout=120,
        )

    # -- state -----------------------------------------------------------------------

    def run(
        self, argv: Sequence[str], node: str | None = None, **kwargs: Any
    ) -> subprocess.CompletedProcess[str]:
        """Run a command inside ``node`` (default: the first live node)."""
        return self.cluster.run(argv, node=node, **kwargs)

    def live(self) -> list[str]:
        """Nodes whose corosync we started and that are powered."""
        return [n for n in self.cluster.live_nodes() if self.coupler.powered[n]]

    def settled(self) -> bool:
        """Every live node quorate and Online everywhere, the DC idle."""
        live = self.live()
        return bool(live) and self.cluster.settled(live)

    def where(self, rsc_id: str) -> list[str]:
        """Nodes where ``rsc_id`` runs, as the first live node sees it."""
        live = self.live()
        return self.cluster.where(rsc_id, live[0]) if live else []

    def wait(self, predicate: Callable[[], bool], timeout: float, what: str) -> float:
        """Poll ``predicate`` every 0.1 s (bounded); return the seconds it took."""
        t0 = time.monotonic()
        while not predicate():
            if self.coupler.errors:
                raise ClusterError(f"power coupling failed: {self.coupler.errors}")
            if time.monotonic() - t0 > timeout:
                raise WaitTimeoutError(
                    self.cluster.diagnose(f"timed out after {timeout}s: {what}")
                )
            time.sleep(0.1)
        return time.monotonic() - t0

    def crm_mon(self) -> str:
        """Return ``crm_mon -1 -A`` as seen from the first live node."""
        return self.run(["crm_mon", "-1", "-A"], check=False).stdout

    def client(self) -> ThreadPoolExecutor:
        """Return an executor whose thread lives in the client namespace."""
        if self._client is None:
            self._client = netns_executor(self.cluster.client_ns)
        return self._client

    def client_command(self, argv: Sequence[str]) -> list[str]:
        """Prefix ``argv`` to run it in the client namespace."""
        return ["ip", "netns", "exec", self.cluster.client_ns, *argv]

    def anchors_alive(self) -> bool:
        """Whether every node's anchor (and so its namespaces) is alive."""
        return all(
            n.anchor is not None and _is_alive(n.anchor)
            for n in self.cluster.nodes.values()
        )

    def node_pids(self, name: str) -> list[int]:
        """Every pid in node ``name``'s network namespace but its anchor."""
        anchor = self.cluster.nodes[name].anchor
        return [
            pid
            for pid in _netns_pids(self.cluster.netns[name])
            if anchor is None or pid != anchor.pid
        ]


@contextlib.contextmanager
def running(workdir: Path) -> Iterator[ControllerLab]:
    """Start a :class:`ControllerLab` for the block and always stop it."""
    lab = ControllerLab(workdir)
    lab.start()
    try:
        yield lab
    finally:
        lab.stop()


__all__ = [
    "LAB_CLUSTER",
    "SAFE_PATH",
    "ControllerLab",
    "HubBmc",
    "PowerCoupler",
    "netns_executor",
    "running",
]
