"""ocf:hakit:galera refuses bad parameters with the documented code and one reason.

No daemon is needed: every case fails before mariadbd or the cluster tools
would be used.  The agent runs in a fresh interpreter, as Pacemaker runs it.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from ocf_agents._runtime.rc import OcfRc
from tests.contract.conftest import run_agent
from tests.unavailable import unavailable

AGENT = "galera"
BINARY = "/usr/sbin/mariadbd"


def _need_mariadb() -> None:
    if os.path.exists(BINARY) and shutil.which("mariadb-install-db"):
        return
    unavailable("MariaDB is not installed")


@pytest.fixture
def galera_params(tmp_path: Path) -> dict[str, str]:
    _need_mariadb()
    datadir = tmp_path / "data"
    datadir.mkdir()
    config = tmp_path / "my.cnf"
    config.write_text("[mysqld]\n")
    return {
        "wsrep_cluster_address": "gcomm://10.0.0.1,10.0.0.2,10.0.0.3",
        "cluster_host_map": "ctl1:10.0.0.1;ctl2:10.0.0.2;ctl3:10.0.0.3",
        "config": str(config),
        "datadir": str(datadir),
        "socket": str(tmp_path / "mysqld.sock"),
    }


def _env(tmp_path: Path, **meta: str) -> dict[str, str]:
    rsctmp = tmp_path / "rsctmp"
    rsctmp.mkdir(exist_ok=True)
    env = {"HA_RSCTMP": str(rsctmp), "OCF_RESOURCE_INSTANCE": "galera:0"}
    env.update({f"OCF_RESKEY_CRM_meta_{k}": v for k, v in meta.items()})
    return env


def assert_clean_failure(result, rc: int, words: list[str]) -> None:
    assert result.rc == rc, result.err
    assert len(result.reasons) == 1, result.err
    for word in words:
        assert word in result.reasons[0], result.reasons
    assert "Traceback" not in result.err


@pytest.mark.parametrize(
    ("address", "words"),
    [
        ("10.0.0.1,10.0.0.2", ["wsrep_cluster_address", "gcomm://"]),
        ("gcomm://", ["wsrep_cluster_address", "names no host"]),
        ("gcomm://10.0.0.1;reboot", ["wsrep_cluster_address"]),
        ("gcomm://a?x=$(id)", ["wsrep_cluster_address"]),
    ],
)
@pytest.mark.parametrize("action", ["validate-all", "start", "promote"])
def test_wrong_cluster_address_is_err_configured(
    tmp_path, galera_params, address, words, action
):
    params = {**galera_params, "wsrep_cluster_address": address}
    result = run_agent(AGENT, action, params, _env(tmp_path))
    assert_clean_failure(result, OcfRc.ERR_CONFIGURED, words)


def test_missing_cluster_address_is_err_configured(tmp_path, galera_params):
    params = dict(galera_params)
    del params["wsrep_cluster_address"]
    result = run_agent(AGENT, "validate-all", params, _env(tmp_path))
    assert_clean_failure(result, OcfRc.ERR_CONFIGURED, ["wsrep_cluster_address"])


def test_malformed_host_map_is_err_configured(tmp_path, galera_params):
    params = {**galera_params, "cluster_host_map": "ctl1=10.0.0.1"}
    result = run_agent(AGENT, "validate-all", params, _env(tmp_path))
    assert_clean_failure(result, OcfRc.ERR_CONFIGURED, ["cluster_host_map"])


def test_host_map_matching_no_member_is_err_args(tmp_path, galera_params):
    params = {**galera_params, "cluster_host_map": "ctl1:10.9.9.9"}
    result = run_agent(AGENT, "validate-all", params, _env(tmp_path))
    assert_clean_failure(result, OcfRc.ERR_ARGS, ["cluster_host_map"])


@pytest.mark.parametrize("action", ["validate-all", "start"])
def test_missing_datadir_is_not_installed(tmp_path, galera_params, action):
    params = {**galera_params, "datadir": str(tmp_path / "nope")}
    result = run_agent(AGENT, action, params, _env(tmp_path))
    assert_clean_failure(result, OcfRc.ERR_INSTALLED, [str(tmp_path / "nope")])


def test_missing_datadir_probe_is_not_running(tmp_path, galera_params):
    params = {**galera_params, "datadir": str(tmp_path / "nope")}
    result = run_agent(AGENT, "monitor", params, _env(tmp_path, interval="0"))
    assert result.rc == OcfRc.NOT_RUNNING, result.err


def test_probe_of_a_never_started_instance_is_not_running(tmp_path, galera_params):
    result = run_agent(AGENT, "monitor", galera_params, _env(tmp_path, interval="0"))
    assert result.rc == OcfRc.NOT_RUNNING, result.err
    assert not result.reasons


def test_empty_datadir_without_creation_is_refused(tmp_path, galera_params):
    result = run_agent(AGENT, "start", galera_params, _env(tmp_path))
    assert_clean_failure(result, OcfRc.ERR_ARGS, ["enable_creation"])


def test_world_readable_password_file_is_err_perm(tmp_path, galera_params):
    secret = tmp_path / "monitor.cnf"
    secret.write_text("[client]\nuser=monitor\npassword=S3cret-pw\n")
    secret.chmod(0o644)
    params = {**galera_params, "check_defaults_file": str(secret)}
    result = run_agent(AGENT, "validate-all", params, _env(tmp_path))
    assert_clean_failure(result, OcfRc.ERR_PERM, [str(secret), "chmod 600"])
    assert "S3cret-pw" not in result.err + result.out


def test_password_file_without_user_is_err_args(tmp_path, galera_params):
    secret = tmp_path / "monitor.cnf"
    secret.write_text("[client]\npassword=S3cret-pw\n")
    secret.chmod(0o600)
    params = {**galera_params, "check_defaults_file": str(secret)}
    result = run_agent(AGENT, "validate-all", params, _env(tmp_path))
    assert_clean_failure(result, OcfRc.ERR_ARGS, [str(secret), "names no user"])
    assert "S3cret-pw" not in result.err + result.out


@pytest.mark.parametrize("action", ["validate-all", "start", "promote"])
def test_missing_client_is_not_installed(tmp_path, galera_params, action):
    params = {**galera_params, "client_binary": str(tmp_path / "mariadb")}
    result = run_agent(AGENT, action, params, _env(tmp_path))
    assert_clean_failure(result, OcfRc.ERR_INSTALLED, ["client_binary"])


def test_missing_password_file_is_err_args(tmp_path, galera_params):
    params = {**galera_params, "check_defaults_file": str(tmp_path / "none.cnf")}
    result = run_agent(AGENT, "validate-all", params, _env(tmp_path))
    assert_clean_failure(result, OcfRc.ERR_ARGS, ["none.cnf"])


def test_unreadable_password_file_is_err_perm(galera_params):
    """An agent run by a user who cannot read the file (root reads everything)."""
    if os.geteuid() != 0:
        pytest.skip("needs root to run the agent as another user")
    nobody = pwd.getpwnam("nobody")
    # pytest's tmp_path is private to root: nobody needs a readable config.
    with tempfile.TemporaryDirectory(prefix="hakit-galera-") as scratch:
        os.chmod(scratch, 0o755)
        config = Path(scratch, "my.cnf")
        config.write_text("[mysqld]\n")
        config.chmod(0o644)
        Path(scratch, "data").mkdir()
        # The checkout and its venv may sit in a directory nobody cannot
        # enter: give nobody its own copy of the library and the system python.
        root = Path(__file__).resolve().parents[2]
        for package in ("ocf_agents", "ha_common"):
            shutil.copytree(root / package, Path(scratch, "lib", package))
        for dirpath, _, _ in os.walk(Path(scratch, "lib")):
            os.chmod(dirpath, 0o755)
        secret = Path(scratch, "monitor.cnf")
        secret.write_text("[client]\nuser=monitor\npassword=S3cret-pw\n")
        secret.chmod(0o600)
        params = {
            **galera_params,
            "config": str(config),
            "datadir": f"{scratch}/data",
            "check_defaults_file": str(secret),
            "user": "nobody",
        }
        env = {
            "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
            "OCF_ROOT": "/usr/lib/ocf",
            **{f"OCF_RESKEY_{k}": v for k, v in params.items()},
            "HA_RSCTMP": scratch,
            "PYTHONPATH": f"{scratch}/lib",
        }
        code = "from ocf_agents._runtime.dispatch import main; main('galera')"
        done = subprocess.run(
            ["/usr/bin/python3", "-s", "-c", code, "validate-all"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            user=nobody.pw_uid,
            group=nobody.pw_gid,
            extra_groups=[],
        )
    assert done.returncode == OcfRc.ERR_PERM, done.stderr
    assert "not readable" in done.stderr and "Traceback" not in done.stderr
    assert "S3cret-pw" not in done.stderr + done.stdout
