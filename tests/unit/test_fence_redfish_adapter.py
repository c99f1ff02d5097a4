"""The Redfish adapter over a fake DMTF client: which requests it sends.

The adapter imports the Redfish library only when it connects, so these tests
hand it a scripted client instead.
"""

from __future__ import annotations

import pytest

from fence_agents._runtime.driver import PowerState, PowerTarget
from fence_agents._runtime.errors import AuthenticationError, DeviceError
from fence_agents._runtime.parse import Options
from fence_agents.redfish import device
from fence_agents.redfish.device import RedfishSession, _basic_authorization
from ha_common.deadline import Deadline

# -- Redfish: the DMTF client's get/post ---------------------------------------

SYSTEM = "/redfish/v1/Systems/1"
TARGET = SYSTEM + "/Actions/ComputerSystem.Reset"


class FakeResponse:
    def __init__(self, status, body=None, location=None):
        self.status = status
        self.dict = body or {}
        self.location = location

    def getheader(self, name):
        return self.location if name == "Location" else None


class FakeRedfishClient:
    """A BMC with one System; ``status`` overrides every answer's status."""

    def __init__(self, status=None):
        self.power = "On"
        self.status = status
        self.calls = []
        #: Answers to the reset POST and then to the task monitor, in order.
        self.task = []

    def get(self, path, timeout=None, max_retry=None):
        self.calls.append(("GET", path))
        if "TaskMonitors" in path:
            return self.task.pop(0)
        body = {
            "PowerState": self.power,
            "Actions": {
                "#ComputerSystem.Reset": {
                    "target": TARGET,
                    "ResetType@Redfish.AllowableValues": ["On", "ForceOff"],
                }
            },
        }
        return FakeResponse(self.status or 200, body)

    def post(self, path, body=None, timeout=None, max_retry=None):
        self.calls.append(("POST", path, body["ResetType"]))
        self.power = "Off" if body["ResetType"] == "ForceOff" else "On"
        if self.task:
            return self.task.pop(0)
        return FakeResponse(self.status or 204)

    def logout(self):
        self.calls.append(("logout",))


def test_redfish_one_get_of_the_system_serves_state_and_reset_action():
    client = FakeRedfishClient()
    device = RedfishSession(client, SYSTEM, 5)
    device.request(PowerTarget.OFF, Deadline(5))
    assert device.power_state(Deadline(5)) is PowerState.OFF
    device.request(PowerTarget.ON, Deadline(5))
    assert device.power_state(Deadline(5)) is PowerState.ON
    assert client.calls == [
        ("GET", SYSTEM),
        ("POST", TARGET, "ForceOff"),
        ("GET", SYSTEM),
        ("POST", TARGET, "On"),
        ("GET", SYSTEM),
    ]


@pytest.mark.parametrize(
    ("reported", "state"),
    [
        ("On", PowerState.ON),
        ("Off", PowerState.OFF),
        ("PoweringOn", PowerState.POWERING_ON),
        ("PoweringOff", PowerState.POWERING_OFF),
    ],
)
def test_redfish_power_states_keep_the_transitions(reported, state):
    client = FakeRedfishClient()
    client.power = reported
    assert RedfishSession(client, SYSTEM, 5).power_state(Deadline(5)) is state


@pytest.mark.parametrize("reported", [None, "Paused", "off", 0])
def test_redfish_unknown_power_state_is_a_device_error(reported):
    client = FakeRedfishClient()
    client.power = reported
    with pytest.raises(DeviceError):
        RedfishSession(client, SYSTEM, 5).power_state(Deadline(5))


def test_redfish_401_on_get_is_an_authentication_error():
    device = RedfishSession(FakeRedfishClient(status=401), SYSTEM, 5)
    with pytest.raises(AuthenticationError):
        device.power_state(Deadline(5))


def test_redfish_401_on_the_reset_is_an_authentication_error():
    client = FakeRedfishClient()
    device = RedfishSession(client, SYSTEM, 5)
    device.power_state(Deadline(5))
    client.status = 401
    with pytest.raises(AuthenticationError):
        device.request(PowerTarget.OFF, Deadline(5))


def test_redfish_basic_authorization_is_what_the_library_sends():
    opts = Options({"username": "admin"}, {})
    # base64 of "admin:pässword" in UTF-8, as redfish.rest.v1 login(auth="basic")
    assert _basic_authorization(opts, "pässword") == "Basic YWRtaW46cMOkc3N3b3Jk"


MONITOR = "/redfish/v1/TaskService/TaskMonitors/7"


def test_redfish_task_monitor_is_followed_until_the_task_completed(monkeypatch):
    monkeypatch.setattr(device, "TASK_POLL", 0)
    client = FakeRedfishClient()
    client.task = [
        # DSP0266 allows an absolute URI in Location.
        FakeResponse(202, location="https://bmc.example:443" + MONITOR),
        FakeResponse(202, {"TaskState": "Running"}),
        FakeResponse(200, {"TaskState": "Running"}),  # some BMCs, while running
        FakeResponse(200, {"TaskState": "Completed", "TaskStatus": "OK"}),
    ]
    RedfishSession(client, SYSTEM, 5).request(PowerTarget.OFF, Deadline(5))
    assert client.calls[2:] == [("GET", MONITOR)] * 3
    assert client.task == []


@pytest.mark.parametrize(
    "end",
    [
        FakeResponse(200, {"TaskState": "Exception", "Messages": [{"Message": "x"}]}),
        FakeResponse(200, {"TaskState": "Killed"}),
        FakeResponse(500, {"error": {"message": "reset failed"}}),
        FakeResponse(404),
    ],
)
def test_redfish_task_that_ends_otherwise_is_a_device_error(monkeypatch, end):
    monkeypatch.setattr(device, "TASK_POLL", 0)
    client = FakeRedfishClient()
    client.task = [FakeResponse(202, location=MONITOR), FakeResponse(202), end]
    with pytest.raises(DeviceError):
        RedfishSession(client, SYSTEM, 5).request(PowerTarget.OFF, Deadline(5))
