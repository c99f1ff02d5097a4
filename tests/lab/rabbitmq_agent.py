"""Three RabbitMQ nodes on loopback, driven through ``ocf:hakit:rabbitmq``.

:class:`AgentCluster` lays out three nodes (``rabbit1..3@localhost``, the
management plugin on, LAB.md section 16) and runs the agent's actions on
them the way pacemaker-execd does: ``OCF_RESKEY_*`` parameters,
``CRM_meta_*`` values, one ``HA_RSCTMP`` per node.  No Pacemaker runs here:
node attributes go through ``attrd_standin/attrd_updater``, a file-backed
stand-in on the agents' PATH (the Pacemaker lab test uses the real one).
RabbitMQ itself is real.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from .ports import PLANNED_PORTS, PORT_MAX, free_port, port_is_free
from .rabbitmq import BASE_PATH, RABBITMQCTL

ROOT = Path(__file__).resolve().parents[2]
STANDIN = Path(__file__).resolve().parent / "attrd_standin"
RESOURCE = "rabbitmq"
RUNNING, GENERIC, NOT_RUNNING = 0, 1, 7
LAUNCH = "from ocf_agents._runtime.dispatch import main; main('rabbitmq')"


def _free_block(count: int) -> int:
    """The first of ``count`` consecutive free ports in the lab's range."""
    for _ in range(200):
        first = free_port()
        if first + count <= PORT_MAX and all(
            port_is_free(p) and p not in PLANNED_PORTS
            for p in range(first, first + count)
        ):
            return first
    raise RuntimeError(f"no {count} consecutive free ports")


@dataclass
class Run:
    """One action's result."""

    node: int
    action: str
    rc: int
    err: str
    seconds: float

    @property
    def reason(self) -> str:
        """The exit reason, or ''."""
        for line in self.err.splitlines():
            if line.startswith("ocf-exit-reason:"):
                return line[len("ocf-exit-reason:") :]
        return ""

    def __str__(self) -> str:
        """Short form for assertion messages."""
        return f"{self.action} on n{self.node}: rc {self.rc} {self.reason!r}"


