"""Stonith devices and fencing topologies on the live lab cluster.

Builds the ``<cib><configuration>`` fragments :meth:`Cluster.load_xml` takes
(``<resources>`` for the devices, ``<fencing-topology>`` for the levels),
runs ``stonith_admin`` fencing with a timer, reads the fencer's history, and
removes what a test configured even when the test failed, so later tests on
the session's cluster start clean.  Cluster properties are never touched: the
fencer acts on ``stonith_admin`` requests with the lab's stonith-enabled=false.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import subprocess
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from .ipmi import ADMIN_PASSWORD

if TYPE_CHECKING:
    from .ipmi import IpmiSim
    from .pacemaker import Cluster
    from .redfish import RedfishEmulator

#: The node the devices fence: it is not in the cluster, so fencing it is safe.
TARGET = "ctl2"
#: The credential file a device's password_script prints (see _password_script).
PASSWORD_FILE = "fence-password"

#: Topology: target -> its levels, index 1 first; each level is the value of
#: ``devices`` (one id, or several comma-separated).
Topology = Mapping[str, Sequence[str]]


class Device(NamedTuple):
    """One ``stonith:`` primitive."""

    rsc_id: str
    agent: str
    params: Mapping[str, str]


class FenceEvent(NamedTuple):
    """One entry of ``stonith_admin --history --verbose``."""

    action: str  # "off", "reboot", "on"
    target: str
    status: str  # "success", "failed", "pending"
    client: str
    completed: str


def ipmi_device(
    rsc_id: str, sim: IpmiSim, power_timeout: int = 10, target: str = TARGET
) -> Device:
    """Return a fence_hakit_ipmi device for ``target`` on the lab's ipmi_sim."""
    return Device(
        rsc_id,
        "fence_hakit_ipmi",
        {
            "ip": sim.address,
            "ipport": str(sim.port),
            "username": "admin",
            "password_script": _password_script(sim.workdir, ADMIN_PASSWORD),
            "power_timeout": str(power_timeout),
            "pcmk_host_list": target,
            "pcmk_host_check": "static-list",
        },
    )


def redfish_device(
    rsc_id: str,
    emulator: RedfishEmulator,
    power_timeout: int = 5,
    target: str = TARGET,
) -> Device:
    """Return a fence_hakit_redfish device for ``target``: the emulator's first System.

    TLS is verified against the emulator's CA (``ssl_ca_file``).
    """
    return Device(
        rsc_id,
        "fence_hakit_redfish",
        {
            "ip": emulator.host,
            "ipport": str(emulator.port),
            "username": emulator.username,
            "password_script": _password_script(emulator.workdir, emulator.password),
            "ssl_ca_file": str(emulator.ca_file),
            "systems_uri": emulator.systems_uris[0],
            "power_timeout": str(power_timeout),
            "login_timeout": "5",
            "pcmk_host_list": target,
            "pcmk_host_check": "static-list",
        },
    )


def _password_script(workdir: Path, password: str) -> str:
    """Write ``password`` to a root-only file; return a password_script printing it.

    The password is neither in the CIB nor on any process's argv: the agent
    runs ``cat FILE`` without a shell (pacemaker-fenced runs it as root).
    """
    path = Path(workdir) / PASSWORD_FILE
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(password + "\n")
    return shlex.join(["/bin/cat", str(path)])


def level_id(target: str, index: int) -> str:
    """Return the id of ``target``'s fencing level ``index``."""
    return f"fl-{target}-{index}"


