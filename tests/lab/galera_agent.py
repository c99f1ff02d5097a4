"""Drive the installed ``ocf:hakit:galera`` inside the namespaced 3-node lab.

:class:`GaleraAgent` runs one action on one node the way pacemaker-execd
does (``OCF_RESKEY_*`` parameters, ``OCF_RESKEY_CRM_meta_*`` meta, the node's
own ``HA_RSCTMP``), reads the node attributes the agent publishes through
the real ``attrd_updater``, and can play Pacemaker's part in a recovery
(:meth:`GaleraAgent.recover`): fail, demote, stop, start, then promote the
nodes the agent gave a promotion score.  :class:`SqlWriter` inserts numbered
rows through the members and records which were acknowledged.
"""

from __future__ import annotations

import os
import re
import signal
import threading
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from tests.lab.agents import NodeRun as Run
from tests.lab.agents import agent_path
from tests.lab.galera import ROWS_TABLE, NamespacedGalera
from tests.lab.multinode import MultiCluster

RESOURCE = "galera"
AGENT_LOG = "/var/log/pacemaker/hakit-galera.log"
RUNNING, PROMOTED, FAILED_PROMOTED, NOT_RUNNING = 0, 8, 9, 7
_ATTR_LINE = re.compile(r'host="(?P<host>[^"]*)" value="(?P<value>[^"]*)"')


