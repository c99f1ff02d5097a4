"""Partitions and freezes against the Galera clone under Pacemaker, round by round.

:class:`FaultRounds` drives the namespaced three-node lab with the
``ocf:hakit:galera`` clone loaded (see :mod:`tests.lab.galera_clone`) while a
:class:`tests.lab.galera_agent.SqlWriter` inserts rows and records the
acknowledged ones.  A round injects one fault, watches the nodes it hit,
lifts the fault and waits, without any other action, until Pacemaker has
every instance Promoted again; it then checks the data:

- *partition*: every link of the chosen nodes goes down inside their
  namespaces (both corosync links and the Galera traffic, which uses the
  first link's address).  A cut-off node must go non-Primary or be stopped
  for lack of quorum, and never form a Primary Component alone (never
  ``Primary`` with ``wsrep_cluster_size`` 1, no "bootstrapping" in its
  agent log while cut off).
- *freeze*: SIGSTOP of a member's mariadbd for longer than the demote
  timeout, then SIGCONT.  With ``keep_frozen`` the test stops it again
  whenever it is continued (a process that cannot make progress): only
  SIGKILL ends it.  Demote and stop must never fail, in particular never on
  the datadir lock ("still locked").

After each round: no acknowledged row lost, the same rows on every member,
the cluster uuid kept, every member Primary and Synced in a 3-node
component.  Each round returns a :class:`RoundResult` with the seconds from
lifting the fault to all-Promoted.  Randomness (which node, how long) comes
from one seeded ``random.Random``.  No pytest dependency: the bench script
``bench/galera_partition_bench.py`` runs the same rounds.
"""

from __future__ import annotations

import os
import random
import re
import signal
import statistics
import subprocess
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from tests.lab.galera import ROWS_TABLE, GaleraError
from tests.lab.galera_agent import GaleraAgent, SqlWriter
from tests.lab.galera_clone import (
    NODES,
    FailedOp,
    failed_ops,
    roles,
    wait_all_promoted,
)
from tests.lab.multinode import MultiCluster
from tests.lab.pacemaker import ClusterCommandError

#: Environment variable with the seed of a run (else a fresh one, printed).
SEED_VARIABLE = "HAKIT_FAULT_SEED"
#: Agent log lines that must never appear on a node while it is cut off.
_BOOTSTRAP = "bootstrapping a new Primary Component"
#: Agent log text of the failure issue #18 reported for demote.
_LOCKED = "still locked"
_ENDED_BY = re.compile(r"pid \d+ ended by (SIG[A-Z]+) after ([0-9.]+) s")
#: pacemaker-execd: "galera demote (call 52, PID 811) exited with status 0
#: (execution time 5.243s, queue time 0ms)".
_DEMOTE_TIME = re.compile(
    r"galera demote \(call [^)]*\) exited .*?execution time ([0-9.ms]+)"
)
_POLL = 0.4


def seed_from_env() -> int:
    """The seed in ``HAKIT_FAULT_SEED``, or a fresh one."""
    text = os.environ.get(SEED_VARIABLE, "")
    return int(text) if text else random.SystemRandom().randrange(2**31)


@dataclass
class RoundResult:
    """What one round did and measured."""

    scenario: str
    policy: str
    nodes: tuple[str, ...]
    #: Seconds the fault lasted (links down, or SIGSTOP to SIGCONT).
    held: float
    #: Seconds from lifting the fault to every instance Promoted.
    heal_to_promoted: float
    #: Seconds from the fault to every instance Promoted.
    fault_to_promoted: float
    #: Node -> the states mariadbd went through during the fault.
    timeline: dict[str, list[str]] = field(default_factory=dict)
    #: Failed operations Pacemaker recorded during the round.
    failures: list[FailedOp] = field(default_factory=list)
    #: Freeze: the signals that ended the frozen mariadbd (from the agent log).
    ended_by: list[str] = field(default_factory=list)
    #: Freeze: how long the last demote on the victim ran (Pacemaker's history).
    demote_seconds: float | None = None
    acked: int = 0

    def __str__(self) -> str:
        """One line for the test output."""
        states = "; ".join(f"{n}: {' > '.join(s)}" for n, s in self.timeline.items())
        extra = f", ended by {'/'.join(self.ended_by)}" if self.ended_by else ""
        if self.demote_seconds is not None:
            extra += f", demote took {self.demote_seconds:.1f} s"
        failures = ", ".join(f"{f.task}@{f.node} rc {f.rc}" for f in self.failures)
        return (
            f"{self.scenario} [{self.policy}] {','.join(self.nodes)}: held "
            f"{self.held:.1f} s, heal->Promoted {self.heal_to_promoted:.1f} s "
            f"(fault->Promoted {self.fault_to_promoted:.1f} s){extra}; {states}; "
            f"failed ops: {failures or 'none'}; {self.acked} rows acknowledged"
        )


