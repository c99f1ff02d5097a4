"""Daemons: start as a user with a pidfile, find them again, stop them for sure.

Liveness checks read ``/proc`` directly (a monitor runs every few seconds and
psutil costs ~20 ms to import); process trees, signals and sockets use psutil,
imported where needed.  A zombie counts as dead: init may reap orphans late.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence

from ha_common import lazylog
from ha_common.deadline import Deadline
from ha_common.record import record
from ocf_agents._runtime.errors import (
    ActionTimeoutError,
    AgentError,
    HostSetupError,
    NotInstalledError,
    PermissionDeniedError,
)
from ocf_agents._runtime.host import user_ids

TYPE_CHECKING = False  # typing costs ~5 ms of start-up; see STYLE.md section 9

if TYPE_CHECKING:
    import subprocess

    import psutil

log = lazylog.get(__name__)

POLL = 0.05
#: How long a stopping process may make no progress (no CPU time, no member
#: gone) before SIGKILL, rather than waiting for the end of the deadline.
STOP_GRACE = 5.0
#: States in which a task is finished (zombie, dead).
_DEAD_STATES = ("Z", "X", "x")


@record
class Identity:
    """How to recognise the service's main process.

    Attributes:
        binary: absolute path of the program; matched against ``argv[0]`` or,
            for scripts, the first argument after the interpreter.
        needles: arguments that must all appear in the command line (for
            example the config file), so two instances of one program are
            told apart.
    """

    binary: str
    needles: tuple[str, ...] = ()


def state_of(pid: int) -> str | None:
    """Return the one-letter process state, or None if there is no such process."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            data = handle.read()
    except OSError:
        return None
    tail = data[data.rfind(b")") + 2 :]
    return tail[:1].decode("ascii", "replace") or None


def is_alive(pid: int) -> bool:
    """Tell whether ``pid`` exists and is not a zombie.

    A zombie thread-group leader whose other threads still run is alive: it
    still holds its files and locks (see :func:`threads_alive`).
    """
    state = state_of(pid)
    if state is None:
        return False
    return state not in _DEAD_STATES or threads_alive(pid)


def cmdline(pid: int) -> tuple[str, ...]:
    """Return the argument vector of ``pid`` (empty if gone or a kernel thread)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            raw = handle.read()
    except OSError:
        return ()
    return tuple(part.decode("utf-8", "replace") for part in raw.split(b"\0") if part)


def _same_file(a: str, b: str) -> bool:
    if a == b:
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def matches(argv: Sequence[str], ident: Identity) -> bool:
    """Tell whether a command line is an instance of ``ident``."""
    if not argv:
        return False
    head = [argv[0]]
    if len(argv) > 1:
        head.append(argv[1])  # "python3 /usr/bin/nova-conductor ..."
    if not any(_same_file(word, ident.binary) for word in head):
        return False
    return all(needle in argv for needle in ident.needles)


def read_pidfile(path: str) -> int | None:
    """Return the pid recorded in ``path``, or None if absent or malformed."""
    try:
        with open(path, encoding="ascii") as handle:
            text = handle.read().strip()
    except (OSError, UnicodeDecodeError):
        return None
    return int(text) if text.isdigit() and int(text) > 0 else None


def write_pidfile(path: str, pid: int) -> None:
    """Record ``pid`` atomically."""
    directory = os.path.dirname(path) or "."
    os.makedirs(directory, mode=0o755, exist_ok=True)
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w", encoding="ascii") as handle:
        handle.write(f"{pid}\n")
    started = start_time(pid)
    if started is not None:
        os.utime(tmp, (started, started))  # see recorded_here
    os.replace(tmp, path)


def remove_file(path: str) -> None:
    """Remove ``path`` if it exists."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _mount_ns(pid: int | str) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/ns/mnt")
    except OSError:
        return None


def _scan(ident: Identity) -> list[int]:
    """Pids whose command line matches and whose parent does not (topmost only)."""
    return scan(lambda argv: matches(argv, ident))


