"""fence_hakit_redfish: power fencing through a Redfish BMC.

A drop-in for ClusterLabs fence_redfish (same option names) that checks every
HTTP status, verifies TLS unless told not to, chooses the ResetType from what
the BMC advertises, follows task monitors, and refuses to guess which System
to fence when the BMC has several and nothing selects one.
"""

from __future__ import annotations

from fence_agents._runtime import options
from fence_agents._runtime.driver import Device, FenceAgent
from fence_agents._runtime.options import Option
from fence_agents._runtime.parse import Options
from ha_common.deadline import Deadline

REDFISH_OPTIONS = (
    Option(
        "systems_uri",
        metavar="uri",
        shortdesc="Redfish Systems resource URI, e.g. /redfish/v1/Systems/1",
    ),
    Option(
        "redfish_uri",
        default="/redfish/v1",
        metavar="uri",
        shortdesc="Base or starting Redfish URI",
    ),
)


class RedfishFence(FenceAgent):
    """The Redfish fence agent's declaration."""

    name = "fence_hakit_redfish"
    shortdesc = "Fence agent for Redfish (state verified, TLS verified)"
    longdesc = (
        "fence_hakit_redfish powers machines off, on or through a reboot via "
        "their Redfish BMC with the DMTF python-redfish-library. TLS is verified "
        "(system CA store, or ssl_ca_file) unless ssl_insecure is set. The System "
        "is chosen by systems_uri, else by matching plug against its Id, Name or "
        "UUID, else it must be the only one. Success is reported only after the "
        "BMC reports the requested power state."
    )
    options = (
        *options.ACTION,
        *options.address("443"),
        *options.CREDENTIALS,
        *REDFISH_OPTIONS,
        *options.TLS,
        *options.TIMEOUTS,
        *options.LOGGING,
    )

    def open(self, opts: Options, password: str, deadline: Deadline) -> Device:
        """Log in (the Redfish library is imported only now)."""
        from fence_agents.redfish import device  # noqa: PLC0415

        return device.open_session(opts, password, deadline)


def main() -> None:
    """Entry point of the installed fence_hakit_redfish."""
    from fence_agents._runtime import driver  # noqa: PLC0415

    driver.installed(RedfishFence())
