"""The promotable Galera agent (``ocf:hakit:galera``): MariaDB Galera under Pacemaker.

``spec`` declares it, ``state`` holds the pure rules (positions, election),
``actions`` runs them, ``wire`` reads server status in-process.
"""
