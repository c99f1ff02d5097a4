"""Handlers of ``ocf:hakit:galera``: one per action, from the phase it belongs to.

Roles: *unpromoted* means mariadbd is stopped and the node's position is
published; *promoted* means mariadbd runs, Synced, in the Primary Component.
The rules (positions, election) are pure and live in ``state``; the phases
run them:

- ``start``: validate the host, recover this node's position, publish it;
- ``election``: who may be promoted (join or bootstrap), and ``notify``;
- ``promote``: start mariadbd, joining or bootstrapping, until Synced;
- ``monitor``: promoted, unpromoted, or failed (never "stopped" while alive);
- ``stop``: demote and stop mariadbd for sure, publishing where it stopped.

``member`` holds what they share (this node's files, pid and data
directory) and ``client`` reads the server's status with ``mariadb``.
"""

from __future__ import annotations

from ocf_agents.galera.election import notify
from ocf_agents.galera.monitor import monitor
from ocf_agents.galera.promote import promote
from ocf_agents.galera.start import start, validate
from ocf_agents.galera.stop import demote, stop

__all__ = ["demote", "monitor", "notify", "promote", "start", "stop", "validate"]