def fencing_xml(devices: Sequence[Device], topology: Topology | None = None) -> str:
    """Return ``<cib><configuration>`` with the devices and the fencing levels."""
    cib = ET.Element("cib")
    config = ET.SubElement(cib, "configuration")
    resources = ET.SubElement(config, "resources")
    for dev in devices:
        prim = ET.SubElement(
            resources,
            "primitive",
            {"id": dev.rsc_id, "class": "stonith", "type": dev.agent},
        )
        attrs = ET.SubElement(prim, "instance_attributes", {"id": f"{dev.rsc_id}-ia"})
        for name, value in dev.params.items():
            ET.SubElement(
                attrs,
                "nvpair",
                {"id": f"{dev.rsc_id}-ia-{name}", "name": name, "value": value},
            )
        ops = ET.SubElement(prim, "operations")
        ET.SubElement(
            ops,
            "op",
            {
                "id": f"{dev.rsc_id}-monitor-60s",
                "name": "monitor",
                "interval": "60s",
                "timeout": "20s",
            },
        )
    if topology:
        levels = ET.SubElement(config, "fencing-topology")
        for target, devices_per_level in topology.items():
            for index, ids in enumerate(devices_per_level, start=1):
                ET.SubElement(
                    levels,
                    "fencing-level",
                    {
                        "id": level_id(target, index),
                        "target": target,
                        "index": str(index),
                        "devices": ids,
                    },
                )
    return ET.tostring(cib, encoding="unicode")


def _started(cluster: Cluster, rsc_id: str) -> bool:
    return any(i.active for i in cluster.resource_state(rsc_id))


@contextlib.contextmanager
def configured(
    cluster: Cluster,
    devices: Sequence[Device],
    topology: Topology | None = None,
    timeout: float = 60,
) -> Iterator[None]:
    """Configure devices and topology for the block, then remove them.

    The levels go in with the devices (one load), so the fencer has them long
    before the devices are seen started.  Removal runs even when loading,
    starting or the block failed: levels first, then every device.
    """
    try:
        cluster.load_xml(fencing_xml(devices, topology))
        cluster.wait_until(
            lambda: all(_started(cluster, d.rsc_id) for d in devices),
            timeout=timeout,
            what=f"{', '.join(d.rsc_id for d in devices)} started",
        )
        yield
    finally:
        remove(
            cluster,
            [d.rsc_id for d in devices],
            [
                level_id(target, index)
                for target, levels in (topology or {}).items()
                for index in range(1, len(levels) + 1)
            ],
            timeout,
        )


def remove(
    cluster: Cluster,
    device_ids: Sequence[str],
    level_ids: Sequence[str],
    timeout: float = 60,
) -> None:
    """Delete fencing levels, then stop and delete devices; missing ones are fine.

    Every step is tried; the first failure is raised at the end.
    """
    errors: list[Exception] = []
    for level in level_ids:
        ref = ET.tostring(ET.Element("fencing-level", id=level), encoding="unicode")
        try:
            cluster.run(
                ["cibadmin", "--delete", "--scope", "fencing-topology"]
                + ["--xml-text", ref]
            )
        except Exception as exc:  # noqa: BLE001 - the devices must go too
            errors.append(exc)
    for rsc_id in device_ids:
        try:
            cluster.delete_resource(rsc_id, timeout=timeout)
        except Exception as exc:  # noqa: BLE001 - the other devices must go too
            errors.append(exc)
    if errors:
        raise errors[0]


def stonith_admin_fence(
    cluster: Cluster, target: str = TARGET, *, reboot: bool = False, timeout: int = 60
) -> tuple[subprocess.CompletedProcess[str], float]:
    """Run ``stonith_admin --fence|--reboot TARGET``; return it and its seconds.

    The fencer may take 1.2 x ``timeout`` per topology level, so the process
    itself gets three times ``timeout``.  A failed fence is no exception here.
    """
    began = time.monotonic()
    done = cluster.run(
        [
            "stonith_admin",
            "--reboot" if reboot else "--fence",
            target,
            "--timeout",
            str(timeout),
        ],
        check=False,
        timeout=3 * timeout,
    )
    return done, time.monotonic() - began


def fence_history(cluster: Cluster, target: str = "*") -> list[FenceEvent]:
    """Return every operation the fencer recorded for ``target`` (``*``: any)."""
    out = cluster.run(
        ["stonith_admin", "--history", target, "--verbose", "--output-as=xml"]
    ).stdout
    return [
        FenceEvent(
            event.get("action", ""),
            event.get("target", ""),
            event.get("status", ""),
            event.get("client", ""),
            event.get("completed", ""),
        )
        for event in ET.fromstring(out).iter("fence_event")
    ]
