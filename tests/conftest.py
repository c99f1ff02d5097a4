"""Root conftest: the lab fixtures are available to every test tier."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ha_common import lazylog

pytest_plugins = ["tests.lab.fixtures"]


@pytest.fixture(autouse=True)
def _lazylog_reset() -> Iterator[None]:
    """Agents' mains configure ha_common.lazylog globally; no test inherits it."""
    yield
    lazylog.configure(0, None)
