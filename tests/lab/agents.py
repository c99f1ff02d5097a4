"""Install hakit's agents for the real cluster tools, the way the packages do.

The launchers run under the system python3 (``-sS``), like the packaged ones;
the library goes to a private directory the launchers add to ``sys.path``,
so a test run never overwrites a packaged hakit in dist-packages.  The
launchers themselves must be where Pacemaker looks: :func:`keep_installed`
keeps what was there and gives it back when the tests are done.
"""

from __future__ import annotations

import fcntl
import shutil
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from .snapshot import Snapshot

ROOT = Path(__file__).resolve().parents[2]
OCF_ROOT = Path("/usr/lib/ocf")
AGENT_DIR = OCF_ROOT / "resource.d" / "hakit"
LIBDIR = Path("/usr/lib/hakit-test/python")
SYSTEM_PYTHON = "/usr/bin/python3"
#: Held by whoever has hakit installed into the live system (:func:`hold_install`).
INSTALL_LOCK = Path("/run/lock/hakit-test-install.lock")


def run_installer(
    *args: str, python: str = SYSTEM_PYTHON, destdir: str | Path = "/"
) -> str:
    """Run packaging/install.py for ``python`` with ``args`` into ``destdir``.

    Returns:
        What the installer printed.
    """
    done = subprocess.run(
        [
            SYSTEM_PYTHON,
            str(ROOT / "packaging" / "install.py"),
            "--destdir",
            str(destdir),
            "--python",
            python,
            *args,
        ],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return done.stdout


#: Arguments of the lab's full install, and of its Redfish agent's.
_FULL = ("--libdir", str(LIBDIR))
_REDFISH = ("--libdir", str(LIBDIR), "--only", "fence_hakit_redfish")


def hold_install() -> IO[str]:
    """Wait for, then hold, the right to change the live install; close to release.

    One user at a time (a pytest session, `make demo`) may install into the live
    system and put it back: a second one, from another checkout, waits here.
    """
    INSTALL_LOCK.parent.mkdir(parents=True, exist_ok=True)
    lock = INSTALL_LOCK.open("w")
    fcntl.flock(lock, fcntl.LOCK_EX)
    return lock


def keep_installed(redfish_python: str | None = None) -> Snapshot:
    """Keep what :func:`install_agents` (and :func:`install_redfish_agent`) replace.

    Call it before installing, and ``restore()`` the result when done: the
    launchers, ``hakit-cib`` and the library directory are then as they were
    (removed, if they did not exist).  The paths are the installer's own
    list, and with ``redfish_python`` the top-level names of the DMTF library
    and its requirements that :func:`copy_redfish_library` adds to
    :data:`LIBDIR`.
    """
    paths = run_installer(*_FULL, "--list").split()
    if redfish_python:
        paths += run_installer(*_REDFISH, "--list").split()
        tops = {relative.split("/")[0] for _, relative in redfish_files(redfish_python)}
        paths += [str(LIBDIR / top) for top in sorted(tops)]
    return Snapshot(paths)


def install_agents() -> Path:
    """Install library and launchers into the live system; return the agent dir."""
    run_installer(*_FULL)
    return AGENT_DIR


def install_lab_agents(redfish_python: str) -> Path:
    """Install every agent; fence_hakit_redfish with ``redfish_python``'s library.

    What a lab needs (:func:`install_agents`, then
    :func:`install_redfish_agent`); returns the OCF agent directory.

    Raises:
        RuntimeError: the cluster's user cannot run fence_hakit_redfish.
    """
    path = install_agents()
    install_redfish_agent(redfish_python)
    return path


def install_redfish_agent(python: str) -> Path:
    """Install fence_hakit_redfish with the DMTF library ``python`` imports.

    Debian 12 has no python3-redfish, so the system python3 cannot import the
    DMTF library; the project virtualenv has it.  The lab copies it, with the
    versions of its dependencies ``python`` has, into :data:`LIBDIR` beside
    hakit (:func:`install_agents`, called first, put hakit there), and the
    launcher runs the system python3 like every other agent.  So the agent
    needs nothing of the checkout: pacemaker-controld, which reads its
    meta-data as ``hacluster``, can run it from a checkout that user cannot
    enter.  Only this agent imports those libraries.

    Raises:
        RuntimeError: ``python`` is another Python version than the system's
            (its compiled modules would not load), or the cluster's user
            cannot run the agent.
    """
    copy_redfish_library(python)
    run_installer(*_REDFISH)
    agent = Path("/usr/sbin/fence_hakit_redfish")
    check_cluster_user_runs(agent, SYSTEM_PYTHON)
    return agent


def redfish_files(python: str) -> list[tuple[Path, str]]:
    """The files of ``python``'s DMTF library and its requirements (``closure.py``).

    Raises:
        RuntimeError: ``python`` does not have the library.
    """
    done = subprocess.run(
        [python, str(Path(__file__).with_name("closure.py")), "redfish"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(done.stderr.strip() or f"{python}: exit {done.returncode}")
    return [
        (Path(source), relative)
        for source, relative in (line.split("\t") for line in done.stdout.splitlines())
    ]


def _version(python: str) -> str:
    """``python``'s major.minor version."""
    done = subprocess.run(
        [python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout.strip()


def copy_redfish_library(python: str, target: Path = LIBDIR) -> None:
    """Copy ``python``'s DMTF library and its requirements into ``target``.

    Raises:
        RuntimeError: ``python`` is not the system python3's version, or has
            no DMTF library.
    """
    wanted, system = _version(python), _version(SYSTEM_PYTHON)
    if wanted != system:
        raise RuntimeError(
            f"{python} is Python {wanted}, the system's python3 {system}: the"
            " lab's fence_hakit_redfish runs the system python3 with that"
            " interpreter's libraries, so both must be the same version"
        )
    for source, relative in redfish_files(python):
        copy = target / relative
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, copy)
        copy.chmod(0o644)
    for directory in [target, *(p for p in target.rglob("*") if p.is_dir())]:
        directory.chmod(0o755)


#: The user pacemaker-controld and pacemaker-fenced run agents' meta-data as.
CLUSTER_USER = "hacluster"


def check_cluster_user_runs(agent: Path, python: str) -> None:
    """Fail now, saying why, if the cluster's user cannot run ``agent``.

    pacemaker-controld reads a fence agent's meta-data as ``hacluster``
    before it starts the device.  An interpreter or library under a
    directory that user cannot enter (a virtualenv in a checkout under
    ``/root`` or in a ``mktemp -d`` directory) makes that read fail with
    exit 4, and the device's start is then never sent: a lab would wait for
    its fencing until it times out.
    """
    try:
        done = subprocess.run(
            [str(agent), "-o", "metadata"],
            user=CLUSTER_USER,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        failure = f"exit {done.returncode}" if done.returncode else ""
    except (OSError, subprocess.SubprocessError) as exc:
        failure = str(exc)
    if failure:
        raise RuntimeError(
            f"{CLUSTER_USER} cannot run {agent} ({failure}): its interpreter"
            f" {python} and the libraries it imports must be readable by"
            f" {CLUSTER_USER}; every directory above them must be searchable"
            " by others (chmod o+x)"
        )


def install_private(root: Path, redfish_python: str | None = None) -> Path:
    """Install hakit under ``root`` only; return the directory of the fence agents.

    The library goes to ``root/lib``, the launchers to ``root/sbin`` (and
    ``bin``, ``ocf``): nothing in the live system changes, so tests that only
    run fence agents do not race another test run for ``/usr/sbin``.  With
    ``redfish_python`` fence_hakit_redfish runs under that interpreter.
    """
    dirs = ("--libdir", str(root / "lib"), "--sbindir", str(root / "sbin"))
    dirs += ("--bindir", str(root / "bin"), "--ocf-root", str(root / "ocf"))
    run_installer(*dirs)
    if redfish_python:
        run_installer(*dirs, "--only", "fence_hakit_redfish", python=redfish_python)
    return root / "sbin"


def agent_path(name: str) -> Path:
    """The installed launcher of agent ``name``."""
    return AGENT_DIR / name


@dataclass
class Run:
    """What one agent action returned."""

    rc: int
    out: str
    err: str
    seconds: float

    @property
    def reasons(self) -> list[str]:
        """The ``ocf-exit-reason:`` lines."""
        prefix = "ocf-exit-reason:"
        return [
            line[len(prefix) :]
            for line in self.err.splitlines()
            if line.startswith(prefix)
        ]


def run(
    name: str,
    action: str,
    params: Mapping[str, object],
    *,
    instance: str = "",
    extra_env: Mapping[str, str] | None = None,
    timeout_ms: int = 60000,
    interval_ms: int = 0,
) -> Run:
    """Run an installed agent with the minimal environment pacemaker-execd gives."""
    environ = {
        "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
        "OCF_ROOT": str(OCF_ROOT),
        "OCF_RA_VERSION_MAJOR": "1",
        "OCF_RA_VERSION_MINOR": "1",
        "OCF_RESOURCE_INSTANCE": instance or f"it-{name}",
        "OCF_RESOURCE_TYPE": name,
        "OCF_RESOURCE_PROVIDER": "hakit",
        "OCF_RESKEY_crm_feature_set": "3.16.2",
        "OCF_RESKEY_CRM_meta_timeout": str(timeout_ms),
        "OCF_RESKEY_CRM_meta_interval": str(interval_ms),
    }
    environ.update({f"OCF_RESKEY_{k}": str(v) for k, v in params.items()})
    environ.update(extra_env or {})
    began = time.monotonic()
    proc = subprocess.run(
        [str(agent_path(name)), action],
        env=environ,
        capture_output=True,
        text=True,
        timeout=timeout_ms / 1000 + 30,
        check=False,
    )
    return Run(proc.returncode, proc.stdout, proc.stderr, time.monotonic() - began)


@dataclass
class NodeRun:
    """One action of an agent run inside a lab node (Galera, RabbitMQ labs)."""

    node: str
    action: str
    rc: int
    err: str
    seconds: float = 0.0

    @property
    def reason(self) -> str:
        """The exit reason, or ''."""
        for line in self.err.splitlines():
            if line.startswith("ocf-exit-reason:"):
                return line[len("ocf-exit-reason:") :]
        return ""

    def __str__(self) -> str:
        """Short form for assertion messages."""
        return f"{self.action} on {self.node}: rc {self.rc} {self.reason!r}"


#: What pacemaker-fenced gives a fence agent to run with.
FENCE_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}


def run_fence(
    agent: str | Path,
    options: Mapping[str, object] | None = None,
    *,
    argv: Sequence[str] = (),
    timeout: float = 90,
) -> tuple[int, str, str, float]:
    """Run a fence agent as pacemaker-fenced does; return rc, out, err, seconds.

    ``options`` go to stdin as ``key=value`` lines (None values are left
    out), unless ``argv`` is given: then stdin is empty, as on a command
    line.  ``out`` is stripped; ``seconds`` is the wall time of the process.
    """
    lines = "".join(
        f"{key}={value}\n"
        for key, value in (options or {}).items()
        if value is not None
    )
    began = time.monotonic()
    done = subprocess.run(
        [str(agent), *argv],
        input="" if argv else lines,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env=dict(FENCE_ENV),
    )
    return done.returncode, done.stdout.strip(), done.stderr, time.monotonic() - began


def run_redfish_fence(
    emulator: Any,
    action: str | None,
    *,
    agent: str | Path = "/usr/sbin/fence_hakit_redfish",
    **extra: object,
) -> tuple[int, str, str, float]:
    """Run the installed fence_hakit_redfish against a lab emulator (stdin options).

    TLS is verified against the emulator's CA; ``extra`` adds or overrides
    options (None leaves one out).
    """
    options: dict[str, object] = {
        "action": action,
        "ip": "127.0.0.1",
        "ipport": emulator.port,
        "username": "admin",
        "password": "adminpass",
        "ssl_ca_file": emulator.ca_file,
        "power_timeout": 5,
        "login_timeout": 5,
        "nodename": "ctl3",
        **extra,
    }
    return run_fence(agent, options)
