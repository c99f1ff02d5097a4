"""Typed errors of fence agents.  Every one of them exits 1; 2 means "status: off"."""

from __future__ import annotations


class FenceError(Exception):
    """The fencing action failed."""


class FenceUsageError(FenceError):
    """Bad flags, an unknown action or a malformed value (exit 1, never 2)."""


class DeviceUnreachableError(FenceError):
    """Nothing answered at the BMC's address."""


class AuthenticationError(FenceError):
    """The BMC refused the credentials."""


class ActionTimeoutError(FenceError):
    """The BMC did not answer, or did not reach the state, within the timeout."""


class UnexpectedPowerStateError(FenceError):
    """The BMC acknowledged a request but the power state did not follow."""


class DeviceError(FenceError):
    """The BMC answered with an error (completion code, HTTP status)."""


class UndeclaredOptionError(KeyError):
    """Code read an option its agent does not declare: a programming error.

    Not a :class:`FenceError`: it is never the device's fault, so the driver
    reports it as an internal error rather than as a failed action.  A
    misspelled timeout must fail loudly, never read as 0 or "".
    """

    def __str__(self) -> str:
        """The message itself (KeyError would show its repr)."""
        return str(self.args[0]) if self.args else ""
