"""Skip or fail: what a test does when this machine lacks something it needs.

Outside CI a test whose daemon, tool or schema is missing skips with the
reason; with ``CI=true`` it fails instead, so CI can never go green without
running it (STYLE.md section 8).  Every tier calls this one helper.
"""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def unavailable(reason: str) -> NoReturn:
    """Fail the current test (``CI=true``) or skip it, giving ``reason``."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true: not skipping)", pytrace=False)
    pytest.skip(reason)
