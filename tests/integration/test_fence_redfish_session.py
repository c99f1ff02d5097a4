"""fence_hakit_redfish against a BMC with sessions and task monitors (issue #4).

sushy-tools has neither, so the lab emulator's stand-in layers add them
(``tests/lab/redfish_layers.py``): a SessionService with X-Auth-Token sessions
in front of sushy's basic auth, and Resets answered 202 with a task monitor.
The emulator counts logins, logouts, basic-auth requests and monitor answers;
the tests compare the counts before and after one agent run.
"""

from __future__ import annotations

import pytest

from tests.lab.agents import run_redfish_fence
from tests.lab.redfish import TASK_NEVER

pytestmark = [pytest.mark.redfish_sim]

WRONG_PASSWORD = "not-the-Passw0rd"


def fence(emulator, action, **extra):
    """Run the installed agent once (stdin options); return rc, out, err, seconds."""
    return run_redfish_fence(emulator, action, **{"shell_timeout": 5, **extra})


def counted(emulator, action, **extra):
    """Run ``fence`` and return its result and what the emulator counted meanwhile."""
    before = emulator.stats()
    result = fence(emulator, action, **extra)
    after = emulator.stats()
    return result, {name: after[name] - before[name] for name in after}


def requests_since(emulator, offset):
    """(request line, status) the emulator logged after byte ``offset`` of its log."""
    with open(emulator.log_file, "rb") as handle:
        handle.seek(offset)
        lines = handle.read().decode(errors="replace").splitlines()
    # 127.0.0.1 - - [date] "GET /path HTTP/1.1" 200 -   (colour codes aside)
    return [
        (line.split('"')[1], int(line.rsplit('" ', 1)[1].split()[0]))
        for line in lines
        if "HTTP/1.1" in line
    ]


@pytest.fixture
def rf(installed_agents, redfish_emulator):
    """The emulator with a SessionService."""
    redfish_emulator.set_sessions(True)
    return redfish_emulator


# -- sessions -------------------------------------------------------------------


def test_the_stand_in_session_service_on_the_wire(rf):
    """What the agent relies on, checked with a plain HTTP client."""
    uri = rf.systems_uris[0]
    root = rf.request("GET", "/redfish/v1/", auth=False).json()
    sessions = root["Links"]["Sessions"]["@odata.id"]
    assert root["SessionService"] == {"@odata.id": "/redfish/v1/SessionService"}
    login = {"UserName": "admin", "Password": WRONG_PASSWORD}
    assert rf.request("POST", sessions, json_body=login, auth=False).status_code == 401
    login["Password"] = rf.password
    created = rf.request("POST", sessions, json_body=login, auth=False)
    assert created.status_code == 201
    assert created.headers["Location"] == created.json()["@odata.id"]
    assert created.json()["Password"] is None
    with rf.session(auth=False) as client:
        client.headers["X-Auth-Token"] = created.headers["X-Auth-Token"]
        assert client.get(rf.base_url + uri).json()["PowerState"] == "On"
        gone = client.delete(rf.base_url + created.headers["Location"])
        assert gone.status_code == 204
        assert client.get(rf.base_url + uri).status_code == 401
    assert rf.stats()["sessions_live"] == 0


def test_every_action_is_one_session_logged_out_and_no_basic_auth(rf):
    uri = rf.systems_uris[0]
    for action, want_rc, want_out in (
        ("status", 0, "Status: ON"),
        ("off", 0, "Success: Powered OFF"),
        ("status", 2, "Status: OFF"),
        ("on", 0, "Success: Powered ON"),
        ("reboot", 0, "Success: Rebooted"),
        ("monitor", 0, ""),
    ):
        (rc, out, err, _), seen = counted(rf, action)
        assert (rc, out) == (want_rc, want_out), (action, err)
        assert seen["sessions_created"] == 1, action
        assert seen["sessions_deleted"] == 1, action
        assert seen["basic_requests"] == 0, action
    assert rf.stats()["sessions_live"] == 0
    assert rf.power(uri) == "On"
    # validate-all checks the options only: it never logs in.
    (rc, _, err, _), seen = counted(rf, "validate-all")
    assert rc == 0, err
    assert seen["sessions_created"] == seen["basic_requests"] == 0


def test_session_is_logged_out_after_a_failure(rf):
    rf.set_reset_error(True)
    (rc, out, err, _), seen = counted(rf, "off")
    assert (rc, out) == (1, "")
    assert "HTTP 500" in err
    assert (seen["sessions_created"], seen["sessions_deleted"]) == (1, 1)
    # The System is chosen after the login: a plug that matches none fails
    # after the session exists.
    (rc, _, err, _), seen = counted(rf, "status", plug="no-such-node")
    assert rc == 1 and "no System matches" in err
    assert (seen["sessions_created"], seen["sessions_deleted"]) == (1, 1)
    assert rf.stats()["sessions_live"] == 0


