"""ha_common.modules: the one line for a library an agent cannot import."""

from __future__ import annotations

import pytest

from ha_common import modules


@pytest.mark.parametrize(
    ("module", "line"),
    [
        ("psutil", "the Python module psutil is missing: install python3-psutil"),
        (
            "pyghmi.ipmi.private.session",
            "the Python module pyghmi.ipmi.private.session is missing: "
            "install python3-pyghmi",
        ),
        (
            "redfish",
            "the Python module redfish is missing: install python3-redfish "
            "(Debian 12 has none: hakit's make deb builds it)",
        ),
        ("ocf_agents.galera", "the Python module ocf_agents.galera is missing: "
         "install python3-hakit"),
        ("frobnicate", "the Python module frobnicate is missing"),
    ],
)  # fmt: skip
def test_describe_names_the_module_and_its_package(module, line):
    assert modules.describe(ModuleNotFoundError("x", name=module)) == line


def test_every_runtime_dependency_has_a_package():
    # setup.cfg's install_requires, by import name.
    for module in ("click", "pyghmi", "redfish", "psutil", "lxml", "cryptography"):
        assert modules.provider(module), module


def test_load_returns_the_submodule_not_its_package():
    loaded = modules.load("ocf_agents.opendaylight.spec")
    assert loaded.__name__ == "ocf_agents.opendaylight.spec"
    assert loaded.SPEC.name == "opendaylight"


def test_load_of_a_missing_module_names_it_for_describe():
    with pytest.raises(ModuleNotFoundError) as caught:
        modules.load("ocf_agents.no_such_agent.spec")
    assert modules.describe(caught.value) == (
        "the Python module ocf_agents.no_such_agent is missing: install python3-hakit"
    )
