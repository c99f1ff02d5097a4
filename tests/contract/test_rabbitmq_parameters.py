"""ocf:hakit:rabbitmq refuses bad parameters with the documented code and one reason.

README: a malformed node name, URL or policy is 6 (OCF_ERR_CONFIGURED), a
cookie file not named ``.erlang.cookie`` too; a missing program or Mnesia
base 5, a missing cookie or credentials file 2, one others may read 4.
Every case fails before a RabbitMQ program would run; a probe with bad
parameters and no node still says "not running", so nothing is recovered.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from ocf_agents._runtime.rc import OcfRc
from tests.contract.conftest import current_user, run_agent
from tests.unavailable import unavailable

AGENT = "rabbitmq"
BIN_DIR = "/usr/lib/rabbitmq/bin"
PWNED = "/tmp/hakit-pwned"


@pytest.fixture
def params(tmp_path: Path) -> dict[str, str]:
    """Parameters that pass validate-all on this host, as the lab's do."""
    if not os.path.exists(f"{BIN_DIR}/rabbitmq-server"):
        unavailable("RabbitMQ is not installed")
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    cookie = home / ".erlang.cookie"
    cookie.write_text("HAKITCONTRACTCOOKIE")
    cookie.chmod(0o400)
    credentials = tmp_path / "mgmt.credentials"
    credentials.write_text("guest:guest\n")
    credentials.chmod(0o600)
    mnesia = tmp_path / "mnesia"
    mnesia.mkdir()
    config = tmp_path / "rabbitmq.conf"
    config.write_text("listeners.tcp.default = 5672\n")
    return {
        "nodename": "rabbit@ctl1",
        "user": current_user(),
        "env_file": "/dev/null",
        "config_file": str(config),
        "mnesia_base": str(mnesia),
        "log_base": str(tmp_path),
        "erlang_cookie": str(cookie),
        "management_url": "http://127.0.0.1:15672",
        "management_credentials": str(credentials),
    }


def env(tmp_path: Path, interval_ms: int = 0) -> dict[str, str]:
    rsctmp = tmp_path / "rsctmp"
    rsctmp.mkdir(exist_ok=True)
    return {
        "HA_RSCTMP": str(rsctmp),
        "OCF_RESOURCE_INSTANCE": "rabbitmq:0",
        "OCF_RESKEY_CRM_meta_interval": str(interval_ms),
    }


def assert_clean_failure(result, rc: int, words: list[str]) -> None:
    assert result.rc == rc, result.err
    assert len(result.reasons) == 1, result.err
    for word in words:
        assert word in result.reasons[0], result.reasons
    assert "Traceback" not in result.err


def test_good_parameters_validate(params, tmp_path):
    result = run_agent(AGENT, "validate-all", params, env(tmp_path))
    assert result.rc == OcfRc.SUCCESS, result.err


@pytest.mark.parametrize(
    ("param", "value", "words"),
    [
        ("nodename", "rabbit@", ["nodename"]),
        ("nodename", "rabbit@ctl1;reboot", ["nodename"]),
        ("management_url", "ftp://127.0.0.1:15672", ["management_url"]),
        ("policy", "ha-all;^;not json", ["policy", "JSON"]),
        ("policy", "ha all;^;{}", ["policy"]),
        ("node_port", "amqp", ["node_port"]),
        ("forget_on_removal", "maybe", ["forget_on_removal"]),
        ("environment", "LD_PRELOAD=/tmp/x.so", ["environment"]),
        ("environment", "A=$(touch /tmp/hakit-pwned)", ["environment"]),
    ],
)
@pytest.mark.parametrize("action", ["validate-all", "start"])
def test_malformed_values_are_err_configured(
    params, tmp_path, param, value, words, action
):
    result = run_agent(AGENT, action, {**params, param: value}, env(tmp_path))
    assert_clean_failure(result, OcfRc.ERR_CONFIGURED, words)
    assert not os.path.exists(PWNED)


def test_a_cookie_not_named_erlang_cookie_is_err_configured(params, tmp_path):
    other = tmp_path / "cookie"
    shutil.copy(params["erlang_cookie"], other)
    other.chmod(0o400)
    result = run_agent(
        AGENT, "validate-all", {**params, "erlang_cookie": str(other)}, env(tmp_path)
    )
    assert_clean_failure(result, OcfRc.ERR_CONFIGURED, [".erlang.cookie"])


@pytest.mark.parametrize(
    ("param", "value"),
    [
        ("bin_dir", "/nonexistent/rabbitmq/bin"),
        ("mnesia_base", "/nonexistent/mnesia"),
    ],
)
def test_missing_programs_or_mnesia_base_are_not_installed(
    params, tmp_path, param, value
):
    result = run_agent(AGENT, "start", {**params, param: value}, env(tmp_path))
    assert_clean_failure(result, OcfRc.ERR_INSTALLED, [value])


@pytest.mark.parametrize("param", ["erlang_cookie", "management_credentials"])
def test_missing_secret_files_are_err_args(params, tmp_path, param):
    missing = str(tmp_path / "gone" / Path(params[param]).name)
    result = run_agent(AGENT, "start", {**params, param: missing}, env(tmp_path))
    assert_clean_failure(result, OcfRc.ERR_ARGS, [missing])


@pytest.mark.parametrize("param", ["erlang_cookie", "management_credentials"])
def test_secret_files_others_may_read_are_err_perm(params, tmp_path, param):
    os.chmod(params[param], 0o644)
    result = run_agent(AGENT, "validate-all", params, env(tmp_path))
    assert_clean_failure(result, OcfRc.ERR_PERM, [params[param]])
    # The secret itself appears nowhere.
    assert "HAKITCONTRACTCOOKIE" not in result.err + result.out
    assert "guest:guest" not in result.err + result.out


@pytest.mark.parametrize(
    ("param", "value"),
    [
        ("bin_dir", "/nonexistent/rabbitmq/bin"),
        ("policy", "ha-all;^;not json"),
        ("erlang_cookie", "/nonexistent/.erlang.cookie"),
    ],
)
def test_a_probe_with_bad_parameters_and_no_node_is_not_running(
    params, tmp_path, param, value
):
    result = run_agent(AGENT, "monitor", {**params, param: value}, env(tmp_path))
    assert result.rc == OcfRc.NOT_RUNNING, result.err
    assert "Traceback" not in result.err
