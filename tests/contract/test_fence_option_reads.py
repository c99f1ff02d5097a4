"""Every option name the fence agents' code reads is one its agent declares.

``Options.text/number/flag`` raise for an undeclared name, but only when the
line runs; this test reads the source, so a misspelled name on a rarely taken
path (a timeout, a reboot retry) fails here instead of on a real fencing.
The adapters may read what their agent declares; the shared runtime only what
every agent declares, or what it first checks with ``opts.declares(name)``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from fence_agents import registry

ROOT = Path(__file__).resolve().parents[2]
READERS = ("text", "number", "flag", "declares")
#: Package directory -> the agent whose options its code may read.
ADAPTERS = {"ipmi": "fence_hakit_ipmi", "redfish": "fence_hakit_redfish"}


def declared(agent: str) -> set[str]:
    return {opt.name for opt in registry.agent(agent).options}


def reads(path: Path) -> tuple[list[tuple[int, str]], set[str], list[int]]:
    """(line, name) of every option read, the names checked with declares(),
    and the lines of reads whose name is not a literal."""
    found, guarded, dynamic = [], set(), []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in READERS
            and len(node.args) == 1
        ):
            arg = node.args[0]
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                if node.func.attr == "declares":
                    guarded.add(arg.value)
                else:
                    found.append((node.lineno, arg.value))
            else:
                dynamic.append(node.lineno)
        elif (
            isinstance(node, ast.Subscript)
            and isinstance(node.value, ast.Name)
            and node.value.id == "opts"
            and isinstance(node.slice, ast.Constant)
        ):
            found.append((node.lineno, str(node.slice.value)))
    return found, guarded, dynamic


def modules() -> list[Path]:
    return sorted((ROOT / "fence_agents").rglob("*.py"))


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_option_read_is_declared(path):
    agents = registry.names()
    every = set.intersection(*(declared(a) for a in agents))
    some = set.union(*(declared(a) for a in agents))
    package = path.relative_to(ROOT / "fence_agents").parts[0]
    found, guarded, dynamic = reads(path)
    assert not dynamic, f"option names must be literals (lines {dynamic})"
    if package in ADAPTERS:
        allowed = declared(ADAPTERS[package])
    else:
        allowed = every | (guarded & some)
    wrong = [(line, name) for line, name in found if name not in allowed]
    assert not wrong, f"undeclared option read at (line, name): {wrong}"


def test_the_check_sees_the_reads():
    """The scan finds the runtime's reads (a broken scan would pass anything)."""
    found, guarded, _ = reads(ROOT / "fence_agents" / "_runtime" / "driver.py")
    names = {name for _, name in found}
    assert {"power_timeout", "shell_timeout", "method", "password"} <= names
    assert "ssl_ca_file" in guarded


def test_a_misspelled_read_would_be_caught(tmp_path):
    module = tmp_path / "typo.py"
    module.write_text("def f(opts):\n    return opts.number('power_timout')\n")
    assert reads(module)[0] == [(2, "power_timout")]