Figures = tuple[int, float, float, float]


def summary(results: Sequence[RoundResult]) -> dict[str, Figures]:
    """Scenario [policy] -> (rounds, median, min, max) of heal->Promoted."""
    groups: dict[str, list[float]] = {}
    for result in results:
        key = f"{result.scenario} [{result.policy}]"
        groups.setdefault(key, []).append(result.heal_to_promoted)
    return {
        key: (len(values), statistics.median(values), min(values), max(values))
        for key, values in groups.items()
    }


class FaultRounds:
    """Fault rounds on a loaded Galera clone, with one row writer throughout.

    Args:
        cluster: The running three-node lab.
        agent: The driver of the clone's agent (its lab and parameters).
        seed: Seed of every random choice.
        say: Where progress lines go (``print`` by default).
    """

    def __init__(
        self,
        cluster: MultiCluster,
        agent: GaleraAgent,
        seed: int,
        say: Callable[[str], None] = print,
    ) -> None:
        self.cluster = cluster
        self.agent = agent
        self.lab = agent.lab
        self.seed = seed
        self.rng = random.Random(seed)
        self.say = say
        self.writer: SqlWriter | None = None
        self.uuid = ""
        self._failures: set[FailedOp] = set()

    # ------------------------------------------------------------ life cycle

    def begin(self, timeout: float = 180) -> float:
        """Wait until all are Promoted, create the table, start the writer."""
        took = wait_all_promoted(self.cluster, self.agent, timeout)
        self.lab.sql(
            NODES[0],
            "CREATE DATABASE IF NOT EXISTS hakit; CREATE TABLE IF NOT EXISTS"
            f" {ROWS_TABLE} (id INT PRIMARY KEY, payload VARCHAR(64));",
        )
        self.uuid = self.lab.status(NODES[0])["wsrep_cluster_state_uuid"]
        self.writer = SqlWriter(self.lab, self.agent)
        self.writer.start()
        self.writer.wait_acked(10)
        self._failures = set(failed_ops(self.cluster))
        return took

    def end(self) -> None:
        """Stop the writer."""
        if self.writer is not None:
            self.writer.stop()

    def __enter__(self) -> FaultRounds:
        """Start (see :meth:`begin`)."""
        self.begin()
        return self

    def __exit__(self, *exc: object) -> None:
        """Stop the writer."""
        self.end()

    # ------------------------------------------------------------ faults

    def set_policy(self, policy: str) -> None:
        """Set the cluster's ``no-quorum-policy``."""
        self.cluster.node(NODES[0]).set_property("no-quorum-policy", policy)

    def partition(
        self,
        isolated: Sequence[str],
        policy: str,
        hold: tuple[float, float] = (10, 16),
        limit: float = 60,
    ) -> RoundResult:
        """Cut ``isolated`` off (each alone), heal, and check the outcome.

        The cut lasts a random time within ``hold`` and at least until every
        isolated node was seen non-Primary or stopped (at most ``limit`` s).
        """
        assert self.writer is not None, "begin() first"
        scenario = "one node" if len(isolated) == 1 else "all apart"
        held_for = self.rng.uniform(*hold)
        offsets = self._log_offsets()
        acked_before = len(self.writer.acked)
        timeline: dict[str, list[str]] = {n: [] for n in isolated}
        self.say(f"cutting {list(isolated)} off for {held_for:.1f} s ({policy})")
        cut_at = time.monotonic()
        for node in isolated:
            self._links(node, up=False)
        try:
            while True:
                for node in isolated:
                    _note(timeline[node], self._observe(node))
                lone = [n for n in isolated if _alone_primary(timeline[n])]
                assert not lone, f"{lone} formed a Primary Component alone: {timeline}"
                elapsed = time.monotonic() - cut_at
                if elapsed >= held_for and all(
                    _left_primary(timeline[n]) for n in isolated
                ):
                    break
                assert elapsed < limit, (
                    f"cut-off nodes stayed Primary for {limit} s: {timeline}"
                )
                time.sleep(_POLL)
            if len(isolated) == 1:
                # The two others keep a Primary Component and take writes.
                self.writer.wait_acked(len(self.writer.acked) + 5, timeout=30)
            self._assert_no_bootstrap(isolated, offsets)
        finally:
            healed_at = time.monotonic()
            for node in isolated:
                self._links(node, up=True)
        self.say(f"healed after {healed_at - cut_at:.1f} s: {timeline}")
        done, seen = self._watch_roles(healed_at)
        self.say("roles after the heal: " + "; ".join(seen))
        result = RoundResult(
            scenario,
            policy,
            tuple(isolated),
            healed_at - cut_at,
            done - healed_at,
            done - cut_at,
            timeline,
        )
        return self._finish(result, acked_before, offsets)

    def freeze(
        self,
        victim: str,
        hold: float,
        *,
        keep_frozen: bool = False,
        limit: float = 120,
    ) -> RoundResult:
        """SIGSTOP ``victim``'s mariadbd for ``hold`` s, SIGCONT, check the outcome.

        With ``keep_frozen`` it is stopped again whenever continued, until it
        is gone (at most ``limit`` s after ``hold``).
        """
        assert self.writer is not None, "begin() first"
        pid = self.agent.mariadbd_pid(victim)
        assert pid is not None, f"no mariadbd on {victim}"
        born = _start_ticks(pid)
        offsets = self._log_offsets()
        acked_before = len(self.writer.acked)
        timeline: dict[str, list[str]] = {victim: []}
        mode = "kept frozen" if keep_frozen else "frozen once"
        self.say(f"freezing mariadbd {pid} on {victim} for {hold:.1f} s ({mode})")
        frozen_at = time.monotonic()
        os.kill(pid, signal.SIGSTOP)
        recovered_at = None
        next_look = frozen_at + 1
        try:
            while True:
                same = _start_ticks(pid) == born
                elapsed = time.monotonic() - frozen_at
                # Kept frozen, it stays so until it is gone, however long the
                # cluster takes to notice (bounded): only SIGKILL can end it.
                if elapsed >= hold and not (keep_frozen and same):
                    break
                assert elapsed < hold + limit, (
                    f"mariadbd {pid} on {victim} still there {elapsed:.0f} s after "
                    f"SIGSTOP: {timeline}"
                )
                if same and keep_frozen:
                    os.kill(pid, signal.SIGSTOP)
                _note(timeline[victim], _proc_state(pid) if same else "gone")
                if not same and recovered_at is None and time.monotonic() >= next_look:
                    # A new mariadbd: is the instance Promoted again already?
                    next_look = time.monotonic() + 0.5
                    if roles(self.cluster).get(victim) == "Promoted":
                        recovered_at = time.monotonic()
                        _note(timeline[victim], "Promoted again")
                time.sleep(0.1)
        finally:
            if _start_ticks(pid) == born:
                os.kill(pid, signal.SIGCONT)
        thawed_at = time.monotonic()
        self.say(f"SIGCONT after {thawed_at - frozen_at:.1f} s: {timeline}")
        done, seen = self._watch_roles(thawed_at)
        self.say("roles after SIGCONT: " + "; ".join(seen))
        result = RoundResult(
            "freeze",
            mode,
            (victim,),
            thawed_at - frozen_at,
            done - thawed_at,
            (recovered_at or done) - frozen_at,
            timeline,
        )
        result.demote_seconds = demote_seconds(
            self._log_since(victim, offsets[victim], "pacemaker-execd")
        )
        log = self._log_since(victim, offsets[victim])
        result.ended_by = [
            f"{sig} after {secs} s" for sig, secs in _ENDED_BY.findall(log)
        ]
        assert _LOCKED not in log, f"{victim}'s agent log says {_LOCKED!r}:\n{log}"
        return self._finish(result, acked_before, offsets)

    # ------------------------------------------------------------ checks

    def _finish(
        self, result: RoundResult, acked_before: int, offsets: dict[str, int]
    ) -> RoundResult:
        """Check Pacemaker's failures and the data; complete ``result``."""
        assert self.writer is not None
        now = set(failed_ops(self.cluster))
        result.failures = sorted(now - self._failures, key=str)
        self._failures = now
        bad = [f for f in result.failures if f.task in ("demote", "stop")]
        assert not bad, f"failed {[str(f) for f in bad]}\n" + "\n".join(
            self._log_since(n, offsets[n])[-3000:] for n in {f.node for f in bad}
        )
        self._wait_healthy()
        self.writer.wait_acked(len(self.writer.acked) + 5, timeout=60)
        self.check_data()
        result.acked = len(self.writer.acked) - acked_before
        self.say(str(result))
        return result

    def check_data(self) -> None:
        """No acknowledged row lost, the same rows everywhere, the uuid kept."""
        assert self.writer is not None
        self.writer.pause()
        try:
            acked = set(self.writer.acked)
            rows = {node: self.lab.rows(node) for node in NODES}
            uuids = {n: self.lab.status(n)["wsrep_cluster_state_uuid"] for n in NODES}
        finally:
            self.writer.resume()
        assert uuids == dict.fromkeys(NODES, self.uuid), (
            f"cluster uuid changed from {self.uuid}: {uuids}"
        )
        for node, ids in rows.items():
            missing = acked - ids
            assert not missing, f"{node} lost {len(missing)}: {sorted(missing)[:20]}"
        first = rows[NODES[0]]
        for node in NODES[1:]:
            differ = sorted(first ^ rows[node])
            assert not differ, f"{NODES[0]} and {node} differ on {differ[:20]}"

    def _watch_roles(
        self, since: float, timeout: float = 240
    ) -> tuple[float, list[str]]:
        """Wait until all are Promoted for sure; return when, and the way there.

        Right after a heal, while the partitions' CIBs merge, crm_mon can
        show a rejoining node's history from before the cut (Promoted) for a
        moment.  So all-Promoted counts only with the cluster settled (all
        quorate and Online, the DC idle: no transition pending) and every
        mariadbd Primary and Synced in a component of all three.
        """
        seen: list[str] = []
        last = ""
        end = time.monotonic() + timeout
        while True:
            try:
                current = roles(self.cluster)
            except (ClusterCommandError, subprocess.TimeoutExpired, ET.ParseError):
                current = {}
            now = time.monotonic()
            text = " ".join(f"{n}={current.get(n, '-')}" for n in NODES)
            if current == dict.fromkeys(NODES, "Promoted"):
                members = {n: self._observe(n) for n in NODES}
                if set(members.values()) == {"Primary/3"} and self.cluster.settled():
                    seen.append(f"+{now - since:.1f} s all Promoted, settled")
                    return now, seen
                text += f" (not yet: {members})"
            if text != last:
                seen.append(f"+{now - since:.1f} s {text}")
                last = text
            assert now < end, (
                f"not all Promoted {timeout} s after the heal: {seen}, "
                f"waiting {self.agent.waiting()}, scores {self.agent.scores()}"
            )
            time.sleep(0.3)

    def _wait_healthy(self, timeout: float = 60) -> None:
        """Every member Primary, Synced, in a component of all three."""
        end = time.monotonic() + timeout
        while True:
            states = {n: self._observe(n) for n in NODES}
            if set(states.values()) == {"Primary/3"}:
                return
            assert time.monotonic() < end, (
                f"members not healthy: {states}, roles {roles(self.cluster)}"
            )
            time.sleep(_POLL)

    def _assert_no_bootstrap(
        self, isolated: Sequence[str], offsets: dict[str, int]
    ) -> None:
        for node in isolated:
            log = self._log_since(node, offsets[node])
            lines = [line for line in log.splitlines() if _BOOTSTRAP in line]
            assert not lines, f"{node} bootstrapped while cut off: {lines}"

    # ------------------------------------------------------------ helpers

    def _links(self, node: str, *, up: bool) -> None:
        for link in range(len(self.cluster.links[node])):
            self.cluster.set_link(node, link, up)

    def _observe(self, node: str) -> str:
        """``down``, ``no answer`` or ``<wsrep_cluster_status>/<size>``."""
        if self.agent.mariadbd_pid(node) is None:
            return "down"
        try:
            status = self.lab.status(node, timeout=3)
        except (GaleraError, subprocess.TimeoutExpired):
            return "no answer"
        where = status.get("wsrep_cluster_status")
        size = status.get("wsrep_cluster_size")
        synced = status.get("wsrep_local_state_comment") in ("Synced", "Donor/Desynced")
        if where == "Primary" and not synced:
            return f"Primary/{size} (joining)"
        return f"{where}/{size}"

    def _log_offsets(self) -> dict[str, int]:
        offsets = {}
        for node in NODES:
            path = self.cluster.node(node).pacemaker_log_path
            offsets[node] = path.stat().st_size if path.exists() else 0
        return offsets

    def _log_since(self, node: str, offset: int, what: str = "galera(") -> str:
        """The lines with ``what`` in ``node``'s pacemaker.log after ``offset``."""
        path = self.cluster.node(node).pacemaker_log_path
        try:
            with path.open("rb") as handle:
                handle.seek(offset)
                data = handle.read()
        except OSError:
            return ""
        lines = data.decode("utf-8", "replace").splitlines()
        return "\n".join(line for line in lines if what in line)