@dataclass
class AgentCluster:
    """Three RabbitMQ nodes under ``workdir`` and the agent that runs them."""

    workdir: Path
    size: int = 3
    ports: dict[str, list[int]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        """Pick ports and write the files every node needs."""
        self.workdir = self.workdir.resolve()
        taken: set[int] = set()

        def pick() -> int:
            while True:
                port = free_port()
                if port not in taken:
                    taken.add(port)
                    return port

        self.epmd = pick()
        self.ctl_min = _free_block(10)
        taken.update(range(self.ctl_min, self.ctl_min + 10))
        for kind in ("amqp", "dist", "mgmt"):
            self.ports[kind] = [pick() for _ in range(self.size)]
        self.home = self.workdir / "erlang-home"
        self.home.mkdir(parents=True, exist_ok=True)
        self.home.chmod(0o700)
        cookie = self.home / ".erlang.cookie"
        if not cookie.exists():
            fd = os.open(cookie, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o400)
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_hex(16).upper())
        self.credentials = self.workdir / "mgmt.credentials"
        self.credentials.write_text("guest:guest\n")
        self.credentials.chmod(0o600)
        self.attrd = self.workdir / "attrd.json"
        for index in range(1, self.size + 1):
            self._write_node(index)

    def nodename(self, index: int) -> str:
        """``rabbitN@localhost``."""
        return f"rabbit{index}@localhost"

    def node_dir(self, index: int) -> Path:
        """Where node ``index`` keeps its files."""
        return self.workdir / f"n{index}"

    def data_dir(self, index: int) -> Path:
        """The node's Mnesia directory."""
        return self.node_dir(index) / "mnesia" / self.nodename(index)

    def amqp_port(self, index: int) -> int:
        """The node's AMQP port."""
        return self.ports["amqp"][index - 1]

    def _write_node(self, index: int) -> None:
        base = self.node_dir(index)
        for sub in ("mnesia", "log", "rsc"):
            (base / sub).mkdir(parents=True, exist_ok=True)
        (base / "rabbitmq.conf").write_text(
            "\n".join(
                [
                    f"listeners.tcp.default = 127.0.0.1:{self.amqp_port(index)}",
                    "loopback_users = none",
                    "vm_memory_high_watermark.relative = 0.2",
                    "disk_free_limit.absolute = 50MB",
                    "cluster_partition_handling = ignore",
                    "management.tcp.ip = 127.0.0.1",
                    f"management.tcp.port = {self.ports['mgmt'][index - 1]}",
                    "log.console = false",
                    "log.file.level = info",
                    "",
                ]
            )
        )
        (base / "enabled_plugins").write_text("[rabbitmq_management].\n")

    def params(self, index: int) -> dict[str, str]:
        """The resource parameters of node ``index``."""
        base = self.node_dir(index)
        dist_if = "-kernel inet_dist_use_interface {127,0,0,1}"
        extra = [
            f"RABBITMQ_CTL_DIST_PORT_MIN={self.ctl_min}",
            f"RABBITMQ_CTL_DIST_PORT_MAX={self.ctl_min + 9}",
            f"RABBITMQ_ENABLED_PLUGINS_FILE={base / 'enabled_plugins'}",
            f"RABBITMQ_ADVANCED_CONFIG_FILE={base / 'advanced.config'}",
            "ERL_EPMD_ADDRESS=127.0.0.1",
            f"'RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS={dist_if}'",
            f"'RABBITMQ_CTL_ERL_ARGS={dist_if}'",
        ]
        return {
            "nodename": self.nodename(index),
            "user": "root",
            "env_file": "/dev/null",
            "config_file": str(base / "rabbitmq.conf"),
            "mnesia_base": str(base / "mnesia"),
            "log_base": str(base / "log"),
            "node_ip": "127.0.0.1",
            "node_port": str(self.amqp_port(index)),
            "dist_port": str(self.ports["dist"][index - 1]),
            "epmd_port": str(self.epmd),
            "erlang_cookie": str(self.home / ".erlang.cookie"),
            "environment": " ".join(extra),
            "management_url": f"http://127.0.0.1:{self.ports['mgmt'][index - 1]}",
            "management_credentials": str(self.credentials),
        }

    def agent_log(self, index: int) -> Path:
        """The agent's log on node ``index``."""
        return self.node_dir(index) / "agent.log"

    def environment(self, index: int, action: str, **meta: str) -> dict[str, str]:
        """What pacemaker-execd would give the agent on node ``index``."""
        timeout = {"start": "300000", "stop": "120000"}.get(action, "30000")
        env = {
            "PATH": f"{STANDIN}:{BASE_PATH}",
            "PYTHONPATH": str(ROOT),
            "OCF_ROOT": "/usr/lib/ocf",
            "OCF_RESOURCE_INSTANCE": f"{RESOURCE}:{index - 1}",
            "OCF_RESOURCE_TYPE": "rabbitmq",
            "OCF_RESOURCE_PROVIDER": "hakit",
            "HA_RSCTMP": str(self.node_dir(index) / "rsc"),
            "HA_LOGFILE": str(self.agent_log(index)),
            "HA_debug": "1",
            "HAKIT_TEST_ATTRD": str(self.attrd),
            "OCF_RESKEY_CRM_meta_on_node": f"n{index}",
            "OCF_RESKEY_CRM_meta_clone_max": str(self.size),
            "OCF_RESKEY_CRM_meta_notify": "true",
            "OCF_RESKEY_CRM_meta_timeout": timeout,
            "OCF_RESKEY_CRM_meta_interval": "0",
        }
        env.update({f"OCF_RESKEY_{k}": v for k, v in self.params(index).items()})
        env.update({f"OCF_RESKEY_CRM_meta_{k}": v for k, v in meta.items()})
        return env

    def run(self, index: int, action: str, **meta: str) -> Run:
        """Run ``action`` on node ``index``."""
        env = self.environment(index, action, **meta)
        began = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-c", LAUNCH, action],
            env=env,
            capture_output=True,
            text=True,
            timeout=int(env["OCF_RESKEY_CRM_meta_timeout"]) / 1000 + 30,
            check=False,
            cwd=ROOT,
        )
        return Run(
            index, action, done.returncode, done.stderr, time.monotonic() - began
        )

    def monitor(self, index: int) -> Run:
        """A recurring monitor (interval 10 s)."""
        return self.run(index, "monitor", interval="10000")

    def on_all(self, action: str, nodes: list[int] | None = None) -> list[Run]:
        """Run ``action`` on ``nodes`` (all) at once, as Pacemaker runs clone starts."""
        chosen = nodes or list(range(1, self.size + 1))
        with ThreadPoolExecutor(len(chosen)) as pool:
            return list(pool.map(lambda i: self.run(i, action), chosen))

    def attributes(self, name: str) -> dict[str, str]:
        """Every node's value of attribute ``name``."""
        try:
            data = json.loads(self.attrd.read_text())
        except (OSError, ValueError):
            return {}
        return dict(data.get(name, {}))

    def ctl(self, index: int, *args: str, timeout: float = 60) -> str:
        """``rabbitmqctl -n rabbitN@localhost ARGS`` with the agent's environment."""
        environ = {
            "PATH": BASE_PATH,
            "HOME": str(self.home),
            "LANG": "C.UTF-8",
            "LC_ALL": "C.UTF-8",
            "ERL_EPMD_PORT": str(self.epmd),
            "ERL_EPMD_ADDRESS": "127.0.0.1",
            "RABBITMQ_CTL_DIST_PORT_MIN": str(self.ctl_min),
            "RABBITMQ_CTL_DIST_PORT_MAX": str(self.ctl_min + 9),
            "RABBITMQ_CTL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}",
            "RABBITMQ_CONF_ENV_FILE": "/dev/null",
        }
        done = subprocess.run(
            [str(RABBITMQCTL), "-n", self.nodename(index), *args],
            env=environ,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"rabbitmqctl {args[0]}: {done.stderr or done.stdout}")
        return done.stdout

    def running_nodes(self, index: int) -> list[str]:
        """``running_nodes`` of ``cluster_status`` on node ``index``."""
        status = json.loads(self.ctl(index, "cluster_status", "--formatter", "json"))
        return sorted(status["running_nodes"])

    def beam(self, index: int) -> psutil.Process | None:
        """The node's live Erlang VM."""
        pidfile = self.node_dir(index) / "mnesia" / f"{self.nodename(index)}.pid"
        try:
            proc = psutil.Process(int(pidfile.read_text().strip()))
        except (OSError, ValueError, psutil.Error):
            return None
        try:
            alive = proc.status() != psutil.STATUS_ZOMBIE
        except psutil.Error:
            return None
        return proc if alive and "beam" in proc.name() else None

    def kill(self, index: int) -> None:
        """SIGKILL node ``index``'s beam and wait until it is gone."""
        proc = self.beam(index)
        if proc is None:
            return
        proc.send_signal(signal.SIGKILL)
        try:
            proc.wait(10)
        except psutil.Error:
            pass

    def teardown(self) -> None:
        """Kill every beam and the epmd of this cluster's port."""
        for index in range(1, self.size + 1):
            self.kill(index)
        for conn in psutil.net_connections(kind="tcp"):
            if conn.laddr and conn.laddr.port == self.epmd and conn.pid:
                try:
                    psutil.Process(conn.pid).kill()
                except psutil.Error:
                    pass
