"""Pacemaker's own tools as a second opinion: crm_verify and crm_simulate.

``verify`` runs ``crm_verify`` on a rendered CIB.  ``simulate`` brings every
node up in ``crm_simulate``, gives promotable clones their promotion scores
(what the agents publish in a live cluster), settles the steady state, then
fails each node in turn and one pair of nodes, and reports what Pacemaker
would do: which node is fenced, what moves, what stops, where everything
runs afterwards.  Quorum follows corosync votequorum: a strict majority.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

from cib_builder import agents
from cib_builder.model import AgentRef, Cib, Clone

#: A transition seldom needs more than two passes to settle; more means a loop.
MAX_SETTLE_PASSES = 6
TOOL_TIMEOUT = 120
PROMOTION_SCORE = "100"


class ToolError(Exception):
    """A Pacemaker tool is missing or failed (the CLI exits 4)."""


def _spawn(
    argv: Sequence[str], env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a Pacemaker tool with a clean environment and a timeout."""
    environ = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C"}
    environ.update(env or {})
    try:
        return subprocess.run(
            list(argv),
            capture_output=True,
            text=True,
            timeout=TOOL_TIMEOUT,
            check=False,
            env=environ,
        )
    except FileNotFoundError:
        package = "corosync" if argv[0] == "corosync" else "pacemaker-cli-utils"
        raise ToolError(f"{argv[0]} is not installed ({package})") from None
    except subprocess.TimeoutExpired:
        raise ToolError(f"{argv[0]} did not finish in {TOOL_TIMEOUT} s") from None


def _run(argv: Sequence[str], env: dict[str, str] | None = None) -> str:
    """Run a tool that must succeed; return its standard output."""
    done = _spawn(argv, env)
    if done.returncode != 0:
        detail = (done.stderr or done.stdout).strip().splitlines()
        raise ToolError(
            f"{argv[0]} failed ({done.returncode}): {' / '.join(detail[-3:])}"
        )
    return done.stdout


#: Where OCF agents live, one directory per provider.
OCF_ROOT = "/usr/lib/ocf/resource.d"
#: Where unit files live, in systemd's order of precedence.
SYSTEMD_UNIT_DIRS = (
    "/etc/systemd/system",
    "/run/systemd/system",
    "/usr/local/lib/systemd/system",
    "/lib/systemd/system",
    "/usr/lib/systemd/system",
)
#: Where ClusterLabs fence-agents installs its agents.
FENCE_AGENT_DIR = "/usr/sbin"


def _systemd_unit(name: str) -> agents.Found | agents.Missing:
    unit = name if "." in name else f"{name}.service"
    for folder in SYSTEMD_UNIT_DIRS:
        if os.path.exists(os.path.join(folder, unit)):
            return agents.Found(agents.Declaration(()))
    return agents.Missing(f"no {unit} on this machine (install it on the controllers)")


def _absent(agent: AgentRef) -> agents.Missing:
    """Why crm_resource knows nothing of ``agent``: absent here, or nowhere."""
    if agent.standard == "ocf" and agent.provider:
        folder = os.path.join(OCF_ROOT, agent.provider)
        if os.path.isdir(folder):
            return agents.Missing(
                f"the {agent.provider} agents installed here have no {agent.type}",
                known=True,
            )
        return agents.Missing(f"provider {agent.provider} is not installed here")
    if agent.standard == "stonith":
        return agents.Missing(f"no {agent.type} in {FENCE_AGENT_DIR} here")
    return agents.Missing("Pacemaker here does not know it")


def agent_lookup(agent: AgentRef) -> agents.Found | agents.Missing:
    """What the building machine knows of ``agent`` (for :mod:`cib_builder.agents`).

    systemd units are looked for on disk: without systemd running (a build
    host, a container) Pacemaker cannot ask systemd about them.  Everything
    else through ``crm_resource --show-metadata``.
    """
    if agent.standard == "systemd":
        return _systemd_unit(agent.type)
    try:
        done = _spawn(["crm_resource", "--show-metadata", str(agent)])
    except ToolError:
        return agents.Missing("crm_resource is not installed (pacemaker-cli-utils)")
    if done.returncode != 0:
        return _absent(agent)
    try:
        return agents.Found(agents.parse_metadata(done.stdout))
    except ValueError as exc:
        return agents.Missing(f"its meta-data is unusable: {exc}")


