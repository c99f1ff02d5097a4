"""Run a real single-node Corosync + Pacemaker cluster for integration tests.

The :class:`Cluster` writes a corosync.conf, seeds a clean CIB, starts
``corosync`` and ``pacemakerd`` in their own sessions with exactly known pids,
waits (always with a bound) until the DC is idle, and offers the few CLI
helpers tests need.  :meth:`Cluster.stop` kills only processes it recorded.

Facts this relies on are in ``/work/shared/LAB.md`` sections 2, 3 and 5.  The
module has no pytest dependency so that scripts and benchmarks can reuse it.

Every cluster command goes through :meth:`Cluster.command`, so a later N-node
variant that puts each node in its own network, mount and UTS namespace only
has to override that method (prefixing ``nsenter -t ANCHOR -n -m -u --``) and
the paths of the per-node directories.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NamedTuple

#: The only variable pacemakerd gets: agents inherit the executor's environment.
SAFE_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"
CLUSTER_NAME = "hakit-test"
PACEMAKERD = "/usr/sbin/pacemakerd"
#: Binaries a live cluster needs; callers use this to decide skip or fail.
REQUIRED_TOOLS = (
    "corosync",
    "corosync-quorumtool",
    "pacemakerd",
    "crmadmin",
    "crm_mon",
    "cibadmin",
    "crm_resource",
    "crm_attribute",
    "crm_failcount",
)

CIB_DIR = Path("/var/lib/pacemaker/cib")
#: pacemakerd gets no PCMK_logfile (bare environment), so it logs here.
DEFAULT_PACEMAKER_LOG = Path("/var/log/pacemaker/pacemaker.log")
HA_RSCTMP = Path("/run/resource-agents")
SHM_DIR = Path("/dev/shm")

# Seed CIB (LAB section 3): dc-deadtime=2s cuts time-to-Online from 22 s to 4 s.
SEED_CIB = """\
<cib crm_feature_set="3.16.1" validate-with="pacemaker-3.9" epoch="1" \
num_updates="0" admin_epoch="0">
  <configuration>
    <crm_config>
      <cluster_property_set id="cib-bootstrap-options">
        <nvpair id="cib-bootstrap-options-stonith-enabled" name="stonith-enabled" \
value="false"/>
        <nvpair id="cib-bootstrap-options-dc-deadtime" name="dc-deadtime" \
value="2s"/>
      </cluster_property_set>
    </crm_config>
    <nodes/>
    <resources/>
    <constraints/>
  </configuration>
  <status/>
</cib>
"""

# Sections of <configuration> in the order load_xml applies them, so that
# constraints are created after the resources they reference.
_SECTION_ORDER = (
    "crm_config",
    "rsc_defaults",
    "op_defaults",
    "nodes",
    "resources",
    "tags",
    "constraints",
    "fencing-topology",
    "acls",
    "alerts",
)
# Attributes of constraint elements that name a resource.
_RSC_REF_ATTRS = ("rsc", "with-rsc", "first", "then")
_RESOURCE_TAGS = ("primitive", "group", "clone", "master", "bundle")

_POLL = 0.15  # seconds between cheap polls
_PROBE_TIMEOUT = 5.0  # bound for each CLI call made while polling
_LOG_TAIL_LINES = 40


class ClusterError(Exception):
    """The lab cluster could not do what was asked."""


class ClusterStartError(ClusterError):
    """A daemon exited or a readiness wait timed out during start."""


class WaitTimeoutError(ClusterError):
    """A bounded wait on the cluster ran out of time."""


class ClusterCommandError(subprocess.CalledProcessError):
    """A cluster CLI tool exited non-zero; the message includes its output."""

    def __str__(self) -> str:
        """Return the command, exit code and the tail of stdout and stderr."""
        text = super().__str__()
        for name, value in (("stdout", self.stdout), ("stderr", self.stderr)):
            if value:
                text += f"\n--- {name} ---\n{_tail_text(str(value), 20)}"
        return text


class ResourceInstance(NamedTuple):
    """One primitive or clone instance as crm_mon reports it."""

    node: str | None  # None when the instance is not placed anywhere
    role: str  # "Started", "Stopped", "Promoted", "Unpromoted", ...
    active: bool
    failed: bool


class _Proc(NamedTuple):
    """A process identity that survives pid reuse: pid plus its start time."""

    pid: int
    starttime: int


def _stat_fields(pid: int) -> list[str] | None:
    """Return the /proc/PID/stat fields after the command name, or None."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # comm may itself contain ")" and spaces: split after the last ")".
    return raw.rpartition(")")[2].split()


