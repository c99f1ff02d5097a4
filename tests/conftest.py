"""Root conftest: the lab fixtures are available to every test tier."""

from __future__ import annotations

pytest_plugins = ["tests.lab.fixtures"]
