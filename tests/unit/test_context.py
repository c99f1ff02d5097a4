"""Action context: deadlines, probes, clone instances."""

from __future__ import annotations

import logging

import pytest

from ocf_agents._runtime import context
from ocf_agents._runtime.errors import InvocationError
from ocf_agents._runtime.rc import OcfRc
from tests.unit.fake_agent import SPEC

#: What Pacemaker always sets.
BASE = {"OCF_RESOURCE_INSTANCE": "fake"}


def build(action, **environ):
    return context.build(SPEC, action, {**BASE, **environ})


def test_deadline_from_pacemaker_timeout_minus_margin():
    ctx = build("start", OCF_RESKEY_CRM_meta_timeout="20000")
    assert 17.5 < ctx.deadline.remaining() <= 18.0


def test_short_timeout_keeps_a_proportional_margin():
    ctx = build("start", OCF_RESKEY_CRM_meta_timeout="5000")
    assert 4.0 < ctx.deadline.remaining() <= 4.5


def test_deadline_defaults_to_declared_timeout():
    ctx = build("promote")
    assert 117 < ctx.deadline.remaining() <= 118


@pytest.mark.parametrize("given", ["0", "-1", "-20000", "soon"])
def test_unusable_timeout_gives_the_declared_one_and_says_so(given, caplog):
    """A timeout of 0 must not make start fail before it tried (issue #11)."""
    with caplog.at_level(logging.WARNING):
        ctx = build("stop", OCF_RESKEY_CRM_meta_timeout=given)
    assert 57 < ctx.deadline.remaining() <= 58
    (record,) = caplog.records
    assert record.levelno == logging.WARNING
    assert repr(given) in record.getMessage()


def test_monitor_without_timeout_takes_its_own_interval_declaration():
    """The fake agent declares one monitor: 15 s interval, 30 s timeout."""
    recurring = build("monitor", OCF_RESKEY_CRM_meta_interval="15000")
    assert 27 < recurring.deadline.remaining() <= 28
    unknown_interval = build("monitor", OCF_RESKEY_CRM_meta_interval="99000")
    assert 27 < unknown_interval.deadline.remaining() <= 28


def test_probe_and_recurring_monitor():
    probe = build("monitor")
    recurring = build("monitor", OCF_RESKEY_CRM_meta_interval="10000")
    assert probe.is_probe and not recurring.is_probe
    assert recurring.interval_ms == 10000


def test_clone_suffix_dropped_from_resource_name():
    ctx = build("start", OCF_RESOURCE_INSTANCE="nova-api-clone:2")
    assert ctx.instance == "nova-api-clone:2"
    assert ctx.resource == "nova-api-clone"


def test_check_level_and_rsctmp():
    ctx = build("monitor", OCF_CHECK_LEVEL="10", HA_RSCTMP="/x")
    assert ctx.check_level == 10
    assert ctx.rsctmp == "/x"


@pytest.mark.parametrize("action", ["start", "stop", "monitor", "promote", "notify"])
@pytest.mark.parametrize("environ", [{}, {"OCF_RESOURCE_INSTANCE": ""}])
def test_actions_on_the_resource_refuse_a_missing_instance(action, environ):
    """The pid file would silently become the agent's, shared by every resource."""
    with pytest.raises(InvocationError) as info:
        context.build(SPEC, action, environ)
    assert info.value.rc == OcfRc.ERR_ARGS


def test_validate_all_without_instance_uses_the_agent_name_and_says_so(caplog):
    with caplog.at_level(logging.INFO):
        ctx = context.build(SPEC, "validate-all", {})
    assert ctx.instance == ctx.resource == "fake"
    assert any("OCF_RESOURCE_INSTANCE" in r.getMessage() for r in caplog.records)
