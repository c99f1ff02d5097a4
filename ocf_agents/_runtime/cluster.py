"""Node attributes, node names and membership through Pacemaker's own tools.

Stateful agents (Galera, RabbitMQ) publish facts as transient node attributes
(``attrd_updater``), read every node's value in one query, set promotion
scores, and ask which nodes exist and which are members of this partition
(``crm_node``).
Every call runs without a shell, with a timeout taken from the action's
deadline, and fails with a typed error naming the tool.
"""

from __future__ import annotations

import os

from ha_common import lazylog
from ha_common.command import CommandError, Completed, run_cmd
from ha_common.deadline import Deadline
from ocf_agents._runtime.errors import AgentError

TYPE_CHECKING = False  # typing costs ~5 ms of start-up; see STYLE.md section 9
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

log = lazylog.get(__name__)

#: Longest a single cluster tool call may take, whatever the deadline says.
CALL_TIMEOUT = 10.0

#: One line of ``attrd_updater -Q -A``.
QUERY_LINE = r'name="(?P<name>[^"]*)" host="(?P<host>[^"]*)" value="(?P<value>[^"]*)"'


class ClusterToolError(AgentError):
    """A cluster tool failed or timed out."""


#: Variables execd sets that make attrd_updater act on one node only: with
#: them, ``attrd_updater -Q -A`` answers for the agent's own node alone.
_NODE_TARGET_ENV = (
    "OCF_RESKEY_CRM_meta_on_node",
    "OCF_RESKEY_CRM_meta_on_node_uuid",
    "OCF_RESKEY_CRM_meta_container_attribute_target",
    "OCF_RESKEY_CRM_meta_physical_host",
)


def _run(
    argv: list[str], deadline: Deadline | None, all_nodes: bool = False
) -> Completed:
    env = None
    if all_nodes:
        env = {k: v for k, v in os.environ.items() if k not in _NODE_TARGET_ENV}
    try:
        return run_cmd(
            argv, deadline or Deadline(CALL_TIMEOUT), limit=CALL_TIMEOUT, env=env
        )
    except CommandError as exc:
        raise ClusterToolError(str(exc)) from None


def _checked(argv: list[str], deadline: Deadline | None) -> str:
    done = _run(argv, deadline)
    if done.returncode != 0:
        detail = (done.stderr or done.stdout).strip().splitlines()
        raise ClusterToolError(
            f"{' '.join(argv[:2])} failed (exit {done.returncode})"
            + (f": {detail[-1]}" if detail else "")
        )
    return done.stdout


def local_node(deadline: Deadline | None = None) -> str:
    """The name of this node as the cluster knows it (``crm_node -n``)."""
    name = _checked(["crm_node", "-n"], deadline).strip()
    if not name:
        raise ClusterToolError("crm_node -n printed no node name")
    return name


def this_node(meta: Mapping[str, str], deadline: Deadline | None = None) -> str:
    """The node an action runs on: execd's ``CRM_meta_on_node``, else ``crm_node -n``.

    Args:
        meta: the action's ``CRM_meta_*`` values (``ActionContext.meta``).
        deadline: bounds the ``crm_node`` call when one is needed.
    """
    return meta.get("on_node") or local_node(deadline)


def nodes(deadline: Deadline | None = None) -> dict[str, str]:
    """Every node the controller knows, with its state (``member``, ``lost``).

    ``crm_node -l`` prints one ``<id> <name> <state>`` line per node.
    """
    found = {}
    for line in _checked(["crm_node", "-l"], deadline).splitlines():
        words = line.split()
        if len(words) >= 3 and words[0].isdigit():
            found[words[1]] = words[2]
    return found


def removed(names: Iterable[str], deadline: Deadline | None = None) -> set[str]:
    """Those of ``names`` that left the cluster for good (``crm_node -R``).

    A removed node is no longer in the CIB's ``<nodes>``.  ``crm_node -l``
    may still list it as ``lost`` (corosync's nodelist keeps it until
    corosync.conf changes) or no longer list it at all (the removal purged
    it from the controller's peer cache, and no membership change has
    brought it back yet): either way it is not a ``member``.  A node still a
    member is never counted as removed.
    """
    import xml.etree.ElementTree as ET  # noqa: PLC0415 - only on this rare path

    text = _checked(["cibadmin", "--query", "--scope", "nodes"], deadline)
    try:
        configured = {n.get("uname") for n in ET.fromstring(text).iter("node")}
    except ET.ParseError as exc:
        raise ClusterToolError(f"cibadmin printed no nodes section: {exc}") from None
    states = nodes(deadline)
    return {
        name
        for name in names
        if name not in configured and states.get(name) != "member"
    }


