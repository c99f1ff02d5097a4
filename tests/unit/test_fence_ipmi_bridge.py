"""fence_hakit_ipmi's ``target`` option: the value, and a BMC that cannot bridge.

The integration tests (tests/integration/test_fence_ipmi_bridge.py) run the
same cases against ipmi_sim and fence_ipmilan; these pin the adapter alone.
"""

from __future__ import annotations

import pytest

from fence_agents._runtime.errors import (
    DeviceError,
    DeviceUnreachableError,
    FenceUsageError,
)
from fence_agents.ipmi.device import IpmiSession, _bridge_request
from ha_common.deadline import Deadline


@pytest.mark.parametrize(
    ("value", "address"),
    [
        ("0x40", 0x40),
        ("0X40", 0x40),
        ("64", 0x40),  # decimal, as ipmitool -t (fence_ipmilan) reads it
        ("0100", 0x40),  # octal
        ("40", 40),
        (" 0x82 ", 0x82),
        ("255", 0xFF),
    ],
)
def test_target_is_read_like_ipmitool(value, address):
    assert _bridge_request(value) == {"addr": address, "channel": 0}


@pytest.mark.parametrize("value", ["", "0", "0x20", "32", "040"])
def test_no_target_or_the_bmc_itself_is_not_bridged(value):
    assert _bridge_request(value) is None


@pytest.mark.parametrize(
    "value", ["256", "0x100", "-1", "+64", "0x", "08", "4_0", "0x40 z", "\u0664\u0660"]
)
def test_target_that_is_no_address_is_a_usage_error(value):
    with pytest.raises(FenceUsageError):
        _bridge_request(value)


def send_message_refused(code, error):
    """Return pyghmi's answer when the BMC refuses to pass a request on."""
    return {"netfn": 7, "command": 0x34, "code": code, "data": b"", "error": error}


class RefusingSession:
    """A pyghmi session whose BMC refuses every bridged request with ``answer``."""

    def __init__(self, answer):
        self.answer = answer

    def raw_command(self, netfn, command, bridge_request=None, data=()):
        return self.answer


@pytest.mark.parametrize(
    ("code", "error_type"),
    [
        (0x83, DeviceUnreachableError),  # NAK on write: no controller there
        (0x82, DeviceUnreachableError),  # bus error
        (0xC1, DeviceError),  # the BMC has no Send Message
    ],
)
def test_send_message_refused(code, error_type):
    session = RefusingSession(send_message_refused(code, "Unknown code"))
    device = IpmiSession(session, {"addr": 0x42, "channel": 0})
    with pytest.raises(error_type):
        device.power_state(Deadline(1))


def test_send_message_refused_wording():
    session = RefusingSession(send_message_refused(0x83, "Unknown code 0x83"))
    device = IpmiSession(session, {"addr": 0x42, "channel": 0})
    with pytest.raises(DeviceUnreachableError) as caught:
        device.power_state(Deadline(1))
    assert str(caught.value) == (
        "get power via IPMB target 0x42: nothing answers at that address behind "
        "the BMC (Send Message: NAK on write, 0x83)"
    )
