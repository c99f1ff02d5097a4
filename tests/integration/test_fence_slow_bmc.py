"""Fencing under real BMC behaviour (issue #17): slow, late and lost answers.

The pyghmi BMC (tests/lab/pyghmi_bmc.py) stalls before a chassis request
(``slow_seconds``), answers late after carrying it out (``late_seconds``),
carries requests out without answering (``drop_answers``,
``drop_control_answers``), carries a retransmit out twice (its default, as
pyghmi's stock server) or answers it again (``drop_duplicates``), and ignores
a power cycle while the chassis is off.  ipmi_sim stalls whole while its
chassis-control program sleeps.  The sushy emulator sleeps before every
answer (``set_slow``).  The agents run from a private install: nothing in the
live system changes.

Deadline of a run: login_timeout + one power_wait + power_timeout per power
phase, + 1 s for the logout, + start-up (README, "Deadlines").
"""

from __future__ import annotations

import pytest

from tests.lab.agents import run_fence, run_redfish_fence
from tests.lab.ipmi import ADMIN_PASSWORD, ADMIN_USER

pytestmark = [pytest.mark.ipmi_sim]

LOGIN = 3
POWER = 8
#: Start-up of the agent process and the logout.
SLACK = 2.0


def deadline(phases: int) -> float:
    return LOGIN + phases * POWER + SLACK


def fence(agents, port, action, **extra):
    options = {
        "action": action,
        "ip": "127.0.0.1",
        "ipport": port,
        "username": ADMIN_USER,
        "password": ADMIN_PASSWORD,
        "lanplus": 1,
        "cipher": 3,
        "power_timeout": POWER,
        "login_timeout": LOGIN,
        "nodename": "ctl2",
        **extra,
    }
    return run_fence(agents / "fence_hakit_ipmi", options, timeout=120)


@pytest.mark.parametrize("fault", ["slow_seconds", "late_seconds"])
def test_a_bmc_taking_1_5_s_per_request_is_fenced(private_agents, pyghmi_bmc, fault):
    pyghmi_bmc.set_fault(fault, 1.5)
    rc, out, err, seconds = fence(private_agents, pyghmi_bmc.port, "off")
    assert (rc, out) == (0, "Success: Powered OFF"), err
    assert pyghmi_bmc.power is False
    assert seconds < deadline(1)
    # Paced to the BMC: the control request is not sent twice.
    assert pyghmi_bmc.history.count("set power 0") == 1
    rc, out, err, seconds = fence(private_agents, pyghmi_bmc.port, "reboot")
    assert (rc, out) == (0, "Success: Rebooted"), err
    assert pyghmi_bmc.power is True
    assert seconds < deadline(2)


def test_a_stalled_ipmi_sim_is_fenced(private_agents, ipmi_sim):
    ipmi_sim.set_fault("slow_seconds", 1.5)
    rc, out, err, seconds = fence(private_agents, ipmi_sim.port, "off")
    assert (rc, out) == (0, "Success: Powered OFF"), err
    assert ipmi_sim.power is False
    assert seconds < deadline(1)


def test_lost_answers_are_retransmitted_and_read_back(private_agents, pyghmi_bmc):
    pyghmi_bmc.set_fault("drop_answers", 3)
    rc, out, err, seconds = fence(private_agents, pyghmi_bmc.port, "off")
    assert (rc, out) == (0, "Success: Powered OFF"), err
    assert pyghmi_bmc.power is False
    assert seconds < deadline(1)
    assert "Traceback" not in err


def test_a_control_carried_out_but_never_answered_is_read_back(
    private_agents, pyghmi_bmc
):
    pyghmi_bmc.set_fault("drop_control_answers", 20)
    rc, out, err, seconds = fence(private_agents, pyghmi_bmc.port, "off")
    assert (rc, out) == (0, "Success: Powered OFF"), err
    assert "reading the power state back" in err
    assert seconds < deadline(1)


def test_a_bmc_that_never_acts_fails_with_what_it_read(private_agents, pyghmi_bmc):
    pyghmi_bmc.set_fault("stuck_on")
    pyghmi_bmc.set_fault("drop_control_answers", 20)
    rc, out, err, seconds = fence(private_agents, pyghmi_bmc.port, "off")
    assert rc == 1 and "Success" not in out
    assert "Failed:" in err and "reports ON" in err
    assert pyghmi_bmc.power is True
    assert seconds < deadline(1)


