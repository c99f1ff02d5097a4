"""Seeded fault sweep: fence_hakit_ipmi and fence_ipmilan against one faulty BMC.

Every trial draws a fault and an action from a seeded generator, puts the
pyghmi lab BMC (tests/lab/pyghmi_bmc.py) into the same state for both agents
(power, faults, history), runs one agent, and judges the run from the BMC's
own records:

false success
    rc 0, but the power read from the BMC's state 1 s after the run is not
    what the action promised (off: OFF; on and reboot: ON), or a reboot
    during which the node never went off.
unintended change
    a power change the action does not call for: any change for status, a
    power-on for off, a power-off for on.
over deadline
    the run took longer than login_timeout + phases x (power_wait +
    power_timeout) + 1 s (logout) + 1 s (process start-up); phases: 1 for
    status, off and on, 2 for an on-off reboot, 3 for a cycle (README,
    "Deadlines").
success where possible
    rc 0 share over the trials whose fault leaves success possible (all
    but ``stuck_on`` for off and reboot).

Run: ``.venv/bin/python bench/fence_fault_sweep.py --trials 1000 --seed 17``
(``--budget`` stops early after that many seconds and says so; ``--fault``
and ``--action``, each repeatable, draw from a subset).  The agents
run from a private install; the password goes on stdin (fence_ipmilan puts
it on ipmitool's argv itself).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.lab.agents import install_private, run_fence  # noqa: E402
from tests.lab.ipmi import FENCE_IPMILAN, free_udp_port  # noqa: E402
from tests.lab.pyghmi_bmc import PyghmiBmc  # noqa: E402

LOGIN = 3
POWER = 6
WAIT = 0
SETTLE = 1.0
AGENTS = ("hakit", "ipmilan")

#: fault name -> (BMC faults to set, initial power, success possible)
FAULTS: dict[str, tuple[dict[str, object], bool, bool]] = {
    "none": ({}, True, True),
    "slow 1.5 s": ({"slow_seconds": 1.5}, True, True),
    "late 1.5 s": ({"late_seconds": 1.5}, True, True),
    "lost answers": ({"drop_answers": "1-3"}, True, True),
    "lost control answer": ({"drop_control_answers": 1}, True, True),
    "slow, retransmit deduped": (
        {"slow_seconds": 1.5, "drop_duplicates": True},
        True,
        True,
    ),
    "lost control answer, deduped": (
        {"drop_control_answers": 1, "drop_duplicates": True},
        True,
        True,
    ),
    "node off already": ({}, False, True),
    "stuck on": ({"stuck_on": True}, True, False),
}
ACTIONS = ("status", "off", "reboot onoff", "reboot cycle")


@dataclass
class Verdict:
    ok: bool
    rc: int
    seconds: float
    false_success: bool
    unintended: bool
    over: bool


def phases(action: str) -> int:
    return {"status": 1, "off": 1, "reboot onoff": 2, "reboot cycle": 3}[action]


def deadline(action: str) -> float:
    return LOGIN + phases(action) * (WAIT + POWER) + 1.0 + 1.0


def run_agent(agents: Path, who: str, port: int, action: str) -> tuple[int, float]:
    verb, _, method = action.partition(" ")
    options: dict[str, object] = {
        "action": verb,
        "ip": "127.0.0.1",
        "ipport": port,
        "username": "admin",
        "password": "adminpass",
        "lanplus": 1,
        "cipher": 3,
        "power_timeout": POWER,
        "login_timeout": LOGIN,
        "power_wait": WAIT,
        "method": method or None,
    }
    agent = agents / "fence_hakit_ipmi" if who == "hakit" else Path(FENCE_IPMILAN)
    rc, _, _, seconds = run_fence(agent, options, timeout=180)
    return rc, seconds


#: The power each BMC started the current trial with: a reboot of a node
#: that was off already needs no power-off to be a true success.
FAULTS_INITIAL_POWER: dict[int, bool] = {}


def prepare(bmc: PyghmiBmc, fault: str, rng: random.Random) -> None:
    faults, power, _ = FAULTS[fault]
    FAULTS_INITIAL_POWER[id(bmc)] = power
    bmc.clear_faults()
    bmc.set_power(power)
    bmc.clear_history()
    (bmc.state_dir / "transitions").unlink(missing_ok=True)
    for name, value in faults.items():
        drawn = rng.randint(1, 3) if value == "1-3" else value
        bmc.set_fault(name, drawn)  # type: ignore[arg-type]


def judge(
    bmc: PyghmiBmc, action: str, rc: int, seconds: float, began: float
) -> Verdict:
    time.sleep(SETTLE)
    changes = [on for at, on in bmc.transitions if at >= began]
    power = bmc.power
    verb = action.split(maxsplit=1)[0]
    false_success = False
    if rc == 0 and verb == "off":
        false_success = power is not False
    elif rc == 0 and verb == "reboot":
        was_off = not FAULTS_INITIAL_POWER.get(id(bmc), True)
        false_success = power is not True or (False not in changes and not was_off)
    unintended = (verb == "status" and bool(changes)) or (
        verb == "off" and True in changes
    )
    ok = rc == 0 or (verb == "status" and rc == 2)  # status: 2 is "OFF"
    return Verdict(
        ok, rc, seconds, false_success, unintended, seconds > deadline(action)
    )


def sweep(
    trials: int,
    seed: int,
    budget: float,
    out: Path | None,
    *,
    faults: tuple[str, ...] = tuple(FAULTS),
    actions: tuple[str, ...] = ACTIONS,
) -> dict[str, object]:
    rng = random.Random(seed)
    rows: dict[tuple[str, str], list[Verdict]] = defaultdict(list)
    began_all = time.monotonic()
    done = 0
    with tempfile.TemporaryDirectory(prefix="fence-sweep-") as tmp:
        agents = install_private(Path(tmp) / "install")
        with PyghmiBmc(free_udp_port(), workdir=Path(tmp) / "bmc") as bmc:
            while done < trials and time.monotonic() - began_all < budget:
                fault = rng.choice(list(faults))
                action = rng.choice(actions)
                state = rng.getstate()
                for who in AGENTS:
                    rng.setstate(state)  # the same fault values for both
                    prepare(bmc, fault, rng)
                    time.sleep(0.1)
                    began = time.time()
                    rc, seconds = run_agent(agents, who, bmc.port, action)
                    rows[(who, fault)].append(judge(bmc, action, rc, seconds, began))
                    done += 1
                    extra = " over" if rows[(who, fault)][-1].over else ""
                    print(
                        f"{done:5d} {who:8s} {fault:30s} {action:13s} rc={rc} "
                        f"{seconds:5.1f}s{extra}",
                        flush=True,
                    )
    elapsed = time.monotonic() - began_all
    table = summarize(rows)
    result = {
        "seed": seed,
        "trials": done,
        "asked": trials,
        "seconds": round(elapsed),
        "faults": list(faults),
        "actions": list(actions),
        "table": table,
    }
    if out:
        out.write_text(json.dumps(result, indent=1) + "\n")
    return result


def summarize(rows: dict[tuple[str, str], list[Verdict]]) -> list[dict[str, object]]:
    table = []
    for fault, (_, _, possible) in FAULTS.items():
        for who in AGENTS:
            runs = rows.get((who, fault), [])
            if not runs:
                continue
            ok = sum(1 for v in runs if v.ok)
            table.append(
                {
                    "fault": fault,
                    "agent": who,
                    "runs": len(runs),
                    "false_success": sum(v.false_success for v in runs),
                    "unintended": sum(v.unintended for v in runs),
                    "over_deadline": sum(v.over for v in runs),
                    "success": f"{ok}/{len(runs)}" if possible else "n/a",
                    "max_s": round(max(v.seconds for v in runs), 1),
                }
            )
    return table


def markdown(result: dict[str, object]) -> str:
    lines = [
        "| fault | agent | runs | false success | unintended change | over deadline "
        "| success (where possible) | max s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in result["table"]:  # type: ignore[attr-defined]
        lines.append(
            f"| {row['fault']} | {row['agent']} | {row['runs']} "
            f"| {row['false_success']} "
            f"| {row['unintended']} | {row['over_deadline']} | {row['success']} "
            f"| {row['max_s']} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=1000, help="agent runs in all")
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument(
        "--budget",
        type=float,
        default=float("inf"),
        help="stop after this many seconds",
    )
    parser.add_argument("--json", type=Path, help="write the result here")
    parser.add_argument(
        "--fault",
        action="append",
        choices=list(FAULTS),
        help="draw only from these faults (repeat; default: all)",
    )
    parser.add_argument(
        "--action",
        action="append",
        choices=ACTIONS,
        help="draw only from these actions (repeat; default: all)",
    )
    args = parser.parse_args(argv)
    result = sweep(
        args.trials,
        args.seed,
        args.budget,
        args.json,
        faults=tuple(args.fault or FAULTS),
        actions=tuple(args.action or ACTIONS),
    )
    print(
        f"\n{result['trials']} of {result['asked']} trials, seed {result['seed']}, "
        f"{result['seconds']} s"
    )
    print(markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