def partition(deadline: Deadline | None = None) -> list[str]:
    """The members of this node's partition, sorted (``crm_node -p``).

    A node missing here is lost, fenced or on the far side of a split, even
    when its attributes are still published.
    """
    return sorted(_checked(["crm_node", "-p"], deadline).split())


def set_attr(
    name: str,
    value: str,
    node: str | None = None,
    deadline: Deadline | None = None,
    private: bool = False,
) -> None:
    """Set transient node attribute ``name`` (this node unless ``node``).

    A private attribute lives in pacemaker-attrd only: it is never written
    to the CIB, so changing it costs no scheduler run.
    """
    argv = ["attrd_updater", "-n", name, "-U", value]
    if node:
        argv += ["-N", node]
    if private:
        argv.append("-p")
    _checked(argv, deadline)


def delete_attr(
    name: str, node: str | None = None, deadline: Deadline | None = None
) -> None:
    """Unset transient node attribute ``name`` (this node unless ``node``)."""
    argv = ["attrd_updater", "-n", name, "-D"]
    if node:
        argv += ["-N", node]
    _checked(argv, deadline)


def query_all(name: str, deadline: Deadline | None = None) -> dict[str, str]:
    """Every node's non-empty value of transient attribute ``name``."""
    done = _run(["attrd_updater", "-Q", "-A", "-n", name], deadline, all_nodes=True)
    if done.returncode != 0:
        # An attribute nobody has set: "attribute does not exist" (exit 78 in
        # Pacemaker 2.1; older releases say "not found").
        text = (done.stderr + done.stdout).lower()
        if "does not exist" in text or "not found" in text:
            return {}
        raise ClusterToolError(
            f"attrd_updater -Q -A -n {name} failed (exit {done.returncode}): "
            f"{done.stderr.strip()}"
        )
    log.debug("attrd_updater -Q -A -n %s: %r", name, done.stdout)
    import re  # noqa: PLC0415 - a promoted monitor queries nothing

    pattern = re.compile(QUERY_LINE)
    values = {}
    for line in done.stdout.splitlines():
        found = pattern.search(line)
        if found and found["value"] and found["name"] == name:
            values[found["host"]] = found["value"]
    return values


def promotion_attr(resource: str) -> str:
    """The node attribute Pacemaker reads as ``resource``'s promotion score."""
    return f"master-{resource}"


def set_promotion(
    resource: str, score: int, node: str | None = None, deadline: Deadline | None = None
) -> None:
    """Set the promotion score of ``resource`` on ``node`` (this node by default)."""
    set_attr(promotion_attr(resource), str(score), node, deadline)


def clear_promotion(
    resource: str, node: str | None = None, deadline: Deadline | None = None
) -> None:
    """Remove the promotion score of ``resource`` on ``node``."""
    delete_attr(promotion_attr(resource), node, deadline)


def expiry(text: str) -> float | None:
    """An override's expiry time: seconds since the epoch, or ISO 8601 (UTC default)."""
    text = text.strip()
    if text.isdigit():
        return float(text)
    from datetime import datetime, timezone  # noqa: PLC0415

    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


def forced_node(
    name: str, max_seconds: int, deadline: Deadline | None = None
) -> tuple[str | None, str]:
    """The node an operator's time-limited override attribute ``name`` names.

    The value of the transient attribute is an expiry time (see
    :func:`expiry`) at most ``max_seconds`` ahead.  Returns the one node
    with a valid override (None when there is none, or several), and a note
    saying which overrides were ignored and why.
    """
    import time  # noqa: PLC0415

    values = query_all(name, deadline)
    now = time.time()
    valid, notes = [], []
    for node, text in sorted(values.items()):
        until = expiry(text)
        if until is None:
            notes.append(f"{name} on {node} has no valid expiry ({text!r})")
        elif until <= now:
            notes.append(f"{name} on {node} expired")
        elif until > now + max_seconds:
            notes.append(f"{name} on {node} expires more than {max_seconds} s ahead")
        else:
            valid.append(node)
    if len(valid) > 1:
        return None, f"{name} is set on several nodes ({', '.join(valid)})"
    return (valid[0] if valid else None), "; ".join(notes)
