"""Which agents exist and where their declarations live.

Declarations are resolved by module name so that importing the registry costs
nothing: only the one agent asked for is imported.  The OpenStack service
agents share one declaration module; naming all agents imports their table.
"""

from __future__ import annotations

from ha_common import modules

TYPE_CHECKING = False  # typing costs ~5 ms of start-up; see STYLE.md section 9
if TYPE_CHECKING:
    from ocf_agents._runtime.spec import AgentSpec

#: Agents with a declaration module of their own (``SPEC``).
AGENTS: dict[str, str] = {
    "galera": "ocf_agents.galera.spec",
    "haproxy": "ocf_agents.haproxy.spec",
    "opendaylight": "ocf_agents.opendaylight.spec",
    "rabbitmq": "ocf_agents.rabbitmq.spec",
}
#: The module that declares every OpenStack service agent (``SPECS[name]``).
OPENSTACK = "ocf_agents.openstack.spec"


def names() -> tuple[str, ...]:
    """Every agent hakit ships, sorted."""
    from ocf_agents.openstack.services import SERVICE_NAMES  # noqa: PLC0415

    return tuple(sorted({*AGENTS, *SERVICE_NAMES}))


def exists(name: str) -> bool:
    """Tell whether hakit ships an agent called ``name``."""
    return name in AGENTS or name in names()


def spec(name: str) -> AgentSpec:
    """Return the declaration of agent ``name`` (KeyError if there is none)."""
    module = modules.load(AGENTS.get(name, OPENSTACK))
    specs = getattr(module, "SPECS", None)
    if specs is not None:
        return specs[name]  # type: ignore[no-any-return]
    return module.SPEC  # type: ignore[no-any-return]