def _proc_identity(pid: int) -> _Proc | None:
    """Return pid + start time (field 22) of a live process, or None."""
    fields = _stat_fields(pid)
    if fields is None:
        return None
    return _Proc(pid, int(fields[19]))


def _is_alive(proc: _Proc) -> bool:
    """Tell whether *proc* still runs; a zombie counts as dead (LAB section 2)."""
    fields = _stat_fields(proc.pid)
    if fields is None:
        return False
    if fields[0] in ("Z", "X", "x"):
        return False
    return int(fields[19]) == proc.starttime


def _descendants(root: int) -> list[_Proc]:
    """Return every live descendant of pid *root*, found by scanning /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        fields = _stat_fields(int(entry.name))
        if fields is None:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry.name))
    found: list[_Proc] = []
    todo = list(children.get(root, ()))
    while todo:
        pid = todo.pop()
        ident = _proc_identity(pid)
        if ident is not None:
            found.append(ident)
        todo.extend(children.get(pid, ()))
    return found


def _signal(proc: _Proc, sig: int) -> None:
    """Send *sig* to *proc* only if that exact process is still alive."""
    if _is_alive(proc):
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, sig)


def _wait_gone(procs: Sequence[_Proc], timeout: float) -> bool:
    """Wait until none of *procs* is alive; return False on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        if not any(_is_alive(p) for p in procs):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)


def _tail_text(text: str, lines: int) -> str:
    """Return the last *lines* lines of *text*."""
    return "\n".join(text.splitlines()[-lines:])


def _tail_file(path: Path, lines: int = _LOG_TAIL_LINES, offset: int = 0) -> str:
    """Return the last *lines* lines of *path* after byte *offset*."""
    try:
        with path.open("rb") as handle:
            if offset <= path.stat().st_size:  # else the log was rotated
                handle.seek(offset)
            data = handle.read()
    except OSError as exc:
        return f"<cannot read {path}: {exc}>"
    return _tail_text(data.decode("utf-8", "replace"), lines)


def _xml_ref(tag: str, obj_id: str) -> str:
    """Return ``<tag id="obj_id"/>``, escaped, for cibadmin --delete."""
    return ET.tostring(ET.Element(tag, id=obj_id), encoding="unicode")


