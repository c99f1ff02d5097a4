"""Helpers for contract tests: run an agent the way Pacemaker does."""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"


@dataclass
class Result:
    """What one agent run returned."""

    rc: int
    out: str
    err: str

    @property
    def reasons(self) -> list[str]:
        """The ocf-exit-reason lines."""
        return [
            line[len("ocf-exit-reason:") :]
            for line in self.err.splitlines()
            if line.startswith("ocf-exit-reason:")
        ]


def run_agent(name: str, action: str, params: dict, extra_env: dict | None = None):
    """Run agent ``name`` in a fresh interpreter, like an installed launcher."""
    environ = {
        "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
        "OCF_ROOT": "/usr/lib/ocf",
        "OCF_RESOURCE_INSTANCE": f"test-{name}",
        "OCF_RESKEY_CRM_meta_timeout": "20000",
    }
    environ.update({f"OCF_RESKEY_{k}": str(v) for k, v in params.items()})
    environ.update(extra_env or {})
    code = f"from ocf_agents._runtime.dispatch import main; main({name!r})"
    proc = subprocess.run(
        [sys.executable, "-s", "-c", code, action],
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


def free_port() -> int:
    """An unused TCP port on loopback."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def current_user() -> str:
    """The name of the user running the tests."""
    return pwd.getpwuid(os.geteuid()).pw_name


@pytest.fixture
def fakesvc(tmp_path):
    """A copy of the stand-in service and its parameters for glance-api."""
    binary = tmp_path / "bin" / "fakesvc"
    binary.parent.mkdir()
    shutil.copy(DATA / "fakesvc.py", binary)
    binary.chmod(0o755)
    conf = tmp_path / "fakesvc.conf"
    port = free_port()
    conf.write_text(f"port = {port}\n")
    rsctmp = tmp_path / "rsctmp"
    rsctmp.mkdir()
    params = {
        "binary": str(binary),
        "config": str(conf),
        "user": current_user(),
        "port": port,
        "healthcheck_path": "/healthcheck",
        "console_log": str(tmp_path / "console.log"),
    }
    return params, {"HA_RSCTMP": str(rsctmp)}
