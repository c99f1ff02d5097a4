"""The promotable Galera agent (``ocf:hakit:galera``): MariaDB Galera under Pacemaker.

``spec`` declares it, ``state`` holds the pure rules (positions, election),
``actions`` names the handlers of the phases that run them (``start``,
``election``, ``promote``, ``monitor``, ``stop``, sharing ``member``), and
``client`` reads server status with the ``mariadb`` client.
"""
