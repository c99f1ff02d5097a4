"""Run a real three-node MariaDB Galera cluster for integration tests.

Two variants share one class (LAB.md section 15):

* :class:`GaleraLab`: three ``mariadbd`` on 127.0.0.1 in the host network
  namespace, on the planned ports of :mod:`tests.lab.ports` (SQL 30306-30308,
  gcomm 30567/30577/30587, IST gcomm+1, SST gcomm+2), every file under one
  temporary directory owned by ``mysql``.
* :class:`NamespacedGalera`: one ``mariadbd`` per node of a running
  :class:`tests.lab.multinode.MultiCluster`, on the node's own address with
  the standard ports (3306/4567/4568/4444) and the standard paths
  (``/etc/mysql/hakit-galera.cnf``, ``/var/lib/mysql``, ``/run/mysqld``,
  ``/var/log/mysql``), which are private to each node's mount namespace, so
  one set of Pacemaker clone parameters fits every node.

``mariadbd --defaults-file=F`` is started as root with ``user = mysql`` in F,
in its own session with an exact pid (``Popen(start_new_session=True)``; in a
node, ``nsenter`` execs without forking).  It reads no system my.cnf.  Every
SQL statement goes through ``mariadb --defaults-file=F -NB`` over the unix
socket as root (socket authentication) with the statement on stdin, so no
password ever appears on a command line.  :class:`RowWriter` writes over TCP
with PyMySQL (test-only dependency; the agents do not use it).

The module has no pytest dependency so that scripts can reuse it.
"""

from __future__ import annotations

import os
import pwd
import re
import secrets
import shutil
import signal
import stat
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

from .galera_node import (
    CLUSTER_NAME,
    DEFAULT_NAMES,
    GALERA_PROVIDER,
    INSTALL_DB,
    MARIADB,
    MARIADBD,
    MYSQL_USER,
    NS_CONFIG,
    NS_DATADIR,
    NS_LOG_DIR,
    NS_MONITOR_FILE,
    NS_RUN_DIR,
    RSYNC,
    SST_RSYNC,
    GaleraNode,
    GaleraPorts,
    Position,
    pick_ports,
    planned_ports,
)
from .galera_writer import (
    ROWS_DATABASE,
    ROWS_TABLE,
    WRITER_USER,
    RowWriter,
    RowWriterError,
    WriterAccount,
)
from .pacemaker import (
    SAFE_PATH,
    _is_alive,
    _Proc,
    _proc_identity,
    _signal,
    _tail_file,
    _wait_gone,
)
from .ports import LOOPBACK

if TYPE_CHECKING:
    from .multinode import MultiCluster

# The node description (galera_node) and RowWriter (galera_writer) live in
# their own modules to keep this one short; this is the public surface.
__all__ = [
    "CLUSTER_NAME",
    "MONITOR_USER",
    "NS_CONFIG",
    "NS_DATADIR",
    "NS_MONITOR_FILE",
    "ROWS_TABLE",
    "GaleraCommandError",
    "GaleraError",
    "GaleraLab",
    "GaleraNode",
    "GaleraPorts",
    "GaleraStartError",
    "GaleraTimeoutError",
    "NamespacedGalera",
    "Position",
    "RowWriter",
    "RowWriterError",
    "WriterAccount",
    "galera_missing",
    "make_workdir",
    "pick_ports",
    "planned_ports",
]

MONITOR_USER = "hakit_monitor"

_POLL = 0.2
_KILL_GRACE = 10.0
_SQL_TIMEOUT = 15.0
_ENV = {"PATH": SAFE_PATH, "LC_ALL": "C.UTF-8"}
_RECOVERED = re.compile(
    r"WSREP: Recovered position:\s+([0-9a-fA-F-]{36}):(-?\d+)", re.MULTILINE
)
_ERROR_CODE = re.compile(r"^ERROR (\d+)", re.MULTILINE)


class GaleraError(Exception):
    """The Galera lab could not do what was asked."""


class GaleraStartError(GaleraError):
    """mariadbd exited while a test waited for it (message has the log tail)."""


class GaleraTimeoutError(GaleraError):
    """A bounded wait on a Galera node ran out of time."""


