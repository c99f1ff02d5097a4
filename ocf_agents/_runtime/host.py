"""Host checks for ``validate``: programs, files, directories, users, secrets.

Each check raises the error whose exit code the OCF rules give that
situation (STYLE.md section 4): a missing program or data directory is
``NotInstalledError`` (5), a missing or unreadable file ``HostSetupError``
(2), a secret file others may read ``PermissionDeniedError`` (4).  Messages
name the path and, where one is given, the parameter that set it.
"""

from __future__ import annotations

import os

from ocf_agents._runtime.errors import (
    HostSetupError,
    NotInstalledError,
    PermissionDeniedError,
)


def _named(param: str) -> str:
    return f" ({param})" if param else ""


def require_program(path: str, param: str = "") -> None:
    """Raise ``NotInstalledError`` unless ``path`` is an executable file."""
    if not os.path.isfile(path) or not os.access(path, os.X_OK):
        raise NotInstalledError(f"{path} is not installed{_named(param)}")


def require_file(path: str, what: str = "file") -> None:
    """Raise ``HostSetupError`` unless ``path`` is a readable file.

    Args:
        path: the file.
        what: what it is, for the message ("configuration file").
    """
    if not os.path.isfile(path):
        raise HostSetupError(f"{what} {path} does not exist")
    if not os.access(path, os.R_OK):
        raise HostSetupError(f"{what} {path} is not readable")


def require_directory(path: str, param: str = "") -> None:
    """Raise ``NotInstalledError`` unless the directory ``path`` exists.

    For directories a package or an operator creates once (a data
    directory): without it, nothing can run on this host.
    """
    if not os.path.isdir(path):
        raise NotInstalledError(f"directory {path} does not exist{_named(param)}")


def user_ids(user: str) -> tuple[int, int, str]:
    """Uid, gid and home directory of ``user``.

    Raises:
        HostSetupError: there is no such user on this host.
    """
    import pwd  # noqa: PLC0415

    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        raise HostSetupError(f"user {user!r} does not exist on this host") from None
    return entry.pw_uid, entry.pw_gid, entry.pw_dir


def require_user(user: str) -> None:
    """Raise ``HostSetupError`` if ``user`` is unknown here."""
    user_ids(user)


def require_private_file(path: str, param: str) -> None:
    """Check a file holding a secret (a password, a cookie): there, ours, private.

    Raises:
        HostSetupError: the file does not exist.
        PermissionDeniedError: the agent cannot read it, or group or others
            may (``chmod 600`` it).
    """
    try:
        info = os.stat(path)
        with open(path, "rb"):
            pass
    except FileNotFoundError:
        raise HostSetupError(f"{param} {path} does not exist") from None
    except PermissionError:
        raise PermissionDeniedError(f"{param} {path} is not readable") from None
    if info.st_mode & 0o077:
        raise PermissionDeniedError(
            f"{param} {path} is readable by others "
            f"(mode {info.st_mode & 0o777:04o}); chmod 600 it"
        )