@pytest.mark.parametrize("dedupe", [False, True], ids=["twice", "deduped"])
def test_a_retransmitted_cycle(private_agents, pyghmi_bmc, dedupe):
    # The cycle's first answer is lost: pyghmi retransmits the same payload
    # (same IPMI sequence number).  The stock BMC cycles twice; a BMC that
    # drops duplicates answers again without cycling.
    pyghmi_bmc.set_fault("drop_duplicates", dedupe)
    pyghmi_bmc.set_fault("drop_control_answers", 1)
    rc, out, err, seconds = fence(
        private_agents, pyghmi_bmc.port, "reboot", method="cycle"
    )
    assert (rc, out) == (0, "Success: Rebooted"), err
    assert pyghmi_bmc.power is True
    cycles = pyghmi_bmc.history.count("set cycle 1")
    assert cycles == 2
    went_off = [on for _, on in pyghmi_bmc.transitions if not on]
    assert went_off, "a reboot must have powered the node off"
    if dedupe:
        assert any("answered again" in line for line in pyghmi_bmc.history)
    assert seconds < deadline(3)


@pytest.mark.parametrize("pyghmi_bmc", [{"initial_power": False}], indirect=True)
def test_cycle_on_a_chassis_that_is_off_powers_it_on(private_agents, pyghmi_bmc):
    rc, out, err, seconds = fence(
        private_agents, pyghmi_bmc.port, "reboot", method="cycle"
    )
    assert (rc, out) == (0, "Success: Rebooted"), err
    assert pyghmi_bmc.power is True
    assert "reads OFF already; powering it on" in err
    assert "set cycle 1" not in pyghmi_bmc.history
    assert seconds < deadline(2)


def test_slow_cycle_whose_off_half_cannot_be_seen(private_agents, pyghmi_bmc):
    # 1.5 s per read, 1 s off: no read can see the off half.  The agent
    # powers off and on with verified requests instead, within 3 phases.
    pyghmi_bmc.set_fault("slow_seconds", 1.5)
    rc, out, err, seconds = fence(
        private_agents, pyghmi_bmc.port, "reboot", method="cycle", power_timeout=5
    )
    assert (rc, out) == (0, "Success: Rebooted"), err
    assert pyghmi_bmc.power is True
    assert seconds < LOGIN + 3 * 5 + SLACK


@pytest.mark.parametrize("dedupe", [False, True], ids=["twice", "deduped"])
def test_slow_cycle_in_6_s_phases(private_agents, pyghmi_bmc, dedupe):
    # The sweep's slow-BMC cycle (power_timeout=6, power_wait=0), which failed
    # 5 times in 66: the first read is retransmitted to (1.175 s first wait),
    # and its pace was counted as 1.175 s, so the read-back after the cycle
    # was sent with 1.2 s left to a BMC that takes 1.5 s; the session was
    # lost, and the logins that followed ate the fallback's phases.  No read
    # may be sent now that the BMC cannot answer in time.
    pyghmi_bmc.set_fault("slow_seconds", 1.5)
    pyghmi_bmc.set_fault("drop_duplicates", dedupe)
    rc, out, err, seconds = fence(
        private_agents,
        pyghmi_bmc.port,
        "reboot",
        method="cycle",
        power_timeout=6,
        power_wait=0,
        verbose=1,
    )
    assert (rc, out) == (0, "Success: Rebooted"), err
    assert pyghmi_bmc.power is True
    went_off = [on for _, on in pyghmi_bmc.transitions if not on]
    assert went_off, "a reboot must have powered the node off"
    assert "get power: no answer from the BMC" not in err
    assert "login: no answer" not in err
    # Paced to the BMC once its time is known: no control is sent twice.
    for control in ("set cycle 1", "set power 0", "set power 1"):
        assert pyghmi_bmc.history.count(control) <= 1, pyghmi_bmc.history
    assert seconds < LOGIN + 3 * 6 + SLACK


@pytest.mark.redfish_sim
def test_redfish_bmc_taking_2_s_per_request(private_agents, redfish_emulator):
    rf = redfish_emulator
    rf.set_slow(2)
    uri = rf.systems_uris[0]
    agent = private_agents / "fence_hakit_redfish"
    common = {"systems_uri": uri, "power_timeout": 10, "login_timeout": 5}
    rc, out, err, seconds = run_redfish_fence(rf, "off", agent=agent, **common)
    assert (rc, out) == (0, "Success: Powered OFF"), err
    assert seconds < 5 + 10 + SLACK
    rc, out, err, seconds = run_redfish_fence(rf, "reboot", agent=agent, **common)
    assert (rc, out) == (0, "Success: Rebooted"), err
    assert seconds < 5 + 2 * 10 + SLACK
    rf.set_slow(0)
    assert rf.power(uri) == "On"
