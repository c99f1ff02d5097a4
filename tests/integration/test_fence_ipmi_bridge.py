"""fence_hakit_ipmi's ``target`` option (issue #4): bridging to another controller.

OpenIPMI's ipmi_sim emulates a second management controller at IPMB address
0x40 behind its BMC (``IpmiSim(bridged=(0x40,))``), reached through the BMC's
Send Message command like ``ipmitool -t 0x40``.  It keeps its own power state,
so every test can tell which controller an action reached.  ClusterLabs
fence_ipmilan, which hands ``target`` to ``ipmitool -t``, is the reference for
what a value means.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import pytest

from tests.lab.agents import run_fence
from tests.lab.ipmi import ADMIN_PASSWORD, ADMIN_USER, FENCE_IPMILAN
from tests.unavailable import unavailable

pytestmark = [pytest.mark.ipmi_sim]

AGENT = "/usr/sbin/fence_hakit_ipmi"
TARGET = 0x40
#: An IPMB address with no controller behind the simulated BMC.
NOBODY = "0x42"
#: The ipmi_sim fixture with a bridged controller at TARGET.
BRIDGED = pytest.mark.parametrize(
    "ipmi_sim", [{"bridged": (TARGET,)}], indirect=True, ids=["bridged-0x40"]
)


@dataclass(frozen=True)
class Result:
    """What one agent run printed and how long it took."""

    rc: int
    out: str
    err: str
    seconds: float

    @property
    def status(self) -> tuple[int, str]:
        """The exit code and stdout, e.g. ``(2, "Status: OFF")``."""
        return self.rc, self.out

    @property
    def failed_lines(self) -> list[str]:
        """The driver's ``Failed:`` lines on stderr."""
        return [line for line in self.err.splitlines() if line.startswith("Failed:")]


def fence(port, action, target=None, *, agent=AGENT, **extra):
    """Run ``agent`` like pacemaker-fenced does: every option on stdin."""
    options = {
        "action": action,
        "ip": "127.0.0.1",
        "ipport": port,
        "username": ADMIN_USER,
        "password": ADMIN_PASSWORD,
        "lanplus": 1,
        "cipher": 3,  # ipmi_sim needs it for fence_ipmilan (LAB.md section 9)
        "power_timeout": 5,
        "login_timeout": 3,
        "nodename": "ctl2",
        **extra,
    }
    if target is not None:
        options["target"] = target
    return Result(*run_fence(agent, options, timeout=60))


def power_status(controller):
    """Return what ``ipmitool [-t] chassis power status`` prints."""
    done = controller.ipmitool("chassis", "power", "status")
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@BRIDGED
def test_status_off_on_reboot_act_on_the_target_only(ipmi_sim, installed_agents):
    bridged = ipmi_sim.bridged[TARGET]
    ipmi_sim.set_power(False)  # the BMC's own chassis says the opposite
    assert fence(ipmi_sim.port, "status", "0x40").status == (0, "Status: ON")
    run = fence(ipmi_sim.port, "off", "0x40")
    assert run.status == (0, "Success: Powered OFF"), run.err
    assert bridged.power is False

    ipmi_sim.set_power(True)
    assert fence(ipmi_sim.port, "status", "0x40").status == (2, "Status: OFF")
    run = fence(ipmi_sim.port, "on", "0x40")
    assert run.status == (0, "Success: Powered ON"), run.err
    assert bridged.power is True
    bridged.clear_history()
    run = fence(ipmi_sim.port, "reboot", "0x40")
    assert run.status == (0, "Success: Rebooted"), run.err
    assert bridged.power is True
    sets = [line for line in bridged.history if line.startswith("set")]
    assert sets == ["set power 0", "set power 1"]

    assert ipmi_sim.history == [], "a request reached the BMC's own chassis"
    assert ipmi_sim.power is True


