"""Run a real three-node Corosync + Pacemaker cluster on one machine.

Each node lives in its own network, mount and UTS namespace (LAB section 4):
a bridge namespace ``hk-hub-<id>`` holds ``br0``; node namespaces
``hk-<node>-<id>`` are wired to it with a veth pair.  An *anchor* process per
node (``sleep infinity`` after NODE_INIT has set up private bind mounts and
tmpfs) keeps the namespaces alive while daemons are killed; every command is
run inside a node with ``nsenter -t ANCHOR -n -m -u --``.

When MariaDB is installed, each node also gets private ``/etc/mysql``,
``/var/lib/mysql``, ``/var/log/mysql`` and ``/run/mysqld`` for one Galera
member per node (see :class:`tests.lab.galera.NamespacedGalera`).

Each node is a :class:`NamespacedNode`, a :class:`tests.lab.pacemaker.Cluster`
whose :meth:`command` prefixes nsenter, so the pid bookkeeping, stop logic and
CLI helpers are shared with the single-node lab.  Nothing here touches the
host's ``/run``, ``/dev/shm``, ``/var/lib/pacemaker`` or abstract IPC names.

Stale namespaces from a crashed run are found through state files under
``/run/hakit-lab`` and removed only when their owner and anchors are dead.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import re
import secrets
import shutil
import signal
import subprocess
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tests.lab.pacemaker import (
    CLUSTER_NAME,
    PACEMAKERD,
    REQUIRED_TOOLS,
    SAFE_PATH,
    SEED_CIB,
    Cluster,
    ClusterCommandError,
    ClusterError,
    ClusterStartError,
    WaitTimeoutError,
    _is_alive,
    _Proc,
    _proc_identity,
    _signal,
    _wait_gone,
)

#: Extra binaries the namespaced lab needs on top of the cluster tools.
NAMESPACE_TOOLS = ("ip", "unshare", "nsenter", "setpriv", "hostname", "mount")
MULTI_REQUIRED_TOOLS = (*REQUIRED_TOOLS, *NAMESPACE_TOOLS)
STATE_DIR = Path("/run/hakit-lab")
_PROBE = 5.0
_POLL = 0.2

# Host path -> private per-node directory name (bind-mounted over the host path
# inside the node's mount namespace only).
_BIND_DIRS = {
    "/etc/corosync": "etc-corosync",
    "/var/lib/corosync": "lib-corosync",
    "/var/lib/pacemaker": "lib-pacemaker",
    "/var/log/corosync": "log-corosync",
    "/var/log/pacemaker": "log-pacemaker",
}

# MariaDB's directories (LAB section 15), private per node in the same way,
# created only where the mysql user exists: host path -> per-node directory.
_MYSQL_BIND_DIRS = {
    "/etc/mysql": "etc-mysql",
    "/var/lib/mysql": "lib-mysql",
    "/var/log/mysql": "log-mysql",
}

# $1 node name, $2 node directory (holding the bind sources), $3 pid file.
NODE_INIT = """\
set -eu
node=$1 dir=$2 pidfile=$3
mount --bind "$dir/etc-corosync" /etc/corosync
mount --bind "$dir/lib-corosync" /var/lib/corosync
mount --bind "$dir/lib-pacemaker" /var/lib/pacemaker
mount --bind "$dir/log-corosync" /var/log/corosync
mount --bind "$dir/log-pacemaker" /var/log/pacemaker
if [ -d "$dir/lib-mysql" ]; then  # MariaDB is installed (_prepare_mysql_dirs)
    mkdir -p /etc/mysql /var/lib/mysql /var/log/mysql
    mount --bind "$dir/etc-mysql" /etc/mysql
    mount --bind "$dir/lib-mysql" /var/lib/mysql
    mount --bind "$dir/log-mysql" /var/log/mysql
fi
mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs /run
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /dev/shm
mkdir -p /run/crm /run/lock
chown hacluster:haclient /run/crm
chmod 0750 /run/crm
mkdir -m 1755 /run/resource-agents
ln -s /dev/shm /run/shm
if [ -d "$dir/lib-mysql" ]; then
    install -d -o mysql -g mysql -m 0755 /run/mysqld
