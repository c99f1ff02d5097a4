"""Typed errors of OCF agents; ``dispatch.main`` maps them to exit codes."""

from __future__ import annotations

from ocf_agents._runtime.rc import OcfRc


class AgentError(Exception):
    """An action failed (OCF_ERR_GENERIC), with a one-line reason."""

    rc = OcfRc.ERR_GENERIC


class ConfigError(AgentError):
    """Parameters are inherently invalid (OCF_ERR_CONFIGURED)."""

    rc = OcfRc.ERR_CONFIGURED

    def __init__(self, problems: list[str] | str) -> None:
        """Collect one or more problems into one message."""
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("; ".join(self.problems))


class InvocationError(AgentError):
    """The agent was run without what Pacemaker always gives it (OCF_ERR_ARGS).

    OCF's own meaning of ``OCF_ERR_ARGS``: the agent was called improperly,
    for example without ``OCF_RESOURCE_INSTANCE``.
    """

    rc = OcfRc.ERR_ARGS


class HostSetupError(AgentError):
    """Parameters are valid but unusable on this host (OCF_ERR_ARGS)."""

    rc = OcfRc.ERR_ARGS


class NotInstalledError(AgentError):
    """A binary or package is missing (OCF_ERR_INSTALLED)."""

    rc = OcfRc.ERR_INSTALLED


class MissingLibraryError(AgentError):
    """A Python library the agent needs is not installed (rc 5).

    Unlike :class:`NotInstalledError` it is never turned into "not running" on
    a probe nor into success on a stop: without its library the agent cannot
    tell whether the service runs.
    """

    rc = OcfRc.ERR_INSTALLED


class PermissionDeniedError(AgentError):
    """Privileges are missing (OCF_ERR_PERM)."""

    rc = OcfRc.ERR_PERM


class UnimplementedError(AgentError):
    """The action is not supported (OCF_ERR_UNIMPLEMENTED)."""

    rc = OcfRc.ERR_UNIMPLEMENTED


class ActionTimeoutError(AgentError):
    """The action ran out of time (OCF_ERR_GENERIC)."""
