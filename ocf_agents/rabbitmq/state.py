"""What a RabbitMQ node knows about its cluster, and who may boot first.

Pure functions over plain data: the Erlang term files RabbitMQ keeps in a
node's Mnesia directory (``cluster_nodes.config``,
``nodes_running_at_shutdown``), the report a node publishes as a node
attribute, the ``policy`` parameter, and the boot decision.  Nothing here
runs a process or talks to the cluster, so every rule is unit-tested.
"""

from __future__ import annotations

from ha_common.kinds import WORD, consists_of
from ha_common.record import record

TYPE_CHECKING = False  # typing costs ~5 ms of start-up; see STYLE.md section 9
if TYPE_CHECKING:
    from collections.abc import Mapping

#: Characters of an Erlang node name (``rabbit@ctl1``, ``rabbit@ctl1.example``).
_NODE_CHARS = WORD | {"@", ".", "-"}

#: What a policy may apply to (``rabbitmqctl set_policy --apply-to``).
APPLY_TO = ("queues", "exchanges", "all", "classic_queues", "quorum_queues", "streams")

JOIN, BOOT, WAIT = "join", "boot", "wait"


def check_nodename(text: str) -> str:
    """Accept ``name@host`` made of word characters, dots and dashes."""
    name, sep, host = text.partition("@")
    if not (sep and name and host and consists_of(text, _NODE_CHARS)):
        raise ValueError(f"{text!r} is not an Erlang node name (name@host)")
    if "@" in host:
        raise ValueError(f"{text!r} has more than one @")
    return text


def term_lists(text: str) -> list[list[str]]:
    """The lists of atoms in an Erlang term file, in order of their ``[``.

    ``{['rabbit@a',rabbit@b],['rabbit@a']}.`` gives
    ``[['rabbit@a', 'rabbit@b'], ['rabbit@a']]``.  Quoted and bare atoms are
    both read; anything that is not an atom is skipped.
    """
    lists: list[list[str]] = []
    current: list[str] | None = None
    i = 0
    while i < len(text):
        char = text[i]
        if char == "[":
            current = []
        elif char == "]" and current is not None:
            lists.append(current)
            current = None
        elif char == "'" and current is not None:
            end = text.find("'", i + 1)
            if end < 0:
                break
            current.append(text[i + 1 : end])
            i = end
        elif current is not None and char in WORD:
            end = i
            while end < len(text) and text[end] in _NODE_CHARS:
                end += 1
            current.append(text[i:end])
            i = end - 1
        i += 1
    return lists


def cluster_members(text: str) -> list[str]:
    """The disc nodes of ``cluster_nodes.config`` (all nodes when only one list)."""
    lists = term_lists(text)
    if not lists:
        raise ValueError("cluster_nodes.config holds no node list")
    return sorted(set(lists[1] if len(lists) > 1 else lists[0]))


def running_at_shutdown(text: str) -> list[str]:
    """The nodes of ``nodes_running_at_shutdown``: who ran when this one stopped."""
    lists = term_lists(text)
    if not lists:
        raise ValueError("nodes_running_at_shutdown holds no node list")
    return sorted(set(lists[0]))


@record
class Report:
    """What one instance published about its node's data.

    Attributes:
        node: the RabbitMQ node name.
        has_data: its Mnesia directory holds a database.
        seen: how many members ran when it last stopped (itself included);
            1 means it was the last one down.  0 when unknown or empty.
    """

    node: str
    has_data: bool
    seen: int = 0

    @property
    def last_down(self) -> bool:
        """It was the last member down: it may boot alone."""
        return self.has_data and self.seen == 1

    def encode(self) -> str:
        """``rabbit@ctl1 data 2`` or ``rabbit@ctl1 empty``."""
        return (
            f"{self.node} data {self.seen}" if self.has_data else f"{self.node} empty"
        )

    @classmethod
    def decode(cls, text: str) -> Report:
        """Parse what :meth:`encode` wrote; raises ValueError when malformed."""
        words = text.split()
        if len(words) == 2 and words[1] == "empty":  # noqa: PLR2004
            return cls(check_nodename(words[0]), False)
        if len(words) == 3 and words[1] == "data" and words[2].isdigit():  # noqa: PLR2004
            return cls(check_nodename(words[0]), True, int(words[2]))
        raise ValueError(f"{text!r} is not a RabbitMQ node report")


#: What a starting node's ``starting`` marker says: it waits, or it boots first.
STARTING, BOOTING = "starting", "booting"


@record
class Decision:
    """What a starting node does.

    Attributes:
        action: ``join`` running members, ``boot`` as the first node, or ``wait``.
        reason: why, for the log and the waiting attribute.
        peers: the running members to join (``join``).
        force: booting needs ``rabbitmqctl force_boot`` (RabbitMQ itself
            would wait for members that ran when this node stopped).
        awaits: the members a ``wait`` waits for (empty while it only lets
            the other starts show themselves).
    """

    action: str
    reason: str
    peers: tuple[str, ...] = ()
    force: bool = False
    awaits: tuple[str, ...] = ()


def _wait(reason: str, *awaits: str) -> Decision:
    return Decision(WAIT, reason, awaits=tuple(awaits))


