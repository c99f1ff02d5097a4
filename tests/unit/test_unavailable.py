"""The one skip-or-fail helper: CI=true fails, anything else skips."""

from __future__ import annotations

import pytest

from tests.unavailable import unavailable


def test_ci_fails_with_the_reason(monkeypatch):
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="ipmi_sim is missing"):
        unavailable("ipmi_sim is missing")


@pytest.mark.parametrize("ci", [None, "", "false", "1"])
def test_elsewhere_skips_with_the_reason(monkeypatch, ci):
    if ci is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", ci)
    with pytest.raises(pytest.skip.Exception, match="ipmi_sim is missing"):
        unavailable("ipmi_sim is missing")
