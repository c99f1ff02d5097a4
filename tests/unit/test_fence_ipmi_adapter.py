"""The IPMI adapter over a fake pyghmi session: what goes on the wire.

The adapter imports pyghmi only when it logs in, so these tests hand it a
scripted session instead.
"""

from __future__ import annotations

import pytest

from fence_agents._runtime.driver import PowerTarget
from fence_agents._runtime.errors import (
    ActionTimeoutError,
    DeviceError,
)
from fence_agents.ipmi.device import (
    FIRST_WAIT,
    GRACE,
    IpmiSession,
    _pace,
    _session_class,
    pacing,
)
from ha_common.deadline import Deadline

# -- IPMI: pyghmi's session.raw_command ---------------------------------------


class FakeIpmiSession:
    """Answers like pyghmi's Session.raw_command; records every command."""

    def __init__(self, power=True, answers=None):
        self.power = power
        self.sent = []
        self.answers = answers or {}
        self.logged_out = False

    def raw_command(self, netfn, command, bridge_request=None, data=()):
        self.sent.append((netfn, command, tuple(data), bridge_request))
        if (netfn, command) in self.answers:
            return self.answers[(netfn, command)]
        if command == 2:
            self.power = {0: False, 1: True, 2: True}[data[0]]
            return {"netfn": netfn + 1, "command": command, "code": 0, "data": b""}
        return {
            "netfn": netfn + 1,
            "command": command,
            "code": 0,
            "data": bytearray([1 if self.power else 0, 0, 0]),
        }

    def logout(self):
        self.logged_out = True


def controls(session):
    return [data for _, command, data, _ in session.sent if command == 2]


@pytest.mark.parametrize(("power", "state"), [(True, "ON"), (False, "OFF")])
def test_ipmi_power_state_is_bit_0_of_chassis_status(power, state):
    session = FakeIpmiSession(power=power)
    assert IpmiSession(session, None).power_state(Deadline(1)).value == state
    assert session.sent == [(0, 1, (), None)]


@pytest.mark.parametrize(
    ("target", "data"),
    [(PowerTarget.OFF, (0,)), (PowerTarget.ON, (1,)), (PowerTarget.CYCLE, (2,))],
)
def test_ipmi_chassis_control_data(target, data):
    session = FakeIpmiSession(power=target is not PowerTarget.ON)
    IpmiSession(session, None).request(target, Deadline(1))
    assert controls(session) == [data]


def test_ipmi_control_is_sent_without_a_read_first():
    # A read first would cost a slow BMC's whole round trip (issue #17); the
    # driver reads the state back after the request.
    session = FakeIpmiSession(power=False)
    IpmiSession(session, None).request(PowerTarget.OFF, Deadline(1))
    assert session.sent == [(0, 2, (0,), None)]


def test_ipmi_completion_code_fails_with_the_bmcs_reason():
    error = {"netfn": 1, "command": 2, "code": 0xD5, "error": "Cannot execute"}
    session = FakeIpmiSession(answers={(0, 2): error})
    with pytest.raises(DeviceError, match="Cannot execute"):
        IpmiSession(session, None).request(PowerTarget.OFF, Deadline(1))


def test_ipmi_silent_bmc_is_a_timeout():
    timeout = {"error": "timeout", "code": 0xFFFF}
    session = FakeIpmiSession(answers={(0, 1): timeout})
    with pytest.raises(ActionTimeoutError, match="no answer from the BMC"):
        IpmiSession(session, None).power_state(Deadline(1))


@pytest.mark.parametrize("budget", [0.3, 1, 2.5, 3, 4.75, 10, 19.75, 60])
def test_pacing_fills_the_budget_with_growing_waits(budget):
    first, most = pacing(budget)
    waits = [first]
    while waits[-1] + 1 <= most:  # pyghmi's _timedout: one second more each time
        waits.append(waits[-1] + 1)
    assert sum(waits) == pytest.approx(budget)
    assert first >= min(budget, FIRST_WAIT)
    assert waits[-1] + 1 > most


