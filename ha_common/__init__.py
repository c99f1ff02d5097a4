"""Stdlib-only code shared by hakit's OCF and fence agents.

Nothing here imports a third-party package or does work at import time, so
agents can import it on their fast paths (meta-data, monitor).
"""

from __future__ import annotations

#: hakit's one version number: ``setup.cfg`` reads it (``attr:``) and the agents
#: and ``hakit-cib`` print it for ``-V``/``--version``.  Agents are installed by
#: copying files, so no installed package metadata is consulted.
__version__ = "0.1.0"
