"""ocf:hakit:galera under network partitions and a frozen mariadbd (issue #18).

The real 3-node Pacemaker lab with real MariaDB Galera: a row writer records
every acknowledged INSERT while links go down inside the nodes' namespaces
(one node cut off, or all three apart) or a member's mariadbd is SIGSTOPped
for longer than the demote timeout.  After each round, without any action
of the test's, every instance must be Promoted again, no acknowledged row
lost, the rows identical on all members and the cluster uuid kept; a
cut-off node must go non-Primary or be stopped, never bootstrap alone; a
demote after a freeze must never fail (the datadir lock).  The seconds from
the heal to all-Promoted are printed (``-s``); bench/galera_partition_bench.py
runs more rounds.  The seed of the random choices is printed and can be given
in ``HAKIT_FAULT_SEED``.
"""

from __future__ import annotations

import pytest

from tests.lab.galera_agent import FAILED_PROMOTED
from tests.lab.galera_clone import NODES
from tests.lab.galera_faults import FaultRounds, seed_from_env

pytestmark = [pytest.mark.daemon, pytest.mark.pacemaker, pytest.mark.timeout(900)]

#: Demote timeout of the freeze test's clone: the freeze lasts longer.
FREEZE_DEMOTE_TIMEOUT = 20


@pytest.fixture
def no_quorum_policy(request, pcmk_three):
    """Set ``no-quorum-policy`` to ``request.param``; remove it afterwards."""
    ctl1 = pcmk_three.node("ctl1")
    ctl1.set_property("no-quorum-policy", request.param)
    try:
        yield request.param
    finally:
        ctl1.run(
            [
                "crm_attribute",
                "--type",
                "crm_config",
                "--name",
                "no-quorum-policy",
                "--delete",
            ],  # fmt: skip
            check=False,
        )


@pytest.fixture
def rounds(pcmk_three, galera_clone):
    seed = seed_from_env()
    print(f"\nseed {seed} (HAKIT_FAULT_SEED={seed} repeats the choices)")
    with FaultRounds(pcmk_three, galera_clone, seed) as faults:
        yield faults


@pytest.mark.parametrize("no_quorum_policy", ["stop", "ignore"], indirect=True)
def test_partitions_heal_to_promoted_without_loss(no_quorum_policy, rounds):
    victim = rounds.rng.choice(NODES)
    one = rounds.partition([victim], no_quorum_policy)
    apart = rounds.partition(list(NODES), no_quorum_policy)
    for result in (one, apart):
        for node in result.nodes:
            if no_quorum_policy == "stop":
                # Without quorum Pacemaker stops the cut-off member.
                assert "down" in result.timeline[node], result
            else:
                # It stays, goes non-Primary, and its monitor fails it (rc 9).
                assert went_non_primary(result, node), result


def went_non_primary(result, node: str) -> bool:
    seen = any(s.startswith("non-Primary") for s in result.timeline[node])
    failed = any(
        f.node == node and f.task == "monitor" and f.rc == FAILED_PROMOTED
        for f in result.failures
    )
    return seen or failed


@pytest.mark.parametrize(
    "galera_clone",
    [{"demote_timeout": FREEZE_DEMOTE_TIMEOUT}],
    indirect=True,
    ids=[f"demote-timeout-{FREEZE_DEMOTE_TIMEOUT}s"],
)
def test_freeze_longer_than_demote_timeout(rounds):
    hold = FREEZE_DEMOTE_TIMEOUT + 5
    once = rounds.freeze(rounds.rng.choice(NODES), hold)
    kept = rounds.freeze(rounds.rng.choice(NODES), hold, keep_frozen=True)
    # Kept frozen, only SIGKILL ends it; the demote still succeeds.
    assert [e.split()[0] for e in kept.ended_by] == ["SIGKILL"], kept
    assert once.ended_by, once