fi
hostname "$node"
echo $$ >"$pidfile"
exec sleep infinity
"""


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run ``ip ARGS`` on the host (no shell) and return its result."""
    proc = subprocess.run(
        ["ip", *args],
        capture_output=True,
        text=True,
        timeout=15,
        env={"PATH": SAFE_PATH},
        check=False,
    )
    if check and proc.returncode != 0:
        raise ClusterCommandError(proc.returncode, proc.args, proc.stdout, proc.stderr)
    return proc


def _netns_pids(name: str) -> list[int]:
    """Return the pids whose network namespace is *name* (``ip netns pids``)."""
    proc = _ip("netns", "pids", name, check=False)
    return [int(p) for p in proc.stdout.split() if p.isdigit()]


def _netns_names() -> set[str]:
    proc = _ip("netns", "list", check=False)
    return {line.split()[0] for line in proc.stdout.splitlines() if line.strip()}


def _delete_netns(name: str) -> None:
    """SIGKILL whatever still runs in our (uniquely named) netns, then delete it."""
    if name not in _netns_names():
        return
    procs = [p for p in map(_proc_identity, _netns_pids(name)) if p is not None]
    for proc in procs:
        _signal(proc, signal.SIGKILL)
    _wait_gone(procs, 5)
    _ip("netns", "del", name, check=False)


def _prepare_mysql_dirs(node_dir: Path) -> None:
    """Create a node's private MariaDB dirs (``/etc/mysql`` copied), if installed.

    The node's mariadbd runs as mysql, so its data and log dirs belong to it.
    Without the mysql user nothing is created and NODE_INIT mounts nothing.
    NODE_INIT creates missing mount points on the shared root (Debian 12 ships
    no ``/var/log/mysql``), which leaves an empty directory on the host.
    """
    try:
        mysql = pwd.getpwnam("mysql")
    except KeyError:
        return
    etc = node_dir / _MYSQL_BIND_DIRS["/etc/mysql"]
    if Path("/etc/mysql").is_dir():
        shutil.copytree("/etc/mysql", etc, symlinks=True, dirs_exist_ok=True)
    etc.mkdir(exist_ok=True)
    for host_dir in ("/var/lib/mysql", "/var/log/mysql"):
        path = node_dir / _MYSQL_BIND_DIRS[host_dir]
        path.mkdir(exist_ok=True)
        os.chown(path, mysql.pw_uid, mysql.pw_gid)
        os.chmod(path, 0o750)


def _ident_json(proc: _Proc | None) -> list[int] | None:
    return [proc.pid, proc.starttime] if proc else None


def _alive_json(value: list[int] | None) -> bool:
    return bool(value) and _is_alive(_Proc(int(value[0]), int(value[1])))


def remove_stale(state_dir: Path = STATE_DIR) -> list[str]:
    """Delete namespaces of crashed runs; return the names removed.

    A state file is stale only when its owner process and every recorded
    anchor are dead (a zombie counts as dead).  Namespaces without a state
    file are never touched.
    """
    removed: list[str] = []
    if not state_dir.is_dir():
        return removed
    for path in state_dir.glob("*.json"):
        try:
            state = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if _alive_json(state.get("owner")) or any(
            _alive_json(a) for a in state.get("anchors", {}).values()
        ):
            continue
        for name in state.get("namespaces", []):
            if name.startswith("hk-") and name in _netns_names():
                _delete_netns(name)
                removed.append(name)
        path.unlink(missing_ok=True)
    return removed