@dataclass(frozen=True)
class Verdict:
    """What crm_verify said: ok only without errors and warnings."""

    ok: bool
    messages: tuple[str, ...]


def _crm_verify(path: str) -> tuple[int, list[str]]:
    done = _spawn(["crm_verify", "--xml-file", path, "-V"])
    text = done.stdout + done.stderr
    return done.returncode, [line.strip() for line in text.splitlines() if line.strip()]


def verify(xml: bytes, nodes: Sequence[str]) -> Verdict:
    """Run ``crm_verify`` on a rendered CIB, as the cluster will see it.

    A CIB straight from the builder has an empty status, in which every node
    is unclean and quorum is missing; crm_verify warns about that state, not
    about the configuration.  So the configuration is checked once as it is
    (errors only) and once with every node online (errors and warnings).
    """
    with tempfile.TemporaryDirectory(prefix="hakit-verify-") as tmp:
        path = os.path.join(tmp, "cib.xml")
        with open(path, "wb") as handle:
            handle.write(xml)
        rc_raw, raw = _crm_verify(path)
        online = os.path.join(tmp, "online.xml")
        argv = [
            "crm_simulate",
            "--xml-file",
            path,
            "--save-output",
            online,
            "--quorum",
            "1",
        ]
        for node in nodes:
            argv += ["--node-up", node]
        _run(argv)
        rc_up, up = _crm_verify(online)
    errors = [m for m in raw if "error" in m.lower()]
    messages = errors + [m for m in up if m not in errors]
    bad = errors + [m for m in up if "error" in m.lower() or "warning" in m.lower()]
    ok = rc_up == 0 and not bad and (rc_raw == 0 or not errors)
    return Verdict(ok, tuple(messages))


@dataclass(frozen=True)
class Action:
    """One action of a transition summary."""

    action: str
    resource: str
    node: str = ""
    source: str = ""
    dest: str = ""
    role: str = ""
    reason: str = ""
    blocked: bool = False


@dataclass
class Scenario:
    """One simulated situation and its outcome."""

    name: str
    failed: list[str]
    quorate: bool
    fenced: list[str] = field(default_factory=list)
    actions: list[Action] = field(default_factory=list)
    placement: dict[str, list[str]] = field(default_factory=dict)
    stopped: list[str] = field(default_factory=list)
    incomplete: list[str] = field(default_factory=list)


@dataclass
class Report:
    """The steady state and every failure scenario."""

    nodes: list[str]
    scenarios: list[Scenario]

    def as_dict(self) -> dict[str, object]:
        """Plain data for ``--format json``."""
        return asdict(self)


def summarize(
    actions: Sequence[Action], anyway: Sequence[Action] = ()
) -> list[tuple[str, bool]]:
    """Actions as lines, one per action and resource with its nodes.

    ``start hakit-keystone on ctl1, ctl2 (blocked: unrunnable hakit-galera
    promote)``; each line says whether every action in it is also in
    ``anyway`` (what would happen without the change).
    """
    groups: dict[tuple[str, str, str, str, bool], list[Action]] = {}
    for act in actions:
        reason = " ".join(_base_id(word) for word in act.reason.split())
        if act.source or act.dest:
            where = f"{act.source} -> {act.dest}"
            key = (act.action, act.resource, where, reason, act.blocked)
        else:
            key = (act.action, act.resource, "", reason, act.blocked)
        groups.setdefault(key, []).append(act)
    lines = []
    for (verb, rsc, moved, reason, blocked), members in groups.items():
        where = moved or "on " + ", ".join(sorted({a.node for a in members}))
        text = f"{verb} {rsc} {where}"
        if blocked or reason:
            text += f" ({'blocked: ' if blocked else ''}{reason})".replace(": )", ")")
        lines.append((text, all(a in anyway for a in members)))
    return lines


