"""fence_hakit_ipmi, installed like the package, against real IPMI BMCs.

OpenIPMI's ipmi_sim (with a chassis-control program that keeps the power
state and injects faults) and a pyghmi BMC server with delayed power changes.
"""

from __future__ import annotations

import pytest

from tests.lab.agents import LIBDIR, SYSTEM_PYTHON, run_fence
from tests.lab.ipmi import free_udp_port
from tests.lab.probe import run_probed, top_level

pytestmark = [pytest.mark.ipmi_sim]

AGENT = "/usr/sbin/fence_hakit_ipmi"


def fence(
    port, action=None, *, password="adminpass", user="admin", extra=None, argv=None
):
    """Run the agent like pacemaker-fenced: everything on stdin."""
    options = {
        "action": action,
        "ip": "127.0.0.1",
        "ipport": port,
        "username": user,
        "password": password,
        "power_timeout": 5,
        "login_timeout": 3,
        "nodename": "ctl2",
        "pcmk_host_list": "ctl2",
        **(extra or {}),
    }
    return run_fence(AGENT, options, argv=argv or ())


@pytest.fixture(params=["ipmi_sim", "pyghmi_bmc"])
def bmc(request, installed_agents):
    return request.getfixturevalue(request.param)


def test_status_off_on_reboot(bmc):
    assert fence(bmc.port, "status")[:2] == (0, "Status: ON")
    rc, out, err, _ = fence(bmc.port, "off")
    assert (rc, out) == (0, "Success: Powered OFF"), err
    assert bmc.power is False
    assert fence(bmc.port, "status")[:2] == (2, "Status: OFF")
    assert fence(bmc.port, "on")[:2] == (0, "Success: Powered ON")
    assert bmc.power is True
    assert fence(bmc.port, "reboot")[:2] == (0, "Success: Rebooted")
    assert bmc.power is True
    assert fence(bmc.port, "monitor")[0] == 0


def test_reboot_by_power_cycle_is_seen_off_then_on(bmc):
    bmc.clear_history()
    rc, out, err, _ = fence(bmc.port, "reboot", extra={"method": "cycle"})
    assert (rc, out) == (0, "Success: Rebooted"), err
    assert bmc.power is True
    assert any(h.startswith(("set power 0", "set cycle")) for h in bmc.history)


def test_argv_form(ipmi_sim, installed_agents):
    argv = [
        "-a",
        "127.0.0.1",
        "-u",
        str(ipmi_sim.port),
        "-l",
        "admin",
        "-S",
        "/bin/echo adminpass",
        "-o",
        "status",
    ]
    assert fence(ipmi_sim.port, argv=argv)[:2] == (0, "Status: ON")


def test_legacy_option_key_is_the_action(ipmi_sim, installed_agents):
    rc, out, _, _ = fence(ipmi_sim.port, None, extra={"option": "status"})
    assert (rc, out) == (0, "Status: ON")


def test_stdin_without_action_changes_nothing(ipmi_sim, installed_agents):
    ipmi_sim.clear_history()
    rc, out, err, _ = fence(ipmi_sim.port, None)
    assert rc == 1 and out == ""
    assert "no action" in err
    assert ipmi_sim.power is True
    assert not any(h.startswith("set") for h in ipmi_sim.history)


@pytest.mark.parametrize(("user", "password"), [("admin", "wrong"), ("nobody", "x")])
def test_bad_credentials_fail_fast_without_leaking(
    ipmi_sim, installed_agents, user, password
):
    rc, out, err, seconds = fence(ipmi_sim.port, "status", user=user, password=password)
    assert rc == 1 and out == ""
    assert seconds < 5
    if password != "x":
        assert password not in err


def test_nothing_listening_gives_up_within_login_timeout(installed_agents):
    rc, _, err, seconds = fence(free_udp_port(), "status", extra={"login_timeout": 2})
    assert rc == 1
    assert seconds < 6
    assert "Traceback" not in err


