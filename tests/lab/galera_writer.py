"""Keep writing numbered rows into a Galera cluster, for no-data-loss checks.

:class:`RowWriter` is a thread that INSERTs ids 1, 2, 3... into ``hakit.rows``
over TCP with PyMySQL (autocommit), through whichever member answers, and
records which ids were acknowledged.  A test kills and restarts members
meanwhile, then checks that every acknowledged id is on every member
(:meth:`tests.lab.galera.GaleraLab.rows`).  PyMySQL is a test-only dependency
(``setup.cfg`` extra ``test``); the agents do not use it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from .ports import LOOPBACK

ROWS_DATABASE = "hakit"
ROWS_TABLE = f"{ROWS_DATABASE}.rows"
WRITER_USER = "hakit_writer"


class RowWriterError(Exception):
    """The row writer stopped, or did not get enough rows acknowledged in time."""


@dataclass(frozen=True)
class WriterAccount:
    """The TCP user :class:`RowWriter` logs in as."""

    user: str
    password: str = field(repr=False)
    host: str = LOOPBACK


class RowWriter(threading.Thread):
    """Insert numbered rows into ``hakit.rows`` until stopped.

    Ids count up from ``first_id``, one INSERT per id (autocommit), through
    the current node; on any error the connection is dropped and the next
    node is tried, so writes go on while members die and rejoin.  An id whose
    INSERT returned OK is in :attr:`acked`; an id whose INSERT failed is in
    :attr:`uncertain` (it may or may not have committed) and is never reused.

    Args:
        targets: Node name -> (host, TCP port), in the order to try them.
        account: The user to log in as (see :meth:`GaleraLab.create_rows_table`).
        interval: Seconds between INSERTs (keeps 2-core machines responsive).
        first_id: The first id to insert.
        timeout: Connect, read and write timeout of each connection.  Above
            the ~6 s a kill -9 of a member stalls commits (evs.suspect_timeout),
            so that stall delays INSERTs instead of failing them.
    """

    def __init__(
        self,
        targets: Mapping[str, tuple[str, int]],
        account: WriterAccount,
        *,
        interval: float = 0.005,
        first_id: int = 1,
        timeout: float = 10.0,
    ) -> None:
        super().__init__(name="hakit-galera-row-writer", daemon=True)
        if not targets:
            raise ValueError("RowWriter needs at least one target")
        self.targets = dict(targets)
        self.account = account
        self.interval = interval
        self.timeout = timeout
        self._next_id = first_id
        self._acked: set[int] = set()
        self._uncertain: set[int] = set()
        #: The last errors seen (at most 50), as "node: error".
        self.errors: list[str] = []
        #: How many times the writer moved to another node.
        self.switches = 0
        self._halt = threading.Event()
        self._lock = threading.Lock()

    @property
    def acked(self) -> set[int]:
        """Return a copy of the ids whose INSERT was acknowledged."""
        with self._lock:
            return set(self._acked)

    @property
    def uncertain(self) -> set[int]:
        """Return a copy of the ids whose INSERT failed (outcome unknown)."""
        with self._lock:
            return set(self._uncertain)

    def run(self) -> None:
        """Write until :meth:`stop`; never raises (errors are recorded)."""
        import pymysql  # noqa: PLC0415 - test-only dependency, imported when used

        order = list(self.targets)
        index = 0
        conn = None
        while not self._halt.is_set():
            name = order[index % len(order)]
            if conn is None:
                host, port = self.targets[name]
                try:
                    conn = pymysql.connect(
                        host=host,
                        port=port,
                        user=self.account.user,
                        password=self.account.password,
                        autocommit=True,
                        connect_timeout=self.timeout,
                        read_timeout=self.timeout,
                        write_timeout=self.timeout,
                    )
                except Exception as exc:
                    self._note(name, exc)
                    index += 1
                    self._halt.wait(0.1)
                    continue
            row_id = self._next_id
            self._next_id += 1
            try:
                with conn.cursor() as cursor:
                    cursor.execute(
                        f"INSERT INTO {ROWS_TABLE} (id, payload) VALUES (%s, %s)",
                        (row_id, f"{name}-{row_id}"),
                    )
            except Exception as exc:
                with self._lock:
                    self._uncertain.add(row_id)
                self._note(name, exc)
                try:
                    conn.close()
                except Exception:
                    pass
                conn = None
                index += 1
                with self._lock:
                    self.switches += 1
            else:
                with self._lock:
                    self._acked.add(row_id)
            self._halt.wait(self.interval)
        if conn is not None:
            try:
                conn.close()
            except Exception:
                pass

    def _note(self, name: str, exc: Exception) -> None:
        with self._lock:
            self.errors.append(f"{name}: {type(exc).__name__}: {exc}")
            del self.errors[:-50]

    def wait_acked(self, count: int, timeout: float = 30) -> float:
        """Wait until at least ``count`` rows are acknowledged; return seconds."""
        t0 = time.monotonic()
        while len(self.acked) < count:
            if not self.is_alive():
                raise RowWriterError("the row writer is not running")
            if time.monotonic() - t0 >= timeout:
                raise RowWriterError(
                    f"only {len(self.acked)} of {count} rows acknowledged after"
                    f" {timeout} s; last errors: {self.errors[-5:]}"
                )
            time.sleep(0.05)
        return time.monotonic() - t0

    def stop(self, timeout: float = 15) -> None:
        """Ask the writer to stop and wait for it (bounded)."""
        self._halt.set()
        if self.is_alive():
            self.join(timeout)
        if self.is_alive():
            raise RowWriterError(f"row writer still running after {timeout} s")
