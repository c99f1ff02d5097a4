"""The failover scenarios of issue #14, on a running :class:`ControllerLab`.

Each scenario runs the VIP client (:mod:`tests.lab.vip_client`) in the
lab's client namespace, injects its fault, waits for the cluster to repair
itself, and returns what the client and the cluster showed.  The integration
tests assert on the results; ``bench/failover`` repeats them and reports
medians; ``make lab`` prints one of each.  Every scenario leaves the three
nodes online with every instance started, its failures cleaned up.
"""

from __future__ import annotations

import os
import secrets
import signal
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ocf_agents._runtime.proc import session_members

from .controllers import (
    FRONTEND_PORT,
    KEYSTONE_PORT,
    PASSWORD_DIR,
    VIP,
    ControllerLab,
)
from .vip_client import Outcome, Probe, Summary, summary

VIP_RSC = "hakit-vip-internal"
KEYSTONE_RSC = "hakit-keystone"
KEYSTONE_CLONE = "hakit-keystone-clone"
HAPROXY_CLONE = "hakit-haproxy-clone"
RABBIT_CLONE = "hakit-rabbitmq-clone"
CONDUCTOR_CLONE = "hakit-nova-conductor-clone"
AMQP_PORT = 5672
URL = f"http://{VIP}:{FRONTEND_PORT}/v3"
#: The client's steady state before a fault, and after the repair.
BEFORE = 2.0
AFTER = 2.0


@dataclass
class Result:
    """One run of a scenario."""

    scenario: str
    node: str
    client: Summary
    #: Seconds from the fault to each milestone the scenario names.
    milestones: dict[str, float] = field(default_factory=dict)
    outcomes: list[Outcome] = field(default_factory=list)
    #: Other facts a scenario checks (lists that must stay empty...).
    notes: dict[str, list[str]] = field(default_factory=dict)


def keystone_answers(lab: ControllerLab, address: str) -> bool:
    """Whether keystone at ``address`` answers ``GET /v3`` (from the client ns)."""

    def ask() -> bool:
        url = f"http://{address}:{KEYSTONE_PORT}/v3"
        try:
            with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310
                return bool(response.status == 200)
        except OSError:
            return False

    return lab.client().submit(ask).result(timeout=10)


def vip_answers(lab: ControllerLab) -> bool:
    """Whether keystone answers through the VIP (from the client ns)."""

    def ask() -> bool:
        try:
            with urllib.request.urlopen(URL, timeout=1) as response:  # noqa: S310
                return bool(response.status == 200)
        except OSError:
            return False

    return lab.client().submit(ask).result(timeout=10)


def all_running(lab: ControllerLab) -> bool:
    """Three nodes up, keystone and HAProxy on each, VIP placed, all answering."""
    if len(lab.live()) != 3 or not lab.settled():
        return False
    if len(lab.where(KEYSTONE_CLONE)) != 3 or len(lab.where(HAPROXY_CLONE)) != 3:
        return False
    if len(lab.where(VIP_RSC)) != 1:
        return False
    if lab.galera is not None and not galera_promoted(lab):
        return False
    if lab.rabbit is not None and not (
        len(lab.where(RABBIT_CLONE)) == 3 and len(lab.where(CONDUCTOR_CLONE)) == 3
    ):
        return False
    return all(
        keystone_answers(lab, node.address) for node in lab.cluster.nodes.values()
    ) and vip_answers(lab)


def wait_all_running(lab: ControllerLab, timeout: float = 180) -> float:
    """Wait until :func:`all_running`; return the seconds it took."""
    return lab.wait(lambda: all_running(lab), timeout, "every instance running")


def cleanup(lab: ControllerLab) -> None:
    """Forget failures, so the next run starts from fail counts of zero."""
    for rsc in (KEYSTONE_CLONE, HAPROXY_CLONE, VIP_RSC, "hakit-galera-clone"):
        if rsc == "hakit-galera-clone" and lab.galera is None:
            continue
        lab.run(["crm_resource", "--cleanup", "-r", rsc], check=False, timeout=60)
    for rsc in (RABBIT_CLONE, CONDUCTOR_CLONE) if lab.rabbit is not None else ():
        lab.run(["crm_resource", "--cleanup", "-r", rsc], check=False, timeout=60)