def test_wrong_password_fails_the_login_without_showing_it(rf):
    (rc, out, err, seconds), seen = counted(rf, "status", password=WRONG_PASSWORD)
    assert (rc, out) == (1, "")
    assert "refused the credentials" in err.splitlines()[-1]
    assert WRONG_PASSWORD not in err
    assert "Traceback" not in err
    assert seen["logins_refused"] == 1
    assert seen["sessions_created"] == seen["basic_requests"] == 0
    assert seconds < 5


def test_verbose_log_shows_neither_password_nor_session_token(rf, tmp_path):
    debug_file = tmp_path / "debug.log"
    (rc, out, err, _), seen = counted(rf, "reboot", verbose=1, debug_file=debug_file)
    assert (rc, out) == (0, "Success: Rebooted"), err
    assert seen["sessions_created"] == seen["sessions_deleted"] == 1
    logged = debug_file.read_text() + err
    assert "ResetType=ForceOff: HTTP 204" in logged  # hakit's own request lines
    assert "adminpass" not in logged
    # The library's own DEBUG dumps carry the token in X-Auth-Token headers.
    assert "X-Auth-Token" not in logged
    assert "x-auth-token" not in logged.lower()


def test_without_a_session_service_basic_auth_is_used(
    installed_agents, redfish_emulator
):
    (rc, out, err, _), seen = counted(redfish_emulator, "status")
    assert (rc, out) == (0, "Status: ON"), err
    assert seen["sessions_created"] == seen["logins_refused"] == 0
    assert seen["basic_requests"] >= 1


# -- task monitors --------------------------------------------------------------


@pytest.mark.parametrize("final", ["task", "operation"])
def test_off_and_reboot_wait_for_the_task_then_read_the_state(rf, final):
    uri = rf.systems_uris[0]
    rf.set_task(0.8, final=final)
    offset = rf.log_file.stat().st_size
    (rc, out, err, seconds), seen = counted(rf, "off")
    assert (rc, out) == (0, "Success: Powered OFF"), err
    assert seconds >= 0.8
    assert (seen["tasks_created"], seen["tasks_reported"]) == (1, 1)
    # The state is read back after the monitor gave its final answer.
    lines = requests_since(rf, offset)
    final_answer = max(
        i
        for i, (request, status) in enumerate(lines)
        if "TaskMonitors/" in request and status != 202
    )
    assert any(f"GET {uri} " in request for request, _ in lines[final_answer + 1 :])
    assert rf.power(uri) == "Off"

    (rc, out, err, _), seen = counted(rf, "reboot")
    assert (rc, out) == (0, "Success: Rebooted"), err
    assert (seen["tasks_created"], seen["tasks_reported"]) == (2, 2)
    assert seen["sessions_created"] == seen["sessions_deleted"] == 1
    assert seen["basic_requests"] == 0
    assert rf.power(uri) == "On"


@pytest.mark.parametrize(
    ("final", "reason"),
    [
        ("task", "ended as Exception (Injected fault"),  # 200 and the Task
        ("operation", "failed: HTTP 500 (Injected fault"),  # the reset's own error
    ],
    ids=["task", "operation"],
)
def test_failed_task_is_a_failure_at_once(rf, final, reason):
    rf.set_task(0.5, fails=True, final=final)
    (rc, out, err, seconds), seen = counted(rf, "off", power_timeout=10)
    assert (rc, out) == (1, ""), err
    assert f"task of ForceOff {reason}" in err.splitlines()[-1]
    assert seconds < 5  # not power_timeout: the task said it failed
    assert seen["tasks_reported"] == 1
    assert seen["sessions_created"] == seen["sessions_deleted"] == 1
    assert rf.power(rf.systems_uris[0]) == "On"


def test_task_refused_by_the_bmc_names_the_reason(rf):
    rf.set_task(0.3)
    rf.set_disable_power_off(True)  # sushy answers the ForceOff with 400
    rc, out, err, _ = fence(rf, "off")
    assert (rc, out) == (1, "")
    assert "ended as Exception (" in err.splitlines()[-1]
    assert rf.power(rf.systems_uris[0]) == "On"


def test_task_longer_than_shell_timeout_is_waited_for_within_power_timeout(rf):
    """A reset's task is the power change under way: power_timeout bounds it."""
    rf.set_task(3)
    result, seen = counted(rf, "off", shell_timeout=1, power_timeout=10)
    rc, out, err, seconds = result
    assert (rc, out) == (0, "Success: Powered OFF"), err
    assert 3 <= seconds < 10
    assert seen["task_polls"] >= 2
    assert rf.power(rf.systems_uris[0]) == "Off"


def test_task_that_never_finishes_gives_up_in_time(rf):
    rf.set_task(TASK_NEVER)
    (rc, out, err, seconds), seen = counted(rf, "off", shell_timeout=2, power_timeout=2)
    assert (rc, out) == (1, "")
    assert "did not finish" in err.splitlines()[-1]
    assert seconds < 5
    assert seen["task_polls"] >= 2
    assert seen["sessions_created"] == seen["sessions_deleted"] == 1
    assert rf.power(rf.systems_uris[0]) == "On"
