"""Which agents exist and where their declarations live.

Declarations are resolved by module name so that importing the registry costs
nothing: only the one agent asked for is imported.
"""

from __future__ import annotations

import importlib

from ocf_agents._runtime.spec import AgentSpec
from ocf_agents.openstack.services import SERVICE_NAMES

#: Agent name -> module that holds ``SPEC`` (or ``SPECS[name]``).
AGENTS: dict[str, str] = dict.fromkeys(SERVICE_NAMES, "ocf_agents.openstack")
AGENTS["galera"] = "ocf_agents.galera.spec"


def names() -> tuple[str, ...]:
    """Every agent hakit ships, sorted."""
    return tuple(sorted(AGENTS))


def spec(name: str) -> AgentSpec:
    """Return the declaration of agent ``name``."""
    module = importlib.import_module(AGENTS[name])
    specs = getattr(module, "SPECS", None)
    if specs is not None:
        return specs[name]  # type: ignore[no-any-return]
    return module.SPEC  # type: ignore[no-any-return]
