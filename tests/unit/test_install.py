"""install.py writes launchers that start lean and still find dist-packages."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.lab.agents import (
    CLUSTER_USER,
    SYSTEM_PYTHON,
    check_cluster_user_runs,
    copy_redfish_library,
    install_private,
    run_installer,
)
from tests.lab.ports import free_port
from tests.lab.snapshot import Snapshot
from tests.unavailable import unavailable

VERSION = f"python{sys.version_info[0]}.{sys.version_info[1]}"


def clean_env() -> dict[str, str]:
    """The test run's environment without PYTHONPATH: launchers find hakit alone."""
    return {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}


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
    assert lines[2].startswith("import sys; ")
    assert "sys.path.extend(" in lines[2]
    assert lines[-1] == "main('galera')"
    done = subprocess.run(
        [str(launcher), "meta-data"],
        check=False,
        capture_output=True,
        text=True,
        timeout=30,
        env=clean_env(),
    )
    assert done.returncode == 0
    assert '<resource-agent name="galera"' in done.stdout


def test_launchers_record_no_python_minor_version(staged: Path) -> None:
    """A minor upgrade of python3 must not leave them on the old site dirs."""
    launchers = [
        *(staged / "ocf" / "resource.d" / "hakit").iterdir(),
        *(staged / "sbin").iterdir(),
    ]
    assert launchers
    for launcher in launchers:
        assert VERSION not in launcher.read_text(), launcher.name


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
        env=clean_env(),
        cwd="/",
    )


def test_fence_launcher_skips_site_and_still_finds_pyghmi(staged: Path) -> None:
    """pacemaker-fenced runs the launcher without PYTHONPATH: pyghmi must import."""
    launcher = staged / "sbin" / "fence_hakit_ipmi"
    lines = launcher.read_text().splitlines()
    assert lines[0] == f"#!{SYSTEM_PYTHON} -sS"
    assert "sys.path.extend(" in lines[2]
    done = _import_on_launcher_path(launcher, "pyghmi", "fence_agents")
    assert done.returncode == 0, done.stderr
    assert "packages" in done.stdout
    meta = subprocess.run(
        [str(launcher), "-o", "metadata"],
        check=False,
        capture_output=True,
        text=True,
        timeout=30,
        env=clean_env(),
    )
    assert meta.returncode == 0, meta.stderr
    assert '<resource-agent name="fence_hakit_ipmi"' in meta.stdout


