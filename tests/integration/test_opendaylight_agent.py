"""``ocf:hakit:opendaylight`` on the lab's Karaf stand-in, run as execd runs it.

OpenDaylight is in neither Debian nor PyPI: the member is the stand-in of
:mod:`tests.lab.odl_standin` in a Karaf-like home (:mod:`tests.lab.odl`),
run as ``nobody`` on a lab port.  With ``HAKIT_ODL_HOME`` pointing at a real
OpenDaylight home the same tests run against it, except those that need
one of the stand-in's switches.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.test_ocf_tester import check as ocf_tester_check
from tests.lab import odl
from tests.lab.ports import free_port
from tests.unavailable import unavailable

pytestmark = [pytest.mark.daemon]

SECRET = "s3cret-odl"


@pytest.fixture
def member(installed_agents) -> Iterator[odl.Member]:
    if sys.version_info < (3, 9) or not Path("/usr/bin/python3").exists():
        unavailable("the Karaf stand-in needs /usr/bin/python3")
    # nobody must reach the home: pytest's tmp_path is private to root.
    root = Path(tempfile.mkdtemp(prefix="hakit-odl-", dir="/tmp"))
    root.chmod(0o755)
    made = odl.Member(root, free_port(), f"odl-{os.getpid()}-{root.name[-6:]}")
    try:
        yield made
    finally:
        stopped = made.run("stop", stop_grace="1")
        odl.kill(made.pid if made.pid and odl.alive(made.pid) else None)
        subprocess.run(["rm", "-rf", str(root)], check=False)
        assert stopped.rc == 0, stopped.err


def test_lifecycle_starts_ready_as_the_user_and_stops_the_jvm(member):
    assert member.run("monitor").rc == 7
    started = member.run("start")
    assert started.rc == 0, started.err
    pid = member.pid
    assert pid is not None and odl.alive(pid)
    if not member.real:
        seen = member.seen_env()
        assert seen["uid"] == 65534, "Karaf runs as the configured user"
        assert seen["JAVA_OPTS"] == "-Xms64m -Xmx128m"
        assert seen["EXTRA_JAVA_OPTS"] == "-Dhakit.lab=1"
        assert "org.apache.karaf.main.Main" in seen["argv"]
    assert member.run("monitor").rc == 0
    deep = member.run("monitor", level=10)
    assert deep.rc == 0, deep.err
    again = member.run("start")
    assert again.rc == 0, again.err
    assert member.pid == pid, "a second start keeps the running JVM"
    stopped = member.run("stop")
    assert stopped.rc == 0, stopped.err
    assert not odl.alive(pid)
    assert member.run("monitor").rc == 7
    assert member.run("stop").rc == 0, "stop twice"


def test_start_waits_until_every_service_is_operational(member):
    member.switches(ready_after=4)
    began = time.monotonic()
    started = member.run("start")
    assert started.rc == 0, started.err
    assert time.monotonic() - began >= 4
    logged = member.log_text()
    assert "waiting for /diagstatus" in logged
    assert "OPENFLOW STARTING" in logged
    assert "ready: pid" in logged


def test_a_member_that_never_syncs_fails_its_start_with_the_reason(member):
    member.switches(sync=False)
    started = member.run("start", timeout_ms=12000)
    assert started.rc == 1
    (reason,) = started.reasons
    assert "not ready" in reason
    assert "DATASTORE ERROR" in reason or "SyncStatus false" in reason
    assert member.run("monitor").rc == 1, "alive but not OPERATIONAL: a failure"


def test_without_sync_check_diagstatus_decides(member):
    member.switches(sync=True)
    assert member.run("start", sync_check="false").rc == 0
    member.switches(sync=False, diag_ignores_sync=True)
    # SyncStatus false alone (DATASTORE still OPERATIONAL in this stand-in mode)
    deep = member.run("monitor", level=10, sync_check="false")
    assert deep.rc == 0, deep.err
    strict = member.run("monitor", level=10)
    assert strict.rc == 1
    assert "out of sync" in strict.reasons[0]
    assert (
        "SyncStatus false for the config and operational datastore"
        in (strict.reasons[0])
    )
    assert member.run("monitor").rc == 0, "level 0 does not read SyncStatus"


def test_lost_sync_fails_the_monitor_not_stopped(member):
    assert member.run("start").rc == 0
    member.switches(sync=False)
    shallow = member.run("monitor")
    assert shallow.rc == 1, "DATASTORE is not OPERATIONAL once a store is out of sync"
    assert "DATASTORE ERROR" in shallow.reasons[0]
    assert member.run("monitor", level=10).rc == 1


def test_a_service_in_error_is_a_failure_never_not_running(member):
    assert member.run("start").rc == 0
    member.switches(broken=True)
    checked = member.run("monitor")
    assert checked.rc == 1
    assert "HTTP 503" in checked.reasons[0]
    assert "OPENFLOW ERROR" in checked.reasons[0]
    probe = member.run("monitor")  # interval 0: a probe, and still exact
    assert probe.rc == 1


def test_refused_credentials_fail_level_10_without_showing_the_password(member):
    assert member.run("start").rc == 0
    member.switches(unauthorized=True)
    deep = member.run("monitor", level=10)
    assert deep.rc == 1
    assert "refused the credentials (HTTP 401)" in deep.reasons[0]
    assert SECRET not in deep.err + deep.out
    assert member.run("monitor").rc == 0, "/diagstatus needs no Jolokia"


def test_stop_kills_a_jvm_that_hangs_on_stop(member):
    assert member.run("start").rc == 0
    pid = member.pid
    member.switches(hang_on_stop=True)
    stopped = member.run("stop", stop_grace="1")
    assert stopped.rc == 0, stopped.err
    assert "SIGKILL" in stopped.err
    assert not odl.alive(pid)
    assert member.run("monitor").rc == 7


def test_a_dead_jvm_is_not_running_and_starts_again(member):
    assert member.run("start").rc == 0
    pid = member.pid
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while odl.alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert member.run("monitor").rc == 7
    assert member.run("start").rc == 0
    assert member.pid != pid


def test_a_jvm_that_dies_during_start_fails_it(member):
    member.switches(ready_after=60, die_after=1)
    started = member.run("start")
    assert started.rc == 1
    assert "exited during start" in started.reasons[0]
    assert member.run("monitor").rc == 7


def test_a_recycled_pid_is_not_taken_for_karaf(member):
    other = subprocess.Popen(["sleep", "60"])
    try:
        props = member.home / "instances" / "instance.properties"
        props.write_text(f"count=1\nitem.0.pid={other.pid}\n")
        assert member.run("monitor").rc == 7, "sleep is not this home's Karaf"
        stopped = member.run("stop")
        assert stopped.rc == 0
        assert other.poll() is None, "stop never signals a stranger"
    finally:
        other.kill()
        other.wait()


def test_a_lost_instance_record_does_not_hide_a_live_jvm(member):
    assert member.run("start").rc == 0
    pid = member.pid
    (member.home / "instances" / "instance.properties").unlink()
    assert member.run("monitor").rc == 0, "found in the process table"
    stopped = member.run("stop")
    assert stopped.rc == 0, stopped.err
    assert not odl.alive(pid)


@pytest.mark.parametrize(
    ("params", "rc", "words"),
    [
        ({"home": "/nonexistent/odl"}, 5, "directory /nonexistent/odl does not exist"),
        ({"user": "no-such-odl-user"}, 2, "no-such-odl-user"),
        ({"rest_port": "eighty"}, 6, "rest_port"),
        ({"sync_check": "maybe"}, 6, "sync_check"),
        ({"java_home": "/nonexistent/jvm"}, 5, "/nonexistent/jvm"),
        ({"credentials": "/nonexistent/creds"}, 2, "/nonexistent/creds"),
    ],
)
def test_bad_parameters_give_their_code_and_one_reason(member, params, rc, words):
    checked = member.run("validate-all", **params)
    assert checked.rc == rc, checked.err
    (reason,) = checked.reasons
    assert words in reason
    assert "Traceback" not in checked.err
    assert member.run("monitor", **params).rc == 7, "a probe reports not running"


def test_readable_credentials_are_refused(member):
    member.credentials.chmod(0o644)
    checked = member.run("validate-all")
    assert checked.rc == 4
    assert "chmod 600" in checked.reasons[0]
    assert SECRET not in checked.err


@pytest.mark.slow
def test_ocf_tester(member):
    ocf_tester_check("opendaylight", member.params)