def conductor_sockets(lab: ControllerLab, node: str) -> set[tuple[str, str]]:
    """(member address, local address:port) of ``node``'s nova-conductor connections.

    Read inside the node: its only established connections to the AMQP
    port are the conductor's (the members talk on their distribution port);
    a conductor holds several (RPC server, its worker, notifications), not
    always to one member.  The local end tells a new connection from one
    that outlived its peer.
    """
    done = lab.run(
        ["ss", "-Htn", "state", "established", f"( dport = :{AMQP_PORT} )"],
        node=node,
        check=False,
    )
    members = {lab.cluster.nodes[n].address for n in lab.cluster.names}
    found = set()
    for line in done.stdout.splitlines():
        fields = line.split()
        peer = fields[-1].rsplit(":", 1)[0]
        if peer in members:
            found.add((peer, fields[-2]))
    return found


def conductor_peers(lab: ControllerLab, node: str) -> set[str]:
    """The RabbitMQ member addresses ``node``'s nova-conductor is connected to."""
    return {peer for peer, _ in conductor_sockets(lab, node)}


def move_vip(lab: ControllerLab, node: str, timeout: float = 60) -> None:
    """Move the VIP to ``node`` and leave no constraint behind.

    ``crm_resource --move`` prefers the node; ``--clear`` removes that
    preference once the VIP runs there, and resource stickiness keeps it.
    """
    if lab.where(VIP_RSC) == [node]:
        return
    lab.run(["crm_resource", "--move", "-r", VIP_RSC, "-N", node], timeout=60)
    try:
        lab.wait(lambda: lab.where(VIP_RSC) == [node], timeout, f"VIP on {node}")
    finally:
        lab.run(["crm_resource", "--clear", "-r", VIP_RSC], timeout=60)
    lab.wait(lab.settled, timeout, "the cluster settled after the VIP moved")


def _probe(lab: ControllerLab, name: str) -> Probe:
    out = lab.workdir / f"client-{name}-{time.monotonic_ns()}.log"
    probe = Probe(lab.cluster.client_ns, URL, out)
    probe.start()
    deadline = time.monotonic() + 15
    while not any(o.ok for o in probe.outcomes()):
        if time.monotonic() > deadline:
            probe.stop()
            raise RuntimeError(f"the client never got an answer from {URL}")
        time.sleep(0.1)
    time.sleep(BEFORE)
    return probe


def keystone_pid(lab: ControllerLab, node: str) -> int | None:
    """The keystone master's pid on ``node`` (its pidfile), or None."""
    path = lab.cluster.nodes[node].root() / PASSWORD_DIR / "keystone.pid"
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def kill_keystone(lab: ControllerLab, timeout: float = 60) -> Result:
    """Scenario 1: kill -9 keystone on the VIP's node; Pacemaker restarts it."""
    wait_all_running(lab)
    (node,) = lab.where(VIP_RSC)
    address = lab.cluster.nodes[node].address
    old = keystone_pid(lab, node)
    if old is None:
        raise RuntimeError(f"no keystone pid on {node}")
    probe = _probe(lab, "kill-keystone")
    try:
        t0 = time.monotonic()
        for pid in session_members(old):
            os.kill(pid, signal.SIGKILL)

        def back() -> bool:
            pid = keystone_pid(lab, node)
            return pid not in (None, old) and keystone_answers(lab, address)

        restarted = lab.wait(back, timeout, f"keystone restarted on {node}")
        time.sleep(AFTER)
        t1 = time.monotonic()
    finally:
        outcomes = probe.stop()
    cleanup(lab)
    return Result(
        "kill -9 keystone",
        node,
        summary(outcomes, t0, t1),
        {"keystone answers again": restarted},
        outcomes,
    )


