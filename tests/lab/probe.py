"""Run hakit code in a fresh interpreter and list the modules it imported.

Start-up budgets are checked this way: the code runs as an installed agent
would (its own interpreter, flags and environment), and an exit handler
records ``sys.modules`` before anything of the probe's own is imported.
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

_REPORT = """\
import atexit, os, sys
def _report_modules():
    loaded = sorted(sys.modules)
    with open(os.environ["MODULES_OUT"], "w") as handle:
        handle.write("\\n".join(loaded))
atexit.register(_report_modules)
"""


def run_probed(
    interpreter: Sequence[str],
    body: str,
    out: Path,
    *,
    env: Mapping[str, str],
    args: Sequence[str] = (),
    stdin: str | None = None,
    timeout: float = 60,
) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    """Run ``interpreter -c body args``; return its result and the modules it loaded.

    ``interpreter`` is the program and its flags (``[python, "-s"]``); ``out``
    is where the module list is written (it must not exist yet).
    """
    done = subprocess.run(
        [*interpreter, "-c", _REPORT + body, *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={**env, "MODULES_OUT": str(out)},
    )
    loaded = set(out.read_text().split()) if out.exists() else set()
    return done, loaded


def top_level(modules: set[str]) -> set[str]:
    """The top-level packages of ``modules`` (``re`` for ``re._parser``)."""
    return {name.split(".")[0] for name in modules}
