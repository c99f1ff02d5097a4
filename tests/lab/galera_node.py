"""Describe MariaDB Galera lab members: ports, paths and the my.cnf they run with.

Pure descriptions for :mod:`tests.lab.galera` (which re-exports the public
names): :class:`GaleraNode` knows where one member listens and keeps its files
and renders its my.cnf along LAB.md section 15; :func:`pick_ports` chooses the
loopback ports of the host variant from the plan in :mod:`tests.lab.ports`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from .ports import (
    GALERA_GCOMM_PORTS,
    GALERA_IST_PORTS,
    GALERA_SQL_PORTS,
    GALERA_SST_PORTS,
    LOOPBACK,
    free_port,
    port_is_free,
)

MARIADBD = "/usr/sbin/mariadbd"
MARIADB = "/usr/bin/mariadb"
INSTALL_DB = "/usr/bin/mariadb-install-db"
GALERA_PROVIDER = "/usr/lib/galera/libgalera_smm.so"
SST_RSYNC = "/usr/bin/wsrep_sst_rsync"
RSYNC = "/usr/bin/rsync"
MYSQL_USER = "mysql"
CLUSTER_NAME = "testgalera"
DEFAULT_NAMES = ("n1", "n2", "n3")

# Standard ports and paths used inside the namespaced nodes.
STANDARD_SQL_PORT = 3306
STANDARD_GCOMM_PORT = 4567
STANDARD_IST_PORT = 4568
STANDARD_SST_PORT = 4444
NS_CONFIG = Path("/etc/mysql/hakit-galera.cnf")
NS_MONITOR_FILE = Path("/etc/mysql/hakit-monitor.cnf")
NS_DATADIR = Path("/var/lib/mysql")
NS_RUN_DIR = Path("/run/mysqld")
NS_LOG_DIR = Path("/var/log/mysql")


# ---------------------------------------------------------------------- ports


class GaleraPorts(NamedTuple):
    """The four TCP ports of one Galera node."""

    sql: int
    gcomm: int
    ist: int
    sst: int


def planned_ports(count: int = 3) -> list[GaleraPorts]:
    """Return the planned loopback ports of the first ``count`` nodes."""
    if count > len(GALERA_SQL_PORTS):
        raise ValueError(f"the port plan has {len(GALERA_SQL_PORTS)} Galera nodes")
    return [
        GaleraPorts(*ports)
        for ports in zip(
            GALERA_SQL_PORTS, GALERA_GCOMM_PORTS, GALERA_IST_PORTS, GALERA_SST_PORTS
        )
    ][:count]


def pick_ports(count: int = 3) -> list[GaleraPorts]:
    """Return the planned ports when all are free, else free ones of 30000-31999.

    A taken planned port means another lab on this machine; then every port
    of this lab is a fresh :func:`~tests.lab.ports.free_port` instead.
    """
    plan = planned_ports(count)
    if all(port_is_free(port) for ports in plan for port in ports):
        return plan
    chosen: list[int] = []
    while len(chosen) < 4 * count:
        port = free_port()
        if port not in chosen:
            chosen.append(port)
    return [GaleraPorts(*chosen[4 * i : 4 * i + 4]) for i in range(count)]


# ---------------------------------------------------------------------- nodes


class Position(NamedTuple):
    """A Galera position ``uuid:seqno`` (``str()`` gives that form)."""

    uuid: str
    seqno: int

    def __str__(self) -> str:
        """Return ``uuid:seqno`` as ``--wsrep-start-position`` wants it."""
        return f"{self.uuid}:{self.seqno}"


@dataclass(frozen=True)
class GaleraNode:
    """Where one Galera member listens and keeps its files.

    Paths are as ``mariadbd`` sees them (inside the node's mount namespace
    for :class:`tests.lab.galera.NamespacedGalera`).
    """

    name: str
    address: str
    sql_port: int
    gcomm_port: int
    ist_port: int
    sst_port: int
    datadir: Path
    config: Path
    socket: Path
    pid_file: Path
    error_log: Path
    recover_log: Path
    tmpdir: Path

    @classmethod
    def loopback(cls, name: str, node_dir: Path, ports: GaleraPorts) -> GaleraNode:
        """Describe a node on 127.0.0.1 with every file under ``node_dir``."""
        return cls(
            name=name,
            address=LOOPBACK,
            sql_port=ports.sql,
            gcomm_port=ports.gcomm,
            ist_port=ports.ist,
            sst_port=ports.sst,
            datadir=node_dir / "data",
            config=node_dir / "my.cnf",
            socket=node_dir / "mysqld.sock",
            pid_file=node_dir / "mysqld.pid",
            error_log=node_dir / "error.log",
            recover_log=node_dir / "wsrep-recover.log",
            tmpdir=node_dir / "tmp",
        )

    @classmethod
    def standard(cls, name: str, address: str) -> GaleraNode:
        """Describe a node on ``address`` with the standard ports and paths."""
        return cls(
            name=name,
            address=address,
            sql_port=STANDARD_SQL_PORT,
            gcomm_port=STANDARD_GCOMM_PORT,
            ist_port=STANDARD_IST_PORT,
            sst_port=STANDARD_SST_PORT,
            datadir=NS_DATADIR,
            config=NS_CONFIG,
            socket=NS_RUN_DIR / "mysqld.sock",
            pid_file=NS_RUN_DIR / "mysqld.pid",
            error_log=NS_LOG_DIR / "error.log",
            recover_log=NS_LOG_DIR / "wsrep-recover.log",
            tmpdir=NS_RUN_DIR,
        )

    @property
    def gcomm(self) -> str:
        """Return this member's entry in a ``gcomm://`` list (no default port)."""
        if self.gcomm_port == STANDARD_GCOMM_PORT:
            return self.address
        return f"{self.address}:{self.gcomm_port}"

    def config_text(
        self, cluster_address: str, cluster_name: str = CLUSTER_NAME
    ) -> str:
        """Return the my.cnf of this node (LAB.md section 15).

        Args:
            cluster_address: The ``wsrep_cluster_address`` value, written as
                given (tests pass wrong ones on purpose).
            cluster_name: ``wsrep_cluster_name``.
        """
        provider_options = ";".join(
            [
                f"gmcast.listen_addr=tcp://{self.address}:{self.gcomm_port}",
                f"ist.recv_addr={self.address}:{self.ist_port}",
                "gcache.size=64M",
            ]
        )
        lines = [
            f"# hakit test lab: MariaDB Galera member {self.name}",
            "[mysqld]",
            f"user = {MYSQL_USER}",
            f"datadir = {self.datadir}",
            f"socket = {self.socket}",
            f"pid-file = {self.pid_file}",
            f"log-error = {self.error_log}",
            # Private: a starting mariadbd deletes every #sql* file in its
            # tmpdir, including the temp tables of another instance's
            # mariadb-install-db (ERROR 1051 Unknown table mysql.tmp_user_sys).
            f"tmpdir = {self.tmpdir}",
            f"port = {self.sql_port}",
            f"bind-address = {self.address}",
            "skip-name-resolve",
            "performance_schema = OFF",
            "innodb_buffer_pool_size = 64M",
            "binlog_format = ROW",
            "innodb_autoinc_lock_mode = 2",
            "wsrep_on = ON",
            f"wsrep_provider = {GALERA_PROVIDER}",
            f"wsrep_cluster_name = {cluster_name}",
            f"wsrep_cluster_address = {cluster_address}",
            f"wsrep_node_name = {self.name}",
            f"wsrep_node_address = {self.gcomm}",
            f"wsrep_node_incoming_address = {self.address}:{self.sql_port}",
            "wsrep_sst_method = rsync",
            f"wsrep_sst_receive_address = {self.address}:{self.sst_port}",
            f'wsrep_provider_options = "{provider_options}"',
            "",
            # No user= here: it would also apply to the SST scripts' clients.
            "[client]",
            f"socket = {self.socket}",
            "",
        ]
        return "\n".join(lines)

    def write_config(
        self,
        cluster_address: str,
        *,
        cluster_name: str = CLUSTER_NAME,
        path: Path | None = None,
    ) -> Path:
        """Write :meth:`config_text` to ``path`` (default :attr:`config`), mode 0644.

        Returns the path written.  ``path`` lets a caller write a namespaced
        node's file through its host-side view.
        """
        target = Path(path) if path is not None else self.config
        target.write_text(self.config_text(cluster_address, cluster_name))
        target.chmod(0o644)
        return target