class NamespacedNode(Cluster):
    """One node of a :class:`MultiCluster`, reached through its anchor.

    Reuses :class:`Cluster` for pids, stop, polling and CLI helpers; only the
    command prefix, the host-side paths and the start sequence differ.
    """

    def __init__(
        self, workdir: Path, node: str, address: str, conf: Path, token_ms: int
    ) -> None:
        super().__init__(workdir, node, token_ms)
        self.address = address
        self.corosync_conf = conf
        # Host views of the node's private /var/log/{corosync,pacemaker}.
        self.corosync_log_path = self.workdir / "log-corosync" / "corosync.log"
        self.pacemaker_log_path = self.workdir / "log-pacemaker" / "pacemaker.log"
        self.anchor: _Proc | None = None
        self._anchor_popen: subprocess.Popen[bytes] | None = None

    def command(self, argv: Sequence[str]) -> list[str]:
        """Prefix *argv* with ``nsenter`` into this node's namespaces."""
        if self.anchor is None:
            raise ClusterError(f"{self.node}: no anchor (namespace not set up)")
        return ["nsenter", "-t", str(self.anchor.pid), "-n", "-m", "-u", "--", *argv]

    def root(self) -> Path:
        """Return the host path of the node's mount namespace root."""
        if self.anchor is None:
            raise ClusterError(f"{self.node}: no anchor")
        return Path(f"/proc/{self.anchor.pid}/root")

    @staticmethod
    def _remove_shm(procs: Sequence[_Proc]) -> None:
        """No-op: the node's /dev/shm is a private tmpfs (wiped on restart)."""

    def _seed_cib(self) -> None:
        """Write the seed CIB into the node's private /var/lib/pacemaker/cib."""
        cib = self.workdir / "lib-pacemaker" / "cib"
        for old in cib.glob("cib*"):
            if old.is_file():
                old.unlink()
        target = cib / "cib.xml"
        target.write_text(SEED_CIB)
        os.chmod(target, 0o600)
        shutil.chown(target, "hacluster", "haclient")

    @property
    def running(self) -> bool:
        """True while a corosync started by us is alive on this node."""
        return self._corosync_id is not None and _is_alive(self._corosync_id)

    def start_corosync(self) -> None:
        """Start corosync in the node (exact pid: setpriv and nsenter exec)."""
        if self._corosync is not None:
            raise ClusterError(f"{self.node}: corosync already started")
        check = self.run(["corosync", "-t", "-c", str(self.corosync_conf)], check=False)
        if check.returncode != 0:
            raise ClusterStartError(
                f"{self.node}: corosync -t rejected {self.corosync_conf}"
                f" (rc {check.returncode}): {check.stdout}{check.stderr}"
            )
        self.corosync_log_path.unlink(missing_ok=True)
        if self.pacemaker_log_path.exists():
            self._pacemaker_log_offset = self.pacemaker_log_path.stat().st_size
        self._corosync = self._spawn(
            ["corosync", "-f", "-c", str(self.corosync_conf)],
            self.workdir / "corosync.out",
            {"PATH": SAFE_PATH},
        )
        self._corosync_id = _proc_identity(self._corosync.pid)

    def start_pacemakerd(self) -> None:
        """Start pacemakerd in the node with a bare environment (LAB section 2)."""
        self._pacemakerd = self._spawn(
            [PACEMAKERD], self.workdir / "pacemakerd.out", {"PATH": SAFE_PATH}
        )
        self._pacemakerd_id = _proc_identity(self._pacemakerd.pid)

    def crash(self, timeout: float = 10) -> list[int]:
        """SIGKILL corosync, pacemakerd and pacemakerd's descendants at once.

        Returns the pids killed.  The anchor (and so the namespaces) stay.
        """
        self._record_children()
        procs = [p for p in self._all_recorded() if _is_alive(p)]
        for proc in procs:
            _signal(proc, signal.SIGKILL)
        if not _wait_gone(procs, timeout):
            raise ClusterError(f"{self.node}: survived SIGKILL: {procs}")
        for popen in (self._pacemakerd, self._corosync):
            if popen is not None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    popen.wait(timeout=2)
        self._pacemakerd = self._corosync = None
        self._pacemakerd_id = self._corosync_id = None
        self._children = {}
        return sorted(p.pid for p in procs)

    def wipe_runtime(self) -> None:
        """Remove agent state, shm and the corosync pid file (before a restart)."""
        root = self.root()
        for sub in ("run/resource-agents", "dev/shm"):
            for entry in (root / sub).iterdir():
                if entry.is_dir() and not entry.is_symlink():
                    shutil.rmtree(entry, ignore_errors=True)
                else:
                    entry.unlink(missing_ok=True)
        for entry in (root / "run").glob("Stateful-*"):
            entry.unlink(missing_ok=True)
        (root / "run/corosync.pid").unlink(missing_ok=True)


