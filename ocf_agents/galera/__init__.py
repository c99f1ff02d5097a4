"""The promotable Galera agent (``ocf:hakit:galera``): MariaDB Galera under Pacemaker.

``spec`` declares it, ``state`` holds the pure rules (positions, election),
``actions`` runs them, ``client`` reads server status with the ``mariadb``
client.
"""
