"""Bad parameters give the documented OCF code, one exit reason, no traceback."""

from __future__ import annotations

import os

import pytest

from ocf_agents._runtime import registry
from ocf_agents._runtime.rc import OcfRc
from ocf_agents.openstack.services import SERVICES
from tests.contract.conftest import run_agent

AGENT = "glance-api"


def assert_clean_failure(result, rc, words):
    assert result.rc == rc, result.err
    assert len(result.reasons) == 1, result.err
    for word in words:
        assert word in result.reasons[0]
    assert "Traceback" not in result.err


@pytest.mark.parametrize("action", ["validate-all", "start"])
def test_missing_binary_is_not_installed(fakesvc, action):
    params, extra = fakesvc
    params = {**params, "binary": "/nonexistent/glance-api"}
    result = run_agent(AGENT, action, params, extra)
    assert_clean_failure(result, OcfRc.ERR_INSTALLED, ["/nonexistent/glance-api"])


@pytest.mark.parametrize("action", ["validate-all", "start", "monitor"])
def test_non_numeric_port_is_err_configured(fakesvc, action):
    params, extra = fakesvc
    params = {**params, "port": "http"}
    extra = {**extra, "OCF_RESKEY_CRM_meta_interval": "10000"}
    result = run_agent(AGENT, action, params, extra)
    assert_clean_failure(result, OcfRc.ERR_CONFIGURED, ["port=", "not an integer"])


@pytest.mark.parametrize("action", ["validate-all", "start"])
def test_unknown_user_is_err_args(fakesvc, action):
    params, extra = fakesvc
    params = {**params, "user": "hakit-no-such-user"}
    result = run_agent(AGENT, action, params, extra)
    assert_clean_failure(result, OcfRc.ERR_ARGS, ["hakit-no-such-user"])


@pytest.mark.parametrize(
    ("param", "value"),
    [
        ("extra_args", "--port 1; touch /tmp/hakit-pwned"),
        ("extra_args", "$(touch /tmp/hakit-pwned)"),
        ("binary", "/usr/bin/true;touch /tmp/hakit-pwned"),
        ("config", "/etc/x.conf|touch"),
        ("user", "root`touch /tmp/hakit-pwned`"),
        ("bind_address", "127.0.0.1;touch"),
        ("environment", "A=1 LD_PRELOAD=/tmp/x.so"),
    ],
)
def test_shell_metacharacters_are_refused(fakesvc, param, value):
    params, extra = fakesvc
    result = run_agent(AGENT, "start", {**params, param: value}, extra)
    assert_clean_failure(result, OcfRc.ERR_CONFIGURED, [param])
    assert not os.path.exists("/tmp/hakit-pwned")


def test_missing_config_file_is_err_args(fakesvc):
    params, extra = fakesvc
    result = run_agent(AGENT, "start", {**params, "config": "/nonexistent.conf"}, extra)
    assert_clean_failure(result, OcfRc.ERR_ARGS, ["/nonexistent.conf"])


def test_several_problems_in_one_reason(fakesvc):
    params, extra = fakesvc
    params = {**params, "port": "x", "health": "maybe", "amqp_grace": "-1"}
    result = run_agent(AGENT, "validate-all", params, extra)
    assert_clean_failure(
        result, OcfRc.ERR_CONFIGURED, ["port=", "health=", "amqp_grace="]
    )


@pytest.mark.parametrize("svc", SERVICES, ids=lambda s: s.name)
def test_start_without_the_service_installed(svc, tmp_path):
    if os.path.exists(svc.binary):
        pytest.skip(f"{svc.binary} is installed on this machine")
    result = run_agent(svc.name, "start", {}, {"HA_RSCTMP": str(tmp_path)})
    assert_clean_failure(result, OcfRc.ERR_INSTALLED, [svc.binary, "not installed"])


@pytest.mark.parametrize("name", registry.names())
def test_probe_without_the_service_installed_is_not_running(name, tmp_path):
    result = run_agent(name, "monitor", {}, {"HA_RSCTMP": str(tmp_path)})
    assert result.rc == OcfRc.NOT_RUNNING