class GaleraCommandError(GaleraError):
    """A ``mariadb`` client call failed.

    Attributes:
        node: The lab node name.
        code: The server error number (``ERROR 1047 ...``), or None when the
            client failed before getting one (for example no socket).
        stderr: The client's stderr.
    """

    def __init__(self, node: str, returncode: int, stderr: str) -> None:
        match = _ERROR_CODE.search(stderr)
        self.node = node
        self.returncode = returncode
        self.code = int(match.group(1)) if match else None
        self.stderr = stderr
        super().__init__(f"{node}: mariadb exited with {returncode}: {stderr.strip()}")


def galera_missing() -> str | None:
    """Return why a Galera lab cannot run here, or None when it can."""
    for path in (MARIADBD, MARIADB, INSTALL_DB, GALERA_PROVIDER, SST_RSYNC, RSYNC):
        if not os.path.exists(path):
            return (
                f"{path} is missing (install the Debian mariadb-server, "
                "mariadb-client, galera-4 and rsync packages)"
            )
    try:
        pwd.getpwnam(MYSQL_USER)
    except KeyError:
        return f"user {MYSQL_USER!r} does not exist (mariadb-server creates it)"
    if os.geteuid() != 0:
        return "the Galera lab needs root (mariadbd drops to mysql itself)"
    return None


# ---------------------------------------------------------------------- helpers


def _mysql_ids() -> tuple[int, int]:
    entry = pwd.getpwnam(MYSQL_USER)
    return entry.pw_uid, entry.pw_gid


def _traversable_by(path: Path, uid: int, gid: int) -> bool:
    """Tell whether ``uid``/``gid`` may search directory ``path`` (mode bits)."""
    st = path.stat()
    if st.st_uid == uid:
        return bool(st.st_mode & stat.S_IXUSR)
    if st.st_gid == gid:
        return bool(st.st_mode & stat.S_IXGRP)
    return bool(st.st_mode & stat.S_IXOTH)


def make_workdir(parent: Path | None = None, prefix: str = "hakit-galera-") -> Path:
    """Create a temporary directory owned by mysql (0755) and return it.

    ``parent`` defaults to the system temp dir.  pytest's ``tmp_path`` does
    not work: ``/tmp/pytest-of-root`` is 0700, so mysql cannot reach it.

    Raises:
        GaleraError: an ancestor of the directory is not searchable by mysql.
    """
    uid, gid = _mysql_ids()
    base = Path(parent) if parent is not None else Path(tempfile.gettempdir())
    workdir = Path(tempfile.mkdtemp(prefix=prefix, dir=base)).resolve()
    blocked = [p for p in workdir.parents if not _traversable_by(p, uid, gid)]
    if blocked:
        shutil.rmtree(workdir, ignore_errors=True)
        raise GaleraError(f"mysql cannot search {blocked[0]}; pick another parent")
    os.chown(workdir, uid, gid)
    workdir.chmod(0o755)
    return workdir


def _mkdir_mysql(path: Path, mode: int = 0o750) -> None:
    """Create ``path`` (if needed) owned by mysql with ``mode``."""
    uid, gid = _mysql_ids()
    path.mkdir(parents=True, exist_ok=True)
    os.chown(path, uid, gid)
    path.chmod(mode)


