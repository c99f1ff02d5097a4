"""Meta-data rendering from a declaration."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from ocf_agents._runtime import metadata
from tests.unit.fake_agent import SPEC


def parse():
    text = metadata.render(SPEC)
    assert text.splitlines()[1] == metadata.DOCTYPE
    return ET.fromstring(text.split("\n", 2)[2])


def test_order_of_top_level_elements():
    root = parse()
    assert [child.tag for child in root] == [
        "version",
        "longdesc",
        "shortdesc",
        "parameters",
        "actions",
    ]
    assert root.get("name") == "fake"


def test_text_is_escaped():
    root = parse()
    assert root.find("shortdesc").text == "Fake agent <for> tests & checks"


def test_parameters_in_declaration_order_with_flags():
    params = parse().find("parameters")
    assert [p.get("name") for p in params] == ["state", "port", "password", "verbose"]
    state = params[0]
    assert state.get("required") == "1"
    assert state.find("content").get("default") is None
    port = params[1]
    assert port.find("content").attrib == {"type": "integer", "default": "8080"}


def test_replaced_name_is_documented_not_listed():
    verbose = parse().find("parameters")[3]
    assert "debug" in verbose.find("longdesc").text


def test_actions_with_timeouts_and_intervals():
    actions = {a.get("name"): a.attrib for a in parse().find("actions")}
    assert actions["monitor"] == {
        "name": "monitor",
        "timeout": "30s",
        "interval": "15s",
    }
    assert actions["promote"]["timeout"] == "120s"
    assert set(actions) >= {"start", "stop", "validate-all", "meta-data"}


def test_rendering_is_deterministic():
    assert metadata.render(SPEC) == metadata.render(SPEC)


def test_param_without_longdesc_gets_a_distinct_one():
    """crm ra info shows no title when the two descriptions are equal."""
    port = parse().find("parameters")[1]
    assert port.find("shortdesc").text == "A port"
    assert port.find("longdesc").text == "A port. Integer, default 8080."
    state = parse().find("parameters")[0]
    assert state.find("longdesc").text == "State file. String, not set by default."