def _base_id(rsc_id: str) -> str:
    return rsc_id.split(":", 1)[0]


def _parse_actions(root: ET.Element) -> tuple[list[str], list[Action]]:
    fenced, actions = [], []
    for element in root.iterfind("actions/*"):
        if element.tag == "node_action" and element.get("task", "").startswith("Fence"):
            fenced.append(element.get("node", ""))
        elif element.tag == "rsc_action":
            actions.append(
                Action(
                    action=element.get("action", ""),
                    resource=_base_id(element.get("resource", "")),
                    node=element.get("node", ""),
                    source=element.get("source", ""),
                    dest=element.get("dest", ""),
                    role=element.get("role", ""),
                    reason=element.get("reason", ""),
                    blocked=element.get("blocked") == "true",
                )
            )
    return fenced, actions


def _parse_placement(
    root: ET.Element, section: str
) -> tuple[dict[str, list[str]], list[str]]:
    placement: dict[str, list[str]] = {}
    stopped: list[str] = []
    status = root.find(section)
    if status is None:
        return placement, stopped
    for element in status.iter("resource"):
        rsc = element.get("id", "")
        where = placement.setdefault(rsc, [])
        for node in element.iterfind("node"):
            role = element.get("role", "")
            where.append(
                node.get("name", "") + ("" if role == "Started" else f" ({role})")
            )
    for rsc, where in placement.items():
        where.sort()
        if not where:
            stopped.append(rsc)
    return placement, sorted(stopped)


def _survivors(
    placement: dict[str, list[str]], failed: Sequence[str], actions: list[Action]
) -> tuple[dict[str, list[str]], list[str]]:
    """Placement on the surviving nodes once the transition has run.

    A transition that cannot complete (no quorum) leaves the revised status
    unchanged; the stops it orders on survivors still happen, and whatever
    ran on a failed node is gone with it.
    """
    stopping = {
        (a.resource, a.node) for a in actions if a.action == "stop" and not a.blocked
    }
    kept: dict[str, list[str]] = {}
    for rsc, where in placement.items():
        kept[rsc] = [
            w
            for w in where
            if w.split(" ")[0] not in failed and (rsc, w.split(" ")[0]) not in stopping
        ]
    stopped = sorted(rsc for rsc, where in kept.items() if not where)
    return kept, stopped


def _simulate(
    xml_file: str, save: str, failed: Sequence[str] = (), quorate: bool | None = True
) -> ET.Element:
    """Run one transition; a transition that cannot complete is a result too.

    Without quorum crm_simulate exits 1 with "Transition failed: terminated"
    (fencing and recovery are blocked): the XML still says what happened.
    ``quorate=None`` keeps the quorum the CIB's status records.
    """
    argv = [
        "crm_simulate",
        "--xml-file",
        xml_file,
        "--simulate",
        "--output-as=xml",
        "--save-output",
        save,
    ]
    if quorate is not None:
        argv += ["--quorum", "1" if quorate else "0"]
    for node in failed:
        argv += ["--node-fail", node]
    done = _spawn(argv)
    try:
        root = ET.fromstring(done.stdout)
    except ET.ParseError:
        raise ToolError(
            f"crm_simulate failed ({done.returncode}): {done.stderr.strip()}"
        ) from None
    if done.returncode not in (0, 1) or root.find("revised_cluster_status") is None:
        raise ToolError(
            f"crm_simulate failed ({done.returncode}): {done.stderr.strip()}"
        )
    return root


def _errors(root: ET.Element) -> list[str]:
    return [e.text or "" for e in root.iterfind("status/errors/error")]


