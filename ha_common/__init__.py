"""Stdlib-only code shared by hakit's OCF and fence agents.

Nothing here imports a third-party package or does work at import time, so
agents can import it on their fast paths (meta-data, monitor).
"""