#: The lab as a hakit topology: nodes, their link addresses, corosync settings.
LAB_TOPOLOGY = Path(__file__).resolve().parent / "lab-3-controllers.toml"


class MultiCluster:
    """A Corosync + Pacemaker cluster of namespaced nodes on one host.

    By default the nodes, their addresses (one per link, each link its own
    bridge) and corosync.conf come from the lab topology, through hakit-cib's
    own generator (:mod:`cib_builder.corosync`): the lab runs the file hakit
    writes for a real cluster, crypto and redundant links included.

    Args:
        workdir: Directory for the shared corosync.conf and per-node dirs.
        nodes: Node names (also hostnames); node *i* gets ``SUBNET.(11+i)``
            (only without a topology).
        subnet: First three octets of the private /24 (only without a
            topology).
        token_ms: Corosync totem token timeout in milliseconds (overrides the
            topology's failover setting).
        topology: The topology file; None for the plain one-link, no-crypto
            configuration of :meth:`corosync_conf_text`.
        token_coefficient: Corosync's token_coefficient in milliseconds, for
            experiments; None: the topology's (corosync's 650 unless it sets
            one).  Consensus and knet's ping timing follow it.
    """

    def __init__(
        self,
        workdir: Path,
        nodes: Sequence[str] = ("ctl1", "ctl2", "ctl3"),
        subnet: str = "192.168.77",
        token_ms: int = 1000,
        topology: Path | None = LAB_TOPOLOGY,
        token_coefficient: int | None = None,
    ) -> None:
        self.workdir = Path(workdir)
        self.id = secrets.token_hex(3)
        self.token_ms = token_ms
        self.hub = f"hk-hub-{self.id}"
        self.conf = self.workdir / "corosync.conf"
        self.init_script = self.workdir / "node-init.sh"
        self.state_file = STATE_DIR / f"{self.id}.json"
        self.model = (
            _corosync_model(topology, token_ms, token_coefficient) if topology else None
        )
        if self.model is not None:
            nodes = [node.name for node in self.model.nodes]
            self.links = {n.name: n.addresses for n in self.model.nodes}
        else:
            self.links = {n: (f"{subnet}.{11 + i}",) for i, n in enumerate(nodes)}
        self.addresses = {n: links[0] for n, links in self.links.items()}
        self.netns = {n: f"hk-{n}-{self.id}" for n in nodes}
        self.nodes: dict[str, NamespacedNode] = {
            n: NamespacedNode(
                self.workdir / n, n, self.addresses[n], self.conf, token_ms
            )
            for n in nodes
        }
        #: Seconds of the last start() phases and of node operations.
        self.timings: dict[str, float] = {}
        self._started = False

    # ------------------------------------------------------------------ helpers

    @property
    def names(self) -> list[str]:
        return list(self.nodes)

    def namespaces(self) -> list[str]:
        """Every namespace name this instance owns (nodes first, hub last)."""
        return [*self.netns.values(), self.hub]

    def node(self, name: str) -> NamespacedNode:
        return self.nodes[name]

    def live_nodes(self) -> list[str]:
        return [n for n, node in self.nodes.items() if node.running]

    def run(
        self,
        argv: Sequence[str],
        node: str | None = None,
        check: bool = True,
        timeout: float = 30,
        input: str | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run a cluster tool inside *node* (default: the first live node)."""
        name = node or (self.live_nodes() or self.names)[0]
        return self.nodes[name].run(argv, check=check, timeout=timeout, input=input)

    def corosync_conf_text(self) -> str:
        """Return the shared corosync.conf: hakit's, or a plain one-link file."""
        if self.model is not None:
            from cib_builder import corosync  # noqa: PLC0415

            return corosync.render(self.model)
        lines = [
            "totem {",
            "    version: 2",
            f"    cluster_name: {CLUSTER_NAME}",
            "    transport: knet",
            "    crypto_cipher: none",
            "    crypto_hash: none",
            f"    token: {self.token_ms}",
            "}",
            "nodelist {",
        ]
        for i, (name, addr) in enumerate(self.addresses.items(), 1):
            lines += [
                "    node {",
                f"        name: {name}",
                f"        nodeid: {i}",
                f"        ring0_addr: {addr}",
                "    }",
            ]
        lines += [
            "}",
            "quorum {",
            "    provider: corosync_votequorum",
            "}",
            "logging {",
            "    to_logfile: yes",
            "    logfile: /var/log/corosync/corosync.log",
            "    to_stderr: no",
            "    to_syslog: no",
            "    timestamp: hires",
            "}",
            "",
        ]
        return "\n".join(lines)

    def _write_state(self) -> None:
        STATE_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)
        state = {
            "id": self.id,
            "workdir": str(self.workdir),
            "owner": _ident_json(_proc_identity(os.getpid())),
            "namespaces": self.namespaces(),
            "anchors": {n: _ident_json(nd.anchor) for n, nd in self.nodes.items()},
        }
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(state))
        tmp.replace(self.state_file)

    # ------------------------------------------------------------------ state

    def quorate(self, node: str) -> bool:
        """Tell whether ``corosync-quorumtool -s`` inside *node* says quorate."""
        proc = self.nodes[node]._probe(["corosync-quorumtool", "-s"])
        return (
            proc is not None
            and re.search(r"^Quorate:\s+Yes", proc.stdout, re.M) is not None
        )

    def online(self, seen_from: str) -> set[str]:
        """Return the node names crm_mon inside *seen_from* reports Online."""
        try:
            root = self.nodes[seen_from].crm_mon_xml(timeout=_PROBE)
        except (ClusterCommandError, subprocess.TimeoutExpired, ET.ParseError):
            return set()
        return {
            n.get("name", "")
            for n in root.findall("nodes/node")
            if n.get("online") == "true"
        }

    def dc(self, seen_from: str) -> str | None:
        return self.nodes[seen_from].dc()

    def where(self, rsc_id: str, seen_from: str) -> list[str]:
        """Return the nodes where *rsc_id* is active, as seen from *seen_from*."""
        try:
            state = self.nodes[seen_from].resource_state(rsc_id)
        except (ClusterCommandError, subprocess.TimeoutExpired, ET.ParseError):
            return []
        return [i.node for i in state if i.active and i.node]

    def settled(self, nodes: Iterable[str] | None = None) -> bool:
        """All *nodes* quorate, all Online from each, and the DC in S_IDLE."""
        names = list(nodes) if nodes is not None else self.names
        if not all(self.quorate(n) for n in names):
            return False
        if not all(self.online(n) >= set(names) for n in names):
            return False
        dc = self.dc(names[0])
        return dc in names and self.nodes[names[0]].controller_state(dc) == "S_IDLE"

    def wait_until(
        self, predicate: Callable[[], bool], timeout: float = 30, what: str = "it"
    ) -> float:
        """Poll *predicate* (bounded); return the seconds it took.

        Raises:
            WaitTimeoutError: on timeout or when a live node's daemon exits;
                the message carries every live node's log tails.
        """
        t0 = time.monotonic()
        while True:
            for node in self.nodes.values():
                if node._corosync is not None:
                    node._check_daemons(WaitTimeoutError, what)
            if predicate():
                return time.monotonic() - t0
            if time.monotonic() - t0 >= timeout:
                raise WaitTimeoutError(
                    self.diagnose(f"timed out after {timeout}s waiting for {what}")
                )
            time.sleep(_POLL)

    def diagnose(self, message: str) -> str:
        """Append every node's log tails to *message*."""
        return "\n".join(
            [message]
            + [
                f"===== {name} =====\n" + node._diagnose("")
                for name, node in self.nodes.items()
            ]
        )

    # ------------------------------------------------------------------ setup

    def _prepare_dirs(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        authkey = secrets.token_bytes(256)
        self.conf.write_text(self.corosync_conf_text())
        self.init_script.write_text(NODE_INIT)
        for node in self.nodes.values():
            for sub in _BIND_DIRS.values():
                (node.workdir / sub).mkdir(parents=True, exist_ok=True)
            lib = node.workdir / "lib-pacemaker"
            for path, mode in [
                (lib, 0o750),
                *[(lib / d, 0o750) for d in ("cib", "pengine", "blackbox", "cores")],
                (node.workdir / "log-pacemaker", 0o770),
            ]:
                path.mkdir(exist_ok=True)
                os.chmod(path, mode)
                shutil.chown(path, "hacluster", "haclient")
            shutil.copy(self.conf, node.workdir / "etc-corosync" / "corosync.conf")
            if self.model is not None and self.model.crypto_cipher != "none":
                # One key for every node, private to root, as corosync-keygen
                # writes it (the topology only names the file).
                key = node.workdir / "etc-corosync" / Path(self.model.keyfile).name
                key.write_bytes(authkey)
                os.chmod(key, 0o400)
            _prepare_mysql_dirs(node.workdir)
            node._seed_cib()

    def _setup_network(self) -> None:
        """One bridge per link in the hub; node link *k* is its ``eth<k>``."""
        _ip("netns", "add", self.hub)
        for name in self.netns.values():
            _ip("netns", "add", name)
        for name, ns in self.netns.items():
            _ip("-n", ns, "link", "set", "lo", "up")
            for link, address in enumerate(self.links[name]):
                bridge = f"br{link}"
                if name == self.names[0]:
                    _ip("-n", self.hub, "link", "add", bridge, "type", "bridge")
                    _ip("-n", self.hub, "link", "set", bridge, "up")
                peer = f"l{link}-{name}"[:15]
                _ip(
                    "link", "add", f"eth{link}", "netns", ns, "type", "veth",
                    "peer", "name", peer, "netns", self.hub,
                )  # fmt: skip
                _ip("-n", self.hub, "link", "set", peer, "master", bridge, "up")
                _ip("-n", ns, "addr", "add", f"{address}/24", "dev", f"eth{link}")
                _ip("-n", ns, "link", "set", f"eth{link}", "up")

    def set_link(self, node: str, link: int, up: bool) -> None:
        """Cut (``up=False``) or restore link *link* of *node* (its ``eth<link>``)."""
        state = "up" if up else "down"
        _ip("-n", self.netns[node], "link", "set", f"eth{link}", state)

    def _start_anchor(self, name: str, timeout: float = 10) -> None:
        node = self.nodes[name]
        pidfile = node.workdir / "anchor.pid"
        pidfile.unlink(missing_ok=True)
        cmd = [
            "setpriv", "--pdeathsig", "KILL", "--",
            "ip", "netns", "exec", self.netns[name],
            "unshare", "--mount", "--uts", "--propagation", "private", "--",
            "sh", str(self.init_script), name, str(node.workdir), str(pidfile),
        ]  # fmt: skip
        with (node.workdir / "anchor.out").open("ab") as out:
            # start_new_session = setsid without the fork (exact pid).
            node._anchor_popen = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env={"PATH": SAFE_PATH},
                start_new_session=True,
                close_fds=True,
            )
        node.anchor = _proc_identity(node._anchor_popen.pid)
        self._write_state()
        deadline = time.monotonic() + timeout
        while not (pidfile.exists() and pidfile.read_text().strip()):
            if node._anchor_popen.poll() is not None or time.monotonic() > deadline:
                out_text = (node.workdir / "anchor.out").read_text(errors="replace")
                raise ClusterStartError(f"anchor of {name} failed: {out_text}")
            time.sleep(0.02)
        pid = int(pidfile.read_text())
        if pid != node._anchor_popen.pid:  # ip/unshare forked: trust the file
            node.anchor = _proc_identity(pid)
            self._write_state()

    # ------------------------------------------------------------------ lifecycle

    def start(self, timeout: float = 60) -> None:
        """Build the namespaces, start every node and wait until settled.

        On any failure everything is torn down before the error propagates.
        """
        if self._started:
            raise ClusterError("already started")
        self._started = True
        try:
            self._start(timeout)
        except BaseException:
            with contextlib.suppress(Exception):
                self.stop()
            raise

    def _start(self, timeout: float) -> None:
        t0 = time.monotonic()
        self.timings = {}
        remove_stale()
        self._write_state()  # before creating anything, so a crash is cleanable
        self._prepare_dirs()
        self._setup_network()
        for name in self.names:
            self._start_anchor(name)
        self.timings["namespaces"] = time.monotonic() - t0
        t1 = time.monotonic()
        for node in self.nodes.values():
            node.start_corosync()
        self.wait_until(
            lambda: all(self.quorate(n) for n in self.names), timeout, "all quorate"
        )
        self.timings["quorate"] = time.monotonic() - t1
        for node in self.nodes.values():
            node.start_pacemakerd()
        remaining = max(1.0, timeout - (time.monotonic() - t0))
        self.wait_until(self.settled, remaining, "all Online, DC in S_IDLE")
        self.timings["settled"] = time.monotonic() - t1

    def kill_node(self, name: str) -> list[int]:
        """SIGKILL corosync, pacemakerd and its children on *name*; return pids."""
        return self.nodes[name].crash()

    def restart_node(self, name: str, timeout: float = 30) -> float:
        """Wipe *name*'s runtime state, start it again, wait until settled.

        Returns the seconds from corosync start until all live nodes settled.
        """
        return self.restart_nodes([name], timeout)

    def restart_nodes(self, names: Sequence[str], timeout: float = 30) -> float:
        """Start several killed nodes together, wait until all live ones settle.

        With ``wait_for_all`` (hakit's corosync.conf), a node that starts
        becomes quorate only once it has seen every node: after a loss of
        quorum the killed nodes must come back together, as after an outage.
        """
        for name in names:
            if self.nodes[name]._corosync is not None:
                raise ClusterError(f"{name} is running; kill_node() it first")
        t0 = time.monotonic()
        for name in names:
            self.nodes[name].wipe_runtime()
            self.nodes[name].start_corosync()
        self.wait_until(
            lambda: all(self.quorate(n) for n in names), timeout, f"{names} quorate"
        )
        for name in names:
            self.nodes[name].start_pacemakerd()
        live = self.live_nodes()
        self.wait_until(
            lambda: self.settled(live), timeout, f"{names} back, {live} settled"
        )
        took = time.monotonic() - t0
        for name in names:
            self.timings[f"restart_{name}"] = took
        return took

    def stop(self, timeout: float = 30) -> None:
        """Stop all daemons by pid, kill anchors, delete veths and namespaces.

        Idempotent and safe after a failed start.  Raises ClusterError if
        anything of ours survived (after trying to remove all of it).
        """
        t0 = time.monotonic()
        errors: list[str] = []
        with ThreadPoolExecutor(max_workers=len(self.nodes)) as pool:
            futures = {n: pool.submit(nd.stop, timeout) for n, nd in self.nodes.items()}
        for name, future in futures.items():
            if future.exception() is not None:
                errors.append(f"{name}: {future.exception()}")
        anchors = [nd.anchor for nd in self.nodes.values() if nd.anchor is not None]
        for anchor in anchors:
            _signal(anchor, signal.SIGKILL)
        _wait_gone(anchors, 5)
        for node in self.nodes.values():
            if node._anchor_popen is not None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    node._anchor_popen.wait(timeout=2)
            node._anchor_popen = None
            node.anchor = None
        for ns in self.namespaces():
            _delete_netns(ns)  # also removes the veth pairs
        left = _netns_names() & set(self.namespaces())
        if left:
            errors.append(f"namespaces left: {sorted(left)}")
        else:
            self.state_file.unlink(missing_ok=True)
        self._started = False
        self.timings["stop"] = time.monotonic() - t0
        if errors:
            raise ClusterError("; ".join(errors))


def _corosync_model(  # noqa: ANN202 - lazy import
    topology: Path, token_ms: int, token_coefficient: int | None = None
):
    """hakit's corosync model of *topology*, with the lab's token.

    The coefficient is the topology's unless ``token_coefficient`` replaces it.
    """
    import dataclasses  # noqa: PLC0415

    from cib_builder import corosync  # noqa: PLC0415
    from cib_builder import topology as topo  # noqa: PLC0415

    model = corosync.build(topo.load(topology))
    if token_coefficient is None:
        token_coefficient = model.token_coefficient
    nodes = len(model.nodes)
    interval, timeout = corosync.ping_timing(token_ms, nodes, token_coefficient)
    return dataclasses.replace(
        model,
        token=token_ms,
        token_coefficient=token_coefficient,
        consensus=corosync.consensus_for(token_ms, nodes, token_coefficient),
        knet_ping_interval=interval,
        knet_ping_timeout=timeout,
    )
