"""Topology -> Pacemaker CIB compiler (``hakit-cib``).

Data flows one way: ``topology`` (TOML file -> validated dataclasses) ->
``recipes`` (what the topology implies) -> ``model`` -> ``checks`` and
``agents`` (coded problems) -> ``render`` (deterministic XML or crm text) ->
``schema`` and ``pacemaker`` (RelaxNG, crm_verify, crm_simulate); ``merge``
folds the result into a live CIB; ``pipeline`` and ``cli`` tie them together.
"""