@BRIDGED
def test_power_cycle_is_sent_to_the_target(ipmi_sim, installed_agents):
    bridged = ipmi_sim.bridged[TARGET]
    run = fence(ipmi_sim.port, "reboot", "0x40", method="cycle")
    assert run.status == (0, "Success: Rebooted"), run.err
    assert bridged.power is True
    assert "set power 0" in bridged.history  # ipmi_sim's half of a cycle
    assert ipmi_sim.history == []


@BRIDGED
def test_ipmitool_t_agrees_with_the_agent(ipmi_sim, installed_agents):
    bridged = ipmi_sim.bridged[TARGET]
    assert fence(ipmi_sim.port, "off", "0x40").rc == 0
    assert power_status(bridged) == "Chassis Power is off"
    assert power_status(ipmi_sim) == "Chassis Power is on"

    # The other way round: ipmitool -t switches, the agent reads it.
    assert bridged.ipmitool("chassis", "power", "on").returncode == 0
    assert fence(ipmi_sim.port, "status", "0x40").status == (0, "Status: ON")
    assert bridged.ipmitool("chassis", "power", "off").returncode == 0
    assert fence(ipmi_sim.port, "status", "0x40").status == (2, "Status: OFF")
    assert ipmi_sim.power is True


READS = {"target": (2, "Status: OFF"), "bmc": (0, "Status: ON"), "nobody": (1, "")}


@BRIDGED
@pytest.mark.parametrize(
    ("value", "reads"),
    [
        ("0x40", "target"),
        ("0X40", "target"),
        ("64", "target"),  # ipmitool -t reads C numbers: decimal 64 is 0x40
        ("0100", "target"),  # and octal
        ("40", "nobody"),  # decimal 40 is 0x28, not 0x40
        ("0x20", "bmc"),  # the BMC's own address: ipmitool does not bridge
        ("0", "bmc"),  # no target
    ],
)
def test_target_value_means_what_it_means_to_fence_ipmilan(
    ipmi_sim, installed_agents, value, reads
):
    if not os.access(FENCE_IPMILAN, os.X_OK):
        unavailable(f"{FENCE_IPMILAN} is missing (install fence-agents)")
    ipmi_sim.bridged[TARGET].set_power(False)  # the BMC's chassis stays on
    ours = fence(ipmi_sim.port, "status", value)
    theirs = fence(ipmi_sim.port, "status", value, agent=FENCE_IPMILAN)
    assert ours.status == READS[reads], ours.err
    assert theirs.status == READS[reads], theirs.err


@BRIDGED
@pytest.mark.parametrize("action", ["status", "off", "reboot"])
def test_target_nobody_answers_fails_at_once(ipmi_sim, installed_agents, action):
    bridged = ipmi_sim.bridged[TARGET]
    run = fence(ipmi_sim.port, action, NOBODY, shell_timeout=2, power_timeout=3)
    assert run.status == (1, "")
    assert run.seconds < 3, "the BMC refuses at once; nothing to wait for"
    assert len(run.failed_lines) == 1, run.err
    assert NOBODY in run.failed_lines[0]
    assert "Traceback" not in run.err
    assert ipmi_sim.history == [] and bridged.history == []
    assert ipmi_sim.power is True and bridged.power is True


@BRIDGED
def test_target_that_stalls_gives_up_within_the_timeout(ipmi_sim, installed_agents):
    ipmi_sim.bridged[TARGET].set_fault("slow_seconds", 20)
    run = fence(ipmi_sim.port, "status", "0x40", shell_timeout=2)
    assert run.status == (1, "")
    assert 2 <= run.seconds < 8
    assert len(run.failed_lines) == 1, run.err
    assert "Traceback" not in run.err


def test_bmc_that_cannot_bridge_fails_at_once(pyghmi_bmc, installed_agents):
    # pyghmi's server answers Send Message with 0xc1 (invalid command).
    run = fence(pyghmi_bmc.port, "status", "0x40")
    assert run.status == (1, "")
    assert run.seconds < 5
    assert len(run.failed_lines) == 1, run.err
    assert "0x40" in run.failed_lines[0]
    assert pyghmi_bmc.history == [], "read the BMC's own chassis instead"
