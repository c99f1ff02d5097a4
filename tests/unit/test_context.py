"""Action context: deadlines, probes, clone instances."""

from __future__ import annotations

from ocf_agents._runtime import context
from tests.unit.fake_agent import SPEC


def test_deadline_from_pacemaker_timeout_minus_margin():
    ctx = context.build(SPEC, "start", {"OCF_RESKEY_CRM_meta_timeout": "20000"})
    assert 17.5 < ctx.deadline.remaining() <= 18.0


def test_short_timeout_keeps_a_proportional_margin():
    ctx = context.build(SPEC, "start", {"OCF_RESKEY_CRM_meta_timeout": "5000"})
    assert 4.0 < ctx.deadline.remaining() <= 4.5


def test_deadline_defaults_to_declared_timeout():
    ctx = context.build(SPEC, "promote", {})
    assert 117 < ctx.deadline.remaining() <= 118


def test_probe_and_recurring_monitor():
    probe = context.build(SPEC, "monitor", {})
    recurring = context.build(
        SPEC, "monitor", {"OCF_RESKEY_CRM_meta_interval": "10000"}
    )
    assert probe.is_probe and not recurring.is_probe
    assert recurring.interval_ms == 10000


def test_clone_suffix_dropped_from_resource_name():
    ctx = context.build(SPEC, "start", {"OCF_RESOURCE_INSTANCE": "nova-api-clone:2"})
    assert ctx.instance == "nova-api-clone:2"
    assert ctx.resource == "nova-api-clone"


def test_check_level_and_rsctmp():
    ctx = context.build(SPEC, "monitor", {"OCF_CHECK_LEVEL": "10", "HA_RSCTMP": "/x"})
    assert ctx.check_level == 10
    assert ctx.rsctmp == "/x"


def test_garbage_timeout_falls_back_to_declaration():
    ctx = context.build(SPEC, "stop", {"OCF_RESKEY_CRM_meta_timeout": "soon"})
    assert 57 < ctx.deadline.remaining() <= 58