def kill_node(lab: ControllerLab, timeout: float = 90) -> Result:
    """Scenario 2: kill every process of the VIP's node, without warning.

    The client keeps asking until the node is back with every instance
    running: :attr:`Result.client` covers the failover (from the kill to
    :data:`AFTER` seconds after the first answer through the moved VIP),
    ``notes["rejoin"]`` what the client saw while the node came back.
    """
    wait_all_running(lab)
    (node,) = lab.where(VIP_RSC)
    writer = start_writer(lab) if lab.galera is not None else None
    queues = _fill_queues(lab, node) if lab.rabbit is not None else {}
    probe = _probe(lab, "kill-node")
    try:
        if writer is not None:
            writer.wait_acked(10, timeout=60)
        t0 = time.monotonic()
        lab.coupler.power_off(node)  # its BMC still says On: Pacemaker must fence

        def served() -> bool:
            outcomes = probe.outcomes()
            first = _first_failure(outcomes, t0)
            return any(o.ok and o.start > first for o in outcomes)

        lab.wait(served, timeout, "an answer through the moved VIP")
        lab.wait(lambda: (lab.coupler.last(node, "off") or 0) > t0, timeout, "fenced")
        fenced_at = (lab.coupler.last(node, "off") or t0) - t0
        time.sleep(AFTER)
        t1 = time.monotonic()
        moved_to = lab.where(VIP_RSC)
        wait_all_running(lab, timeout=180)
        back = time.monotonic() - t0
        time.sleep(AFTER)
        t2 = time.monotonic()
        if writer is not None:
            writer.wait_acked(len(writer.acked) + 10, timeout=60)
    finally:
        outcomes = probe.stop()
        missing = stop_writer(lab, writer) if writer is not None else {}
    result = Result("kill node", node, summary(outcomes, t0, t1), {}, outcomes)
    if writer is not None:
        result.notes["acknowledged rows missing"] = [
            f"{name}: {ids}" for name, ids in missing.items() if ids
        ]
        result.notes["rows acknowledged"] = [str(len(writer.acked))]
    result.milestones["first answer through the moved VIP"] = result.client.outage
    result.milestones["fenced (BMC off)"] = fenced_at
    result.milestones["node back, every instance running"] = back
    if queues:
        result.notes["durable messages missing"] = [
            f"{queue} on {where}: {found} of {count}"
            for queue, (where, count) in queues.items()
            if (found := lab.rabbit.wait_depth(where, queue, count)) != count
        ]
    rejoin = summary(outcomes, t1, t2)
    result.notes["rejoin"] = [
        f"{rejoin.failed} of {rejoin.requests} requests failed while {node}"
        f" rejoined; longest gap {rejoin.longest_gap:.2f} s; VIP on"
        f" {moved_to} after the failover, on {lab.where(VIP_RSC)} after the rejoin"
    ]
    result.notes["failed while rejoining"] = [
        f"{o.start - t0:.2f} s {o.detail}"
        for o in outcomes
        if t1 <= o.start and not o.ok
    ]
    cleanup(lab)
    return result


def _fill_queues(lab: ControllerLab, victim: str) -> dict[str, tuple[str, int]]:
    """Publish confirmed persistent messages to durable queues; return them.

    A classic queue on the node about to be killed (back when it rejoins)
    and a quorum queue through a survivor.  Returns queue -> (node to read
    it on, count).
    """
    survivor = next(n for n in lab.cluster.names if n != victim)
    stamp = time.monotonic_ns()
    classic, quorum = f"lab-classic-{stamp}", f"lab-quorum-{stamp}"
    published = {
        classic: (victim, lab.rabbit.publish(victim, classic, 30, "classic")),
        quorum: (survivor, lab.rabbit.publish(survivor, quorum, 30, "quorum")),
    }
    for queue, (_, count) in published.items():
        if count != 30:
            raise RuntimeError(f"only {count} of 30 messages confirmed on {queue}")
    return published


def _first_failure(outcomes: list[Outcome], t0: float) -> float:
    return next((o.start for o in outcomes if not o.ok and o.start >= t0), float("inf"))


def report(result: Result) -> str:
    """One paragraph about a run."""
    c = result.client
    lines = [
        f"{result.scenario} on {result.node}: {c.requests} requests,"
        f" {c.failed} failed, longest gap between answers {c.longest_gap:.2f} s"
    ]
    lines += [f"  {what}: {sec:.2f} s" for what, sec in result.milestones.items()]
    lines += [
        f"  {what}: {'; '.join(items) or 'none'}"
        for what, items in result.notes.items()
    ]
    return "\n".join(lines)