def _settle(xml_file: str, tmp: str) -> tuple[str, ET.Element]:
    current = xml_file
    for index in range(MAX_SETTLE_PASSES):
        out = os.path.join(tmp, f"settle-{index}.xml")
        root = _simulate(current, out)
        current = out
        if not list(root.iterfind("actions/*")):
            return current, root
        if _errors(root):
            raise ToolError(
                "the steady state cannot be reached: " + "; ".join(_errors(root))
            )
    raise ToolError(f"the cluster did not settle in {MAX_SETTLE_PASSES} transitions")


def _bring_up(cib: Cib, xml_file: str, tmp: str) -> str:
    """All nodes online, promotion scores published, transitions settled."""
    up = os.path.join(tmp, "up.xml")
    argv = [
        "crm_simulate",
        "--xml-file",
        xml_file,
        "--save-output",
        up,
        "--quorum",
        "1",
    ]
    for node in cib.nodes:
        argv += ["--node-up", node.name]
    _run(argv)
    for rsc in cib.resources:
        if isinstance(rsc, Clone) and rsc.promotable:
            for node in cib.nodes:
                _run(
                    [
                        "crm_attribute",
                        "--node",
                        node.name,
                        "--name",
                        f"master-{rsc.child.id}",
                        "--lifetime",
                        "reboot",
                        "--update",
                        PROMOTION_SCORE,
                    ],
                    env={"CIB_file": up},
                )
    return up


def quorate_after(total: int, failed: int, needed: int | None = None) -> bool:
    """Votequorum: the survivors keep quorum with ``needed`` votes.

    ``needed`` defaults to a strict majority; corosync.conf may say otherwise
    (two_node: 1 of 2).
    """
    if needed is None:
        needed = total // 2 + 1
    return total - failed >= needed


def simulate(cib: Cib, xml: bytes, pairs: int = 1, quorum: int | None = None) -> Report:
    """Simulate the steady state, each single-node failure and ``pairs`` double ones.

    ``quorum`` is the votes corosync needs (default: a strict majority).
    """
    names = [node.name for node in cib.nodes]
    scenarios = []
    with tempfile.TemporaryDirectory(prefix="hakit-simulate-") as tmp:
        start = os.path.join(tmp, "cib.xml")
        with open(start, "wb") as handle:
            handle.write(xml)
        steady_file, steady_root = _settle(_bring_up(cib, start, tmp), tmp)
        placement, stopped = _parse_placement(steady_root, "revised_cluster_status")
        scenarios.append(
            Scenario("steady state", [], True, placement=placement, stopped=stopped)
        )
        cases = [[name] for name in names]
        cases += [names[i : i + 2] for i in range(0, min(pairs * 2, len(names) - 1), 2)]
        for failed in cases:
            quorate = quorate_after(len(names), len(failed), quorum)
            out = os.path.join(tmp, "fail-" + "-".join(failed) + ".xml")
            root = _simulate(steady_file, out, failed, quorate)
            fenced, actions = _parse_actions(root)
            placement, _ = _parse_placement(root, "revised_cluster_status")
            placement, stopped = _survivors(placement, failed, actions)
            scenarios.append(
                Scenario(
                    f"{' and '.join(failed)} fail{'s' if len(failed) == 1 else ''}",
                    list(failed),
                    quorate,
                    fenced,
                    actions,
                    placement,
                    stopped,
                )
            )
    return Report(names, scenarios)