def test_each_command_is_paced_to_its_deadline():
    session = FakeIpmiSession()
    IpmiSession(session, None).power_state(Deadline(10))
    first, most = pacing(10 - GRACE)
    assert session.timeout == pytest.approx(first, abs=0.05)
    assert session.maxtimeout == pytest.approx(most, abs=0.05)
    assert session.logontries == 0  # no hidden relogin that resends a request


def test_a_session_pyghmi_gave_up_is_logged_in_again():
    broken = FakeIpmiSession()
    broken.broken = True
    fresh = FakeIpmiSession(power=False)
    logins = []

    def login(deadline):
        logins.append(deadline)
        return fresh

    device = IpmiSession(broken, None, login)
    assert device.power_state(Deadline(5)).value == "OFF"
    assert len(logins) == 1 and broken.sent == []


def test_no_login_again_without_time_for_the_command_after_it():
    # A login abandoned at its deadline goes on inside pyghmi, and the next
    # login to the BMC joins it (issue #17): none is started that cannot end
    # with time for the command.
    broken = FakeIpmiSession()
    broken.broken = True
    logins = []
    device = IpmiSession(broken, None, logins.append)
    device.pace = 1.5
    with pytest.raises(ActionTimeoutError, match="too little to log in again"):
        device.power_state(Deadline(1.5))
    assert logins == [] and broken.sent == []


@pytest.mark.parametrize(
    ("took", "first", "pace"),
    [
        (0.4, 1.175, 0.4),  # before the retransmit: the BMC's own time
        (1.5, 1.175, 1.5),  # a 1.5 s BMC answering the first send
        (1.2, 1.175, 1.2),  # a lost answer, the retransmit answered
        (4.0, 1.175, 1.175),  # after two retransmits: lost packets
    ],
)
def test_pace_counts_up_to_the_answer(took, first, pace):
    # Counting only the first wait (1.175 s) for a 1.5 s BMC let a read be
    # sent with 1.2 s left, and the session was lost (issue #17).
    assert _pace(0.0, took, first) == pytest.approx(pace)


def test_ipmi_answer_to_another_command_is_refused():
    other = {"netfn": 7, "command": 1, "code": 0, "data": b"\x01"}
    session = FakeIpmiSession(answers={(0, 1): other})
    with pytest.raises(DeviceError):
        IpmiSession(session, None).power_state(Deadline(1))


def test_ipmi_empty_status_is_refused():
    empty = {"netfn": 1, "command": 1, "code": 0, "data": b""}
    session = FakeIpmiSession(answers={(0, 1): empty})
    with pytest.raises(DeviceError):
        IpmiSession(session, None).power_state(Deadline(1))


def test_ipmi_bridge_goes_with_every_command():
    bridge = {"addr": 0x82, "channel": 0}
    session = FakeIpmiSession()
    device = IpmiSession(session, bridge)
    device.request(PowerTarget.OFF, Deadline(1))
    device.request(PowerTarget.CYCLE, Deadline(1))
    assert session.sent and all(b == bridge for *_, b in session.sent)


def test_ipmi_close_logs_out():
    session = FakeIpmiSession()
    IpmiSession(session, None).close()
    assert session.logged_out


class FakePyghmiSession:
    """The two methods of pyghmi's Session that the lost wake-up is about."""

    def __init__(self):
        self.events = []

    def process_pktqueue(self):
        self.events.append("process queued packets")

    def awaitresponse(self, retry, *args):
        self.events.append(("wait", retry, args))


def test_ipmi_session_handles_queued_answers_before_it_waits():
    session = _session_class(FakePyghmiSession)()
    session.awaitresponse(True, 1, 1)
    assert session.events == ["process queued packets", ("wait", True, (1, 1))]


def test_ipmi_session_class_unchanged_without_those_methods():
    class Other:
        pass

    assert _session_class(Other) is Other
