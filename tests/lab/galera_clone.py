"""``ocf:hakit:galera`` as a promotable clone of the namespaced 3-node lab.

What the Pacemaker-driven Galera tests share: the clone's configuration (with
the failure policy ``hakit-cib`` gives every stateful clone), the roles
``crm_mon`` reports, bounded waits on them, and the failed operations
Pacemaker recorded.  No pytest dependency, so bench scripts reuse it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from xml.sax.saxutils import quoteattr

from cib_builder.recipes import STATEFUL_FAILURE_POLICY
from tests.lab.galera_agent import GaleraAgent
from tests.lab.multinode import MultiCluster

NODES = ("ctl1", "ctl2", "ctl3")
CLONE = "galera-clone"


def clone_xml(
    params: dict[str, str], *, demote_timeout: int = 120, stop_timeout: int = 120
) -> str:
    """The clone's ``<configuration>``: ``params`` as instance attributes.

    The meta attributes include the failure policy hakit-cib generates for a
    stateful clone (failure-timeout, migration-threshold), so the lab runs
    Galera the way a generated CIB does.  Timeouts are in seconds.
    """
    nvpairs = "\n".join(
        f'<nvpair id="galera-ia-{name}" name="{name}" value={quoteattr(value)}/>'
        for name, value in sorted(params.items())
    )
    policy = "\n".join(
        f'      <nvpair id="{CLONE}-{name}" name="{name}" value="{value}"/>'
        for name, value in STATEFUL_FAILURE_POLICY
    )
    return f"""\
<configuration><resources>
  <clone id="{CLONE}">
    <meta_attributes id="{CLONE}-meta">
      <nvpair id="{CLONE}-promotable" name="promotable" value="true"/>
      <nvpair id="{CLONE}-promoted-max" name="promoted-max" value="3"/>
      <nvpair id="{CLONE}-clone-max" name="clone-max" value="3"/>
      <nvpair id="{CLONE}-notify" name="notify" value="true"/>
      <nvpair id="{CLONE}-interleave" name="interleave" value="true"/>
{policy}
    </meta_attributes>
    <primitive id="galera" class="ocf" provider="hakit" type="galera">
      <instance_attributes id="galera-ia">
{nvpairs}
      </instance_attributes>
      <operations>
        <op id="galera-start" name="start" interval="0" timeout="120s"/>
        <op id="galera-stop" name="stop" interval="0" timeout="{stop_timeout}s"/>
        <op id="galera-promote" name="promote" interval="0" timeout="300s"/>
        <op id="galera-demote" name="demote" interval="0"
            timeout="{demote_timeout}s"/>
        <op id="galera-notify" name="notify" interval="0" timeout="30s"/>
        <op id="galera-mon-p" name="monitor" interval="5s" timeout="30s"
            role="Promoted"/>
        <op id="galera-mon-u" name="monitor" interval="7s" timeout="30s"
            role="Unpromoted"/>
      </operations>
    </primitive>
  </clone>
</resources></configuration>
"""


def roles(cluster: MultiCluster, seen_from: str = "ctl1") -> dict[str, str]:
    """Node -> role of the clone's active instances, as ``seen_from`` sees them."""
    state = cluster.node(seen_from).resource_state(CLONE)
    return {i.node: i.role for i in state if i.node and i.active}


def wait_all_promoted(
    cluster: MultiCluster, agent: GaleraAgent, timeout: float = 180
) -> float:
    """Wait until every node's instance is Promoted; return the seconds it took."""
    began = time.monotonic()
    end = began + timeout
    while True:
        current = roles(cluster)
        if current == dict.fromkeys(NODES, "Promoted"):
            return time.monotonic() - began
        if time.monotonic() > end:
            raise AssertionError(
                f"not all Promoted after {timeout} s: {current}, "
                f"waiting {agent.waiting()}, scores {agent.scores()}"
            )
        time.sleep(0.5)


def wait_failure_seen(
    cluster: MultiCluster, victims: list[str], timeout: float = 30
) -> None:
    """Pacemaker's monitor has noticed every victim (it is no longer Promoted)."""
    end = time.monotonic() + timeout
    pending = set(victims)
    while pending:
        current = roles(cluster)
        pending = {n for n in pending if current.get(n) == "Promoted"}
        assert time.monotonic() < end, f"failures of {sorted(pending)} not noticed"
        time.sleep(0.2)


@dataclass(frozen=True)
class FailedOp:
    """One failed operation of the clone, from ``crm_mon``'s failure list."""

    node: str
    task: str
    rc: int
    reason: str

    def __str__(self) -> str:
        """Short form for assertion messages."""
        return f"{self.task} on {self.node}: rc {self.rc} {self.reason!r}"


def failed_ops(cluster: MultiCluster, seen_from: str = "ctl1") -> list[FailedOp]:
    """The clone's failed operations Pacemaker still records (failure-timeout)."""
    root = cluster.node(seen_from).crm_mon_xml()
    found = []
    for failure in root.iterfind("failures/failure"):
        if (failure.get("op_key") or "").split("_")[0] != "galera":
            continue
        found.append(
            FailedOp(
                node=failure.get("node", ""),
                task=failure.get("task", ""),
                rc=int(failure.get("exitcode", "-1")),
                reason=failure.get("exitreason", ""),
            )
        )
    return found
