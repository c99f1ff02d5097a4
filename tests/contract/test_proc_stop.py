"""proc.stop on real processes: frozen, hung, busy, and half-dead ones."""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
import time

import pytest

from ha_common.deadline import Deadline
from ocf_agents._runtime import proc

IGNORE_TERM_IDLE = (
    "import signal, time\n"
    "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
    "while True: time.sleep(1)\n"
)
IGNORE_TERM_BUSY = (
    "import signal\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nwhile True: pass\n"
)
#: The main thread ends (pthread_exit) while another thread goes on: the
#: leader shows Z, the process lives.
HALF_DEAD = (
    "import ctypes, threading, time\n"
    "threading.Thread(target=time.sleep, args=(30,)).start()\n"
    "ctypes.CDLL(None).pthread_exit(None)\n"
)


@pytest.fixture
def spawn():
    started: list[subprocess.Popen[bytes]] = []

    def run(code: str) -> subprocess.Popen[bytes]:
        child = subprocess.Popen([sys.executable, "-c", code], start_new_session=True)
        started.append(child)
        time.sleep(0.3)  # past the interpreter's start-up
        return child

    yield run
    for child in started:
        if child.poll() is None:
            child.kill()
        child.wait(timeout=10)


def test_a_frozen_process_handles_the_term_once_continued(spawn, caplog):
    child = spawn("import time\nwhile True: time.sleep(1)\n")
    child.send_signal(signal.SIGSTOP)
    began = time.monotonic()
    with caplog.at_level(logging.INFO):
        proc.stop(child.pid, Deadline(30), grace=10)
    assert time.monotonic() - began < 2
    # proc.stop reaped its own child: the log says how it ended.
    assert f"pid {child.pid} ended by SIGTERM" in caplog.text
    assert not proc.is_alive(child.pid)


def test_a_hung_process_is_killed_after_the_grace_not_at_the_deadline(spawn, caplog):
    child = spawn(IGNORE_TERM_IDLE)
    began = time.monotonic()
    with caplog.at_level(logging.INFO):
        proc.stop(child.pid, Deadline(30), grace=1)
    took = time.monotonic() - began
    assert 1 <= took < 3, took
    assert "made no progress for 1 s" in caplog.text
    assert f"pid {child.pid} ended by SIGKILL" in caplog.text


def test_a_busy_process_keeps_the_time_until_the_reserve(spawn, caplog):
    child = spawn(IGNORE_TERM_BUSY)
    began = time.monotonic()
    with caplog.at_level(logging.INFO):
        proc.stop(child.pid, Deadline(6), kill_reserve=3, grace=1)
    took = time.monotonic() - began
    assert 2.5 <= took < 4, took  # the deadline's reserve, not the grace
    assert "deadline is near" in caplog.text


def test_a_zombie_leader_with_a_live_thread_is_alive(spawn):
    child = spawn(HALF_DEAD)
    assert proc.state_of(child.pid) == "Z"
    assert proc.is_alive(child.pid)
    assert proc.threads_alive(child.pid)
    proc.stop(child.pid, Deadline(20), grace=1)
    assert not proc.is_alive(child.pid)