def decide(  # noqa: PLR0911 - one return per rule reads best
    me: Report,
    running: dict[str, list[str]],
    reports: dict[str, Report],
    members: list[str],
    *,
    inflight: Mapping[str, str] | None = None,
    settled: bool = True,
    forced: bool = False,
) -> Decision:
    """Decide how this node starts.

    A start may only wait for starts that run beside it: Pacemaker issues
    no new action while one is in flight, so a member whose start is not
    running yet never comes while this one waits.  Hence the first node is
    chosen among the members whose start is in flight (their ``starting``
    marker), once this start has let the others show themselves
    (``settled``), and a member that already decided to boot first is
    waited for by every other.

    Args:
        me: this node's own report.
        running: Pacemaker node -> the running members its monitor saw, for
            the other nodes (this node's own entry is ignored).
        reports: Pacemaker node -> report, for every node that reported
            (this one included; probes and stops report too).
        members: the cluster's disc nodes as this node's data records them
            (empty when it holds no data).
        inflight: RabbitMQ node -> ``starting`` or ``booting``, for the
            other members whose start runs now.
        settled: this start has waited long enough for the starts issued
            with it to show themselves.
        forced: an operator allowed this node to boot first.
    """
    inflight = dict(inflight or {})
    inflight.pop(me.node, None)
    peers = sorted({n for names in running.values() for n in names if n != me.node})
    if peers:
        return Decision(
            JOIN, f"joining running members {', '.join(peers)}", tuple(peers)
        )
    if forced:
        return Decision(BOOT, "an operator allowed this node to boot first", (), True)
    booting = sorted(n for n, what in inflight.items() if what == BOOTING)
    if booting:
        return _wait(f"waiting for {booting[0]} (booting first)", booting[0])
    others = {r.node: r for r in reports.values() if r.node != me.node}
    if not me.has_data:
        holders = sorted(n for n, r in others.items() if r.has_data)
        if holders:
            return _wait(
                f"waiting for {', '.join(holders)} (holding the cluster's data)",
                *holders,
            )
        if not settled:
            return _wait("letting the other starts show themselves")
        first = min([me.node, *(n for n in inflight if n in others)])
        if first == me.node:
            return Decision(BOOT, "no member holds data; this node creates the cluster")
        return _wait(f"waiting for {first} to create the cluster", first)
    if me.last_down:
        return Decision(BOOT, "this node was the last member down")
    lasts = sorted(n for n, r in others.items() if r.last_down and n in members)
    if lasts:
        return _wait(f"waiting for {lasts[0]} (the last member down)", lasts[0])
    missing = sorted(n for n in members if n != me.node and n not in others)
    if missing:
        return _wait(f"waiting for {', '.join(missing)} to report", *missing)
    if not settled:
        return _wait("letting the other starts show themselves")
    candidates = [me, *(others[n] for n in members if n in others)]
    # Fewest members running at its stop first; among equals, a member whose
    # start runs now before one whose start may never come.
    chosen = min(
        (r for r in candidates if r.has_data),
        key=lambda r: (r.seen or 99, r.node not in {me.node, *inflight}, r.node),
    )
    if chosen.node == me.node:
        return Decision(
            BOOT,
            "every member reported and none was the last down; this node is chosen",
            (),
            True,
        )
    return _wait(f"waiting for {chosen.node} (chosen to boot first)", chosen.node)


@record
class Policy:
    """The ``policy`` parameter: ``name;pattern;definition[;apply-to]``."""

    name: str
    pattern: str
    definition: str
    apply_to: str = "all"

    def argv(self) -> list[str]:
        """Arguments of ``rabbitmqctl set_policy``."""
        return [
            "set_policy",
            "--apply-to",
            self.apply_to,
            self.name,
            self.pattern,
            self.definition,
        ]


def parse_policy(text: str) -> Policy:
    """Parse ``name;pattern;{json}[;apply-to]``; raises ValueError when malformed."""
    import json  # noqa: PLC0415 - only a configured policy needs it

    parts = text.split(";")
    if len(parts) < 3:  # noqa: PLR2004
        raise ValueError("expected name;pattern;{definition}[;apply-to]")
    name, pattern, rest = parts[0].strip(), parts[1], parts[2:]
    apply_to = "all"
    if len(rest) > 1 and rest[-1].strip() in APPLY_TO:
        apply_to = rest.pop().strip()
    definition = ";".join(rest).strip()
    if not consists_of(name, WORD | {"-", "."}):
        raise ValueError(f"policy name {name!r} must be letters, digits, _ - .")
    if not pattern:
        raise ValueError("the policy pattern is empty")
    try:
        parsed = json.loads(definition)
    except ValueError:
        raise ValueError("the policy definition is not JSON") from None
    if not isinstance(parsed, dict) or not parsed:
        raise ValueError("the policy definition must be a non-empty JSON object")
    return Policy(name, pattern, json.dumps(parsed, sort_keys=True), apply_to)


def minority(running: int, configured: int) -> bool:
    """Running members are fewer than half of the configured cluster."""
    return running * 2 < configured