def scan(test: Callable[[tuple[str, ...]], bool]) -> list[int]:
    """Live pids whose command line passes ``test`` and whose parent's does not.

    For services that no :class:`Identity` describes (a JVM: the program is
    whichever ``java`` the environment named, the instance is told by its
    system properties).  Processes of another mount namespace (a container,
    or another node of a test lab sharing the pid namespace) are not this
    host's service, even with the same command line.
    """
    found = []
    ours = _mount_ns("self")
    for entry in os.listdir("/proc"):
        if (
            entry.isdigit()
            and is_alive(int(entry))
            and test(cmdline(int(entry)))
            and _mount_ns(entry) in (ours, None)
        ):
            found.append(int(entry))
    tops = []
    for pid in found:
        parent = _ppid(pid)
        if parent not in found:
            tops.append(pid)
    return sorted(tops)


def _stat_fields(pid: int) -> list[bytes]:
    """Fields of /proc/PID/stat from the state on (index 0 = field 3)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            data = handle.read()
    except OSError:
        return []
    return data[data.rfind(b")") + 2 :].split()


def _ppid(pid: int) -> int:
    fields = _stat_fields(pid)
    return int(fields[1]) if len(fields) > 1 else 0


def session_members(sid: int) -> list[int]:
    """Live processes in session ``sid``, the session leader's pid.

    hakit starts every service as a session leader, and workers inherit the
    session even when their parent dies and they are reparented.  The kernel
    does not reuse a pid while a session still carries its number, so these
    are the service's processes for sure, however they renamed themselves.
    """
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        fields = _stat_fields(int(entry))
        if len(fields) > 3 and fields[0] not in (b"Z", b"X") and int(fields[3]) == sid:
            members.append(int(entry))
    return sorted(members)


def orphans(pidfile: str) -> list[int]:
    """Processes left of the session whose leader the pidfile recorded.

    A service's workers (HAProxy's, a WSGI server's) outlive a leader killed
    with SIGKILL; while they run they hold its ports, so the service is
    neither running nor stopped.
    """
    recorded = read_pidfile(pidfile)
    if recorded is None or is_alive(recorded):
        return []
    return session_members(recorded)


def stop_orphans(pidfile: str, deadline: Deadline, grace: float = STOP_GRACE) -> None:
    """Stop what :func:`orphans` finds (SIGTERM, SIGKILL after ``grace``)."""
    recorded = read_pidfile(pidfile)
    if recorded is not None and orphans(pidfile):
        log.info("stopping the orphaned workers of pid %d", recorded)
        stop(recorded, deadline, grace=grace)


def find(pidfile: str, ident: Identity) -> int | None:
    """Find the running service: the pidfile first, then the process table.

    The pid in the pidfile counts if that process is alive and either its
    command line matches ``ident`` or it is the very process the pidfile
    recorded (services that rename themselves, like gunicorn with
    setproctitle, no longer match; see ``recorded_here``).  When the pidfile
    is missing or stale, the process table is scanned, so a service whose
    pidfile was lost is not reported as stopped; the pidfile is then
    rewritten.
    """
    pid = read_pidfile(pidfile)
    if (
        pid is not None
        and is_alive(pid)
        and (matches(cmdline(pid), ident) or recorded_here(pid, pidfile))
    ):
        return pid
    candidates = _scan(ident)
    if not candidates:
        return None
    if len(candidates) > 1:
        log.warning("several processes match %s: %s", ident.binary, candidates)
    pid = candidates[0]
    try:
        write_pidfile(pidfile, pid)
        log.info("pidfile %s was stale; found running pid %d", pidfile, pid)
    except OSError as exc:
        log.warning("cannot rewrite pidfile %s: %s", pidfile, exc)
    return pid


def start_time(pid: int) -> float | None:
    """When ``pid`` started, in seconds since the epoch (None if gone)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            data = handle.read()
        with open("/proc/stat", "rb") as handle:
            boot = next(
                int(line.split()[1]) for line in handle if line.startswith(b"btime ")
            )
    except (OSError, StopIteration, ValueError):
        return None
    fields = data[data.rfind(b")") + 2 :].split()
    # stat field 22 is the start time in clock ticks after boot; this list
    # starts at field 3 (the state).
    ticks = int(fields[19])
    return boot + ticks / os.sysconf("SC_CLK_TCK")


