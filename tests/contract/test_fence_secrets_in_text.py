"""The fence agents' messages never interpolate a secret value.

Pacemaker copies a fence agent's stderr into its log, so the protection is
that no error or log line is ever built from a password, a Kg key or a
session token; ``ha_common.redact`` only nets what a library's own text
might echo.  This test reads the code: every f-string, every argument of a
log call and of a raised exception.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from fence_agents import registry

ROOT = Path(__file__).resolve().parents[2]
#: Local names that hold a secret in the fence code.
SECRET_NAMES = {"password", "kg", "token", "session_key"}
#: Calls that return a secret.
SECRET_CALLS = {
    "password_of",
    "get_session_key",
    "get_password",
    "_basic_authorization",
}
#: Functions that format a secret on purpose, never into a message.
FORMATS_CREDENTIALS = {"_basic_authorization"}
LOG_METHODS = {"debug", "info", "warning", "error", "exception", "log"}


def secret_options() -> set[str]:
    return {
        name
        for agent in registry.names()
        for opt in registry.agent(agent).options
        if opt.secret
        for name in (opt.name, *opt.aliases)
    }


def mentions_secret(node: ast.AST, options: set[str]) -> bool:
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name) and sub.id in SECRET_NAMES:
            return True
        if (
            isinstance(sub, ast.Subscript)
            and isinstance(sub.slice, ast.Constant)
            and sub.slice.value in options
        ):
            return True
        if isinstance(sub, ast.Call) and isinstance(
            sub.func, (ast.Attribute, ast.Name)
        ):
            name = sub.func.attr if isinstance(sub.func, ast.Attribute) else sub.func.id
            if name in SECRET_CALLS:
                return True
            if (
                name == "text"
                and sub.args
                and isinstance(sub.args[0], ast.Constant)
                and sub.args[0].value in options
            ):
                return True
    return False


def texts(tree: ast.AST):
    """(line, expression) of everything that may end up in a message."""
    skip = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name in FORMATS_CREDENTIALS:
            skip |= {id(sub) for sub in ast.walk(node)}
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.JoinedStr):
            for value in node.values:
                if isinstance(value, ast.FormattedValue):
                    yield node.lineno, value.value
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in LOG_METHODS
        ):
            yield from ((node.lineno, arg) for arg in node.args[1:])
        elif isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call):
            yield from ((node.lineno, arg) for arg in node.exc.args)


@pytest.mark.parametrize(
    "path",
    sorted((ROOT / "fence_agents").rglob("*.py")),
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_no_message_is_built_from_a_secret(path):
    options = secret_options()
    tree = ast.parse(path.read_text())
    found = [line for line, expr in texts(tree) if mentions_secret(expr, options)]
    assert found == [], f"a secret is formatted into text at lines {found}"


def test_the_check_sees_a_secret_in_a_message():
    tree = ast.parse(
        "def f(opts, password):\n"
        "    log.debug('pw %s', password)\n"
        "    x = f'user {opts.text(\"passwd\")}'\n"
        "    raise Err('bad ' + password)\n"
        "    log.info('%s', opts['passwd'])\n"
    )
    hits = sorted(
        line for line, expr in texts(tree) if mentions_secret(expr, {"passwd"})
    )
    assert hits == [2, 3, 4, 5]
