"""A client that asks the VIP every 50 ms and records each outcome (issue #14).

Run in the lab's client namespace (:meth:`Probe.start` does it)::

    python -m tests.lab.vip_client URL OUTFILE [INTERVAL] [TIMEOUT]

It starts ``GET URL`` every INTERVAL seconds (default 0.05), each in its own
thread, whether or not earlier requests have been answered (a request gives
up after TIMEOUT, default 1 s), and appends one line per request to OUTFILE:
start and end (``CLOCK_MONOTONIC``, the same clock as the test's
``time.monotonic()``), ``1``/``0`` for answered with a status below 500 or
not, and the status or the error's name.  It stops on
SIGTERM.  :func:`read` parses the file; :func:`summary` measures a window.
"""

from __future__ import annotations

import http.client
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple


class Outcome(NamedTuple):
    """One request: when it started and ended, and whether it was answered."""

    start: float
    end: float
    ok: bool
    detail: str


def _once(host: str, port: int, path: str, timeout: float) -> tuple[bool, str]:
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request("GET", path, headers={"Connection": "close"})
        response = conn.getresponse()
        response.read()
        return response.status < 500, str(response.status)
    except (OSError, http.client.HTTPException) as exc:
        return False, type(exc).__name__
    finally:
        conn.close()


def _serve(url: str, out: Path, interval: float, timeout: float) -> int:
    parts = urllib.parse.urlsplit(url)
    host, port = parts.hostname or "", parts.port or 80
    path = parts.path or "/"
    stopping: list[int] = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(1))
    lock = threading.Lock()
    threads: list[threading.Thread] = []
    with out.open("a", buffering=1) as handle:

        def one() -> None:
            start = time.monotonic()
            ok, detail = _once(host, port, path, timeout)
            end = time.monotonic()
            with lock:
                handle.write(f"{start:.4f} {end:.4f} {int(ok)} {detail}\n")

        tick = time.monotonic()
        while not stopping:
            thread = threading.Thread(target=one, daemon=True)
            thread.start()
            threads = [t for t in threads if t.is_alive()] + [thread]
            tick += interval
            pause = tick - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            else:
                tick = time.monotonic()
        for thread in threads:
            thread.join(timeout + 1)
    return 0


def read(path: Path) -> list[Outcome]:
    """Parse a client's file, in start order (a torn last line is skipped)."""
    found = []
    for line in path.read_text().splitlines():
        fields = line.split()
        if len(fields) == 4:
            found.append(
                Outcome(float(fields[0]), float(fields[1]), fields[2] == "1", fields[3])
            )
    return sorted(found)


class Summary(NamedTuple):
    """What the client saw in a window."""

    requests: int
    failed: int
    #: Longest time between the ends of two consecutive successes.
    longest_gap: float
    #: From the window's start to the end of the first success that follows a
    #: failure (0.0 when nothing failed).
    outage: float


def summary(outcomes: Sequence[Outcome], begin: float, end: float) -> Summary:
    """Measure the requests that started in [begin, end]."""
    window = [o for o in outcomes if begin <= o.start <= end]
    failed = [o for o in window if not o.ok]
    successes = sorted(o.end for o in outcomes if o.ok and o.end <= end)
    gap = 0.0
    previous = max((t for t in successes if t <= begin), default=begin)
    for t in (t for t in successes if t > begin):
        gap = max(gap, t - previous)
        previous = t
    outage = 0.0
    if failed:
        first = failed[0].start
        back = [o.end for o in window if o.ok and o.start > first]
        outage = (min(back) if back else end) - begin
    return Summary(len(window), len(failed), gap, outage)


class Probe:
    """The client process, run in a network namespace with ``ip netns exec``."""

    def __init__(self, netns: str, url: str, out: Path, interval: float = 0.05):
        """Describe the probe; :meth:`start` runs it."""
        self.netns = netns
        self.url = url
        self.out = out
        self.interval = interval
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start the client (it dies with this thread: pdeathsig)."""
        repo = Path(__file__).resolve().parents[2]
        self.out.unlink(missing_ok=True)
        argv = ["setpriv", "--pdeathsig", "KILL", "--", "ip", "netns", "exec"]
        argv += [self.netns, sys.executable, "-E", "-s", "-m", "tests.lab.vip_client"]
        argv += [self.url, str(self.out), str(self.interval), "1.0"]
        self._proc = subprocess.Popen(
            argv,
            cwd=repo,
            env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )

    def stop(self) -> list[Outcome]:
        """Stop the client (SIGTERM, then SIGKILL, by pid); return its outcomes."""
        proc, self._proc = self._proc, None
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        return self.outcomes()

    def outcomes(self) -> list[Outcome]:
        """Return what the client recorded so far."""
        return read(self.out) if self.out.exists() else []


def _main(argv: Sequence[str]) -> int:
    if len(argv) not in (2, 3, 4):
        print(__doc__, file=sys.stderr)
        return 2
    interval = float(argv[2]) if len(argv) > 2 else 0.05
    timeout = float(argv[3]) if len(argv) > 3 else 1.0
    return _serve(argv[0], Path(argv[1]), interval, timeout)


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
