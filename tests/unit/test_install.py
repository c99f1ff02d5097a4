"""install.py writes launchers that start lean and still find dist-packages."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.lab.agents import SYSTEM_PYTHON, run_installer


@pytest.fixture(scope="module")
def staged(tmp_path_factory: pytest.TempPathFactory) -> Path:
    stage = tmp_path_factory.mktemp("stage")
    run_installer(
        *("--libdir", str(stage / "lib"), "--ocf-root", str(stage / "ocf")),
        *("--bindir", str(stage / "bin"), "--sbindir", str(stage / "sbin")),
    )
    return stage


def test_ocf_launcher_skips_site_and_lists_site_dirs(staged: Path) -> None:
    launcher = staged / "ocf" / "resource.d" / "hakit" / "galera"
    lines = launcher.read_text().splitlines()
    assert lines[0] == f"#!{SYSTEM_PYTHON} -sS"
    assert lines[2].startswith("import sys; sys.path.extend([")
    assert lines[-1] == "main('galera')"
    done = subprocess.run(
        [str(launcher), "meta-data"],
        check=False,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0
    assert '<resource-agent name="galera"' in done.stdout


def test_launcher_path_finds_the_distribution_packages(staged: Path) -> None:
    """Without site, psutil (python3-psutil) must still import, as agents need it."""
    launcher = staged / "ocf" / "resource.d" / "hakit" / "keystone"
    done = _import_on_launcher_path(launcher, "psutil", "ocf_agents")
    assert done.returncode == 0, done.stderr
    assert "packages" in done.stdout


def _import_on_launcher_path(
    launcher: Path, module: str, *more: str
) -> subprocess.CompletedProcess[str]:
    """Import modules on the launcher's own sys.path (-sS); print the first's file."""
    setup = [line for line in launcher.read_text().splitlines() if "sys.path" in line]
    imports = ", ".join((module, *more))
    code = "\n".join([*setup, f"import {imports}; print({module}.__file__)"])
    return subprocess.run(
        [SYSTEM_PYTHON, "-sS", "-c", code],
        check=False,
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_fence_launcher_skips_site_and_still_finds_pyghmi(staged: Path) -> None:
    """pacemaker-fenced runs the launcher without PYTHONPATH: pyghmi must import."""
    launcher = staged / "sbin" / "fence_hakit_ipmi"
    lines = launcher.read_text().splitlines()
    assert lines[0] == f"#!{SYSTEM_PYTHON} -sS"
    assert lines[2].startswith("import sys; sys.path.extend([")
    done = _import_on_launcher_path(launcher, "pyghmi", "fence_agents")
    assert done.returncode == 0, done.stderr
    assert "packages" in done.stdout
    meta = subprocess.run(
        [str(launcher), "-o", "metadata"],
        check=False,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert meta.returncode == 0, meta.stderr
    assert '<resource-agent name="fence_hakit_ipmi"' in meta.stdout
