"""Topology -> Pacemaker CIB compiler: not built yet, see issue #3."""