@dataclass
class GaleraAgent:
    """The agent as Pacemaker would run it on the nodes of ``cluster``."""

    cluster: MultiCluster
    lab: NamespacedGalera
    params: dict[str, str] = field(default_factory=dict)
    history: list[Run] = field(default_factory=list)

    @classmethod
    def for_lab(
        cls, cluster: MultiCluster, lab: NamespacedGalera, **params: str
    ) -> GaleraAgent:
        """Parameters matching ``lab``'s configuration; ``params`` override them."""
        any_node = next(iter(lab.nodes.values()))
        base = {
            "wsrep_cluster_address": lab.cluster_address,
            "cluster_host_map": ";".join(
                f"{name}:{node.address}" for name, node in lab.nodes.items()
            ),
            "config": str(any_node.config),
            "datadir": str(any_node.datadir),
            "socket": str(any_node.socket),
            "log": str(any_node.error_log),
        }
        base.update(params)
        return cls(cluster, lab, base)

    def environment(self, node: str, action: str, **meta: str) -> dict[str, str]:
        index = self.lab.names.index(node)
        env = {
            "OCF_ROOT": "/usr/lib/ocf",
            "OCF_RESOURCE_INSTANCE": f"{RESOURCE}:{index}",
            "OCF_RESOURCE_TYPE": "galera",
            "OCF_RESOURCE_PROVIDER": "hakit",
            "HA_RSCTMP": "/run/resource-agents",
            "HA_LOGFILE": AGENT_LOG,
            "HA_debug": "1",
            "OCF_RESKEY_CRM_meta_on_node": node,
            "OCF_RESKEY_CRM_meta_promotable": "true",
            "OCF_RESKEY_CRM_meta_clone_max": str(len(self.lab.names)),
            "OCF_RESKEY_CRM_meta_timeout": "120000",
            "OCF_RESKEY_CRM_meta_interval": "0",
        }
        if action == "promote":
            env["OCF_RESKEY_CRM_meta_timeout"] = "300000"
        env.update({f"OCF_RESKEY_{k}": v for k, v in self.params.items()})
        env.update({f"OCF_RESKEY_CRM_meta_{k}": v for k, v in meta.items()})
        return env

    def run(self, node: str, action: str, **meta: str) -> Run:
        """Run ``action`` on ``node``; ``meta`` adds CRM_meta_* values."""
        env = self.environment(node, action, **meta)
        timeout = int(env["OCF_RESKEY_CRM_meta_timeout"]) / 1000 + 10
        done = self.cluster.node(node).run(
            [str(agent_path("galera")), action], check=False, timeout=timeout, env=env
        )
        result = Run(node, action, done.returncode, done.stderr)
        self.history.append(result)
        return result

    def monitor(self, node: str, role: str | None = None) -> Run:
        """A recurring monitor (interval 10 s), as the clone's ops define."""
        meta = {"interval": "10000"}
        if role:
            meta["role"] = role
        return self.run(node, "monitor", **meta)

    def probe(self, node: str) -> Run:
        return self.run(node, "monitor")

    def on_all(self, action: str, nodes: Iterable[str] | None = None) -> dict[str, Run]:
        """Run ``action`` on several nodes at once (as a clone does)."""
        names = list(nodes or self.lab.names)
        with ThreadPoolExecutor(len(names)) as pool:
            results = pool.map(lambda n: self.run(n, action), names)
            return dict(zip(names, results))

    # ------------------------------------------------------------ attributes

    def attribute(self, name: str) -> dict[str, str]:
        """Every node's value of transient attribute ``name`` (empty ones left out)."""
        node = self.cluster.live_nodes()[0]
        done = self.cluster.run(
            ["attrd_updater", "-Q", "-A", "-n", name], node=node, check=False
        )
        found = {}
        for line in done.stdout.splitlines():
            match = _ATTR_LINE.search(line)
            if match and match["value"]:
                found[match["host"]] = match["value"]
        return found

    def scores(self) -> dict[str, int]:
        return {n: int(v) for n, v in self.attribute(f"master-{RESOURCE}").items()}

    def positions(self) -> dict[str, str]:
        return self.attribute(f"{RESOURCE}-position")

    def waiting(self) -> dict[str, str]:
        return self.attribute(f"{RESOURCE}-waiting")

    def set_attribute(self, node: str, name: str, value: str) -> None:
        self.cluster.run(
            ["attrd_updater", "-N", node, "-n", name, "-U", value], node=node
        )

    def wait_attribute(
        self, name: str, predicate, timeout: float = 10
    ) -> dict[str, str]:
        """attrd spreads updates asynchronously: poll until ``predicate`` holds."""
        end = time.monotonic() + timeout
        while True:
            values = self.attribute(name)
            if predicate(values) or time.monotonic() > end:
                return values
            time.sleep(0.2)

    # ------------------------------------------------------------ mariadbd

    def mariadbd_pid(self, node: str) -> int | None:
        path = self.lab.host_path(node, self.lab.nodes[node].pid_file)
        try:
            pid = int(path.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return None
        return pid if b"mariadbd" in cmdline else None

    def kill9(self, node: str) -> None:
        """kill -9 the node's mariadbd and its session (SST helpers included)."""
        pid = self.mariadbd_pid(node)
        if pid is None:
            return
        try:
            os.killpg(os.getpgid(pid), signal.SIGKILL)
        except ProcessLookupError:
            pass
        end = time.monotonic() + 10
        while time.monotonic() < end and self.mariadbd_pid(node) == pid:
            state = _state(pid)
            if state in (None, "Z"):
                break
            time.sleep(0.05)

    def log_tail(self, node: str, lines: int = 40) -> str:
        path = self.cluster.node(node).root() / AGENT_LOG.lstrip("/")
        try:
            return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no agent log)"

    # ------------------------------------------------------------ recovery

    def bring_up(self, timeout: float = 240) -> float:
        """Start every node unpromoted, then promote as Pacemaker would."""
        began = time.monotonic()
        for node, result in self.on_all("start").items():
            assert result.rc == RUNNING, f"{result}\n{self.log_tail(node)}"
        self.promote_all(timeout)
        return time.monotonic() - began

    def promote_all(self, timeout: float = 240) -> None:
        """Promote every node whose promotion score is positive, until all are.

        Between rounds the unpromoted nodes run their recurring monitor, the
        way they would learn of a new Primary Component under Pacemaker.
        """
        end = time.monotonic() + timeout
        while True:
            states = {n: self.monitor(n).rc for n in self.lab.names}
            pending = [n for n, rc in states.items() if rc != PROMOTED]
            if not pending:
                return
            bad = {n: rc for n, rc in states.items() if rc not in (PROMOTED, RUNNING)}
            assert not bad, f"unexpected monitor results {bad}: {self.history[-3:]}"
            scores = self.scores()
            ready = [n for n in pending if scores.get(n, 0) > 0]
            if time.monotonic() > end:
                raise AssertionError(
                    f"not all promoted after {timeout} s: scores {scores}, "
                    f"waiting {self.waiting()}"
                )
            if not ready:
                time.sleep(0.5)
                continue
            with ThreadPoolExecutor(len(ready)) as pool:
                results = list(pool.map(lambda n: self.run(n, "promote"), ready))
            for result in results:
                assert result.rc == RUNNING, f"{result}\n{self.log_tail(result.node)}"

    def recover(self, timeout: float = 300) -> None:
        """Pacemaker's recovery after failures: demote, stop, start, promote.

        Failed instances are recovered in parallel, as Pacemaker does.
        """

        def recover_node(node: str) -> None:
            if self.monitor(node, role="Promoted").rc == PROMOTED:
                return
            for action in ("demote", "stop", "start"):
                result = self.run(node, action)
                assert result.rc == RUNNING, f"{result}\n{self.log_tail(node)}"

        with ThreadPoolExecutor(len(self.lab.names)) as pool:
            list(pool.map(recover_node, self.lab.names))
        self.promote_all(timeout)

    def stop_all(self) -> None:
        for node in self.lab.names:
            self.run(node, "stop")


