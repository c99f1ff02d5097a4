"""The installed fence agents' entry points exit like any Python program.

They once left with ``os._exit`` to skip the interpreter's teardown; issue
#11 removed that.  What a caller sees: the exit code, all of stdout and
stderr (Python flushes them at exit), and the exit handlers having run.
"""

from __future__ import annotations

import ast
import subprocess
import sys
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


def test_no_fence_code_leaves_with_os_exit():
    """Nothing in fence_agents or ha_common skips the interpreter's exit."""
    calls = []
    for package in ("fence_agents", "ha_common"):
        for path in sorted((ROOT / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Attribute) and node.attr == "_exit":
                    calls.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert calls == []