def write_outcomes(result: Result, path: Path) -> None:
    """Keep a run's raw client log (start end ok detail)."""
    path.write_text(
        "".join(
            f"{o.start:.4f} {o.end:.4f} {int(o.ok)} {o.detail}\n"
            for o in result.outcomes
        )
    )


def level_one_broken(lab: ControllerLab, timeout: float = 90) -> Result:
    """Scenario 3: level 1 has a wrong password; level 2 (Redfish) fences.

    The IPMI password every node's fence agents read is wrong, then every
    process of the VIP's node is killed.  The IPMI BMC must see no power
    request, the Redfish system must go off, and the fencer must never
    report the node fenced while its Redfish system still reads On.
    """
    from .controllers import REDFISH_UUIDS  # noqa: PLC0415
    from .fencing import fence_history  # noqa: PLC0415
    from .ipmi import ADMIN_PASSWORD  # noqa: PLC0415
    from .redfish import TRANSITIONS_FILE  # noqa: PLC0415

    wait_all_running(lab)
    (node,) = lab.where(VIP_RSC)
    survivors = [n for n in lab.cluster.names if n != node]
    for name in lab.cluster.names:
        lab.write_password(name, "ipmi", "wrong-password")
    ipmi_requests = len(lab.ipmi[node].history)
    early: list[str] = []
    try:
        before = {
            e.completed
            for e in fence_history(lab.cluster.nodes[survivors[0]], node)
            if e.status == "success"
        }
        t0 = time.monotonic()
        wall0 = time.time()
        lab.coupler.power_off(node)

        def off_logged() -> bool:
            """Whether the emulator logged the node's system Off since t0."""
            try:
                lines = (lab.redfish.faults_dir / TRANSITIONS_FILE).read_text()
            except FileNotFoundError:
                return False
            return any(
                float(f[0]) >= wall0 and f[1] == REDFISH_UUIDS[node] and f[2] == "Off"
                for f in (line.split() for line in lines.splitlines())
                if len(f) == 3
            )

        def fenced() -> bool:
            try:
                events = fence_history(lab.cluster.nodes[survivors[0]], node)
            except Exception:  # noqa: BLE001 - the survivor may be busy: ask again
                return False
            new = [
                e
                for e in events
                if e.status == "success" and e.completed and e.completed not in before
            ]
            # Read after the history: a success already there must come
            # after an Off the emulator logged before answering it.
            if new and not off_logged():
                early.append(f"{new} before the Redfish system was off")
            return bool(new) and (lab.coupler.last(node, "off") or 0) > t0

        lab.wait(fenced, timeout, f"{node} fenced through level 2")
        fenced_at = time.monotonic() - t0  # from the kill, like off_at
    finally:
        for name in lab.cluster.names:
            lab.write_password(name, "ipmi", ADMIN_PASSWORD)
    off_at = (lab.coupler.last(node, "off") or t0) - t0
    ipmi_after = lab.ipmi[node].history[ipmi_requests:]
    result = Result("level 1 broken", node, Summary(0, 0, 0.0, 0.0))
    result.milestones["Redfish (level 2) powered it off"] = off_at
    result.milestones["reported fenced"] = fenced_at
    result.notes = {
        "ipmi power requests": [h for h in ipmi_after if h.startswith("set ")],
        "reported fenced while on": early,
    }
    wait_all_running(lab, timeout=180)
    result.milestones["node back, every instance running"] = time.monotonic() - t0
    cleanup(lab)
    return result


# -- Galera behind the VIP ------------------------------------------------------------

GALERA_CLONE = "hakit-galera-clone"


def galera_roles(lab: ControllerLab) -> dict[str, str]:
    """Node -> role of the Galera clone's active instances."""
    live = lab.live()
    if not live:
        return {}
    try:
        state = lab.cluster.nodes[live[0]].resource_state(GALERA_CLONE)
    except Exception:  # noqa: BLE001 - a node busy rejoining: ask again
        return {}
    return {i.node: i.role for i in state if i.node and i.active}


