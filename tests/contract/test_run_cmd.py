"""ha_common.command.run_cmd with real programs: output, timeouts, missing tools."""

from __future__ import annotations

import sys
import time

import pytest

from ha_common.command import (
    CommandNotFoundError,
    CommandTimeoutError,
    Completed,
    run_cmd,
)
from ha_common.deadline import Deadline


def test_output_and_status_are_returned_whatever_the_status():
    done = run_cmd(
        ["/bin/sh", "-c", "echo out; echo 'bad thing' >&2; exit 3"], Deadline(10)
    )
    assert done == Completed("/bin/sh", 3, "out\n", "bad thing\n")
    assert done.detail() == "bad thing"


def test_stdin_is_fed_or_empty():
    assert run_cmd(["/bin/cat"], Deadline(10), stdin="secret\n").stdout == "secret\n"
    assert run_cmd(["/bin/cat"], Deadline(10)).stdout == ""


def test_environment_is_exactly_the_one_given():
    done = run_cmd(["/usr/bin/env"], Deadline(10), env={"ONLY": "this"})
    assert done.stdout.split() == ["ONLY=this"]


def test_bad_bytes_are_replaced():
    done = run_cmd(
        [sys.executable, "-c", "import os; os.write(1, b'\\xff')"], Deadline(10)
    )
    assert done.stdout == "\ufffd"


def test_limit_kills_a_program_that_hangs():
    began = time.monotonic()
    with pytest.raises(CommandTimeoutError, match="sleep did not finish within 0.3 s"):
        run_cmd(["sleep", "30"], Deadline(20), limit=0.3)
    assert time.monotonic() - began < 5


def test_deadline_bounds_the_call():
    with pytest.raises(CommandTimeoutError):
        run_cmd(["sleep", "30"], Deadline(0.3), limit=10)


def test_no_time_left_runs_nothing(tmp_path):
    marker = tmp_path / "ran"
    with pytest.raises(CommandTimeoutError, match="no time left to run /usr/bin/touch"):
        run_cmd(["/usr/bin/touch", str(marker)], Deadline(0))
    assert not marker.exists()


def test_missing_and_unexecutable_programs(tmp_path):
    with pytest.raises(CommandNotFoundError, match="is not installed"):
        run_cmd([str(tmp_path / "nope")], Deadline(10))
    script = tmp_path / "script"
    script.write_text("#!/bin/sh\n")
    script.chmod(0o644)
    with pytest.raises(CommandNotFoundError, match="is not executable"):
        run_cmd([str(script)], Deadline(10))


def test_detail_is_one_line_and_cut():
    done = Completed("x", 1, "only stdout\n", "")
    assert done.detail() == "only stdout"
    long = Completed("x", 1, "", "a\n\n  b  \n" + "c" * 500)
    assert long.detail(limit=20) == "a; b; " + "c" * 11 + "..."
    assert len(long.detail(limit=20)) == 20
