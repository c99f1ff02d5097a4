"""A short run of the seeded fault sweep (bench/fence_fault_sweep.py, issue #17).

fence_hakit_ipmi and fence_ipmilan run against the same faulty pyghmi BMC
state; hakit must never report a false success, never change power the
action does not call for, and never overrun its deadline.  The long run
(1,000 trials) and its table are in bench/README.md.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from tests.lab.ipmi import FENCE_IPMILAN, pyghmi_missing
from tests.unavailable import unavailable

pytestmark = [pytest.mark.ipmi_sim, pytest.mark.slow]

SWEEP = Path(__file__).resolve().parents[2] / "bench" / "fence_fault_sweep.py"


def load_sweep():
    spec = importlib.util.spec_from_file_location("fence_fault_sweep", SWEEP)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_short_seeded_sweep():
    reason = pyghmi_missing()
    if reason:
        unavailable(reason)
    if not Path(FENCE_IPMILAN).exists():
        unavailable(f"{FENCE_IPMILAN} is missing (Debian fence-agents)")
    sweep = load_sweep()
    result = sweep.sweep(trials=12, seed=4, budget=150, out=None)
    assert result["trials"] >= 2
    for row in result["table"]:
        if row["agent"] != "hakit":
            continue
        assert row["false_success"] == 0, row
        assert row["unintended"] == 0, row
        assert row["over_deadline"] == 0, row