def recorded_here(pid: int, path: str) -> bool:
    """Tell whether live ``pid`` is the process the pidfile ``path`` recorded.

    hakit keeps a pidfile's mtime equal to its process's start time (it is
    written right after the start, and ``write_pidfile`` sets it when the
    pid was found later).  A reused pid belongs to a process that started at
    another time, so it does not match.  1.5 s of slack covers the whole
    seconds of the boot time in /proc/stat.
    """
    created = start_time(pid)
    try:
        written = os.stat(path).st_mtime
    except OSError:
        return False
    return created is not None and is_alive(pid) and abs(created - written) <= 1.5


def spawn(
    argv: Sequence[str],
    *,
    user: str = "",
    env: Mapping[str, str] | None = None,
    cwd: str = "/",
    log_path: str = "",
) -> subprocess.Popen[bytes]:
    """Run ``argv`` as ``user`` in its own session, output to ``log_path``.

    No shell is involved; stdin is /dev/null.  The caller waits for the
    child (a script) or leaves it to init (a daemon, :func:`start`).

    Raises:
        NotInstalledError: the program does not exist or is not executable.
        HostSetupError: the user or the log file is unusable.
        PermissionDeniedError: switching user is not allowed.
    """
    import subprocess  # noqa: PLC0415

    binary = argv[0]
    if not os.access(binary, os.X_OK):
        raise NotInstalledError(f"{binary} is not installed or not executable")
    environ = dict(env or {})
    uid: int | None = None
    gid: int | None = None
    groups: list[int] | None = None
    if user:
        user_uid, user_gid, home = user_ids(user)
        if user_uid != os.geteuid():
            if os.geteuid() != 0:
                raise PermissionDeniedError(f"only root can start a service as {user}")
            uid, gid, groups = user_uid, user_gid, []
        environ.setdefault("HOME", home or "/")
        environ.setdefault("USER", user)
        environ.setdefault("LOGNAME", user)
    environ.setdefault(
        "PATH", "/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin"
    )
    try:
        out = open(log_path or os.devnull, "ab")  # noqa: SIM115 - handed to Popen
    except OSError as exc:
        raise HostSetupError(
            f"cannot open log file {log_path}: {exc.strerror}"
        ) from None
    try:
        return subprocess.Popen(  # noqa: S603 - argv list, never a shell
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            env=environ,
            start_new_session=True,
            close_fds=True,
            user=uid,
            group=gid,
            extra_groups=groups,
        )
    except FileNotFoundError:
        raise NotInstalledError(f"{binary} is not installed") from None
    except PermissionError as exc:
        raise PermissionDeniedError(f"cannot run {binary}: {exc.strerror}") from None
    finally:
        out.close()


def start(
    argv: Sequence[str],
    *,
    pidfile: str,
    user: str = "",
    env: Mapping[str, str] | None = None,
    cwd: str = "/",
    log_path: str = "",
) -> int:
    """Start ``argv`` as a daemon in its own session and record its pid.

    No shell is involved.  The program must stay in the foreground (it must
    not fork itself away): the pid recorded is the one started here.

    Raises:
        NotInstalledError: the program does not exist or is not executable.
        HostSetupError: the user or the log file is unusable.
        PermissionDeniedError: switching user is not allowed.
    """
    child = spawn(argv, user=user, env=env, cwd=cwd, log_path=log_path)
    write_pidfile(pidfile, child.pid)
    log.info("started %s as pid %d", argv[0], child.pid)
    # The agent exits long before the daemon: let init reap it, not us.
    child.returncode = 0
    return child.pid


def exited_early(pid: int, settle: float) -> str | None:
    """Watch our child ``pid`` for ``settle`` seconds.

    Returns:
        None while it lives, else how it ended ("exit status 3",
        "signal 9").
    """
    end = time.monotonic() + settle
    while True:
        ended = reap(pid)
        if ended is not None or time.monotonic() >= end:
            return ended
        time.sleep(POLL)


def reap(pid: int) -> str | None:
    """Reap ``pid`` if it is our own child and dead; say how it ended.

    Returns None while the process lives.
    """
    try:
        done, status = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return None if is_alive(pid) else "ended"
    if done != pid:
        return None
    if os.WIFSIGNALED(status):
        return f"signal {os.WTERMSIG(status)}"
    return f"exit status {os.WEXITSTATUS(status)}"