def format_text(report: Report) -> str:
    """A readable failover report."""
    lines = []
    for scenario in report.scenarios:
        lines.append(f"== {scenario.name}")
        if scenario.failed:
            lines.append(f"   quorum: {'kept' if scenario.quorate else 'LOST'}")
            lines.append(f"   fenced: {', '.join(scenario.fenced) or 'nobody'}")
            if scenario.incomplete:
                lines.append(f"   transition blocked: {'; '.join(scenario.incomplete)}")
            moves = [a for a in scenario.actions if a.action == "move"]
            for act in moves:
                lines.append(f"   move:   {act.resource} {act.source} -> {act.dest}")
            for act in scenario.actions:
                if act.action in ("start", "promote", "recover"):
                    lines.append(f"   {act.action}: {act.resource} on {act.node}")
            stops = [a for a in scenario.actions if a.action == "stop"]
            lost = [
                f"{a.resource} on {a.node}"
                for a in stops
                if a.node not in scenario.failed
            ]
            if lost:
                lines.append(f"   stops on survivors: {', '.join(lost)}")
        running = {r: w for r, w in scenario.placement.items() if w}
        for rsc, where in sorted(running.items()):
            lines.append(f"   {rsc:28} {', '.join(where)}")
        if scenario.stopped:
            lines.append(f"   not running: {', '.join(scenario.stopped)}")
    return "\n".join(lines) + "\n"


# -- a live cluster ------------------------------------------------------------


def query_live() -> bytes:
    """The running cluster's whole CIB (``cibadmin --query``).

    Raises:
        ToolError: cibadmin is missing or cannot reach the cluster.
    """
    done = _spawn(["cibadmin", "--query"])
    if done.returncode != 0:
        detail = (done.stderr or done.stdout).strip() or f"rc {done.returncode}"
        raise ToolError(f"cibadmin --query failed: {detail} (is the cluster up?)")
    return done.stdout.encode()


def patch(old: bytes, new: bytes) -> bytes:
    """The ``crm_diff`` patch from ``old`` to ``new``; empty when they agree.

    ``--no-version``: the patch applies to whatever epoch the cluster is at
    (``cibadmin --patch`` bumps it).
    """
    with tempfile.TemporaryDirectory(prefix="hakit-diff-") as tmp:
        paths = []
        for name, data in (("old.xml", old), ("new.xml", new)):
            paths.append(os.path.join(tmp, name))
            with open(paths[-1], "wb") as handle:
                handle.write(data)
        done = _spawn(
            ["crm_diff", "--no-version", "--original", paths[0], "--new", paths[1]]
        )
    if done.returncode == 0:  # no differences
        return b""
    if done.returncode != 1:  # 1 = there are differences
        raise ToolError(f"crm_diff failed ({done.returncode}): {done.stderr.strip()}")
    return done.stdout.encode()


@dataclass(frozen=True)
class Transition:
    """What Pacemaker would do next with a CIB, status included."""

    fenced: tuple[str, ...]
    actions: tuple[Action, ...]


def transition(xml: bytes) -> Transition:
    """The next transition for ``xml`` (its status as it is), by crm_simulate."""
    with tempfile.TemporaryDirectory(prefix="hakit-transition-") as tmp:
        path = os.path.join(tmp, "cib.xml")
        with open(path, "wb") as handle:
            handle.write(xml)
        root = _simulate(path, os.path.join(tmp, "out.xml"), quorate=None)
    fenced, actions = _parse_actions(root)
    return Transition(tuple(fenced), tuple(actions))


def verify_errors(xml: bytes) -> list[str]:
    """crm_verify's errors for a whole CIB (status included)."""
    with tempfile.TemporaryDirectory(prefix="hakit-verify-") as tmp:
        path = os.path.join(tmp, "cib.xml")
        with open(path, "wb") as handle:
            handle.write(xml)
        _, messages = _crm_verify(path)
    return [m for m in messages if "error" in m.lower()]


def corosync_test(text: str) -> str | None:
    """Run ``corosync -t`` on a corosync.conf; None when it is valid.

    ``corosync -t`` also exits 8, silently, when no nodelist address is local
    or the authkey is missing; on a building machine that is normal, so only
    a parser message counts as a failure.  Returns that message.

    Raises:
        ToolError: corosync is not installed.
    """
    with tempfile.TemporaryDirectory(prefix="hakit-corosync-") as tmp:
        path = os.path.join(tmp, "corosync.conf")
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)
        done = _spawn(["corosync", "-t", "-c", path])
    said = (done.stderr + done.stdout).strip()
    if done.returncode == 0 or not said:
        return None
    return said.replace(path, "corosync.conf")
