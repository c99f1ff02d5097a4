"""Files an agent keeps per resource under ``HA_RSCTMP``: pid, state, logs.

Every file is named after the resource without its clone suffix
(``hakit-galera.pid`` for ``galera:2``), so the instance numbers Pacemaker
hands out do not matter, and two resources never share a file.  ``HA_RSCTMP``
is a tmpfs: nothing here survives a reboot, nor should it.  Writes are
atomic (a temporary file, then a rename), so a monitor never reads half a
file.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False  # typing costs ~5 ms of start-up; see STYLE.md section 9
if TYPE_CHECKING:
    from ocf_agents._runtime.context import ActionContext
    from ocf_agents._runtime.env import Config


def path(ctx: ActionContext, suffix: str) -> str:
    """``$HA_RSCTMP/hakit-<resource>.<suffix>``: this resource's file of that kind."""
    return os.path.join(ctx.rsctmp, f"hakit-{ctx.resource}.{suffix}")


def pidfile(cfg: Config, ctx: ActionContext) -> str:
    """The ``pidfile`` parameter, else ``$HA_RSCTMP/hakit-<resource>.pid``."""
    return cfg.get_str("pidfile") or path(ctx, "pid")


def write(where: str, text: str) -> None:
    """Replace the file ``where`` by ``text`` atomically, creating its directory."""
    os.makedirs(os.path.dirname(where) or ".", mode=0o755, exist_ok=True)
    tmp = f"{where}.{os.getpid()}.tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(tmp, where)


def read(where: str) -> str | None:
    """The text of the file ``where``, or None when it is missing or unreadable."""
    try:
        with open(where, encoding="utf-8") as handle:
            return handle.read()
    except (OSError, UnicodeDecodeError):
        return None
