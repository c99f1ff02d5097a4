"""Declarations refuse what could never work or would read blank."""

from __future__ import annotations

import pytest

from ha_common.kinds import STRING
from ocf_agents._runtime.spec import (
    AgentSpec,
    Param,
    Timing,
    standard_actions,
)


@pytest.mark.parametrize(
    ("shortdesc", "longdesc"),
    [
        ("", ""),
        ("   ", "Something."),
        ("port", ""),  # only the name: crm ra info shows no title
        ("Two\nlines", ""),
        ("Same text", "Same text"),  # crm ra info shows no title either
    ],
)
def test_param_refuses_a_blank_or_repeated_shortdesc(shortdesc, longdesc):
    with pytest.raises(ValueError, match="port"):
        Param("port", STRING, shortdesc, longdesc)


def test_param_with_distinct_descriptions_is_accepted():
    param = Param("port", STRING, "TCP port", "Port the service listens on.")
    assert param.shortdesc == "TCP port"


def spec(**overrides: object) -> AgentSpec:
    fields: dict[str, object] = {
        "name": "demo",
        "shortdesc": "Demo agent",
        "longdesc": "Does nothing, in detail.",
        "params": (),
        "actions": standard_actions(),
        "handlers": "nowhere",
        **overrides,
    }
    return AgentSpec(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "overrides",
    [{"shortdesc": ""}, {"shortdesc": "demo"}, {"longdesc": "Demo agent"}],
)
def test_agent_refuses_a_blank_or_repeated_shortdesc(overrides):
    with pytest.raises(ValueError, match="agent demo"):
        spec(**overrides)


def test_default_timeout_of_a_monitor_follows_its_interval():
    declared = spec(
        actions=standard_actions(
            monitor=Timing(timeout=30, interval=20),
            extra_monitors=(Timing(timeout=90, interval=120, depth=10),),
        )
    )
    assert declared.default_timeout("monitor", 120) == 90
    assert declared.default_timeout("monitor", 20) == 30
    assert declared.default_timeout("monitor", 7) == 30  # first declaration
    assert declared.default_timeout("monitor") == 30
    assert declared.default_timeout("migrate_to") == 20  # undeclared
