"""The OpenDaylight monitor on the lab's Karaf stand-in: exact and lean.

The stand-in (:mod:`tests.lab.odl_standin`) is started with its own bin/start,
without the agent, as root; the agent's monitor then runs in-process-free
subprocesses the way the launchers run it (``python3 -sS``).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.contract.test_import_budget import (
    FORBIDDEN,
    PROBE,
    ROOT,
    SLOW_STDLIB,
)
from tests.lab import odl
from tests.lab.ports import free_port
from tests.lab.probe import run_probed, top_level


@pytest.fixture
def standin(tmp_path) -> Iterator[tuple[Path, int]]:
    port = free_port()
    home = odl.make_home(tmp_path, port, user="root")
    subprocess.run([str(home / "bin" / "start")], check=True, timeout=30)
    end = time.monotonic() + 20
    while True:
        try:
            with urllib.request.urlopen(
                f"http://127.0.0.1:{port}/diagstatus", timeout=2
            ):
                break
        except OSError:
            assert time.monotonic() < end, "the stand-in did not answer"
            time.sleep(0.1)
    try:
        yield home, port
    finally:
        odl.kill(odl.jvm_pid(home))


def _environ(tmp_path: Path, home: Path, port: int, level: int) -> dict[str, str]:
    creds = odl.write_private(tmp_path / "creds", "admin:s3cret-odl\n")
    return {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(ROOT),
        "OCF_ROOT": "/usr/lib/ocf",
        "OCF_RESOURCE_INSTANCE": "odl:0",
        "HA_RSCTMP": str(tmp_path),
        "OCF_RESKEY_CRM_meta_interval": "10000",
        "OCF_RESKEY_CRM_meta_timeout": "30000",
        "OCF_CHECK_LEVEL": str(level),
        "OCF_RESKEY_home": str(home),
        "OCF_RESKEY_user": "root",
        "OCF_RESKEY_rest_port": str(port),
        "OCF_RESKEY_credentials": str(creds),
    }


def test_a_level_0_monitor_imports_only_what_it_uses(tmp_path, standin):
    home, port = standin
    done, loaded = run_probed(
        [sys.executable, "-sS"],
        PROBE,
        tmp_path / "modules.txt",
        env=_environ(tmp_path, home, port, 0),
        args=("opendaylight", "monitor"),
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    top = top_level(loaded)
    assert "ocf_agents" in top, "the probe did run the agent"
    # importlib (and its warnings) only to resolve a declaration: ~0.5 ms.
    unwanted = {*FORBIDDEN, *SLOW_STDLIB, "psutil", "json", "importlib", "warnings"}
    assert not top & unwanted, sorted(top & unwanted)


def test_monitor_is_exact_on_the_stand_in(tmp_path, standin):
    home, port = standin
    env = _environ(tmp_path, home, port, 10)
    launcher = [
        sys.executable,
        "-sS",
        "-c",
        PROBE.replace("sys.argv", "__import__('sys').argv"),
    ]
    deep = subprocess.run(
        [*launcher, "opendaylight", "monitor"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert deep.returncode == 0, deep.stderr
    odl.set_switches(home, sync=False, diag_ignores_sync=True)
    behind = subprocess.run(
        [*launcher, "opendaylight", "monitor"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert behind.returncode == 1
    assert "SyncStatus false" in behind.stderr
    odl.kill(odl.jvm_pid(home))
    time.sleep(0.5)
    gone = subprocess.run(
        [*launcher, "opendaylight", "monitor"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert gone.returncode == 7, gone.stderr
    assert os.path.isdir(home)