@pytest.fixture(scope="module")
def private_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A virtualenv of the system python3 whose site directory the test owns."""
    venv = tmp_path_factory.mktemp("python") / "venv"
    subprocess.run(
        [SYSTEM_PYTHON, "-m", "venv", "--without-pip", str(venv)],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return venv


def test_launcher_finds_its_library_after_a_python_minor_upgrade(
    private_python: Path, tmp_path: Path
) -> None:
    """Install for this python3.X, then run the launcher as python3.99 would.

    The installer writes into a temporary --destdir; the library goes to the
    interpreter's own site directory (lib/python3.X/site-packages).  The
    upgrade is simulated: the library moves to lib/python3.99/site-packages,
    where the new version's package would put it, and the launcher runs with
    ``sys.version_info`` reading 3.99.
    """
    root = tmp_path / "root"
    run_installer(python=str(private_python / "bin" / "python"), destdir=root)
    old_site = private_python / "lib" / VERSION / "site-packages"
    staged_site = root / old_site.relative_to("/")
    assert (staged_site / "ocf_agents").is_dir()
    new_site = private_python / "lib" / "python3.99" / "site-packages"
    new_site.mkdir(parents=True)
    for package in staged_site.iterdir():
        shutil.move(str(package), str(new_site))
    launcher = root / "usr" / "lib" / "ocf" / "resource.d" / "hakit" / "keystone"
    code = (
        "import sys; sys.version_info = (3, 99, 0, 'final', 0)\n"
        "sys.argv = ['keystone', 'meta-data']\n"
        f"exec(compile(open({str(launcher)!r}).read(), 'launcher', 'exec'))\n"
    )
    done = subprocess.run(
        [SYSTEM_PYTHON, "-sS", "-c", code],
        check=False,
        capture_output=True,
        text=True,
        timeout=30,
        env=clean_env(),
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert '<resource-agent name="keystone"' in done.stdout
    try:
        shutil.rmtree(new_site / "ocf_agents")
        again = subprocess.run(
            [SYSTEM_PYTHON, "-sS", "-c", code],
            check=False,
            capture_output=True,
            text=True,
            timeout=30,
            env=clean_env(),
            cwd=tmp_path,
        )
    finally:
        shutil.rmtree(private_python / "lib" / "python3.99")
    assert again.returncode != 0, "the library came from somewhere else"
    assert "ocf_agents" in again.stderr


# -- what tests install into the system goes back afterwards ------------------

LIBDIR = "/usr/lib/hakit-test/python"


def tree(root: Path) -> dict[str, tuple[object, ...]]:
    """Every path under ``root``: kind, mode, owner and content or link target."""
    found: dict[str, tuple[object, ...]] = {}
    for path in sorted(root.rglob("*")):
        info = path.lstat()
        if path.is_symlink():
            what: tuple[object, ...] = ("link", os.readlink(path))
        elif path.is_dir():
            what = ("dir",)
        else:
            what = ("file", path.read_bytes())
        found[str(path.relative_to(root))] = (*what, info.st_mode, info.st_uid)
    return found


@pytest.fixture
def lived_in(tmp_path: Path) -> Path:
    """A root with an older hakit, a foreign file and a link, but no library."""
    root = tmp_path / "root"
    agents = root / "usr" / "lib" / "ocf" / "resource.d" / "hakit"
    agents.mkdir(parents=True)
    (agents / "keystone").write_text("#!/bin/sh\necho packaged\n")
    (agents / "keystone").chmod(0o750)
    (agents / "retired-agent").write_text("#!/bin/sh\n")
    sbin = root / "usr" / "sbin"
    sbin.mkdir()
    (sbin / "fence_hakit_ipmi").write_text("#!/usr/bin/python3\n# packaged\n")
    (sbin / "fence_hakit_ipmi").chmod(0o755)
    (sbin / "fence_hakit_redfish").symlink_to("fence_hakit_ipmi")
    (sbin / "fence_ipmilan").write_text("not hakit's\n")
    (root / "usr" / "lib" / "python3").mkdir()
    return root


def test_install_then_restore_leaves_the_root_as_it_was(lived_in: Path) -> None:
    before = tree(lived_in)
    full = ("--libdir", LIBDIR)
    redfish = (*full, "--only", "fence_hakit_redfish")
    listed = run_installer(*full, "--list", destdir=lived_in).split()
    listed += run_installer(
        *redfish, "--list", python=sys.executable, destdir=lived_in
    ).split()
    kept = Snapshot(listed)
    run_installer(*full, destdir=lived_in)
    run_installer(*redfish, python=sys.executable, destdir=lived_in)
    during = tree(lived_in)
    assert during != before
    redfish_launcher = lived_in / "usr" / "sbin" / "fence_hakit_redfish"
    assert redfish_launcher.read_text().startswith(f"#!{sys.executable} -sS")
    kept.restore()
    assert tree(lived_in) == before
    assert not (lived_in / "usr" / "lib" / "hakit-test").exists()


def test_installer_lists_everything_it_writes(lived_in: Path) -> None:
    """The snapshot's paths come from install.py --list: nothing escapes them."""
    before = tree(lived_in)
    listed = [Path(p) for p in run_installer("--list", destdir=lived_in).split()]
    assert len(listed) == 1 + 2 + 1 + 4  # provider dir, fence, hakit-cib, packages
    run_installer(destdir=lived_in)
    after = tree(lived_in)
    changed = {p for p in after if after[p] != before.get(p)}
    changed |= {p for p in before if p not in after}
    parents = {lived_in / p for p in changed}
    outside = [
        p
        for p in parents
        if not any(p == kept or kept in p.parents for kept in listed)
        and not any(p in kept.parents for kept in listed)  # directories made
    ]
    assert outside == []


