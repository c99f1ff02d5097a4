"""The one entry point of every OCF agent: action in, exit code out.

``main(name)`` is what an installed launcher calls.  It is the only place that
prints exit reasons and exits; handlers return an ``OcfRc`` or raise a typed
``AgentError`` (``runner`` maps them).  ``meta-data`` and ``usage`` read no
environment and import nothing beyond the declaration: not even logging.
"""

from __future__ import annotations

import os
import sys

from ocf_agents._runtime import registry

TYPE_CHECKING = False  # typing costs ~5 ms of start-up; see STYLE.md section 9

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from typing import NoReturn

    from ocf_agents._runtime.spec import AgentSpec

EXIT_SUCCESS = 0
EXIT_ERR_ARGS = 2


def usage(spec: AgentSpec) -> str:
    """One usage line listing the agent's actions."""
    return f"usage: {spec.name} {{{'|'.join(spec.action_names())}}}"


def main(
    name: str,
    argv: Sequence[str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> NoReturn:
    """Run the action named in ``argv[1]`` for agent ``name`` and exit."""
    argv = sys.argv if argv is None else argv
    spec = registry.spec(name)
    action = argv[1] if len(argv) > 1 else ""
    if action == "meta-data":
        from ocf_agents._runtime import metadata  # noqa: PLC0415

        sys.stdout.write(metadata.render(spec))
        sys.exit(EXIT_SUCCESS)
    if action in ("usage", "help", "-h", "--help"):
        print(usage(spec))
        sys.exit(EXIT_SUCCESS)
    if not action:
        print(usage(spec), file=sys.stderr)
        sys.exit(EXIT_ERR_ARGS)
    from ocf_agents._runtime import runner  # noqa: PLC0415

    environ = os.environ if environ is None else environ
    rc, reason = runner.execute(spec, action, environ)
    if reason:
        prefix = environ.get("OCF_EXIT_REASON_PREFIX", "ocf-exit-reason:")
        sys.stderr.write(f"{prefix}{reason}\n")
    sys.exit(rc)
