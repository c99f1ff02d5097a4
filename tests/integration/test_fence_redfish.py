"""fence_hakit_redfish against the sushy-tools Redfish emulator (TLS, basic auth)."""

from __future__ import annotations

import sys

import pytest

from tests.lab.agents import LIBDIR, run_redfish_fence
from tests.lab.ports import free_port
from tests.lab.probe import run_probed

pytestmark = [pytest.mark.redfish_sim]


def fence(emulator, action=None, **extra):
    return run_redfish_fence(emulator, action, **extra)


@pytest.fixture
def rf(installed_agents, redfish_emulator):
    return redfish_emulator


def test_status_off_on_reboot(rf):
    uri = rf.systems_uris[0]
    assert fence(rf, "status")[:2] == (0, "Status: ON")
    rc, out, err, _ = fence(rf, "off")
    assert (rc, out) == (0, "Success: Powered OFF"), err
    assert rf.power(uri) == "Off"
    assert fence(rf, "status")[:2] == (2, "Status: OFF")
    assert fence(rf, "on")[:2] == (0, "Success: Powered ON")
    assert rf.power(uri) == "On"
    assert fence(rf, "reboot")[:2] == (0, "Success: Rebooted")
    assert fence(rf, "monitor")[0] == 0


def test_validate_all_checks_options_without_contacting_the_bmc(rf, tmp_path):
    # A wrong password passes: validate-all never logs in (as ClusterLabs'
    # agents; monitor is the check that reaches the BMC).
    rc, _, err, _ = fence(rf, "validate-all", password="wrong")
    assert rc == 0, err
    assert rf.power(rf.systems_uris[0]) == "On"
    missing = tmp_path / "no-ca.pem"
    rc, _, err, _ = fence(rf, "validate-all", ssl_ca_file=missing)
    assert rc == 1
    assert f"ssl_ca_file: {missing} is not a readable file" in err


def test_wrong_password(rf):
    rc, out, err, seconds = fence(rf, "status", password="wrong")
    assert rc == 1 and out == ""
    assert "credentials" in err
    assert "wrong" not in err
    assert seconds < 5


def test_nothing_listening(installed_agents, redfish_emulator):
    port = free_port()
    rc, _, err, seconds = fence(redfish_emulator, "status", ipport=port)
    assert rc == 1
    assert seconds < 10
    assert "Traceback" not in err


def test_tls_is_verified_by_default(rf):
    rc, _, err, _ = fence(rf, "status", ssl_ca_file=None)
    assert rc == 1
    assert "TLS verification failed" in err
    assert fence(rf, "status", ssl_ca_file=None, ssl_insecure=1)[:2] == (
        0,
        "Status: ON",
    )


def test_reset_refused_with_400_fails_fast(rf):
    rf.set_disable_power_off(True)
    rc, out, err, seconds = fence(rf, "off")
    assert rc == 1 and out == ""
    assert "HTTP 400" in err
    assert seconds < 3


def test_reset_answered_500_fails_fast(rf):
    rf.set_reset_error(True)
    rc, _, err, seconds = fence(rf, "off")
    assert rc == 1
    assert "HTTP 500" in err
    assert seconds < 3


def test_bmc_that_accepts_off_but_never_powers_off(rf):
    rf.set_power_delay(3600)
    rc, out, err, seconds = fence(rf, "off", power_timeout=2)
    assert rc == 1
    assert "Success" not in out
    assert "still reports ON" in err
    assert seconds < 8


def test_slow_bmc_gives_up_within_its_timeout(rf):
    rf.set_slow(30)
    rc, _, err, seconds = fence(rf, "status", login_timeout=2)
    assert rc == 1
    assert seconds < 10
    assert "Traceback" not in err


def test_several_systems_without_selection_is_refused(installed_agents, redfish_multi):
    rc, _, err, _ = fence(redfish_multi, "off")
    assert rc == 1
    assert "3 Systems" in err
    # The line lists the candidates, so the operator can pick one.
    assert all(uri in err for uri in redfish_multi.systems_uris)
    assert all(redfish_multi.power(u) == "On" for u in redfish_multi.systems_uris)


def test_several_systems_by_systems_uri_and_by_plug(installed_agents, redfish_multi):
    second = redfish_multi.systems_uris[1]
    rc, out, err, _ = fence(redfish_multi, "off", systems_uri=second)
    assert (rc, out) == (0, "Success: Powered OFF"), err
    assert [redfish_multi.power(u) for u in redfish_multi.systems_uris] == [
        "On",
        "Off",
        "On",
    ]
    name = redfish_multi.system_names[2]
    assert fence(redfish_multi, "status", plug=name)[:2] == (0, "Status: ON")
    rc, _, err, _ = fence(redfish_multi, "status", plug="no-such-node")
    assert rc == 1 and "no System matches" in err


def test_plug_naming_two_systems_is_refused(installed_agents, tmp_path):
    """Two Systems with one Name (two blades called the same): never a guess."""
    from tests.lab.redfish import RedfishEmulator

    emulator = RedfishEmulator(tmp_path / "rf", free_port(), systems=3)
    emulator.system_names[1] = emulator.system_names[0]
    emulator.start()
    try:
        rc, out, err, _ = fence(emulator, "off", plug=emulator.system_names[0])
        assert (rc, out) == (1, "")
        assert "names 2 Systems" in err
        assert all(emulator.power(u) == "On" for u in emulator.systems_uris)
        # The UUID is unique: it selects exactly one of the two.
        uuid = emulator.system_uuids[1]
        rc, out, err, _ = fence(emulator, "off", plug=uuid)
        assert (rc, out) == (0, "Success: Powered OFF"), err
        powers = [emulator.power(u) for u in emulator.systems_uris]
        assert powers == ["On", "Off", "On"]
    finally:
        emulator.stop()


def test_certificate_for_another_name_is_refused(installed_agents, tmp_path):
    from tests.lab.redfish import RedfishEmulator

    emulator = RedfishEmulator(tmp_path / "rf", free_port(), wrong_name_cert=True)
    emulator.start()
    try:
        rc, out, err, _ = fence(emulator, "status")
        assert rc == 1 and out == ""
        assert "TLS verification failed" in err
    finally:
        emulator.stop()


#: Runs the library as installed for the tests and lists the modules it loaded.
PROBE = """
sys.path.insert(0, os.environ["HAKIT_LIB"])
from fence_agents.redfish import main
main()
"""


def test_status_is_two_requests_and_imports_no_slow_stdlib(rf, tmp_path):
    out = tmp_path / "modules.txt"
    values = {
        "action": "status",
        "ip": "127.0.0.1",
        "ipport": rf.port,
        "username": "admin",
        "password": "adminpass",
        "ssl_ca_file": rf.ca_file,
        "systems_uri": rf.systems_uris[0],
    }
    before = rf.log_file.stat().st_size
    done, loaded = run_probed(
        [sys.executable, "-s"],
        PROBE,
        out,
        env={"PATH": "/usr/bin:/bin", "HAKIT_LIB": str(LIBDIR)},
        stdin="".join(f"{k}={v}\n" for k, v in values.items()),
    )
    assert (done.returncode, done.stdout.strip()) == (0, "Status: ON"), done.stderr
    with open(rf.log_file, "rb") as handle:
        handle.seek(before)
        requests = [
            line for line in handle.read().decode().splitlines() if "HTTP/" in line
        ]
    # The service root (session or basic auth?) and the System: nothing else.
    assert len(requests) == 2, requests
    assert not loaded & {
        "dataclasses",
        "inspect",
        "subprocess",
        "xml.etree.ElementTree",
    }
