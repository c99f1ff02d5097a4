"""The installed fence agents' entry points: all output out, then no teardown.

``driver.installed`` runs the exit handlers, flushes stdout and stderr and
leaves with ``os._exit``, skipping the interpreter's teardown of pyghmi and
``cryptography`` (bench/README.md measures what that saves).  Issue #11 kept
that only on two conditions: a measurement shows it matters, and tests show
nothing written is lost.  What a caller sees here: the exit code, all of
stdout and stderr, also through a pipe read slowly, and the exit handlers
having run.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ha_common import __version__

ROOT = Path(__file__).resolve().parents[2]
AGENTS = ("fence_agents.ipmi", "fence_agents.redfish")

LAUNCHER = """
import atexit, sys
sys.path.insert(0, {root!r})
atexit.register(lambda: sys.stderr.write("exit handlers ran\\n"))
from {module} import main
main()
"""


def launch(
    module: str, argv: list[str], stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-s", "-c", LAUNCHER.format(root=str(ROOT), module=module)]
        + argv,
        env={"PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        input=stdin,
        stdin=None if stdin is not None else subprocess.DEVNULL,
        timeout=30,
        check=False,
    )


@pytest.mark.parametrize("module", AGENTS)
def test_metadata_is_written_whole_with_exit_0(module):
    done = launch(module, ["-o", "metadata"])
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("<?xml")
    assert done.stdout.rstrip().endswith("</resource-agent>")
    assert done.stderr == "exit handlers ran\n"


@pytest.mark.parametrize("module", AGENTS)
def test_a_usage_error_exits_1_with_its_reason(module):
    done = launch(module, ["-o", "status"])  # no ip
    assert done.returncode == 1
    assert done.stdout == ""
    assert "Failed: ip is required" in done.stderr
    assert "exit handlers ran" in done.stderr


@pytest.mark.parametrize("module", AGENTS)
def test_stdin_input_and_version(module):
    done = launch(module, [], stdin="action=manpage\n")
    assert done.returncode == 0, done.stderr
    assert done.stdout.rstrip().endswith("validate-all")
    done = launch(module, ["-V"])
    assert (done.returncode, done.stdout.split()[1]) == (0, __version__)


def test_only_the_installed_entry_point_skips_the_teardown():
    """``os._exit`` is called in one place: after main, handlers and flushes."""
    calls = []
    for package in ("fence_agents", "ha_common"):
        for path in sorted((ROOT / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Attribute) and node.attr == "_exit":
                    calls.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert len(calls) == 1
    assert calls[0].startswith("fence_agents/_runtime/driver.py:")


@pytest.mark.parametrize("module", AGENTS)
def test_a_slow_reader_gets_every_byte(module):
    """The man page (several KB) through a pipe the reader drains late."""
    script = LAUNCHER.format(root=str(ROOT), module=module)
    proc = subprocess.Popen(
        [sys.executable, "-s", "-c", script, "--help"],
        env={"PATH": "/usr/bin:/bin"},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    time.sleep(0.5)  # the agent has written and left before anyone reads
    out, err = proc.communicate(timeout=30)
    whole = launch(module, ["--help"]).stdout.encode()
    assert proc.returncode == 0, err
    assert out == whole
    assert len(out) > 2000
    assert out.rstrip().endswith(b"validate-all")


@pytest.mark.parametrize("module", AGENTS)
def test_output_that_cannot_be_written_is_not_a_success(module):
    script = LAUNCHER.format(root=str(ROOT), module=module)
    done = subprocess.run(
        [sys.executable, "-s", "-c", script, "-o", "metadata"],
        env={"PATH": "/usr/bin:/bin"},
        stdin=subprocess.DEVNULL,
        stdout=open("/dev/full", "w"),  # noqa: SIM115 - closed with the child
        stderr=subprocess.PIPE,
        timeout=30,
        check=False,
    )
    assert done.returncode != 0
