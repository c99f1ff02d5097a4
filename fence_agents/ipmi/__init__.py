"""fence_hakit_ipmi: power fencing through an IPMI BMC, with pyghmi in-process.

A drop-in for ClusterLabs fence_ipmilan (same option names), without an
ipmitool process per step and with every answer checked: the power state is
read back before any success, and a BMC error fails at once.
"""

from __future__ import annotations

from fence_agents._runtime import options
from fence_agents._runtime.driver import Device, FenceAgent
from fence_agents._runtime.options import FLAG, Option
from fence_agents._runtime.parse import Options
from ha_common.deadline import Deadline
from ha_common.kinds import INTEGER, STRING, one_of

PRIVILEGES = ("callback", "user", "operator", "administrator")

IPMI_OPTIONS = (
    Option(
        "lanplus",
        FLAG,
        short="-P",
        default="1",
        shortdesc="Use Lanplus (IPMI 2.0, the only protocol pyghmi speaks)",
    ),
    Option(
        "cipher",
        INTEGER,
        short="-C",
        default="3",
        metavar="cipher",
        shortdesc="Ciphersuite; pyghmi proposes suite 17 and falls back to 3",
    ),
    Option(
        "privlvl",
        one_of(*PRIVILEGES),
        short="-L",
        default="administrator",
        metavar="level",
        shortdesc="Privilege level on the BMC",
    ),
    Option(
        "hexadecimal_kg",
        STRING,
        secret=True,
        metavar="key",
        shortdesc="Hexadecimal-encoded Kg key for IPMIv2 authentication",
    ),
    Option(
        "target",
        STRING,
        short="-T",
        metavar="address",
        shortdesc="Bridge IPMI requests to this IPMB address, read as ipmitool -t "
        "does (0x82 is hex, 130 decimal)",
    ),
)


class IpmiFence(FenceAgent):
    """The IPMI fence agent's declaration."""

    name = "fence_hakit_ipmi"
    shortdesc = "Fence agent for IPMI (pyghmi, state verified)"
    longdesc = (
        "fence_hakit_ipmi powers machines off, on or through a reboot via their "
        "IPMI BMC using pyghmi in-process. Every BMC call runs under a deadline "
        "derived from login_timeout and power_timeout; success is reported only "
        "after the BMC reports the requested power state, also for method=cycle."
    )
    options = (
        *options.ACTION,
        *options.address("623"),
        *options.CREDENTIALS,
        *IPMI_OPTIONS,
        *options.TIMEOUTS,
        *options.LOGGING,
    )

    def open(self, opts: Options, password: str, deadline: Deadline) -> Device:
        """Log in to the BMC (the pyghmi adapter is imported only now)."""
        from fence_agents.ipmi import device  # noqa: PLC0415

        return device.open_session(opts, password, deadline)


def main() -> None:
    """Entry point of the installed fence_hakit_ipmi."""
    from fence_agents._runtime import driver  # noqa: PLC0415

    driver.installed(IpmiFence())
