"""OCF_RESKEY_* parsing driven by the declaration."""

from __future__ import annotations

import logging

import pytest

from ocf_agents._runtime import env
from ocf_agents._runtime.errors import ConfigError
from tests.unit.fake_agent import SPEC


def test_defaults_are_converted_like_input():
    cfg = env.load(SPEC, {"OCF_RESKEY_state": "/run/x"})
    assert cfg["port"] == 8080
    assert cfg["verbose"] is False
    assert cfg["password"] is None
    assert cfg["state"] == "/run/x"


def test_empty_value_means_unset():
    cfg = env.load(SPEC, {"OCF_RESKEY_state": "/run/x", "OCF_RESKEY_port": ""})
    assert cfg["port"] == 8080


def test_all_problems_reported_at_once():
    with pytest.raises(ConfigError) as info:
        env.load(SPEC, {"OCF_RESKEY_port": "eighty", "OCF_RESKEY_verbose": "perhaps"})
    problems = info.value.problems
    assert len(problems) == 3
    assert any(p.startswith("required parameter state") for p in problems)
    assert any(p.startswith("port=") for p in problems)
    assert any(p.startswith("verbose=") for p in problems)


def test_secret_values_never_in_problems():
    spec_env = {"OCF_RESKEY_state": "/run/x", "OCF_RESKEY_password": "s3cr3t\nx"}
    with pytest.raises(ConfigError) as info:
        env.load(SPEC, spec_env)
    assert "s3cr3t" not in str(info.value)
    assert "<secret>" in str(info.value)


def test_replaced_name_accepted_with_warning(caplog):
    with caplog.at_level(logging.WARNING):
        cfg = env.load(SPEC, {"OCF_RESKEY_state": "/run/x", "OCF_RESKEY_debug": "yes"})
    assert cfg["verbose"] is True
    assert "deprecated" in caplog.text


def test_current_name_wins_over_replaced_name():
    cfg = env.load(
        SPEC,
        {
            "OCF_RESKEY_state": "/r",
            "OCF_RESKEY_debug": "yes",
            "OCF_RESKEY_verbose": "0",
        },
    )
    assert cfg["verbose"] is False


def test_lenient_load_keeps_defaults_for_bad_values():
    cfg = env.load(SPEC, {"OCF_RESKEY_port": "eighty"}, lenient=True)
    assert cfg["port"] == 8080
    assert cfg["state"] is None


def test_secrets_of_collects_raw_values():
    assert env.secrets_of(SPEC, {"OCF_RESKEY_password": "pw"}) == ["pw"]


def test_long_value_is_cut_in_problems_and_its_length_given():
    """A 100 KB value must not be echoed whole into the exit reason (issue #11)."""
    huge = "x" * 102400
    with pytest.raises(ConfigError) as info:
        env.load(SPEC, {"OCF_RESKEY_state": "/run/x", "OCF_RESKEY_port": huge})
    (problem,) = info.value.problems
    assert "102400 characters" in problem
    assert len(problem) < 4 * env.SHOWN_CHARS


def test_short_value_is_shown_whole():
    with pytest.raises(ConfigError) as info:
        env.load(SPEC, {"OCF_RESKEY_state": "/run/x", "OCF_RESKEY_port": "eighty"})
    assert "'eighty'" in str(info.value)
    assert "characters" not in str(info.value)


def test_shown_cuts_at_the_limit():
    assert env.shown("abc") == "'abc'"
    cut = env.shown("y" * (env.SHOWN_CHARS + 1))
    assert (
        cut == repr("y" * env.SHOWN_CHARS) + f"... ({env.SHOWN_CHARS + 1} characters)"
    )