def _reap_or_alive(pid: int) -> bool:
    """Reap ``pid`` if it is our own dead child; tell whether it is alive."""
    return reap(pid) is None and is_alive(pid)


def tree(pid: int) -> list[psutil.Process]:
    """The process and all its descendants that are alive, parent first."""
    import psutil  # noqa: PLC0415

    try:
        root = psutil.Process(pid)
        members = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []
    return [p for p in members if _proc_alive(p)]


def _tree_and_session(pid: int) -> list[psutil.Process]:
    """The tree of ``pid`` plus every other live member of its session."""
    import psutil  # noqa: PLC0415

    members = tree(pid)
    known = {p.pid for p in members}
    for member in session_members(pid):
        if member not in known:
            try:
                members.extend(tree(member) or [psutil.Process(member)])
            except psutil.NoSuchProcess:
                continue
            known.update(p.pid for p in members)
    return members


def threads_alive(pid: int) -> bool:
    """Tell whether any thread of ``pid`` still runs.

    A thread-group leader that exits (or is killed first) shows ``Z`` while
    its other threads go on; they hold its files and locks until the last one
    ends.  So a process is gone only when every task is.
    """
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return False
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/stat", "rb") as handle:
                data = handle.read()
        except OSError:
            continue
        state = data[data.rfind(b")") + 2 :][:1].decode("ascii", "replace")
        if state and state not in _DEAD_STATES:
            return True
    return False


def _proc_alive(proc: psutil.Process) -> bool:
    import psutil  # noqa: PLC0415

    try:
        if proc.status() != psutil.STATUS_ZOMBIE:
            return True
    except psutil.NoSuchProcess:
        return False
    return threads_alive(proc.pid)


def _cpu_seconds(procs: Iterable[psutil.Process]) -> float:
    """CPU time used so far by ``procs`` (0 for those gone)."""
    import psutil  # noqa: PLC0415

    total = 0.0
    for proc in procs:
        try:
            times = proc.cpu_times()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        total += times.user + times.system
    return total


def _signal_all(procs: Iterable[psutil.Process], sig: int) -> None:
    import psutil  # noqa: PLC0415

    for proc in procs:
        try:
            proc.send_signal(sig)
        except (psutil.NoSuchProcess, psutil.ZombieProcess):
            continue
        except psutil.AccessDenied as exc:
            raise PermissionDeniedError(f"cannot signal pid {proc.pid}") from exc


def _wait_gone(procs: list[psutil.Process], deadline: Deadline) -> list[psutil.Process]:
    while True:
        for proc in procs:
            _reap_or_alive(proc.pid)
        alive = [p for p in procs if _proc_alive(p)]
        if not alive or deadline.expired():
            return alive
        time.sleep(POLL)


def _wait_progress(
    procs: list[psutil.Process], deadline: Deadline, reserve: float, grace: float
) -> tuple[list[psutil.Process], str]:
    """Wait for ``procs`` to end while they make progress.

    Returns the ones still alive and why the wait ended: ``""`` (all gone),
    the deadline's reserve reached, or no progress (no CPU time used, no
    member gone) for ``grace`` seconds: a frozen or hung process.
    """
    last_cpu, last_count = -1.0, len(procs) + 1
    moved = time.monotonic()
    while True:
        for proc in procs:
            _reap_or_alive(proc.pid)
        alive = [p for p in procs if _proc_alive(p)]
        if not alive:
            return [], ""
        if deadline.remaining() <= reserve:
            return alive, "the action's deadline is near"
        cpu = _cpu_seconds(alive)
        now = time.monotonic()
        if cpu > last_cpu or len(alive) < last_count:
            last_cpu, last_count, moved = cpu, len(alive), now
        elif now - moved >= grace:
            return alive, f"it made no progress for {grace:g} s"
        time.sleep(POLL)