def _state(pid: int) -> str | None:
    try:
        data = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return None
    return data[data.rfind(b")") + 2 :][:1].decode()


class SqlWriter(threading.Thread):
    """Insert numbered rows through live members; remember acknowledged ids.

    Each INSERT is one autocommit statement by the mariadb client inside a
    node; an id counts as acknowledged only when the client exited 0.
    Failed ids are "uncertain" (they may or may not have committed).
    """

    def __init__(
        self, lab: NamespacedGalera, agent: GaleraAgent, first_id: int = 1
    ) -> None:
        super().__init__(daemon=True)
        self.lab = lab
        self.agent = agent
        self.next_id = first_id
        self.acked: set[int] = set()
        self.uncertain: set[int] = set()
        self._halt = threading.Event()
        self._busy = threading.Lock()
        self._paused = threading.Event()

    def run(self) -> None:
        turn = 0
        while not self._halt.is_set():
            if self._paused.is_set():
                time.sleep(0.05)
                continue
            live = [n for n in self.lab.names if self.agent.mariadbd_pid(n)]
            if not live:
                time.sleep(0.1)
                continue
            node = live[turn % len(live)]
            turn += 1
            with self._busy:
                if self._paused.is_set():
                    continue
                self._insert(node)

    def _insert(self, node: str) -> None:
        row = self.next_id
        self.next_id += 1
        try:
            self.lab.sql(
                node,
                f"INSERT INTO {ROWS_TABLE} (id, payload) VALUES ({row}, '{node}');",
                timeout=10,
            )
        except Exception:  # noqa: BLE001 - any failure leaves the row uncertain
            self.uncertain.add(row)
            time.sleep(0.05)
        else:
            self.acked.add(row)

    def pause(self) -> None:
        """Stop writing until :meth:`resume`; returns once no insert is in flight."""
        self._paused.set()
        with self._busy:
            pass

    def resume(self) -> None:
        self._paused.clear()

    def wait_acked(self, count: int, timeout: float = 30) -> None:
        end = time.monotonic() + timeout
        while len(self.acked) < count:
            assert time.monotonic() < end, f"only {len(self.acked)} rows acknowledged"
            time.sleep(0.05)

    def stop(self) -> None:
        self._halt.set()
        self.join(30)