def test_restore_of_nothing_removes_created_directories(tmp_path: Path) -> None:
    created = tmp_path / "a" / "b" / "file"
    kept = Snapshot([created])
    assert kept.paths == (tmp_path / "a",)
    created.parent.mkdir(parents=True)
    created.write_text("x")
    kept.restore()
    assert list(tmp_path.iterdir()) == []


def test_snapshot_refuses_relative_paths() -> None:
    with pytest.raises(ValueError, match="absolute"):
        Snapshot(["usr/sbin/fence_hakit_ipmi"])


def test_install_says_which_library_the_python_lacks(monkeypatch) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "packaging"))
    import install  # noqa: PLC0415

    from fence_agents import registry  # noqa: PLC0415
    from ha_common import modules  # noqa: PLC0415

    wanted = ("redfish", "no_such_hakit_mod")  # the first is in the venv
    monkeypatch.setitem(registry.LIBRARIES, "fence_hakit_redfish", wanted)
    monkeypatch.setitem(modules.PROVIDERS, "no_such_hakit_mod", "python3-nosuch")
    lines = install.missing_libraries(sys.executable, None, ["fence_hakit_redfish"])
    assert lines == [
        f"fence_hakit_redfish: {sys.executable} cannot import no_such_hakit_mod: "
        "install python3-nosuch"
    ]


@pytest.fixture
def open_root() -> Iterator[Path]:
    """A directory the cluster's user can enter (pytest's own are 0700); root only."""
    if os.geteuid() != 0:
        unavailable(f"running an agent as {CLUSTER_USER} needs root")
    try:
        pwd.getpwnam(CLUSTER_USER)
    except KeyError:
        unavailable(f"no user {CLUSTER_USER}: pacemaker is not installed")
    root = Path(tempfile.mkdtemp(prefix="hakit-open-"))
    root.chmod(0o755)
    try:
        yield root
    finally:
        shutil.rmtree(root)


def test_lab_refuses_a_redfish_interpreter_the_cluster_user_cannot_run(
    tmp_path: Path, open_root: Path
) -> None:
    """pacemaker-controld reads fence meta-data as hacluster: say so before a lab hangs.

    The interpreter sits in a 0700 directory, as a checkout's virtualenv does
    under ``/root`` or ``mktemp -d``; the launchers themselves are readable.
    """
    hidden = tmp_path / "private"
    hidden.mkdir(mode=0o700)
    python = hidden / "python"
    python.symlink_to(sys.executable)
    sbin = install_private(open_root, str(python))
    with pytest.raises(RuntimeError, match=r"hacluster cannot run .*chmod o\+x"):
        check_cluster_user_runs(sbin / "fence_hakit_redfish", str(python))


def test_lab_redfish_agent_runs_as_the_cluster_user_from_the_copied_library(
    open_root: Path,
) -> None:
    """The lab's fence_hakit_redfish needs nothing of the checkout or its venv.

    The system python3 runs it (as pacemaker runs every agent) with the DMTF
    library this virtualenv has, copied beside hakit: as ``hacluster`` it
    imports that library and reaches the point of connecting (a closed port,
    named in one line), wherever the checkout is.
    """
    sbin = install_private(open_root)
    copy_redfish_library(sys.executable, open_root / "lib")
    agent = sbin / "fence_hakit_redfish"
    assert agent.read_text().startswith(f"#!{SYSTEM_PYTHON} -sS\n")
    port = free_port()
    options = (
        "action=status\nip=127.0.0.1\n"
        f"ipport={port}\nusername=admin\npassword=x\nssl_insecure=1\n"
    )
    done = subprocess.run(
        [str(agent)],
        input=options,
        user=CLUSTER_USER,
        env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (done.returncode, done.stdout) == (1, ""), done.stderr
    assert f"127.0.0.1:{port}" in done.stderr, done.stderr
    assert "refused" in done.stderr, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert (open_root / "lib" / "redfish" / "__init__.py").stat().st_mode & 0o004
