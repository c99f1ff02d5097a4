"""Every primitive hakit generates names an agent that takes its parameters.

For the shipped example and the lab topology, each generated primitive's
agent is run the way Pacemaker runs it: its meta-data announces every
parameter hakit generates for it, and ``validate-all`` with those parameters
does not find them misconfigured.  Host facts may still be missing on this
machine (an OpenStack binary, say: rc 5), which is not the CIB's fault.

Host facts of the controllers are stood in for, each where it happens:
IPaddr2 validates inside a scratch network namespace that has the interface
the VIP names; a fence device's ``password_script`` program (the operator's
vault) and ``ssl_ca_file`` are replaced by files of the test.  validate-all
of a fence agent never contacts the BMC, so no test address is reached.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from cib_builder import agents, pacemaker, pipeline
from cib_builder.model import Primitive

pytestmark = [pytest.mark.pacemaker]

ROOT = Path(__file__).resolve().parents[2]
TOPOLOGIES = {
    "example": ROOT / "examples" / "opnfv-3-controllers.toml",
    "lab": ROOT / "tests" / "lab" / "lab-3-controllers.toml",
}
OCF_ROOT = Path("/usr/lib/ocf")
SAFE_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"
#: validate-all outcomes that accept the parameters: ok, a host fact missing
#: (ERR_ARGS), a binary missing (ERR_INSTALLED).  6 (ERR_CONFIGURED) would mean
#: the CIB's parameters are wrong.
ACCEPTED = (0, 2, 5)


def cases() -> list[tuple[str, str]]:
    return [
        (name, prim.id)
        for name, path in TOPOLOGIES.items()
        for prim in pipeline.build(path).cib.primitives()
    ]


def primitive(topology: str, rsc_id: str) -> Primitive:
    (found,) = [
        p for p in pipeline.build(TOPOLOGIES[topology]).cib.primitives()
        if p.id == rsc_id
    ]  # fmt: skip
    return found


def declared(metadata: str) -> set[str]:
    root = ET.fromstring(metadata)
    return {p.get("name", "") for p in root.iterfind("parameters/parameter")}


def run(argv, env=None, stdin=None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"PATH": SAFE_PATH, **(env or {})},
    )


def ocf_env(prim: Primitive) -> dict[str, str]:
    env = {
        "OCF_ROOT": str(OCF_ROOT),
        "OCF_RESOURCE_INSTANCE": prim.id,
        "OCF_RESKEY_CRM_meta_timeout": "20000",
        "HA_RSCTMP": "/run/resource-agents",
    }
    env.update({f"OCF_RESKEY_{name}": value for name, value in prim.params})
    return env


@pytest.fixture
def scratch_netns(request):
    """A network namespace with the interface ``nic`` (a veth), removed after."""
    name = f"hk-vip-{secrets.token_hex(3)}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    request.addfinalizer(
        lambda: subprocess.run(["ip", "netns", "del", name], check=False)
    )

    def with_nic(nic: str) -> list[str]:
        subprocess.run(
            [
                "ip",
                "-n",
                name,
                "link",
                "add",
                nic,
                "type",
                "veth",
                "peer",
                "name",
                "p0",
            ],
            check=True,
        )
        subprocess.run(["ip", "-n", name, "link", "set", nic, "up"], check=True)
        return ["ip", "netns", "exec", name]

    return with_nic


@pytest.mark.parametrize(("topology", "rsc_id"), cases())
def test_generated_parameters_are_declared_and_valid(
    installed_agents, scratch_netns, tmp_path, topology, rsc_id
):
    prim = primitive(topology, rsc_id)
    agent = prim.agent
    if agent.standard == "systemd":
        # No systemd here to ask; the unit file is what the agent is.
        assert prim.params == ()
        assert isinstance(pacemaker.agent_lookup(agent), agents.Found)
        return
    if agent.standard == "stonith":
        path = f"/usr/sbin/{agent.type}"
        meta = run([path, "-o", "metadata"])
        assert meta.returncode == 0, meta.stderr
        params = [(k, v) for k, v in prim.params if not k.startswith("pcmk_")]
        assert {k for k, _ in params} <= declared(meta.stdout)
        script = tmp_path / "password"
        script.write_text("#!/bin/sh\necho not-the-password\n")
        os.chmod(script, 0o700)
        (tmp_path / "ca.pem").write_text("a CA file\n")
        host = {"password_script": str(script), "ssl_ca_file": str(tmp_path / "ca.pem")}
        lines = [f"{k}={host.get(k, v)}" for k, v in params]
        done = run([path], stdin="\n".join(["action=validate-all", *lines]) + "\n")
        assert done.returncode == 0, done.stderr
        return
    path = OCF_ROOT / "resource.d" / str(agent.provider) / agent.type
    meta = run([str(path), "meta-data"], ocf_env(prim))
    assert meta.returncode == 0, meta.stderr
    assert {k for k, _ in prim.params} <= declared(meta.stdout)
    prefix = (
        scratch_netns(dict(prim.params)["nic"]) if "nic" in dict(prim.params) else []
    )
    done = run([*prefix, str(path), "validate-all"], ocf_env(prim))
    assert done.returncode in ACCEPTED, (done.returncode, done.stdout, done.stderr)