def stop(
    pid: int, deadline: Deadline, kill_reserve: float = 3.0, grace: float = STOP_GRACE
) -> None:
    """Stop ``pid``, its process tree and its session within ``deadline``.

    SIGTERM goes to the main process first (a daemon shuts its workers down
    itself), or to every member when the main process is already gone, and
    SIGCONT to every member: a frozen (SIGSTOPped) process handles the TERM
    only once continued.  Whatever is still alive gets SIGKILL once it made
    no progress for ``grace`` seconds, or when only ``kill_reserve`` seconds
    of the deadline remain.  Returns only when every process, and every
    thread of it, is gone; the log says which signal ended it.

    Raises:
        ActionTimeoutError: processes survived SIGKILL until the deadline.
    """
    import signal  # noqa: PLC0415 - ~1 ms of enums a monitor never needs

    members = _tree_and_session(pid)
    if not members:
        return
    began = time.monotonic()
    if is_alive(pid):
        _signal_all([m for m in members if m.pid == pid], signal.SIGTERM)
    else:  # the main process is gone: its orphans get the TERM themselves
        _signal_all(members, signal.SIGTERM)
    _signal_all(members, signal.SIGCONT)
    reserve = min(kill_reserve, deadline.remaining() / 2)
    alive, why = _wait_progress(members, deadline, reserve, grace)
    ended_by = "SIGTERM"
    if alive:
        # Children may have been spawned since: take the tree again.
        alive += [p for p in _tree_and_session(pid) if p not in alive]
        log.warning(
            "pid %d did not stop on SIGTERM (%s); sending SIGKILL to %s",
            pid,
            why,
            [p.pid for p in alive],
        )
        _signal_all(alive, signal.SIGKILL)
        ended_by = "SIGKILL"
        alive = _wait_gone(alive, deadline)
    if alive:
        raise ActionTimeoutError(
            f"processes {[p.pid for p in alive]} are still alive after SIGKILL"
        )
    log.info("pid %d ended by %s after %.1f s", pid, ended_by, time.monotonic() - began)


def find_for_stop(pidfile: str, ident: Identity | None, degraded: bool) -> int | None:
    """The service's pid as ``stop`` must see it.

    Normally :func:`find` (pidfile, then process table).  When parameters
    are unusable (``degraded``, or no ``ident`` because the program's path is
    unknown) the pidfile is all that is left; its pid is trusted only if it
    is the very process the pidfile recorded (see :func:`recorded_here`).
    """
    pid = find(pidfile, ident) if ident is not None else None
    if pid is None and degraded:
        recorded = read_pidfile(pidfile)
        if recorded is not None and recorded_here(recorded, pidfile):
            return recorded
    return pid


def stop_service(
    pidfile: str,
    ident: Identity | None,
    deadline: Deadline,
    *,
    degraded: bool = False,
    name: str = "the service",
    attempts: int = 3,
    grace: float = STOP_GRACE,
) -> None:
    """Stop the service of ``pidfile`` for sure, and remove the pidfile.

    Each attempt finds the service (:func:`find_for_stop`) and stops its
    process tree and session (:func:`stop`: SIGTERM, then SIGKILL within
    ``deadline``).  A service found again after ``attempts`` stops is being
    restarted by something else.

    Raises:
        ActionTimeoutError: processes survived SIGKILL until the deadline.
        AgentError: the service keeps coming back.
    """
    for _ in range(attempts):
        pid = find_for_stop(pidfile, ident, degraded)
        if pid is None:
            break
        log.info("stopping %s (pid %d)", name, pid)
        stop(pid, deadline, grace=grace)
    else:
        if find_for_stop(pidfile, ident, degraded) is not None:
            raise AgentError(
                f"{name} keeps coming back; is it started outside Pacemaker?"
            )
    remove_file(pidfile)


def established_ports(pid: int, ports: Iterable[int]) -> list[tuple[str, int]]:
    """Remote (host, port) of ESTABLISHED TCP connections of the tree to ``ports``."""
    import psutil  # noqa: PLC0415

    wanted = set(ports)
    found = []
    for proc in tree(pid):
        try:
            conns = (
                proc.net_connections(kind="tcp")
                if hasattr(proc, "net_connections")
                else proc.connections(kind="tcp")
            )
        except (psutil.NoSuchProcess, psutil.ZombieProcess):
            continue
        except psutil.AccessDenied as exc:
            raise AgentError(f"cannot read the sockets of pid {proc.pid}") from exc
        for conn in conns:
            if (
                conn.status == psutil.CONN_ESTABLISHED
                and conn.raddr
                and conn.raddr.port in wanted
            ):
                found.append((conn.raddr.ip, conn.raddr.port))
    return found