class Cluster:
    """A single-node Corosync + Pacemaker cluster on 127.0.0.1.

    It uses the host's ``/var/lib/pacemaker``, ``/run`` and abstract IPC
    sockets, so only one may run per network namespace.  The CIB directory is
    wiped on every start.

    Args:
        workdir: Directory for corosync.conf, logs and daemon output.
        node: Pacemaker node name (the corosync nodelist ``name``).
        token_ms: Corosync totem token timeout in milliseconds.
        die_with_parent: Start both daemons under ``setpriv --pdeathsig TERM``
            so they shut down when the process that started them dies, even
            by SIGKILL.  The signal follows the *thread* that called start(),
            so turn this off when starting from a short-lived thread.
    """

    def __init__(
        self,
        workdir: Path,
        node: str = "node1",
        token_ms: int = 1000,
        *,
        die_with_parent: bool = True,
    ) -> None:
        self.workdir = Path(workdir)
        self.node = node
        self.token_ms = token_ms
        self.die_with_parent = die_with_parent
        self.address = "127.0.0.1"
        self.corosync_conf = self.workdir / "corosync.conf"
        self.corosync_log_path = self.workdir / "corosync.log"
        self.pacemaker_log_path = DEFAULT_PACEMAKER_LOG
        #: Seconds taken by the phases of the last start() and stop().
        self.timings: dict[str, float] = {}
        self._corosync: subprocess.Popen[bytes] | None = None
        self._pacemakerd: subprocess.Popen[bytes] | None = None
        self._corosync_id: _Proc | None = None
        self._pacemakerd_id: _Proc | None = None
        self._children: dict[int, _Proc] = {}
        self._pacemaker_log_offset = 0
        #: Every pid the last stop() dealt with (daemons and their children).
        self.last_stopped_pids: list[int] = []

    # ------------------------------------------------------------------ commands

    def command(self, argv: Sequence[str]) -> list[str]:
        """Return *argv* as it must be executed on this node.

        The single-node cluster runs on the host, so this is the identity.  A
        namespaced node overrides it to prefix ``nsenter -t PID -n -m -u --``.
        """
        return list(argv)

    def tool_env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        """Return the environment for cluster CLI tools.

        It is built from scratch so that a ``CIB_file``/``CIB_shadow`` or a
        shimmed PATH in the test runner's environment cannot redirect the tools.
        """
        home = self.workdir / "home"
        home.mkdir(parents=True, exist_ok=True)
        env = {"PATH": SAFE_PATH, "LC_ALL": "C.UTF-8", "HOME": str(home)}
        if extra:
            env.update(extra)
        return env

    def run(
        self,
        argv: Sequence[str],
        check: bool = True,
        timeout: float = 30,
        input: str | None = None,
        env: dict[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run a cluster CLI tool on this node and capture its text output.

        Args:
            argv: Command and arguments (never a shell string).
            check: Raise :class:`ClusterCommandError` on a non-zero exit.
            timeout: Seconds before the tool is killed (TimeoutExpired).
            input: Text fed to stdin; stdin is /dev/null when None.
            env: Extra variables on top of :meth:`tool_env`.
        """
        cmd = self.command(argv)
        proc = subprocess.run(
            cmd,
            input=input,
            stdin=None if input is not None else subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=self.tool_env(env),
            check=False,
        )
        if check and proc.returncode != 0:
            raise ClusterCommandError(proc.returncode, cmd, proc.stdout, proc.stderr)
        return proc

    def _probe(self, argv: Sequence[str]) -> subprocess.CompletedProcess[str] | None:
        """Run a polling command; a timeout counts as "not ready" (None)."""
        try:
            return self.run(argv, check=False, timeout=_PROBE_TIMEOUT)
        except subprocess.TimeoutExpired:
            return None

    # ------------------------------------------------------------------ files

    def corosync_conf_text(self) -> str:
        """Return corosync.conf: one ``key: value`` per line (LAB section 3)."""
        return "\n".join(
            [
                "totem {",
                "    version: 2",
                f"    cluster_name: {CLUSTER_NAME}",
                "    transport: knet",
                "    crypto_cipher: none",
                "    crypto_hash: none",
                f"    token: {self.token_ms}",
                "}",
                "nodelist {",
                "    node {",
                f"        name: {self.node}",
                "        nodeid: 1",
                f"        ring0_addr: {self.address}",
                "    }",
                "}",
                "quorum {",
                "    provider: corosync_votequorum",
                "}",
                "logging {",
                "    to_logfile: yes",
                f"    logfile: {self.corosync_log_path}",
                "    to_stderr: no",
                "    to_syslog: no",
                "    timestamp: hires",
                "}",
                "",
            ]
        )

    def _seed_cib(self) -> None:
        """Replace whatever CIB is on disk with the seed (owner hacluster, 0600)."""
        for old in CIB_DIR.glob("cib*"):
            if old.is_file() and old.suffix in (".xml", ".sig", ".last", ".raw"):
                old.unlink()
        target = CIB_DIR / "cib.xml"
        target.write_text(SEED_CIB)
        os.chmod(target, 0o600)
        shutil.chown(target, "hacluster", "haclient")

    # ------------------------------------------------------------------ lifecycle

    @property
    def corosync_pid(self) -> int | None:
        """Pid of the corosync we started, or None."""
        return self._corosync_id.pid if self._corosync_id else None

    @property
    def pacemakerd_pid(self) -> int | None:
        """Pid of the pacemakerd we started, or None."""
        return self._pacemakerd_id.pid if self._pacemakerd_id else None

    @property
    def pacemaker_child_pids(self) -> list[int]:
        """Pids recorded as descendants of pacemakerd (refreshed while polling)."""
        return sorted(self._children)

    def _spawn(
        self, argv: Sequence[str], output: Path, env: dict[str, str]
    ) -> subprocess.Popen[bytes]:
        """Start a daemon in its own session; its output goes to *output*."""
        cmd = self.command(argv)
        setpriv = shutil.which("setpriv", path=SAFE_PATH)
        if self.die_with_parent and setpriv:
            # setpriv execs, so the pid stays exact; pdeathsig survives exec.
            cmd = [setpriv, "--pdeathsig", "TERM", "--", *cmd]
        with output.open("ab") as out:
            return subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
                close_fds=True,
            )

    def start(self, timeout: float = 60) -> None:
        """Start corosync and pacemakerd and wait until the DC is idle.

        On failure everything started so far is stopped again before the
        error propagates, so callers never inherit half a cluster.

        Raises:
            ClusterStartError: a daemon exited early or a wait timed out; the
                message carries the tails of both logs.
        """
        if self._corosync is not None:
            raise ClusterError("cluster already started")
        deadline = time.monotonic() + timeout
        try:
            self._start(deadline)
        except BaseException:
            self.stop()
            raise

    def _start(self, deadline: float) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.timings = {}
        self.corosync_conf.write_text(self.corosync_conf_text())
        # Exits 8 silently when no nodelist address is local (LAB section 3).
        check = self.run(["corosync", "-t", "-c", str(self.corosync_conf)], check=False)
        if check.returncode != 0:
            raise ClusterStartError(
                f"corosync -t rejected {self.corosync_conf} (rc {check.returncode}):"
                f" {check.stdout}{check.stderr}"
            )
        # Agents run by the executor need HA_RSCTMP; without systemd-tmpfiles
        # nothing recreates it after a reboot.
        HA_RSCTMP.mkdir(mode=0o1755, exist_ok=True)
        self._seed_cib()
        if self.pacemaker_log_path.exists():
            self._pacemaker_log_offset = self.pacemaker_log_path.stat().st_size
        self.corosync_log_path.unlink(missing_ok=True)

        t0 = time.monotonic()
        self._corosync = self._spawn(
            ["corosync", "-f", "-c", str(self.corosync_conf)],
            self.workdir / "corosync.out",
            {"PATH": SAFE_PATH},
        )
        self._corosync_id = _proc_identity(self._corosync.pid)
        self._wait_start(self._quorate, deadline, "corosync quorate")
        self.timings["quorate"] = time.monotonic() - t0

        self._pacemakerd = self._spawn(
            [PACEMAKERD], self.workdir / "pacemakerd.out", {"PATH": SAFE_PATH}
        )
        self._pacemakerd_id = _proc_identity(self._pacemakerd.pid)
        self._wait_start(
            self._online_with_dc, deadline, f"{self.node} Online with a DC"
        )
        self.timings["online"] = time.monotonic() - t0
        self._wait_start(self._dc_idle, deadline, "DC in S_IDLE")
        self.timings["idle"] = time.monotonic() - t0
        self._record_children()

    def _wait_start(
        self, ready: Callable[[], bool], deadline: float, what: str
    ) -> None:
        """Poll *ready* until *deadline*, failing fast if a daemon dies."""
        while True:
            self._check_daemons(ClusterStartError, what)
            if ready():
                return
            if time.monotonic() >= deadline:
                raise ClusterStartError(self._diagnose(f"timed out waiting for {what}"))
            time.sleep(_POLL)

    def _check_daemons(self, error: type[ClusterError], what: str) -> None:
        """Raise *error* if a daemon we started has exited."""
        for name, popen in (
            ("corosync", self._corosync),
            ("pacemakerd", self._pacemakerd),
        ):
            if popen is not None and popen.poll() is not None:
                raise error(
                    self._diagnose(
                        f"{name} exited with {popen.returncode}"
                        f" while waiting for {what}"
                    )
                )
        if self._pacemakerd is not None:
            self._record_children()

    def _diagnose(self, message: str) -> str:
        """Append the tails of the corosync and pacemaker logs to *message*."""
        parts = [message]
        for title, path, offset in (
            ("corosync log", self.corosync_log_path, 0),
            ("corosync output", self.workdir / "corosync.out", 0),
            ("pacemaker log", self.pacemaker_log_path, self._pacemaker_log_offset),
            ("pacemakerd output", self.workdir / "pacemakerd.out", 0),
        ):
            if path.exists():
                parts.append(
                    f"--- {title} ({path}) ---\n{_tail_file(path, offset=offset)}"
                )
        return "\n".join(parts)

    def pacemaker_log(self) -> str:
        """Return what Pacemaker logged since the last start() (hires stamps)."""
        try:
            with self.pacemaker_log_path.open("rb") as handle:
                handle.seek(self._pacemaker_log_offset)
                return handle.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def _record_children(self) -> None:
        """Remember pacemakerd's descendants so stop() can kill them by pid."""
        if self._pacemakerd_id is None or not _is_alive(self._pacemakerd_id):
            return
        for proc in _descendants(self._pacemakerd_id.pid):
            self._children.setdefault(proc.pid, proc)
        # Forget recorded processes that have exited; their pids may be reused.
        for pid, proc in list(self._children.items()):
            if not _is_alive(proc):
                del self._children[pid]

    def stop(self, timeout: float = 60) -> None:
        """Stop pacemakerd, then corosync, then any leftover pacemaker process.

        Each daemon gets SIGTERM, then SIGKILL after a bound.  Only pids this
        object recorded are signalled.  Safe to call repeatedly, and after a
        start() that failed halfway.

        Args:
            timeout: Bound for pacemakerd's orderly shutdown (it stops the
                resources first); corosync and leftovers get shorter bounds.
        """
        t0 = time.monotonic()
        self._record_children()
        killed: list[_Proc] = []
        if self._pacemakerd_id is not None:
            killed += self._terminate(self._pacemakerd_id, timeout)
        leftovers = [p for p in self._children.values() if _is_alive(p)]
        for proc in leftovers:
            _signal(proc, signal.SIGTERM)
        if not _wait_gone(leftovers, 5):
            for proc in leftovers:
                _signal(proc, signal.SIGKILL)
            _wait_gone(leftovers, 5)
        self.timings["stop_pacemaker"] = time.monotonic() - t0
        if self._corosync_id is not None:
            killed += self._terminate(self._corosync_id, 15)
        self.timings["stop"] = time.monotonic() - t0
        for popen in (self._pacemakerd, self._corosync):
            if popen is not None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    popen.wait(timeout=1)  # reap our own children
        still = [p for p in self._all_recorded() if _is_alive(p)]
        self.last_stopped_pids = sorted(p.pid for p in self._all_recorded())
        if not still:
            self._remove_shm([*self._all_recorded(), *killed])
        self._pacemakerd = self._corosync = None
        self._pacemakerd_id = self._corosync_id = None
        self._children = {}
        if still:
            raise ClusterError(f"processes survived SIGKILL: {[p.pid for p in still]}")

    def _all_recorded(self) -> list[_Proc]:
        procs = list(self._children.values())
        procs += [p for p in (self._pacemakerd_id, self._corosync_id) if p is not None]
        return procs

    def _terminate(self, proc: _Proc, timeout: float) -> list[_Proc]:
        """SIGTERM *proc*, SIGKILL it after *timeout*; return it if killed."""
        popen = {
            self.pacemakerd_pid: self._pacemakerd,
            self.corosync_pid: self._corosync,
        }.get(proc.pid)
        _signal(proc, signal.SIGTERM)
        if self._wait_reaped(proc, popen, timeout):
            return []
        _signal(proc, signal.SIGKILL)
        self._wait_reaped(proc, popen, 10)
        return [proc]

    @staticmethod
    def _wait_reaped(
        proc: _Proc, popen: subprocess.Popen[bytes] | None, timeout: float
    ) -> bool:
        """Wait for our own child (reaping it) or any recorded process to exit."""
        if popen is None:
            return _wait_gone([proc], timeout)
        try:
            popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return False
        return True

    @staticmethod
    def _remove_shm(procs: Sequence[_Proc]) -> None:
        """Delete libqb files under /dev/shm named after dead recorded pids.

        Names look like ``qb-corosync-PID-blackbox-data`` or
        ``qb-SERVERPID-CLIENTPID-N-RANDOM``; only ``qb-*`` entries holding
        one of our pids as a dash-separated field are touched.
        """
        # A pid that exists again belongs to someone else now: leave its files.
        pids = {str(p.pid) for p in procs if not Path(f"/proc/{p.pid}").exists()}
        if not pids or not SHM_DIR.is_dir():
            return
        for entry in SHM_DIR.glob("qb-*"):
            fields = entry.name.split("-")
            if not pids.intersection(fields[1:3]):
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)

    # ------------------------------------------------------------------ state

    def _quorate(self) -> bool:
        proc = self._probe(["corosync-quorumtool", "-s"])
        return (
            proc is not None
            and re.search(r"^Quorate:\s+Yes", proc.stdout, re.M) is not None
        )

    def _online_with_dc(self) -> bool:
        try:
            root = self.crm_mon_xml(timeout=_PROBE_TIMEOUT)
        except (ClusterCommandError, subprocess.TimeoutExpired, ET.ParseError):
            return False
        dc = root.find("summary/current_dc")
        node = root.find(f"nodes/node[@name='{self.node}']")
        return (
            dc is not None
            and dc.get("present") == "true"
            and node is not None
            and node.get("online") == "true"
        )

    def dc(self) -> str | None:
        """Return the DC's node name, or None while there is none."""
        proc = self._probe(["crmadmin", "-q", "-D", "-t", "2s"])
        if proc is None or proc.returncode != 0:
            return None
        # crmadmin -q prints the answer on stderr (LAB section 5).
        name = (proc.stdout + proc.stderr).strip()
        return name.splitlines()[-1].strip() if name else None

    def controller_state(self, node: str) -> str | None:
        """Return the controller FSM state of *node* (``S_IDLE``, ...) or None."""
        proc = self._probe(["crmadmin", "-q", "-S", node, "-t", "2s"])
        if proc is None or proc.returncode != 0:
            return None
        match = re.search(r"\bS_[A-Z_]+\b", proc.stdout + proc.stderr)
        return match.group(0) if match else None

    def _dc_idle(self) -> bool:
        dc = self.dc()
        return dc is not None and self.controller_state(dc) == "S_IDLE"

    def wait_until(
        self,
        predicate: Callable[[], bool],
        timeout: float = 30,
        what: str = "condition",
        interval: float = _POLL,
    ) -> None:
        """Poll *predicate* until true, for at most *timeout* seconds.

        Raises:
            WaitTimeoutError: on timeout or when a daemon exits; the message
                carries the tails of the corosync and pacemaker logs.
        """
        deadline = time.monotonic() + timeout
        while True:
            self._check_daemons(WaitTimeoutError, what)
            if predicate():
                return
            if time.monotonic() >= deadline:
                raise WaitTimeoutError(
                    self._diagnose(f"timed out after {timeout}s waiting for {what}")
                )
            time.sleep(interval)

    def wait_idle(self, timeout: float = 30) -> None:
        """Wait until there is a DC and it is in S_IDLE.

        Right after a CIB change the DC may still be idle for a few ms before
        it starts the transition, so wait for the expected resource state with
        :meth:`wait_until` when that matters.
        """
        self.wait_until(self._dc_idle, timeout, "DC in S_IDLE")

    def crm_mon_xml(self, timeout: float = 30) -> ET.Element:
        """Return the root element of ``crm_mon -1 --output-as=xml``."""
        proc = self.run(
            ["crm_mon", "-1", "--inactive", "--output-as=xml"], timeout=timeout
        )
        return ET.fromstring(proc.stdout)

    def resource_state(self, rsc_id: str) -> list[ResourceInstance]:
        """Return the instances of a primitive, clone or clone's primitive.

        *rsc_id* may name a primitive, a clone (all its instances, running or
        not) or the primitive inside a clone.  crm_mon reports anonymous clone
        instances under the plain primitive id and unique ones as ``id:N``;
        ``id:N`` matches only the latter.  An unplaced instance has node None.
        """
        root = self.crm_mon_xml()
        found: list[ResourceInstance] = []
        resources = root.find("resources")
        if resources is None:
            return found
        for parent in resources.iter():
            for rsc in parent.findall("resource"):
                if not (
                    rsc.get("id") == rsc_id
                    or (rsc.get("id") or "").split(":")[0] == rsc_id
                    or (parent.tag == "clone" and parent.get("id") == rsc_id)
                ):
                    continue
                nodes = [n.get("name") for n in rsc.findall("node")] or [None]
                for node in nodes:
                    found.append(
                        ResourceInstance(
                            node=node,
                            role=rsc.get("role", ""),
                            active=rsc.get("active") == "true",
                            failed=rsc.get("failed") == "true",
                        )
                    )
        return found

    def fail_count(self, rsc_id: str, node: str | None = None) -> int:
        """Return the fail count of *rsc_id* on *node* (default: this node).

        INFINITY is returned as 1000000, Pacemaker's value for it.
        """
        proc = self.run(
            [
                "crm_failcount",
                "--query",
                "--quiet",
                "-r",
                rsc_id,
                "-N",
                node or self.node,
            ]
        )
        value = (
            proc.stdout.strip().splitlines()[-1].strip() if proc.stdout.strip() else "0"
        )
        if value.upper() in ("INFINITY", "+INFINITY"):
            return 1000000
        return int(value)

    # ------------------------------------------------------------------ changes

    def load_xml(self, text: str) -> None:
        """Create or replace configuration objects (``crm configure load xml update``).

        *text* has a ``<cib><configuration>…`` or a ``<configuration>`` root.
        Each top-level object (a primitive, clone, constraint, property set…)
        replaces the object with the same tag and id whole, or is created.
        Use :meth:`set_property` for single cluster properties: a
        ``cib-bootstrap-options`` set here would wipe dc-deadtime.
        """
        root = ET.fromstring(text)
        config = root if root.tag == "configuration" else root.find("configuration")
        if config is None:
            raise ValueError(
                "load_xml needs a <cib><configuration> or <configuration> root,"
                f" got <{root.tag}>"
            )
        current = ET.fromstring(
            self.run(["cibadmin", "--query", "--scope", "configuration"]).stdout
        )
        order = {name: i for i, name in enumerate(_SECTION_ORDER)}
        for section in sorted(config, key=lambda s: order.get(s.tag, len(order))):
            if len(section) and current.find(section.tag) is None:
                # The seed CIB has no fencing-topology (tags, acls...) section,
                # and cibadmin refuses objects for a missing one with EINVAL.
                self.run(
                    [
                        "cibadmin",
                        "--create",
                        "--scope",
                        "configuration",
                        "--xml-text",
                        f"<{section.tag}/>",
                    ]
                )
            for obj in section:
                xml = ET.tostring(obj, encoding="unicode")
                obj_id = obj.get("id")
                exists = obj_id is not None and any(
                    other.get("id") == obj_id
                    for other in current.findall(f"{section.tag}/{obj.tag}")
                )
                verb = "--replace" if exists else "--create"
                self.run(["cibadmin", verb, "--scope", section.tag, "--xml-text", xml])

    def set_property(self, name: str, value: str) -> None:
        """Set one cluster property in cib-bootstrap-options."""
        self.run(
            ["crm_attribute", "--type", "crm_config", "--name", name, "--update", value]
        )

    def cleanup(self, rsc_id: str, node: str | None = None) -> None:
        """Clear the failure history and fail counts of *rsc_id*."""
        argv = ["crm_resource", "--cleanup", "--resource", rsc_id]
        if node:
            argv += ["--node", node]
        self.run(argv)

    def _config_object(self, rsc_id: str) -> ET.Element | None:
        resources = ET.fromstring(
            self.run(["cibadmin", "--query", "--scope", "resources"]).stdout
        )
        for obj in resources:
            if obj.get("id") == rsc_id:
                return obj
        return None

    def delete_resource(self, rsc_id: str, timeout: float = 30) -> None:
        """Stop a top-level resource, wait until it is inactive, then remove it.

        Constraints that reference it are removed too.  A missing resource is
        not an error.
        """
        obj = self._config_object(rsc_id)
        if obj is None:
            return
        self.run(
            [
                "crm_resource",
                "--resource",
                rsc_id,
                "--meta",
                "--set-parameter",
                "target-role",
                "--parameter-value",
                "Stopped",
            ]
        )
        self.wait_until(
            lambda: not any(i.active for i in self.resource_state(rsc_id)),
            timeout,
            f"{rsc_id} stopped",
        )
        constraints = ET.fromstring(
            self.run(["cibadmin", "--query", "--scope", "constraints"]).stdout
        )
        # Constraints may name the resource or anything nested in it.
        ids = {e.get("id") for e in obj.iter() if e.tag in _RESOURCE_TAGS}
        for con in constraints:
            refs = {con.get(a) for a in _RSC_REF_ATTRS}
            refs |= {r.get("id") for r in con.iter("resource_ref")}
            if ids & refs:
                self.run(
                    [
                        "cibadmin",
                        "--delete",
                        "--scope",
                        "constraints",
                        "--xml-text",
                        _xml_ref(con.tag, con.get("id", "")),
                    ]
                )
        self.run(
            [
                "cibadmin",
                "--delete",
                "--scope",
                "resources",
                "--xml-text",
                _xml_ref(obj.tag, rsc_id),
            ]
        )
        self.wait_until(
            lambda: not self.resource_state(rsc_id),
            timeout,
            f"{rsc_id} gone from crm_mon",
        )