def test_bmc_that_acknowledges_off_but_stays_on(ipmi_sim, installed_agents):
    ipmi_sim.set_fault("stuck_on")
    rc, out, err, seconds = fence(ipmi_sim.port, "off", extra={"power_timeout": 3})
    assert rc == 1
    assert "Success" not in out
    assert "still reports ON" in err
    assert 3 <= seconds < 10


def test_stuck_bmc_power_cycle_is_no_success(ipmi_sim, installed_agents):
    ipmi_sim.set_fault("stuck_on")
    rc, out, _, _ = fence(
        ipmi_sim.port, "reboot", extra={"method": "cycle", "power_timeout": 3}
    )
    assert rc == 1
    assert "Success" not in out


def test_bmc_error_on_power_control_fails_at_once(ipmi_sim, installed_agents):
    ipmi_sim.set_fault("fail_control")
    rc, out, err, seconds = fence(ipmi_sim.port, "off")
    assert rc == 1 and out == ""
    assert seconds < 5, "a completion code must not wait out power_timeout"


def test_slow_bmc_cannot_hang_the_agent(ipmi_sim, installed_agents):
    ipmi_sim.set_fault("slow_seconds", 20)
    rc, _, err, seconds = fence(
        ipmi_sim.port, "status", extra={"login_timeout": 2, "shell_timeout": 2}
    )
    assert rc == 1
    assert seconds < 10
    assert "Traceback" not in err


@pytest.mark.parametrize("pyghmi_bmc", [{"power_delay": 2.0}], indirect=True)
def test_delayed_power_off_is_waited_for(pyghmi_bmc, installed_agents):
    rc, out, _, seconds = fence(pyghmi_bmc.port, "off")
    assert (rc, out) == (0, "Success: Powered OFF")
    assert pyghmi_bmc.power is False
    assert seconds >= 2.0


KG = "0123456789abcdef0123"


@pytest.mark.parametrize("pyghmi_bmc", [{"kg": KG}], indirect=True)
def test_kg_key(pyghmi_bmc, installed_agents):
    hex_kg = KG.encode().hex()
    rc, out, err, _ = fence(pyghmi_bmc.port, "status", extra={"hexadecimal_kg": hex_kg})
    assert (rc, out) == (0, "Status: ON"), err
    assert hex_kg not in err
    rc, _, _, seconds = fence(pyghmi_bmc.port, "status")
    assert rc == 1
    assert seconds < 6


#: Runs the installed library's fence_hakit_ipmi and lists the modules it loaded.
PROBE = """
sys.path.insert(0, os.environ["HAKIT_LIB"])
from fence_agents.ipmi import main
main()
"""


def test_status_talks_at_pyghmis_session_level(ipmi_sim, installed_agents, tmp_path):
    out = tmp_path / "modules.txt"
    stdin = "".join(
        f"{line}\n"
        for line in (
            "action=status",
            "ip=127.0.0.1",
            f"ipport={ipmi_sim.port}",
            "username=admin",
            "password=adminpass",
        )
    )
    done, loaded = run_probed(
        [SYSTEM_PYTHON, "-s"],
        PROBE,
        out,
        env={"PATH": "/usr/bin:/bin", "HAKIT_LIB": str(LIBDIR)},
        stdin=stdin,
    )
    assert (done.returncode, done.stdout.strip()) == (0, "Status: ON"), done.stderr
    assert "pyghmi.ipmi.private.session" in loaded
    # Command pulls in the SDR, FRU and OEM modules and a Get Device ID.
    assert "pyghmi.ipmi.command" not in loaded
    assert not loaded & {"dataclasses", "subprocess", "xml.etree.ElementTree"}
    # pyghmi encrypts through python3-cryptography (hakit's own libcrypto
    # binding, fence_agents/ipmi/aes.py, was removed: issue #11), and a
    # status that logs nothing loads no logging.
    assert "cryptography" in top_level(loaded)
    assert "logging" not in top_level(loaded)