def _write_secret_file(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` with mode 0600 (also when it existed before)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        os.fchmod(handle.fileno(), 0o600)
        handle.write(text)


def _sql_string(value: str) -> str:
    """Quote ``value`` as a SQL string literal (for our generated secrets)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _exited(pid: int) -> bool:
    """Tell whether our child ``pid`` has exited, without reaping it.

    The unreaped zombie keeps the pid and its process group id from being
    reused, so the group can still be signalled safely afterwards.
    """
    try:
        info = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:
        return True
    return info is not None


def _killpg(pgid: int, sig: int) -> None:
    """Signal the process group ``pgid`` (mariadbd and its SST helpers)."""
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


# ---------------------------------------------------------------------- lab


class GaleraLab:
    """Three (or more) Galera members on 127.0.0.1, all files under ``workdir``.

    Layout: ``workdir/NAME/{my.cnf,data/,mysqld.sock,mysqld.pid,error.log}``
    (the node directories and datadirs owned by mysql) and, once created,
    ``workdir/hakit-monitor.cnf``.  Nothing is written or started by the
    constructor; :meth:`setup` writes the configs and initialises the
    datadirs.  :meth:`teardown` kills every mariadbd this object started and
    removes ``workdir``.

    Args:
        workdir: An existing directory that mysql can reach, see
            :func:`make_workdir`.
        names: Node names (``wsrep_node_name``).
        ports: One :class:`GaleraPorts` per node; default the planned ports.
        cluster_name: ``wsrep_cluster_name``.
    """

    #: Whether the members' SQL ports are reachable from this process.
    tcp_reachable = True

    def __init__(
        self,
        workdir: Path,
        names: Sequence[str] = DEFAULT_NAMES,
        ports: Sequence[GaleraPorts] | None = None,
        *,
        cluster_name: str = CLUSTER_NAME,
    ) -> None:
        self.workdir = Path(workdir)
        port_list = list(ports) if ports is not None else planned_ports(len(names))
        if len(port_list) != len(names):
            raise ValueError("one GaleraPorts per node name is needed")
        self.nodes: dict[str, GaleraNode] = {
            name: GaleraNode.loopback(name, self.workdir / name, node_ports)
            for name, node_ports in zip(names, port_list)
        }
        self.cluster_name = cluster_name
        self._init_state()

    def _init_state(self) -> None:
        #: Seconds taken by the last init/start/stop/recover, per "what:node".
        self.timings: dict[str, float] = {}
        #: Password of :data:`MONITOR_USER` after :meth:`create_monitor_user`.
        self.monitor_password: str | None = None
        self._procs: dict[str, subprocess.Popen[bytes]] = {}
        self._log_offsets: dict[str, int] = {}
        self._writer: WriterAccount | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        """Show the node names and the workdir."""
        return f"{type(self).__name__}({list(self.nodes)}, workdir={self.workdir})"

    # ------------------------------------------------------------ where things are

    @property
    def names(self) -> list[str]:
        """Return the node names in order."""
        return list(self.nodes)

    def node(self, name: str) -> GaleraNode:
        """Return the description of node ``name``."""
        return self.nodes[name]

    @property
    def cluster_address(self) -> str:
        """Return ``gcomm://`` with every member (the correct cluster address)."""
        return "gcomm://" + ",".join(node.gcomm for node in self.nodes.values())

    @property
    def monitor_option_file(self) -> Path:
        """Return where :meth:`create_monitor_user` puts the option file."""
        return self.workdir / "hakit-monitor.cnf"

    def command(self, name: str, argv: Sequence[str]) -> list[str]:
        """Return ``argv`` as it must run for node ``name`` (host: unchanged)."""
        del name
        return list(argv)

    def host_path(self, name: str, path: Path) -> Path:
        """Return the host's view of ``path`` as node ``name`` sees it."""
        del name
        return Path(path)

    def console_path(self, name: str) -> Path:
        """Return the host file that receives mariadbd's stdout and stderr."""
        return self.workdir / name / "mariadbd.out"

    # ------------------------------------------------------------ setup

    def prepare(self) -> None:
        """Create the node directories (owned by mysql) and write every config."""
        for name, node in self.nodes.items():
            _mkdir_mysql(self.workdir / name)
            _mkdir_mysql(node.datadir)
            _mkdir_mysql(node.tmpdir)
            self.write_config(name)

    def write_config(
        self,
        name: str,
        cluster_address: str | None = None,
        *,
        cluster_name: str | None = None,
    ) -> Path:
        """(Re)write node ``name``'s my.cnf; return its host path.

        Args:
            name: The node.
            cluster_address: ``wsrep_cluster_address``; default
                :attr:`cluster_address` (tests pass wrong ones).
            cluster_name: ``wsrep_cluster_name``; default the lab's.
        """
        node = self.nodes[name]
        return node.write_config(
            cluster_address if cluster_address is not None else self.cluster_address,
            cluster_name=cluster_name or self.cluster_name,
            path=self.host_path(name, node.config),
        )

    def init_datadir(self, name: str, timeout: float = 120) -> float:
        """Run ``mariadb-install-db`` for node ``name``; return the seconds taken."""
        node = self.nodes[name]
        argv = [
            INSTALL_DB,
            f"--defaults-file={node.config}",
            f"--user={MYSQL_USER}",
            "--skip-test-db",
            "--auth-root-authentication-method=socket",
        ]
        t0 = time.monotonic()
        proc = subprocess.run(
            self.command(name, argv),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            env=_ENV,
            timeout=timeout,
            check=False,
        )
        took = self.timings[f"init:{name}"] = time.monotonic() - t0
        if proc.returncode != 0:
            raise GaleraError(
                f"{name}: mariadb-install-db failed ({proc.returncode}):\n"
                f"{proc.stdout[-3000:]}{proc.stderr[-3000:]}"
            )
        return took

    def init_datadirs(
        self, names: Iterable[str] | None = None, timeout: float = 120
    ) -> float:
        """Initialise several datadirs in parallel; return the wall-clock seconds."""
        selected = list(names) if names is not None else self.names
        t0 = time.monotonic()
        with ThreadPoolExecutor(max_workers=len(selected)) as pool:
            futures = [pool.submit(self.init_datadir, n, timeout) for n in selected]
        for future in futures:
            future.result()
        took = self.timings["init"] = time.monotonic() - t0
        return took

    def setup(self) -> None:
        """:meth:`prepare`, then :meth:`init_datadirs`: three stopped members."""
        self.prepare()
        self.init_datadirs()

    # ------------------------------------------------------------ processes

    def pid(self, name: str) -> int | None:
        """Return the pid of node ``name``'s running mariadbd, or None."""
        proc = self._procs.get(name)
        return proc.pid if proc is not None and not _exited(proc.pid) else None

    def is_running(self, name: str) -> bool:
        """Tell whether the mariadbd we started for ``name`` is alive (zombie: no)."""
        return self.pid(name) is not None

    def start(
        self,
        name: str,
        *,
        new_cluster: bool = False,
        start_position: Position | str | None = None,
        extra_args: Sequence[str] = (),
    ) -> int:
        """Start mariadbd for node ``name`` and return its pid (no wait).

        Args:
            name: The node.
            new_cluster: Add ``--wsrep-new-cluster`` (bootstrap).
            start_position: ``uuid:seqno`` for ``--wsrep-start-position``
                (from :meth:`recover_position`), so a crashed node rejoins by
                IST instead of a full SST.
            extra_args: More mariadbd options, appended last.

        Raises:
            GaleraError: the node already runs.
        """
        with self._lock:
            if self.is_running(name):
                raise GaleraError(
                    f"{name}: mariadbd already runs (pid {self.pid(name)})"
                )
            self._reap(name)
            node = self.nodes[name]
            argv = [MARIADBD, f"--defaults-file={node.config}"]
            if new_cluster:
                argv.append("--wsrep-new-cluster")
            if start_position is not None:
                argv.append(f"--wsrep-start-position={start_position}")
            argv += extra_args
            log = self.host_path(name, node.error_log)
            self._log_offsets[name] = log.stat().st_size if log.exists() else 0
            with self.console_path(name).open("ab") as out:
                proc = subprocess.Popen(
                    self.command(name, argv),
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    env=_ENV,
                    start_new_session=True,
                    close_fds=True,
                )
            self._procs[name] = proc
            return proc.pid

    def bootstrap(self, name: str, start_position: Position | str | None = None) -> int:
        """Start ``name`` with ``--wsrep-new-cluster``; return its pid (no wait)."""
        return self.start(name, new_cluster=True, start_position=start_position)

    def join(self, name: str, start_position: Position | str | None = None) -> int:
        """Start ``name`` plainly, to join the members it finds; return its pid."""
        return self.start(name, start_position=start_position)

    def wait_status(self, name: str, timeout: float = 60, **expected: str) -> float:
        """Wait until node ``name``'s wsrep status has ``expected``; return seconds.

        Example: ``wait_status("n1", wsrep_cluster_size="2")``.  Also works for
        a mariadbd started by someone else (an agent under test); one started
        here that exits ends the wait at once.

        Raises:
            GaleraStartError: our mariadbd exited (message: error log tail).
            GaleraTimeoutError: not reached within ``timeout`` s.
        """
        t0 = time.monotonic()
        while True:
            proc = self._procs.get(name)
            if proc is not None and _exited(proc.pid):
                raise GaleraStartError(
                    self.diagnose(name, f"{name}: mariadbd exited while waiting")
                )
            try:
                status = self.status(name, timeout=5)
            except (GaleraError, subprocess.TimeoutExpired):
                status = {}
            if all(status.get(key) == value for key, value in expected.items()):
                return time.monotonic() - t0
            if time.monotonic() - t0 >= timeout:
                seen = {key: status.get(key) for key in expected}
                raise GaleraTimeoutError(
                    self.diagnose(
                        name, f"{name}: want {expected} after {timeout} s, see {seen}"
                    )
                )
            time.sleep(_POLL)

    def wait_synced(self, name: str, timeout: float = 60) -> float:
        """Wait until ``name`` is Synced and ready; return the seconds waited.

        Raises:
            GaleraStartError: our mariadbd exited (message: error log tail).
            GaleraTimeoutError: not Synced within ``timeout`` s.
        """
        took = self.timings[f"synced:{name}"] = self.wait_status(
            name, timeout, wsrep_local_state_comment="Synced", wsrep_ready="ON"
        )
        return took

    def start_cluster(self, timeout: float = 120) -> float:
        """Bootstrap the first node, join the others one by one; all Synced.

        Returns the seconds taken.
        """
        t0 = time.monotonic()
        first, *others = self.names
        self.bootstrap(first)
        self.wait_synced(first, timeout)
        for name in others:
            self.join(name)
            self.wait_synced(name, max(1.0, timeout - (time.monotonic() - t0)))
        took = self.timings["start_cluster"] = time.monotonic() - t0
        return took

    def kill9(self, name: str) -> list[int]:
        """SIGKILL node ``name``'s mariadbd and its process group (SST helpers).

        Returns the pid killed (empty when it was not running).
        """
        proc = self._procs.get(name)
        if proc is None or _exited(proc.pid):
            self._reap(name)
            return []
        _killpg(proc.pid, signal.SIGKILL)
        self._reap(name)
        return [proc.pid]

    def stop(self, name: str, timeout: float = 60) -> float:
        """SIGTERM node ``name``'s mariadbd, wait, then SIGKILL; return seconds.

        Leftover members of its process group (an SST script) are killed too.
        A no-op when it is not running.
        """
        proc = self._procs.get(name)
        if proc is None:
            return 0.0
        t0 = time.monotonic()
        if not _exited(proc.pid):
            os.kill(proc.pid, signal.SIGTERM)
            deadline = t0 + timeout
            while not _exited(proc.pid) and time.monotonic() < deadline:
                time.sleep(0.05)
        _killpg(proc.pid, signal.SIGKILL)
        self._reap(name)
        took = self.timings[f"stop:{name}"] = time.monotonic() - t0
        return took

    def _reap(self, name: str) -> None:
        """Collect node ``name``'s exited (or just killed) mariadbd."""
        proc = self._procs.pop(name, None)
        if proc is None:
            return
        try:
            proc.wait(timeout=_KILL_GRACE)
        except subprocess.TimeoutExpired:
            _killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=_KILL_GRACE)

    def teardown(self, *, remove: bool = True) -> None:
        """Kill every mariadbd this lab started; remove ``workdir`` if ``remove``.

        Also SIGKILLs a mariadbd that someone else (an agent under test) left
        running with one of this lab's configs, found by its pid file and
        checked by its command line.  Idempotent.  Raises GaleraError if a
        process survived SIGKILL.
        """
        survivors: list[str] = []
        for name in list(self._procs):
            try:
                self.kill9(name)
            except subprocess.TimeoutExpired:
                survivors.append(name)
        strays = self.strays()
        for proc in strays:
            _signal(proc, signal.SIGKILL)
        if not _wait_gone(strays, _KILL_GRACE):
            survivors += [str(proc.pid) for proc in strays if _is_alive(proc)]
        if remove:
            shutil.rmtree(self.workdir, ignore_errors=True)
        if survivors:
            raise GaleraError(f"mariadbd survived SIGKILL on {survivors}")

    def strays(self) -> list[_Proc]:
        """Return the live mariadbds not started here that run one of our configs.

        Each node's pid file names the candidate; its command line must hold
        ``--defaults-file=CONFIG``, so a recycled pid is never matched.
        """
        found: list[_Proc] = []
        for name, node in self.nodes.items():
            if self.is_running(name):
                continue
            try:
                pid = int(self.host_path(name, node.pid_file).read_text().split()[0])
                argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            except (OSError, ValueError, IndexError):
                continue
            ident = _proc_identity(pid)
            if ident is not None and f"--defaults-file={node.config}".encode() in argv:
                found.append(ident)
        return found

    # ------------------------------------------------------------ logs

    def error_log(self, name: str, *, since_start: bool = True) -> str:
        """Return node ``name``'s error log, by default only since the last start."""
        path = self.host_path(name, self.nodes[name].error_log)
        offset = self._log_offsets.get(name, 0) if since_start else 0
        try:
            with path.open("rb") as handle:
                if offset <= path.stat().st_size:
                    handle.seek(offset)
                return handle.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def diagnose(self, name: str, message: str) -> str:
        """Append node ``name``'s error log and console tails to ``message``."""
        node = self.nodes[name]
        parts = [message]
        for title, path, offset in (
            ("error log", self.host_path(name, node.error_log), 0),
            ("console", self.console_path(name), 0),
        ):
            if path.exists():
                parts.append(
                    f"--- {title} ({path}) ---\n{_tail_file(path, 30, offset)}"
                )
        return "\n".join(parts)

    # ------------------------------------------------------------ SQL and state

    def sql(
        self,
        name: str,
        statement: str,
        *,
        timeout: float = _SQL_TIMEOUT,
        option_file: Path | None = None,
        secret: bool = False,
    ) -> list[list[str]]:
        """Run ``statement`` (read from stdin) on node ``name``; return the rows.

        The client is ``mariadb --defaults-file=CNF -NB`` over the unix socket,
        as root.  With ``option_file`` (for example the one of
        :meth:`create_monitor_user`) the client reads only that file and gets
        ``--socket`` on the command line: MariaDB's clients ignore
        ``--defaults-extra-file`` when ``--defaults-file`` is given.  Each row
        is the list of tab-separated columns.  With ``secret`` the client does
        not echo a failing statement (it does by default), so an error message
        never carries the password in it.

        Raises:
            GaleraCommandError: the client failed (``code`` = server errno).
            subprocess.TimeoutExpired: after ``timeout`` s.
        """
        node = self.nodes[name]
        if option_file is None:
            argv = [MARIADB, f"--defaults-file={node.config}"]
        else:
            argv = [
                MARIADB,
                f"--defaults-file={option_file}",
                f"--socket={node.socket}",
            ]
        argv += ["-N", "-B", "--connect-timeout=5"]
        if secret:
            argv.append("--skip-print-query-on-error")
        proc = subprocess.run(
            self.command(name, argv),
            input=statement,
            capture_output=True,
            text=True,
            env=_ENV,
            timeout=timeout,
            check=False,
        )
        if proc.returncode != 0:
            raise GaleraCommandError(name, proc.returncode, proc.stderr)
        return [line.split("\t") for line in proc.stdout.splitlines()]

    def status(self, name: str, timeout: float = _SQL_TIMEOUT) -> dict[str, str]:
        """Return ``SHOW STATUS LIKE 'wsrep%'`` of node ``name`` as a dict."""
        rows = self.sql(name, "SHOW STATUS LIKE 'wsrep%'", timeout=timeout)
        return {row[0]: row[1] if len(row) > 1 else "" for row in rows}

    def grastate(self, name: str) -> dict[str, str]:
        """Return node ``name``'s ``grastate.dat`` as a dict (raises if missing).

        Keys: ``version``, ``uuid``, ``seqno``, ``safe_to_bootstrap``.
        """
        path = self.host_path(name, self.nodes[name].datadir / "grastate.dat")
        state: dict[str, str] = {}
        for line in path.read_text().splitlines():
            key, sep, value = line.partition(":")
            if sep and not line.startswith("#"):
                state[key.strip()] = value.strip()
        return state

    def recover_position(self, name: str, timeout: float = 60) -> Position:
        """Run ``mariadbd --wsrep-recover`` for a stopped node; return its position.

        Parses the last ``Recovered position: uuid:seqno`` of the recover log
        (``--log-error``; the directory is writable by mysql).

        Raises:
            GaleraError: the node runs, or no position was logged.
        """
        if self.is_running(name):
            raise GaleraError(f"{name}: --wsrep-recover needs a stopped node")
        node = self.nodes[name]
        log = self.host_path(name, node.recover_log)
        log.unlink(missing_ok=True)
        argv = [
            MARIADBD,
            f"--defaults-file={node.config}",
            "--wsrep-recover",
            f"--log-error={node.recover_log}",
        ]
        t0 = time.monotonic()
        proc = subprocess.run(
            self.command(name, argv),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            env=_ENV,
            timeout=timeout,
            check=False,
        )
        self.timings[f"recover:{name}"] = time.monotonic() - t0
        text = log.read_text(errors="replace") if log.exists() else ""
        found = _RECOVERED.findall(text)
        if not found:
            raise GaleraError(
                f"{name}: --wsrep-recover (rc {proc.returncode}) logged no position:"
                f"\n{text[-3000:]}{proc.stdout[-1000:]}{proc.stderr[-1000:]}"
            )
        uuid, seqno = found[-1]
        return Position(uuid, int(seqno))

    # ------------------------------------------------------------ users and data

    def create_monitor_user(
        self, name: str, password: str | None = None, host: str = "localhost"
    ) -> Path:
        """Create ``hakit_monitor@HOST`` (no grants) and write its option file.

        The statement goes to the client on stdin; the option file
        (``[client]`` with ``user=`` and ``password=``) is mode 0600.  The user
        replicates to every member.  Returns the option file's path as the
        nodes see it (:attr:`monitor_option_file`).
        """
        secret = password if password is not None else secrets.token_urlsafe(18)
        if not re.fullmatch(r"[\w.,:+=@%/-]+", secret):
            raise ValueError("use a password without spaces, quotes, # or ;")
        self.sql(
            name,
            f"CREATE OR REPLACE USER '{MONITOR_USER}'@'{host}'"
            f" IDENTIFIED BY {_sql_string(secret)};",
            secret=True,
        )
        self.monitor_password = secret
        text = f"[client]\nuser={MONITOR_USER}\npassword={secret}\n"
        for target in self._monitor_file_targets():
            _write_secret_file(target, text)
        return self.monitor_option_file

    def _monitor_file_targets(self) -> list[Path]:
        """Return the host paths to write the monitor option file to."""
        return [self.monitor_option_file]

    def create_rows_table(self, name: str) -> WriterAccount:
        """Create ``hakit.rows`` and the TCP user :class:`RowWriter` writes as.

        Idempotent; a new password is set on every call.
        """
        password = secrets.token_urlsafe(18)
        host = LOOPBACK
        self.sql(
            name,
            f"CREATE DATABASE IF NOT EXISTS {ROWS_DATABASE};"
            f" CREATE TABLE IF NOT EXISTS {ROWS_TABLE} ("
            " id INT NOT NULL PRIMARY KEY, payload VARCHAR(64) NOT NULL"
            ") ENGINE=InnoDB;"
            f" CREATE OR REPLACE USER '{WRITER_USER}'@'{host}'"
            f" IDENTIFIED BY {_sql_string(password)};"
            f" GRANT SELECT, INSERT ON {ROWS_DATABASE}.* TO '{WRITER_USER}'@'{host}';",
            secret=True,
        )
        self._writer = WriterAccount(WRITER_USER, password, host)
        return self._writer

    def row_writer(
        self,
        names: Sequence[str] | None = None,
        *,
        via: str | None = None,
        interval: float = 0.005,
    ) -> RowWriter:
        """Return a (not started) :class:`RowWriter` over ``names``' SQL ports.

        Creates the table and user through ``via`` (default: the first node
        that runs) unless :meth:`create_rows_table` was already called.
        """
        if not self.tcp_reachable:
            raise GaleraError(f"{type(self).__name__}: members unreachable over TCP")
        selected = list(names) if names is not None else self.names
        if self._writer is None:
            runner = via or next((n for n in self.names if self.is_running(n)), None)
            if runner is None:
                raise GaleraError("no node runs; start the cluster first")
            self.create_rows_table(runner)
        assert self._writer is not None
        targets = {n: (self.nodes[n].address, self.nodes[n].sql_port) for n in selected}
        return RowWriter(targets, self._writer, interval=interval)

    def rows(self, name: str) -> set[int]:
        """Return the ids in ``hakit.rows`` on node ``name`` (after a sync wait)."""
        rows = self.sql(
            name,
            f"SET SESSION wsrep_sync_wait = 1; SELECT id FROM {ROWS_TABLE};",
            timeout=60,
        )
        return {int(row[0]) for row in rows}


# ---------------------------------------------------------------------- namespaces


class NamespacedGalera(GaleraLab):
    """One MariaDB Galera member per node of a running :class:`MultiCluster`.

    Each node has private ``/etc/mysql``, ``/var/lib/mysql``,
    ``/var/log/mysql`` (bind mounts) and ``/run/mysqld`` (in its private
    ``/run``), set up by the MultiCluster's NODE_INIT.  Members use the
    node's address with the standard ports and the standard paths, so
    ``/etc/mysql/hakit-galera.cnf`` and ``/var/lib/mysql`` are the same on
    every node.  Commands run through the node's ``nsenter`` prefix; host
    paths go through ``/proc/ANCHOR/root``.  :meth:`teardown` kills the
    mariadbds started here; the nodes' files stay until the next
    :meth:`prepare`.
    """

    #: The node addresses live in the nodes' network namespaces only, so
    #: :meth:`row_writer` refuses; insert through :meth:`sql` instead.
    tcp_reachable = False

    def __init__(
        self, cluster: MultiCluster, *, cluster_name: str = CLUSTER_NAME
    ) -> None:
        self.cluster = cluster
        self.workdir = cluster.workdir / "galera"
        self.nodes = {
            name: GaleraNode.standard(name, address)
            for name, address in cluster.addresses.items()
        }
        self.cluster_name = cluster_name
        self._init_state()

    @property
    def monitor_option_file(self) -> Path:
        """Return the option file's path inside every node."""
        return NS_MONITOR_FILE

    def command(self, name: str, argv: Sequence[str]) -> list[str]:
        """Prefix ``argv`` with ``nsenter`` into node ``name``."""
        return self.cluster.node(name).command(argv)

    def host_path(self, name: str, path: Path) -> Path:
        """Return ``/proc/ANCHOR/root/PATH`` for node ``name``."""
        return self.cluster.node(name).root() / Path(path).relative_to("/")

    def console_path(self, name: str) -> Path:
        """Return the host file for mariadbd's output (outside the node)."""
        return self.workdir / f"{name}-mariadbd.out"

    def prepare(self) -> None:
        """Empty each node's datadir, logs and run dir, and write its config.

        Raises:
            GaleraError: a node lacks ``/run/mysqld`` (MultiCluster started
                without MariaDB support), or a mariadbd still runs there.
        """
        self.workdir.mkdir(parents=True, exist_ok=True)
        running = self.strays()
        if running:
            raise GaleraError(f"mariadbd still runs in the nodes: {running}")
        for name, node in self.nodes.items():
            run_dir = self.host_path(name, NS_RUN_DIR)
            if not run_dir.is_dir():
                raise GaleraError(
                    f"{name}: {NS_RUN_DIR} is missing: the MultiCluster was started"
                    " without MariaDB support (mysql user or packages missing)"
                )
            for directory in (node.datadir, NS_LOG_DIR, NS_RUN_DIR):
                path = self.host_path(name, directory)
                for entry in path.iterdir():
                    if entry.is_dir() and not entry.is_symlink():
                        shutil.rmtree(entry)
                    else:
                        entry.unlink()
                _mkdir_mysql(path, 0o755 if directory == NS_RUN_DIR else 0o750)
            self.write_config(name)

    def _monitor_file_targets(self) -> list[Path]:
        return [self.host_path(n, NS_MONITOR_FILE) for n in self.nodes]

    def teardown(self, *, remove: bool = False) -> None:
        """Kill every mariadbd started here; ``remove`` drops the console logs.

        The nodes' own files stay until the next :meth:`prepare`.
        """
        super().teardown(remove=remove)
