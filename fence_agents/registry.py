"""Which fence agents hakit ships and where their declarations live.

Like the OCF registry, names resolve to modules so that asking costs nothing:
only the agent asked for is imported.  The installer writes one launcher per
name; the CIB builder checks fence devices against these declarations.
"""

from __future__ import annotations

from ha_common import modules

TYPE_CHECKING = False  # typing costs start-up time; see STYLE.md section 9
if TYPE_CHECKING:
    from fence_agents._runtime.driver import FenceAgent

#: Fence agent -> (module with ``main()``, declaration class in it).
AGENTS: dict[str, tuple[str, str]] = {
    "fence_hakit_ipmi": ("fence_agents.ipmi", "IpmiFence"),
    "fence_hakit_redfish": ("fence_agents.redfish", "RedfishFence"),
}


#: The Python libraries each agent imports when it acts (for install-time
#: checks; the packages declare them as dependencies).
LIBRARIES: dict[str, tuple[str, ...]] = {
    "fence_hakit_ipmi": ("pyghmi", "cryptography"),
    "fence_hakit_redfish": ("redfish",),
}


def names() -> tuple[str, ...]:
    """Every fence agent hakit ships, sorted."""
    return tuple(sorted(AGENTS))


def exists(name: str) -> bool:
    """Tell whether hakit ships a fence agent called ``name``."""
    return name in AGENTS


def module(name: str) -> str:
    """The module whose ``main()`` runs fence agent ``name`` (KeyError if none)."""
    return AGENTS[name][0]


def agent(name: str) -> FenceAgent:
    """The declaration of fence agent ``name`` (KeyError if there is none)."""
    module_name, class_name = AGENTS[name]
    cls = getattr(modules.load(module_name), class_name)
    return cls()  # type: ignore[no-any-return]
