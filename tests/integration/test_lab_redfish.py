"""Prove the Redfish lab: sushy-tools answers real clients like a BMC would.

Clients: curl and requests with verified TLS, the DMTF ``redfish`` library and
ClusterLabs ``fence_redfish``.  Passwords reach curl and fence_redfish on
stdin, never on argv.  Every emulator is stopped by pid; every wait is bounded.
"""

from __future__ import annotations

import json
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import requests

from tests.lab.ports import free_port, port_is_free
from tests.lab.redfish import REPO_ROOT, RedfishEmulator
from tests.unavailable import unavailable

pytestmark = pytest.mark.redfish_sim

SAFE_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"
X509_V_ERR_IP_ADDRESS_MISMATCH = 64  # we connect to an IP, not a name


def _gone(pid: int) -> bool:
    """Return True when ``pid`` has exited; a zombie counts (LAB.md section 2)."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _wait_gone(pid: int, timeout: float) -> bool:
    """Poll until ``pid`` is gone; return False after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while not _gone(pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
    return True


def _curl(emu: RedfishEmulator, path: str, *, auth: bool) -> tuple[int, str]:
    """GET ``path`` with curl, verifying TLS; credentials go in a stdin config."""
    curl = shutil.which("curl", path=SAFE_PATH)
    if curl is None:
        unavailable("curl is not installed")
    config = f'user = "{emu.username}:{emu.password}"\n' if auth else ""
    result = subprocess.run(
        [
            curl,
            "--silent",
            "--show-error",
            "--max-time",
            "10",
            "--cacert",
            str(emu.ca_file),
            "--config",
            "-",
            "--write-out",
            "\n%{http_code}",
            emu.base_url + path,
        ],
        input=config,
        capture_output=True,
        text=True,
        timeout=15,
        check=True,
        env={"PATH": SAFE_PATH},
    )
    body, _, code = result.stdout.rpartition("\n")
    return int(code), body


def _fence_redfish(
    emu: RedfishEmulator, uri: str, action: str, *, ca_bundle: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run ClusterLabs fence_redfish with every option on stdin (as fenced does)."""
    agent = shutil.which("fence_redfish", path=SAFE_PATH)
    if agent is None:
        unavailable("fence_redfish is not installed (fence-agents)")
    env = {"PATH": SAFE_PATH, "LANG": "C.UTF-8"}
    if ca_bundle:
        env["REQUESTS_CA_BUNDLE"] = str(emu.ca_file)
    options = {
        "ip": emu.host,
        "ipport": str(emu.port),
        "username": emu.username,
        "password": emu.password,
        "systems_uri": uri,
        # "option=" is the pre-4.x name: 4.12 ignores it and reboots instead.
        "action": action,
    }
    return subprocess.run(
        [agent],
        input="".join(f"{key}={value}\n" for key, value in options.items()),
        capture_output=True,
        text=True,
        timeout=40,
        check=False,
        env=env,
    )


# -- TLS, discovery and auth ---------------------------------------------------


def test_curl_reads_service_root_and_systems_with_verified_tls(
    redfish_emulator: RedfishEmulator,
) -> None:
    emu = redfish_emulator
    code, body = _curl(emu, "/redfish/v1/", auth=False)
    assert code == 200
    assert json.loads(body)["Systems"] == {"@odata.id": "/redfish/v1/Systems"}

    code, body = _curl(emu, "/redfish/v1/Systems", auth=True)
    assert code == 200
    members = [m["@odata.id"] for m in json.loads(body)["Members"]]
    assert members == emu.systems_uris


def test_requests_reads_systems_with_verified_tls(
    redfish_emulator: RedfishEmulator,
) -> None:
    emu = redfish_emulator
    auth = (emu.username, emu.password)
    root = requests.get(
        f"{emu.base_url}/redfish/v1/", verify=str(emu.ca_file), timeout=10
    )
    assert root.status_code == 200
    (uri,) = emu.systems_uris
    system = requests.get(
        emu.base_url + uri, auth=auth, verify=str(emu.ca_file), timeout=10
    )
    assert system.status_code == 200
    assert system.json()["PowerState"] == "On"
    assert system.json()["Name"] == "node1"
    assert system.json()["UUID"] == emu.system_uuids[0]


def test_everything_but_the_service_root_needs_basic_auth(
    redfish_emulator: RedfishEmulator,
) -> None:
    emu = redfish_emulator
    (uri,) = emu.systems_uris
    assert emu.request("GET", "/redfish/v1/", auth=False).status_code == 200
    assert emu.request("GET", "/redfish/v1/Systems", auth=False).status_code == 401
    assert emu.request("GET", uri, auth=False).status_code == 401
    wrong = requests.get(
        emu.base_url + uri,
        auth=(emu.username, "wrong"),
        verify=str(emu.ca_file),
        timeout=10,
    )
    assert wrong.status_code == 401
    assert emu.request("GET", uri).status_code == 200


def test_wrong_name_certificate_fails_verification(tmp_path: Path) -> None:
    emu = RedfishEmulator(tmp_path, free_port(), wrong_name_cert=True)
    emu.start()
    try:
        with pytest.raises(requests.exceptions.SSLError):
            requests.get(
                f"{emu.base_url}/redfish/v1/", verify=str(emu.ca_file), timeout=10
            )

        # Same CA, so the chain is fine and only the name is wrong.
        context = ssl.create_default_context(cafile=str(emu.ca_file))
        with (
            socket.create_connection((emu.host, emu.port), timeout=10) as raw,
            pytest.raises(ssl.SSLCertVerificationError) as caught,
        ):
            context.wrap_socket(raw, server_hostname=emu.host)
        assert caught.value.verify_code == X509_V_ERR_IP_ADDRESS_MISMATCH

        # The helpers check the name the cert carries, so arranging still works.
        assert emu.power(emu.systems_uris[0]) == "On"
    finally:
        emu.stop()


# -- power and faults --------------------------------------------------------------


def test_force_off_and_on_show_on_the_next_get(
    redfish_emulator: RedfishEmulator,
) -> None:
    emu = redfish_emulator
    (uri,) = emu.systems_uris
    assert emu.reset(uri, "ForceOff").status_code == 204
    assert emu.power(uri) == "Off"
    assert emu.reset(uri, "ForceOn").status_code == 204
    assert emu.power(uri) == "On"


def test_multi_has_distinct_systems_powered_independently(
    redfish_multi: RedfishEmulator,
) -> None:
    emu = redfish_multi
    assert len(set(emu.system_uuids)) == 3
    assert emu.system_names == ["node1", "node2", "node3"]
    listing = emu.request("GET", "/redfish/v1/Systems").json()
    assert sorted(m["@odata.id"] for m in listing["Members"]) == sorted(
        emu.systems_uris
    )
    emu.set_power(emu.systems_uris[1], on=False)
    assert [emu.power(uri) for uri in emu.systems_uris] == ["On", "Off", "On"]
    emu.set_power(emu.systems_uris[1], on=True)
    assert emu.power(emu.systems_uris[1]) == "On"


def test_disable_power_off_answers_400(tmp_path: Path) -> None:
    emu = RedfishEmulator(tmp_path, free_port(), disable_power_off=True)
    emu.start()
    try:
        (uri,) = emu.systems_uris
        for reset_type in ("ForceOff", "GracefulShutdown"):
            assert emu.reset(uri, reset_type).status_code == 400
        assert emu.power(uri) == "On"
        emu.set_disable_power_off(False)  # no restart needed
        assert emu.reset(uri, "ForceOff").status_code == 204
        assert emu.power(uri) == "Off"
    finally:
        emu.stop()


def test_power_delay_3600_accepts_but_never_applies(tmp_path: Path) -> None:
    emu = RedfishEmulator(tmp_path, free_port(), power_delay=3600)
    emu.start()
    try:
        (uri,) = emu.systems_uris
        assert emu.reset(uri, "ForceOff").status_code == 204
        deadline = time.monotonic() + 1.5
        while time.monotonic() < deadline:
            assert emu.power(uri) == "On"
            time.sleep(0.25)
        emu.set_power(uri, on=False)  # arranging ignores the delay
        assert emu.power(uri) == "Off"
    finally:
        emu.stop()


def test_power_delay_can_change_while_running(
    redfish_emulator: RedfishEmulator,
) -> None:
    emu = redfish_emulator
    (uri,) = emu.systems_uris
    emu.set_power_delay(2)  # lands 1-2 s after the POST
    started = time.monotonic()
    assert emu.reset(uri, "ForceOff").status_code == 204
    assert emu.power(uri) == "On"
    while emu.power(uri) != "Off":
        assert time.monotonic() - started < 3.0, "ForceOff never landed"
        time.sleep(0.1)
    assert time.monotonic() - started >= 0.5


def test_reset_error_answers_500_and_does_nothing(
    redfish_emulator: RedfishEmulator,
) -> None:
    emu = redfish_emulator
    (uri,) = emu.systems_uris
    emu.set_reset_error(True)
    resp = emu.reset(uri, "ForceOff")
    assert resp.status_code == 500
    assert resp.headers["Content-Type"] == "application/json"
    assert resp.json()["error"]["code"] == "Base.1.0.GeneralError"
    assert emu.power(uri) == "On"
    # The other endpoints are untouched; a 401 still comes first.
    assert emu.request("GET", "/redfish/v1/Systems").status_code == 200
    assert (
        emu.request(
            "POST", uri + "/Actions/ComputerSystem.Reset", auth=False
        ).status_code
        == 401
    )
    emu.set_reset_error(False)
    assert emu.reset(uri, "ForceOff").status_code == 204
    assert emu.power(uri) == "Off"


def test_slow_delays_every_answer(redfish_emulator: RedfishEmulator) -> None:
    emu = redfish_emulator
    (uri,) = emu.systems_uris
    emu.set_slow(1.0)
    started = time.monotonic()
    assert emu.power(uri) == "On"
    assert time.monotonic() - started >= 1.0
    with pytest.raises(requests.exceptions.ReadTimeout):
        emu.request("GET", uri, timeout=0.3)
    emu.set_slow(0)
    started = time.monotonic()
    assert emu.power(uri) == "On"
    assert time.monotonic() - started < 0.5


# -- real clients ------------------------------------------------------------------


def test_dmtf_redfish_library_reads_power(redfish_emulator: RedfishEmulator) -> None:
    try:
        import redfish
    except ImportError as err:
        unavailable(f"the DMTF redfish library is not importable: {err}")
    if not hasattr(redfish, "redfish_client"):  # HPE python-ilorest-library clash
        unavailable(f"{redfish.__file__} is not DMTF python-redfish-library")
    emu = redfish_emulator
    (uri,) = emu.systems_uris
    client = redfish.redfish_client(
        emu.base_url,
        emu.username,
        emu.password,
        cafile=str(emu.ca_file),
        timeout=10,
        max_retry=1,
    )
    # auth="session" fails on sushy: it has no SessionService (LAB.md 13).
    client.login(auth="basic")
    try:
        resp = client.get(uri)
        assert resp.status == 200
        assert resp.dict["PowerState"] == "On"
        emu.set_power(uri, on=False)
        assert client.get(uri).dict["PowerState"] == "Off"
    finally:
        client.logout()


def test_fence_redfish_status_off_on(redfish_emulator: RedfishEmulator) -> None:
    emu = redfish_emulator
    (uri,) = emu.systems_uris
    status = _fence_redfish(emu, uri, "status")
    assert (status.returncode, status.stdout.strip()) == (0, "Status: ON"), status

    off = _fence_redfish(emu, uri, "off")
    assert off.returncode == 0, off
    assert emu.power(uri) == "Off"
    status = _fence_redfish(emu, uri, "status")
    assert (status.returncode, status.stdout.strip()) == (2, "Status: OFF"), status

    on = _fence_redfish(emu, uri, "on")
    assert on.returncode == 0, on
    assert emu.power(uri) == "On"


def test_fence_redfish_verifies_tls(redfish_emulator: RedfishEmulator) -> None:
    emu = redfish_emulator
    (uri,) = emu.systems_uris
    # Without the lab CA in REQUESTS_CA_BUNDLE the system store rejects it.
    status = _fence_redfish(emu, uri, "status", ca_bundle=False)
    assert status.returncode == 1, status


# -- process hygiene -----------------------------------------------------------------


def test_stop_frees_pid_and_port(tmp_path: Path) -> None:
    emu = RedfishEmulator(tmp_path, free_port())
    emu.start()
    pid = emu.pid
    assert pid is not None
    emu.stop()
    assert _gone(pid)
    assert port_is_free(emu.port)
    emu.stop()  # idempotent


def test_emulator_dies_with_the_process_that_started_it(tmp_path: Path) -> None:
    port = free_port()
    starter_code = (
        "import sys, time\n"
        "from tests.lab.redfish import RedfishEmulator\n"
        "emu = RedfishEmulator(sys.argv[1], int(sys.argv[2]))\n"
        "emu.start()\n"
        "print(emu.pid, flush=True)\n"
        "time.sleep(60)\n"
    )
    starter = subprocess.Popen(
        [sys.executable, "-c", starter_code, str(tmp_path), str(port)],
        cwd=REPO_ROOT,
        env={"PATH": SAFE_PATH, "PYTHONPATH": str(REPO_ROOT)},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    emulator_pid = None
    try:
        assert starter.stdout is not None
        line = starter.stdout.readline()  # bounded: the starter's start() times out
        emulator_pid = int(line)
        starter.kill()
        starter.wait(timeout=5)
        assert _wait_gone(emulator_pid, timeout=5), "emulator outlived its starter"
        # A zombie leader may still have threads holding the socket for a moment.
        deadline = time.monotonic() + 2
        while not port_is_free(port):
            assert time.monotonic() < deadline, f"port {port} still bound"
            time.sleep(0.05)
    finally:
        if starter.poll() is None:
            starter.kill()
            starter.wait(timeout=5)
        if emulator_pid is not None and not _gone(emulator_pid):
            leftover = psutil.Process(emulator_pid)
            if "--launch" in leftover.cmdline():  # ours, not a recycled pid
                leftover.send_signal(signal.SIGKILL)
