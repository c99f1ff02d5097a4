"""ocf:hakit:rabbitmq on one RabbitMQ node per node of the namespaced 3-node lab.

:class:`RabbitAgents` puts a RabbitMQ 3.10 member (management plugin on) in
each node of a running :class:`tests.lab.multinode.MultiCluster`: node
``ctlN`` runs ``rabbit@ctlN`` on the standard ports of its own network
namespace, and the nodes find each other by name through a private
``/etc/hosts`` bind-mounted in their mount namespaces (the lab addresses of
link 0).  The installed agent runs inside the node the way pacemaker-execd
runs it (``OCF_RESKEY_*``, ``CRM_meta_*``, the node's ``/run/resource-agents``)
and its node attributes go through the node's real ``attrd_updater``.

Data, logs and the agent's log stay in host directories under ``workdir``
(shared: each member's files carry its name), so a test reads them directly
and one set of parameters serves every node, as a clone's does.  AMQP
clients run inside a node (:mod:`tests.lab.amqp_client`): the node
addresses are not reachable from the host.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from tests.lab.agents import NodeRun as Run
from tests.lab.agents import agent_path
from tests.lab.multinode import MultiCluster
from tests.lab.rabbitmq import RABBITMQCTL

ROOT = Path(__file__).resolve().parents[2]
RUNNING, GENERIC, NOT_RUNNING = 0, 1, 7
AMQP_PORT = 5672
#: Node attributes the agent keeps per resource (see its spec's ATTR_*).
ATTRS = ("running", "report", "waiting", "force-boot")
_ATTR_LINE = re.compile(r'host="(?P<host>[^"]*)" value="(?P<value>[^"]*)"')
_HOSTS_MARK = "# hakit rabbitmq lab"


def _netns(pid: int) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/ns/net")
    except OSError:
        return None


@dataclass
class RabbitAgents:
    """One RabbitMQ member per node of ``cluster``, driven through the agent."""

    cluster: MultiCluster
    workdir: Path
    resource: str = "rabbitmq"
    #: The agent's executable; None: the installed ``ocf:hakit:rabbitmq``.
    launcher: str | None = None
    #: Enable the management plugin (the monitor reads membership from it).
    management: bool = True
    #: Parameters added to (or replacing) :meth:`params`' for every action.
    extra: dict[str, str] = field(default_factory=dict)
    history: list[Run] = field(default_factory=list)

    def __post_init__(self) -> None:
        """Write the cookie, the credentials and every node's files."""
        self.workdir = self.workdir.resolve()
        self.names = list(self.cluster.names)
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
        self._write_files()

    # ------------------------------------------------------------ layout

    def nodename(self, node: str) -> str:
        """``rabbit@ctlN``: the node's real short host name."""
        return f"rabbit@{node}"

    def address(self, node: str) -> str:
        """The node's address on link 0 (where its peers reach it)."""
        return self.cluster.addresses[node]

    def data_dir(self, node: str) -> Path:
        """The node's Mnesia directory (``<mnesia_base>/<nodename>``)."""
        return self.workdir / "mnesia" / self.nodename(node)

    def agent_log(self, node: str) -> Path:
        return self.workdir / f"agent-{node}.log"

    def _write_files(self) -> None:
        """One configuration for all members: the nodes differ by name only."""
        base = self.workdir
        for sub in ("mnesia", "log"):
            (base / sub).mkdir(parents=True, exist_ok=True)
        (base / "rabbitmq.conf").write_text(
            "\n".join(
                [
                    f"listeners.tcp.default = {AMQP_PORT}",
                    "loopback_users = none",
                    "vm_memory_high_watermark.relative = 0.2",
                    "disk_free_limit.absolute = 50MB",
                    "cluster_partition_handling = ignore",
                    # A cut link is noticed in 7.5-12.5 s instead of ~60 s.
                    "net_ticktime = 10",
                    *(
                        ["management.tcp.ip = 127.0.0.1", "management.tcp.port = 15672"]
                        if self.management
                        else []
                    ),
                    "log.console = false",
                    "log.file.level = info",
                    "",
                ]
            )
        )
        plugins = "[rabbitmq_management]" if self.management else "[]"
        (base / "enabled_plugins").write_text(plugins + ".\n")

    def setup(self) -> None:
        """Give every node an ``/etc/hosts`` that names the lab's nodes."""
        lines = [_HOSTS_MARK, "127.0.0.1 localhost"]
        lines += [f"{self.address(n)} {n}" for n in self.names]
        hosts = self.workdir / "hosts"
        hosts.write_text("\n".join(lines) + "\n")
        hosts.chmod(0o644)
        for name in self.names:
            node = self.cluster.node(name)
            current = (node.root() / "etc/hosts").read_text(errors="replace")
            if _HOSTS_MARK not in current:
                node.run(["mount", "--bind", str(hosts), "/etc/hosts"])

    def params(self) -> dict[str, str]:
        """The resource parameters, the same on every node (as a clone's).

        Each member keeps its data in ``<mnesia_base>/rabbit@ctlN`` and logs
        to ``<log_base>/rabbit@ctlN.log``, so one directory serves all.
        """
        base = self.workdir
        params = {
            "user": "root",
            "env_file": "/dev/null",
            "config_file": str(base / "rabbitmq.conf"),
            "mnesia_base": str(base / "mnesia"),
            "log_base": str(base / "log"),
            "erlang_cookie": str(self.home / ".erlang.cookie"),
            "environment": (
                f"RABBITMQ_ENABLED_PLUGINS_FILE={base / 'enabled_plugins'} "
                f"RABBITMQ_ADVANCED_CONFIG_FILE={base / 'advanced.config'}"
            ),
        }
        if self.management:
            params["management_url"] = "http://127.0.0.1:15672"
            params["management_credentials"] = str(self.credentials)
        return {**params, **self.extra}

    # ------------------------------------------------------------ actions

    def environment(self, node: str, action: str, **meta: str) -> dict[str, str]:
        """What pacemaker-execd gives the agent on ``node``."""
        index = self.names.index(node)
        timeout = {"start": "300000", "stop": "120000"}.get(action, "30000")
        env = {
            "OCF_ROOT": "/usr/lib/ocf",
            "OCF_RESOURCE_INSTANCE": f"{self.resource}:{index}",
            "OCF_RESOURCE_TYPE": "rabbitmq",
            "OCF_RESOURCE_PROVIDER": "hakit",
            "HA_RSCTMP": "/run/resource-agents",
            "HA_LOGFILE": str(self.agent_log(node)),
            "HA_debug": "1",
            "OCF_RESKEY_CRM_meta_on_node": node,
            "OCF_RESKEY_CRM_meta_clone_max": str(len(self.names)),
            "OCF_RESKEY_CRM_meta_notify": "true",
            "OCF_RESKEY_CRM_meta_timeout": timeout,
            "OCF_RESKEY_CRM_meta_interval": "0",
        }
        env.update({f"OCF_RESKEY_{k}": v for k, v in self.params().items()})
        env.update({f"OCF_RESKEY_CRM_meta_{k}": v for k, v in meta.items()})
        return env

    def run(
        self,
        node: str,
        action: str,
        env_extra: dict[str, str] | None = None,
        **meta: str,
    ) -> Run:
        """Run ``action`` on ``node``; ``meta`` adds CRM_meta_* values.

        ``env_extra`` adds variables that are not meta (``OCF_CHECK_LEVEL``).
        """
        env = {**self.environment(node, action, **meta), **(env_extra or {})}
        began = time.monotonic()
        done = self.cluster.node(node).run(
            [self.launcher or str(agent_path("rabbitmq")), action],
            check=False,
            timeout=int(env["OCF_RESKEY_CRM_meta_timeout"]) / 1000 + 30,
            env=env,
        )
        result = Run(
            node, action, done.returncode, done.stderr, time.monotonic() - began
        )
        self.history.append(result)
        return result

    def monitor(self, node: str) -> Run:
        """A recurring monitor (interval 10 s)."""
        return self.run(node, "monitor", interval="10000")

    def on_all(self, action: str, nodes: list[str] | None = None) -> list[Run]:
        """Run ``action`` on ``nodes`` (all) at once, as Pacemaker runs clone starts."""
        chosen = nodes or self.names
        with ThreadPoolExecutor(len(chosen)) as pool:
            return list(pool.map(lambda n: self.run(n, action), chosen))

    # ------------------------------------------------------------ attributes

    def attributes(self, what: str) -> dict[str, str]:
        """Every node's non-empty value of ``<resource>-<what>`` (real attrd)."""
        done = self.cluster.run(
            ["attrd_updater", "-Q", "-A", "-n", f"{self.resource}-{what}"],
            check=False,
        )
        found = {}
        for line in done.stdout.splitlines():
            match = _ATTR_LINE.search(line)
            if match and match["value"]:
                found[match["host"]] = match["value"]
        return found

    def wait_attributes(self, what: str, predicate, timeout: float = 10) -> dict:
        """attrd spreads updates asynchronously: poll until ``predicate`` holds."""
        end = time.monotonic() + timeout
        while True:
            values = self.attributes(what)
            if predicate(values) or time.monotonic() > end:
                return values
            time.sleep(0.2)

    def clear_attributes(self) -> None:
        """Delete the agent's node attributes on every node."""
        for what in ATTRS:
            for node in self.names:
                name = f"{self.resource}-{what}"
                self.cluster.run(
                    ["attrd_updater", "-N", node, "-n", name, "-D"],
                    node=node,
                    check=False,
                )

    # ------------------------------------------------------------ RabbitMQ

    def ctl(self, node: str, *args: str, timeout: float = 60) -> str:
        """``rabbitmqctl -n rabbit@NODE ARGS`` inside ``node``."""
        done = self.cluster.node(node).run(
            [str(RABBITMQCTL), "-n", self.nodename(node), *args],
            check=False,
            timeout=timeout,
            env={
                "HOME": str(self.home),
                "LANG": "C.UTF-8",
                "RABBITMQ_CONF_ENV_FILE": "/dev/null",
            },
        )
        if done.returncode != 0:
            raise RuntimeError(f"rabbitmqctl {args[0]}: {done.stderr or done.stdout}")
        return done.stdout

    def running_nodes(self, node: str) -> list[str]:
        """``running_nodes`` of ``cluster_status`` on ``node``."""
        status = json.loads(self.ctl(node, "cluster_status", "--formatter", "json"))
        return sorted(status["running_nodes"])

    def client(self, node: str, *args: str) -> dict[str, int]:
        """Run :mod:`tests.lab.amqp_client` inside ``node`` against its own broker."""
        done = self.cluster.node(node).run(
            [sys.executable, "-m", "tests.lab.amqp_client", args[0]]
            + ["127.0.0.1", str(AMQP_PORT), *args[1:]],
            check=False,
            timeout=90,
            env={"PYTHONPATH": str(ROOT)},
        )
        if done.returncode != 0:
            raise RuntimeError(f"amqp client {args} on {node}: {done.stderr[-800:]}")
        return json.loads(done.stdout.strip().splitlines()[-1])

    def publish(self, node: str, queue: str, count: int, kind: str) -> int:
        """Confirmed persistent messages published to durable ``queue`` on ``node``."""
        return self.client(node, "publish", queue, str(count), kind)["confirmed"]

    def depth(self, node: str, queue: str) -> int:
        return self.client(node, "depth", queue)["depth"]

    def wait_depth(self, node: str, queue: str, wanted: int, timeout=45.0) -> int:
        """Queue depth once it reaches ``wanted`` (a queue recovers after its node)."""
        end = time.monotonic() + timeout
        while True:
            try:
                found = self.depth(node, queue)
            except RuntimeError:  # the queue may still be recovering
                found = -1
            if found == wanted or time.monotonic() > end:
                return found
            time.sleep(1)

    def beam(self, node: str) -> psutil.Process | None:
        """The node's live Erlang VM (from RabbitMQ's pid file)."""
        pidfile = self.workdir / "mnesia" / f"{self.nodename(node)}.pid"
        try:
            proc = psutil.Process(int(pidfile.read_text().strip()))
            alive = proc.status() != psutil.STATUS_ZOMBIE
            return proc if alive and "beam" in proc.name() else None
        except (OSError, ValueError, psutil.Error):
            return None

    def kill(self, node: str) -> None:
        """SIGKILL the node's beam and wait until it is gone."""
        proc = self.beam(node)
        if proc is None:
            return
        proc.send_signal(signal.SIGKILL)
        try:
            proc.wait(10)
        except psutil.Error:
            pass

    def log_tail(self, node: str, lines: int = 30) -> str:
        try:
            text = self.agent_log(node).read_text(errors="replace")
        except OSError:
            return "(no agent log)"
        return "\n".join(text.splitlines()[-lines:])

    def teardown(self) -> None:
        """Kill every beam and epmd left in the nodes; drop the attributes.

        epmd outlives the beams and would keep a node's network namespace
        alive after the lab is gone, so it goes too (found by namespace).
        """
        for node in self.names:
            self.kill(node)
        spaces = set()
        for node in self.names:
            anchor = self.cluster.node(node).anchor
            if anchor is not None and _netns(anchor.pid):
                spaces.add(_netns(anchor.pid))
        for proc in psutil.process_iter(["name"]):
            name = proc.info["name"] or ""
            if (name == "epmd" or name.startswith("beam")) and _netns(
                proc.pid
            ) in spaces:
                try:
                    proc.kill()
                except psutil.Error:
                    pass
        if self.cluster.live_nodes():
            self.clear_attributes()
