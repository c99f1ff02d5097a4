"""One RabbitMQ node on 127.0.0.1, run straight from the Debian binaries.

The node follows LAB.md section 16: ``/usr/lib/rabbitmq/bin/rabbitmq-server``
is started as root with its own ``HOME`` (holding the Erlang cookie),
``RABBITMQ_CONF_ENV_FILE=/dev/null`` and every data, log, pid and config path
under the work directory, so it never touches the system service.  The
distribution listeners of the server and of the CLI are pinned to 127.0.0.1
with ``inet_dist_use_interface``.  No plugin is enabled, to keep the boot short.

The first node to start on an epmd port starts an ``epmd`` daemon that
outlives it.  :meth:`RabbitNode.stop` stops that epmd too, found by the pid
listening on the epmd port, and only when this node's start brought it up.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import IO

import psutil

from .ports import (
    LOOPBACK,
    RABBIT_CTL_DIST_PORT_MAX,
    RABBIT_CTL_DIST_PORT_MIN,
    RABBIT_DIST_PORT,
    RABBIT_EPMD_PORT,
    RABBIT_NODE_PORT,
    port_is_free,
)

RABBIT_BIN_DIR = Path("/usr/lib/rabbitmq/bin")
RABBITMQ_SERVER = RABBIT_BIN_DIR / "rabbitmq-server"
RABBITMQCTL = RABBIT_BIN_DIR / "rabbitmqctl"
ERL = Path("/usr/bin/erl")

#: PATH given to every RabbitMQ process (LAB.md section 2: no inherited shims).
BASE_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"

_POLL = 0.05
_KILL_GRACE = 5.0


def rabbitmq_missing() -> str | None:
    """Return why a lab RabbitMQ node cannot run here, or None when it can."""
    for path in (RABBITMQ_SERVER, RABBITMQCTL, ERL):
        if not os.access(path, os.X_OK):
            return f"{path} is missing (install the Debian rabbitmq-server package)"
    return None


def localhost_resolves() -> bool:
    """Return True when ``localhost`` resolves to 127.0.0.1 (Erlang short names)."""
    try:
        infos = socket.getaddrinfo("localhost", None, socket.AF_INET)
    except socket.gaierror:
        return False
    return any(info[4][0] == LOOPBACK for info in infos)


def _alive(proc: psutil.Process | None) -> bool:
    """Return True when ``proc`` runs; a zombie counts as dead (LAB.md section 2)."""
    if proc is None:
        return False
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False


def _wait_dead(proc: psutil.Process, timeout: float) -> bool:
    """Poll until ``proc`` is gone or a zombie; return False after ``timeout``."""
    deadline = time.monotonic() + timeout
    while _alive(proc):
        if time.monotonic() >= deadline:
            return False
        time.sleep(_POLL)
    return True


def _signal(proc: psutil.Process, sig: int) -> None:
    """Send ``sig`` to ``proc``; psutil refuses when the pid was reused."""
    try:
        proc.send_signal(sig)
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        pass


def _terminate(proc: psutil.Process, timeout: float) -> None:
    """SIGTERM ``proc``, wait up to ``timeout`` s, then SIGKILL and wait briefly."""
    if not _alive(proc):
        return
    _signal(proc, signal.SIGTERM)
    if _wait_dead(proc, timeout):
        return
    _signal(proc, signal.SIGKILL)
    _wait_dead(proc, _KILL_GRACE)


def _listener(port: int) -> psutil.Process | None:
    """Return the process listening on TCP ``port`` (any address), or None."""
    for conn in psutil.net_connections(kind="tcp"):
        if (
            conn.status == psutil.CONN_LISTEN
            and conn.laddr
            and conn.laddr.port == port
            and conn.pid
        ):
            try:
                return psutil.Process(conn.pid)
            except psutil.NoSuchProcess:
                continue
    return None


class RabbitNode:
    """One RabbitMQ node ``NAME@localhost`` listening on 127.0.0.1 only.

    Layout under ``workdir``: ``erlang-home/.erlang.cookie`` (shared by every
    node of the same workdir, so they could cluster) and ``NAME/`` with the
    config files, ``mnesia/``, ``log/`` and the pid file.  Start and stop are
    bounded; stop is idempotent and safe after a failed start.
    """

    def __init__(
        self,
        workdir: os.PathLike[str] | str,
        name: str = "rabbit1",
        node_port: int = RABBIT_NODE_PORT,
        dist_port: int = RABBIT_DIST_PORT,
        epmd_port: int = RABBIT_EPMD_PORT,
        *,
        ctl_dist_ports: tuple[int, int] = (
            RABBIT_CTL_DIST_PORT_MIN,
            RABBIT_CTL_DIST_PORT_MAX,
        ),
    ) -> None:
        """Describe the node; nothing is written or started until :meth:`start`."""
        self.workdir = Path(workdir).resolve()
        self.name = name
        self.nodename = f"{name}@localhost"
        self.node_port = node_port
        self.dist_port = dist_port
        self.epmd_port = epmd_port
        self.ctl_dist_ports = ctl_dist_ports
        self.home = self.workdir / "erlang-home"
        self.node_dir = self.workdir / name
        self.mnesia_base = self.node_dir / "mnesia"
        self.log_base = self.node_dir / "log"
        self.pid_file = self.node_dir / f"{name}.pid"
        self.config_file = self.node_dir / "rabbitmq.conf"
        self.advanced_config_file = self.node_dir / "advanced.config"
        self.enabled_plugins_file = self.node_dir / "enabled_plugins"
        self.console_log = self.log_base / "console.log"
        self._server: subprocess.Popen[bytes] | None = None
        self._console: IO[bytes] | None = None
        self._beam: psutil.Process | None = None
        self._epmd: psutil.Process | None = None  # set only if we started it

    def __repr__(self) -> str:
        """Show the node name and AMQP port."""
        return f"RabbitNode({self.nodename!r}, node_port={self.node_port})"

    # -- description -------------------------------------------------------

    @property
    def amqp_url(self) -> str:
        """Return the oslo.messaging transport URL of this node (guest user)."""
        return f"rabbit://guest:guest@{LOOPBACK}:{self.node_port}/"

    @property
    def beam_pid(self) -> int | None:
        """Return the pid of the running Erlang VM, or None."""
        return self._beam.pid if _alive(self._beam) else None

    @property
    def epmd_pid(self) -> int | None:
        """Return the pid of the epmd this node started, or None."""
        return self._epmd.pid if _alive(self._epmd) else None

    @property
    def env(self) -> dict[str, str]:
        """Return the complete environment for the server and every CLI call."""
        dist_if = "-kernel inet_dist_use_interface {127,0,0,1}"
        return {
            "PATH": BASE_PATH,
            "LANG": "C.UTF-8",
            "LC_ALL": "C.UTF-8",
            "HOME": str(self.home),
            "ERL_EPMD_PORT": str(self.epmd_port),
            "ERL_EPMD_ADDRESS": LOOPBACK,
            "RABBITMQ_CONF_ENV_FILE": "/dev/null",
            "RABBITMQ_NODENAME": self.nodename,
            "RABBITMQ_NODE_IP_ADDRESS": LOOPBACK,
            "RABBITMQ_NODE_PORT": str(self.node_port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_CTL_DIST_PORT_MIN": str(self.ctl_dist_ports[0]),
            "RABBITMQ_CTL_DIST_PORT_MAX": str(self.ctl_dist_ports[1]),
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": dist_if,
            "RABBITMQ_CTL_ERL_ARGS": dist_if,
            "RABBITMQ_CONFIG_FILE": str(self.config_file),
            "RABBITMQ_ADVANCED_CONFIG_FILE": str(self.advanced_config_file),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.enabled_plugins_file),
            "RABBITMQ_MNESIA_BASE": str(self.mnesia_base),
            "RABBITMQ_LOG_BASE": str(self.log_base),
            "RABBITMQ_PID_FILE": str(self.pid_file),
        }

    def ctl(
        self, *args: str, timeout: float = 30.0
    ) -> subprocess.CompletedProcess[str]:
        """Run ``rabbitmqctl -n NODENAME ARGS`` with this node's environment.

        Output is captured; raises subprocess.TimeoutExpired after ``timeout``.
        """
        return subprocess.run(
            [str(RABBITMQCTL), "-n", self.nodename, *args],
            env=self.env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def is_running(self) -> bool:
        """Return True while the node's Erlang VM (beam) is alive."""
        return _alive(self._beam)

    # -- lifecycle ---------------------------------------------------------

    def start(self, timeout: float = 60.0) -> None:
        """Start the node and return once RabbitMQ has booted.

        Waits with ``rabbitmqctl wait PIDFILE`` bounded by ``timeout`` s (its own
        ``--timeout`` is ignored during the Mnesia table wait).  A no-op when the
        node already runs.  On any failure everything started is stopped again
        and RuntimeError (or TimeoutError) is raised, naming the console log.
        """
        if self.is_running():
            return
        self._reap_server(timeout=5.0)
        if not localhost_resolves():
            raise RuntimeError(
                "localhost does not resolve to 127.0.0.1 (needed by Erlang short "
                "node names); add '127.0.0.1 localhost' to /etc/hosts"
            )
        for port in (self.node_port, self.dist_port):
            if not port_is_free(port):
                raise RuntimeError(f"TCP port {LOOPBACK}:{port} is already in use")
        epmd_before = _listener(self.epmd_port)
        self._write_files()
        self.pid_file.unlink(missing_ok=True)
        deadline = time.monotonic() + timeout
        self._console = open(self.console_log, "ab")  # noqa: SIM115 - kept open while running
        try:
            self._server = subprocess.Popen(
                [str(RABBITMQ_SERVER)],
                env=self.env,
                cwd=self.node_dir,
                stdin=subprocess.DEVNULL,
                stdout=self._console,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            self._wait_booted(deadline)
            self._beam = psutil.Process(int(self.pid_file.read_text().strip()))
        except BaseException:
            self._adopt_epmd(epmd_before)
            self.stop(timeout=10.0)
            raise
        self._adopt_epmd(epmd_before)

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the node (SIGTERM to beam, SIGKILL after ``timeout`` s) and its epmd.

        Idempotent, and safe to call when :meth:`start` failed or never ran.
        """
        deadline = time.monotonic() + timeout
        for proc in self._node_processes():
            _terminate(proc, max(0.5, deadline - time.monotonic()))
        self._beam = None
        self._reap_server(timeout=max(1.0, deadline - time.monotonic()))
        if self._epmd is not None:
            _terminate(self._epmd, 5.0)
            self._epmd = None

    def kill(self) -> None:
        """SIGKILL the node's Erlang VM (simulated crash); epmd is left running.

        :meth:`start` brings the node back with its data.
        """
        for proc in self._node_processes():
            _signal(proc, signal.SIGKILL)
            _wait_dead(proc, _KILL_GRACE)
        self._beam = None
        self._reap_server(timeout=_KILL_GRACE)

    def __enter__(self) -> RabbitNode:
        """Start the node."""
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        """Stop the node."""
        self.stop()

    # -- internals ---------------------------------------------------------

    def _write_files(self) -> None:
        """Create the directories, the Erlang cookie and the config files."""
        for path in (self.home, self.node_dir, self.mnesia_base, self.log_base):
            path.mkdir(parents=True, exist_ok=True)
        self.home.chmod(0o700)
        cookie = self.home / ".erlang.cookie"
        if not cookie.exists():
            fd = os.open(cookie, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o400)
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_hex(16).upper())
        self.config_file.write_text(
            "\n".join(
                [
                    f"listeners.tcp.default = {LOOPBACK}:{self.node_port}",
                    "loopback_users = none",
                    "vm_memory_high_watermark.relative = 0.2",
                    "disk_free_limit.absolute = 50MB",
                    "cluster_partition_handling = ignore",
                    "log.console = false",
                    "log.file.level = info",
                    "",
                ]
            )
        )
        self.enabled_plugins_file.write_text("[].\n")

    def _adopt_epmd(self, epmd_before: psutil.Process | None) -> None:
        """Remember the epmd on our port when none listened before our start."""
        if epmd_before is None and self._epmd is None:
            self._epmd = _listener(self.epmd_port)

    def _node_processes(self) -> list[psutil.Process]:
        """Return the processes to stop for this node.

        The recorded beam; during a failed start, every descendant of our
        rabbitmq-server; else the pid in the pid file, if that process carries
        this node's ``RABBITMQ_PID_FILE`` (a node started by another RabbitNode
        on the same workdir, never a recycled pid).
        """
        if _alive(self._beam):
            assert self._beam is not None
            return [self._beam]
        if self._server is not None and self._server.poll() is None:
            try:
                return psutil.Process(self._server.pid).children(recursive=True)
            except psutil.NoSuchProcess:
                return []
        try:
            beam = psutil.Process(int(self.pid_file.read_text().strip()))
            ours = beam.environ().get("RABBITMQ_PID_FILE") == str(self.pid_file)
        except (OSError, ValueError, psutil.Error):
            return []
        return [beam] if ours and _alive(beam) else []

    def _reap_server(self, timeout: float) -> None:
        """Reap the rabbitmq-server wrapper; SIGKILL its group after ``timeout`` s."""
        server, self._server = self._server, None
        if server is not None:
            try:
                server.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                _killpg(server.pid)
                server.wait(timeout=_KILL_GRACE)
        if self._console is not None:
            self._console.close()
            self._console = None

    def _wait_booted(self, deadline: float) -> None:
        """Run ``rabbitmqctl wait PIDFILE``; fail if the server dies or time is up."""
        assert self._server is not None
        wait_log = self.log_base / "ctl-wait.log"
        with open(wait_log, "wb") as out:
            ctl = subprocess.Popen(
                [str(RABBITMQCTL), "-n", self.nodename, "wait", str(self.pid_file)],
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            try:
                while ctl.poll() is None:
                    if self._server.poll() is not None:
                        raise RuntimeError(
                            f"rabbitmq-server exited with {self._server.returncode} "
                            f"while booting; see {self.console_log} and {self.log_base}"
                        )
                    if time.monotonic() >= deadline:
                        raise TimeoutError(
                            f"{self.nodename} did not boot in time; see {self.log_base}"
                        )
                    time.sleep(0.1)
            finally:
                if ctl.poll() is None:
                    _killpg(ctl.pid)
                    ctl.wait(timeout=_KILL_GRACE)
        if ctl.returncode != 0:
            raise RuntimeError(
                f"rabbitmqctl wait failed with {ctl.returncode}; see {wait_log}"
            )


def _killpg(pgid: int) -> None:
    """SIGKILL the process group ``pgid`` that we created with start_new_session."""
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass
