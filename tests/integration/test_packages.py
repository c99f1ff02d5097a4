"""hakit's packages, built and installed as an installer would, then purged.

The .debs come from ``packaging/build-deb.sh`` (lintian must report no error)
and go onto this machine with ``apt-get install ./*.deb``; every check runs
the installed commands with the system's PATH only (no virtualenv on PATH or
PYTHONPATH).  ``apt-get purge`` must then leave no hakit file behind, and
whatever the packages' paths held before (the suite's own installed
launchers) is put back.  The RPMs come from ``packaging/build-rpm.sh``
(rpmlint: no error) and are checked with rpm's query and ``--root`` install.
"""

from __future__ import annotations

import io
import os
import shutil
import stat
import subprocess
import tarfile
from pathlib import Path, PurePosixPath

import pytest

from fence_agents import registry as fence_registry
from ocf_agents._runtime import registry
from tests.integration.test_ocf_tester import ocf_tester
from tests.lab import agents
from tests.lab.ports import free_port
from tests.unavailable import unavailable

pytestmark = [pytest.mark.packages, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
SAFE_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C.UTF-8"}
HAKIT_PACKAGES = (
    "python3-hakit",
    "hakit-resource-agents",
    "hakit-fence-agents",
    "hakit-cib",
)
EXAMPLE = "/usr/share/hakit/examples/opnfv-3-controllers.toml"


def run(argv, check=True, timeout=300, **kwargs) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        argv,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={**SAFE_ENV, **kwargs.pop("env", {})},
        **kwargs,
    )
    if check and done.returncode != 0:
        raise AssertionError(
            f"{' '.join(map(str, argv))}: rc {done.returncode}\n"
            f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        )
    return done


def _need(*tools: str) -> None:
    missing = [t for t in tools if shutil.which(t, path=SAFE_ENV["PATH"]) is None]
    if missing:
        unavailable(f"package tools not installed: {', '.join(missing)}")


@pytest.fixture(scope="module")
def debs(tmp_path_factory) -> list[Path]:
    _need("dpkg-buildpackage", "lintian", "apt-get")
    if os.geteuid() != 0:
        unavailable("installing packages needs root")
    out = tmp_path_factory.mktemp("debs")
    run([str(ROOT / "packaging" / "build-deb.sh"), str(out)], timeout=600)
    return sorted(out.glob("*.deb"))


@pytest.fixture(scope="module")
def rpms(tmp_path_factory) -> list[Path]:
    _need("rpmbuild", "rpmlint", "rpm")
    out = tmp_path_factory.mktemp("rpms")
    run([str(ROOT / "packaging" / "build-rpm.sh"), str(out)], timeout=600)
    return sorted(out.glob("*.rpm"))


def deb_files(deb: Path) -> list[str]:
    """The regular files and links a .deb installs (absolute paths)."""
    listing = subprocess.run(
        ["dpkg-deb", "--fsys-tarfile", str(deb)], capture_output=True, check=True
    )
    paths = []
    with tarfile.open(fileobj=io.BytesIO(listing.stdout)) as tar:
        for member in tar.getmembers():
            if not member.isdir():
                paths.append(str(PurePosixPath("/") / member.name.lstrip("./")))
    return paths


def _snapshot(paths: list[str]) -> dict[str, tuple[bytes, int]]:
    saved = {}
    for path in paths:
        if os.path.isfile(path) and not os.path.islink(path):
            saved[path] = (Path(path).read_bytes(), os.stat(path).st_mode)
    return saved


def _restore(saved: dict[str, tuple[bytes, int]]) -> None:
    for path, (data, mode) in saved.items():
        os.makedirs(os.path.dirname(path), exist_ok=True)
        Path(path).write_bytes(data)
        os.chmod(path, stat.S_IMODE(mode))


#: Directories only hakit's packages create (checked empty before install).
OWN_DIRS = (
    "/usr/share/hakit",
    "/usr/lib/python3/dist-packages/ocf_agents",
    "/usr/lib/python3/dist-packages/fence_agents",
    "/usr/lib/python3/dist-packages/redfish",
)


def _installed(name: str) -> bool:
    done = run(["dpkg-query", "-W", "-f=${Status}", name], check=False)
    return "install ok installed" in done.stdout


@pytest.fixture(scope="module")
def system(debs):
    """The .debs installed with apt-get; purged and the machine restored after."""
    paths = [p for deb in debs for p in deb_files(deb)]
    saved = _snapshot(paths)
    for folder in OWN_DIRS:
        if os.path.exists(folder):
            unavailable(f"{folder} exists before the packages are installed")
    names = [deb.name.split("_")[0] for deb in debs]
    run(
        ["apt-get", "install", "-y", "-q", "--no-install-recommends",
         "-o", "DPkg::Lock::Timeout=600", *map(str, debs)],
        env={"DEBIAN_FRONTEND": "noninteractive"},
        timeout=600,
    )  # fmt: skip
    owned = {name: run(["dpkg", "-L", name]).stdout.split("\n") for name in names}
    try:
        yield owned
    finally:
        still = [name for name in names if _installed(name)]
        if still:
            run(["apt-get", "purge", "-y", "-q", *still],
                env={"DEBIAN_FRONTEND": "noninteractive"})  # fmt: skip
        _restore(saved)


def test_the_set_is_the_split_the_readme_names(debs):
    names = {deb.name.split("_")[0] for deb in debs}
    assert names == {*HAKIT_PACKAGES, "python3-redfish"}


def test_every_ocf_agent_is_known_to_pacemaker(system):
    for name in registry.names():
        done = run(["crm_resource", "--show-metadata", f"ocf:hakit:{name}"])
        assert f'<resource-agent name="{name}"' in done.stdout


def test_crm_and_pcs_describe_the_installed_agents(system):
    info = run(["crm", "ra", "info", "ocf:hakit:galera"])
    assert "wsrep_cluster_address" in info.stdout
    described = run(["pcs", "resource", "describe", "ocf:hakit:keystone"])
    assert "healthcheck_path" in described.stdout


def test_installed_launchers_use_the_system_python_only(system):
    for path in ("/usr/sbin/fence_hakit_redfish", "/usr/bin/hakit-cib",
                 "/usr/lib/ocf/resource.d/hakit/galera"):  # fmt: skip
        first = Path(path).read_text().splitlines()[0]
        assert first.startswith("#!/usr/bin/python3"), (path, first)
        assert ".venv" not in Path(path).read_text()


def test_fence_redfish_status_from_the_packages(system, redfish_emulator):
    # Debian 12 has no python3-redfish: the set brings it (DMTF 3.3.x).
    rc, out, err, _ = agents.run_redfish_fence(redfish_emulator, "status")
    assert (rc, out) == (0, "Status: ON"), err


def test_fence_redfish_fails_at_once_on_a_closed_port(system):
    # With the packaged library (3.3.x): no retries, no sleep, the cause named.
    port = free_port()
    options = {"action": "status", "ip": "127.0.0.1", "ipport": port,
               "username": "admin", "password": "x", "ssl_insecure": 1}  # fmt: skip
    rc, out, err, seconds = agents.run_fence("/usr/sbin/fence_hakit_redfish", options)
    assert (rc, out) == (1, "")
    assert f"127.0.0.1:{port}" in err and "refused" in err, err
    assert len(err.strip().splitlines()) == 1
    assert seconds < 1.0


def test_fence_ipmi_status_from_the_packages(system, ipmi_sim):
    rc, out, err, _ = agents.run_fence(
        "/usr/sbin/fence_hakit_ipmi",
        {"action": "status", "ip": "127.0.0.1", "ipport": ipmi_sim.port,
         "username": "admin", "password": "adminpass", "login_timeout": 3},
    )  # fmt: skip
    assert (rc, out) == (0, "Status: ON"), err


@pytest.mark.pacemaker
def test_the_fencer_reads_the_packaged_metadata(system, pcmk_cluster):
    for name in fence_registry.names():
        done = pcmk_cluster.run(["stonith_admin", "--metadata", "-a", name])
        assert "<resource-agent" in done.stdout
        assert 'name="ip"' in done.stdout


@pytest.mark.openstack
def test_ocf_tester_passes_on_a_packaged_agent(system, keystone_service, tmp_path):
    svc = keystone_service
    params = {
        "binary": svc.argv[0],
        "config": svc.config_files[0],
        "config_flag": "-c",
        "user": "root",
        "port": svc.port,
        "pidfile": tmp_path / "keystone.pid",
    }
    instance = "ocft-packaged-keystone"
    try:
        result = ocf_tester("keystone", instance, params)
        assert result.returncode == 0, result.stdout + result.stderr
    finally:
        stopped = agents.run("keystone", "stop", params, instance=instance)
        assert stopped.rc == 0, stopped.err


def test_hakit_cib_builds_the_installed_example(system, tmp_path):
    out = tmp_path / "cib.xml"
    run(["hakit-cib", "build", EXAMPLE, "-o", str(out)], cwd=tmp_path)
    assert b"hakit-galera-clone" in out.read_bytes()
    assert run(["man", "-w", "hakit-cib"]).stdout.strip().endswith(".1.gz")
    assert run(["man", "-w", "fence_hakit_ipmi"]).stdout.strip().endswith(".8.gz")


def test_purge_leaves_no_hakit_file(system):
    names = [n for n in system if _installed(n)]
    run(["apt-get", "purge", "-y", "-q", *names],
        env={"DEBIAN_FRONTEND": "noninteractive"})  # fmt: skip
    left = [
        path
        for files in system.values()
        for path in files
        if path and os.path.lexists(path) and not os.path.isdir(path)
    ]
    assert left == []
    for folder in OWN_DIRS:
        assert not os.path.exists(folder), folder


# -- RPM --------------------------------------------------------------------------


def rpm_files(rpm: Path) -> list[str]:
    """The files and links (not directories) an RPM installs."""
    listing = run(
        ["rpm", "-qp", "--qf", "[%{FILEMODES:perms} %{FILENAMES}\n]", str(rpm)]
    )
    return [
        line.split(" ", 1)[1]
        for line in listing.stdout.splitlines()
        if line and not line.startswith("d")
    ]


def test_rpm_requires(rpms):
    by_name = {run(["rpm", "-qp", "--qf", "%{NAME}", str(r)]).stdout: r for r in rpms}
    assert set(by_name) == set(HAKIT_PACKAGES)
    fence = run(["rpm", "-qp", "--requires", str(by_name["hakit-fence-agents"])]).stdout
    for need in ("python3-pyghmi", "python3-redfish", "python3-cryptography",
                 "fence-agents-common"):  # fmt: skip
        assert need in fence
    cib = run(["rpm", "-qp", "--requires", str(by_name["hakit-cib"])]).stdout
    assert "python3-lxml" in cib and "pacemaker-cli" in cib


def test_rpm_installs_into_a_root_with_the_right_modes(rpms, tmp_path):
    root = tmp_path / "root"
    run(["rpm", "--root", str(root), "--nodeps", "--noscripts", "-i",
         *map(str, rpms)])  # fmt: skip
    for path in ("usr/sbin/fence_hakit_ipmi", "usr/bin/hakit-cib",
                 "usr/lib/ocf/resource.d/hakit/galera"):  # fmt: skip
        mode = stat.S_IMODE((root / path).stat().st_mode)
        assert mode == 0o755, (path, oct(mode))
    example = root / "usr/share/hakit/examples/opnfv-3-controllers.toml"
    assert stat.S_IMODE(example.stat().st_mode) == 0o644


def _normal(path: str) -> str | None:
    """A package path with the Python directory and compression made neutral."""
    parts = PurePosixPath(path).parts
    if "__pycache__" in parts or any(p.endswith(".dist-info") for p in parts):
        return None
    if path.startswith("/usr/share/doc/") or path.startswith("/usr/share/licenses/"):
        return None
    for marker in ("dist-packages", "site-packages"):
        if marker in parts:
            return "PYTHON/" + "/".join(parts[parts.index(marker) + 1 :])
    return path


def test_rpm_and_deb_install_the_same_files(rpms, debs):
    def files(paths):
        return sorted(n for n in map(_normal, paths) if n is not None)

    from_debs = files(
        p for deb in debs if not deb.name.startswith("python3-redfish")
        for p in deb_files(deb)
    )  # fmt: skip
    from_rpms = files(p for rpm in rpms for p in rpm_files(rpm))
    assert from_rpms == from_debs
    assert "/usr/lib/ocf/resource.d/hakit/galera" in from_rpms
