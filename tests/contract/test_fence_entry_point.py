"""The installed fence agents' entry points skip the interpreter's teardown.

``run_installed`` leaves with ``os._exit`` after main() returned; what a
caller sees must not change: the exit code, all of stdout and stderr, and the
exit handlers.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
AGENTS = ("fence_agents.ipmi", "fence_agents.redfish")

LAUNCHER = """
import atexit, sys
sys.path.insert(0, {root!r})
atexit.register(lambda: sys.stderr.write("exit handlers ran\\n"))
from {module} import main
main()
"""


def launch(module: str, argv: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-s", "-c", LAUNCHER.format(root=str(ROOT), module=module)]
        + argv,
        env={"PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=30,
        check=False,
    )


@pytest.mark.parametrize("module", AGENTS)
def test_metadata_is_written_whole_with_exit_0(module):
    done = launch(module, ["-o", "metadata"])
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("<?xml")
    assert done.stdout.rstrip().endswith("</resource-agent>")
    assert "exit handlers ran" in done.stderr


@pytest.mark.parametrize("module", AGENTS)
def test_a_usage_error_exits_1_with_its_reason(module):
    done = launch(module, ["-o", "status"])  # no ip
    assert done.returncode == 1
    assert done.stdout == ""
    assert "Failed: ip is required" in done.stderr
    assert "exit handlers ran" in done.stderr