def galera_promoted(lab: ControllerLab) -> bool:
    """Every node's Galera instance is Promoted (synced in the Primary Component)."""
    return galera_roles(lab) == dict.fromkeys(lab.cluster.names, "Promoted")


def start_writer(lab: ControllerLab) -> Any:
    """Start writing numbered rows through the VIP from the client namespace.

    One INSERT every 50 ms (autocommit) to HAProxy's Galera frontend on the
    VIP; the writer records which ids were acknowledged.  The table and a
    user for the lab's subnet are created on the first Promoted node.
    """
    from .controllers import GALERA_FRONTEND_PORT, _enter_netns  # noqa: PLC0415
    from .galera_writer import (  # noqa: PLC0415
        ROWS_DATABASE,
        ROWS_TABLE,
        WRITER_USER,
        RowWriter,
        WriterAccount,
    )

    galera = lab.galera
    account = getattr(lab, "writer_account", None)
    if account is None:
        password = secrets.token_urlsafe(18)
        host = "192.168.77.%"
        (via,) = [n for n, role in galera_roles(lab).items() if role == "Promoted"][:1]
        galera.sql(
            via,
            f"CREATE DATABASE IF NOT EXISTS {ROWS_DATABASE};"
            f" CREATE TABLE IF NOT EXISTS {ROWS_TABLE} ("
            " id INT NOT NULL PRIMARY KEY, payload VARCHAR(64) NOT NULL"
            ") ENGINE=InnoDB;"
            f" CREATE OR REPLACE USER '{WRITER_USER}'@'{host}'"
            f" IDENTIFIED BY '{password}';"
            f" GRANT SELECT, INSERT ON {ROWS_DATABASE}.* TO '{WRITER_USER}'@'{host}';",
            secret=True,
        )
        account = WriterAccount(WRITER_USER, password, host)
        lab.writer_account = account
        lab.next_row = 1
    netns = lab.cluster.client_ns

    class ClientWriter(RowWriter):  # type: ignore[misc]
        def run(self) -> None:
            _enter_netns(netns)  # this thread only: the client's namespace
            super().run()

    writer = ClientWriter(
        {"vip": (VIP, GALERA_FRONTEND_PORT)},
        account,
        interval=0.05,
        first_id=lab.next_row,
    )
    writer.start()
    return writer


def stop_writer(lab: ControllerLab, writer: Any) -> dict[str, list[int]]:
    """Stop the writer; return, per node, the acknowledged ids it lacks."""
    writer.stop()
    lab.next_row = max([*writer.acked, *writer.uncertain, lab.next_row]) + 1
    acked = writer.acked
    return {name: sorted(acked - lab.galera.rows(name)) for name in lab.cluster.names}


def whole_cluster(lab: ControllerLab, timeout: float = 300) -> Result:
    """Scenario 4: every node killed at once, then powered on through its BMC.

    A writer inserts through the VIP before and after; every acknowledged
    row must be on every node once the cluster has come back by itself.
    """
    wait_all_running(lab)
    writer = start_writer(lab)
    try:
        writer.wait_acked(20, timeout=60)
        t0 = time.monotonic()
        for name in lab.cluster.names:
            lab.coupler.power_off(name)
        killed = len(writer.acked)
        for name in lab.cluster.names:  # a power cycle, as after an outage
            lab.ipmi[name].set_power(False)
        time.sleep(1)
        for name in lab.cluster.names:
            lab.ipmi[name].set_power(True)
        back = wait_all_running(lab, timeout=timeout)
        writer.wait_acked(killed + 20, timeout=60)
        writes = time.monotonic() - t0
    finally:
        missing = stop_writer(lab, writer)
    result = Result("whole cluster killed", "ctl1 ctl2 ctl3", Summary(0, 0, 0.0, 0.0))
    result.milestones["every instance running again"] = time.monotonic() - t0
    result.milestones["powered on -> running"] = back
    result.milestones["writes acknowledged again"] = writes
    result.notes["acknowledged rows missing"] = [
        f"{name}: {ids}" for name, ids in missing.items() if ids
    ]
    result.notes["rows acknowledged"] = [str(len(writer.acked))]
    cleanup(lab)
    return result