def demote_seconds(log: str) -> float | None:
    """How long the last demote in pacemaker-execd's ``log`` lines ran."""
    found = _DEMOTE_TIME.findall(log)
    return _interval(found[-1]) if found else None


def _interval(text: str) -> float:
    """Pacemaker's readable interval ("1m2.5s", "4.321s", "250ms") in seconds."""
    minutes, _, rest = text.rpartition("m") if "ms" not in text else ("", "", text)
    if rest.endswith("ms"):
        return float(rest[:-2]) / 1000
    return (float(minutes) * 60 if minutes else 0) + float(rest.rstrip("s") or 0)


def _note(timeline: list[str], state: str) -> None:
    """Append ``state`` unless it is the last one noted."""
    if not timeline or timeline[-1] != state:
        timeline.append(state)


def _alone_primary(timeline: list[str]) -> bool:
    """The node was seen in a Primary Component of its own."""
    return any(s.startswith("Primary/1") for s in timeline)


def _left_primary(timeline: list[str]) -> bool:
    """The node went non-Primary, or mariadbd was stopped, since the cut."""
    return any(s.startswith("non-Primary") or s == "down" for s in timeline)


def _start_ticks(pid: int) -> int | None:
    """The process's start time in clock ticks (tells a reused pid apart)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            data = handle.read()
    except OSError:
        return None
    fields = data[data.rfind(b")") + 2 :].split()
    state = fields[0].decode()
    return None if state in ("Z", "X") else int(fields[19])


def _proc_state(pid: int) -> str:
    """``stopped``, ``running`` or ``gone``, from /proc."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            data = handle.read()
    except OSError:
        return "gone"
    state = data[data.rfind(b")") + 2 :][:1].decode()
    return {"T": "stopped", "t": "stopped", "Z": "gone", "X": "gone"}.get(
        state, "running"
    )
