"""A sushy-tools Redfish emulator (fake driver) on 127.0.0.1, with fault injection.

The emulator follows LAB.md section 12.  :class:`RedfishEmulator` writes, under
its work directory, a lab CA and two server certificates signed by it (one for
``IP:127.0.0.1``, one for the wrong name ``DNS:wrong-name.invalid``), an
htpasswd file (bcrypt cost 4: sushy re-hashes on every request), a Python
config file and a fresh ``SUSHY_EMULATOR_STATE_DIR``.  Because both
certificates chain to the same CA, a client trusting :attr:`ca_file` fails on
the wrong-name certificate for the host name alone.

The emulator runs in its own process and session: this module run as
``python -m tests.lab.redfish --launch CONFIG FAULTS PARENT_PID``.  The
launcher (:func:`_launch`) asks the kernel for SIGTERM when the starting thread
dies (``PR_SET_PDEATHSIG``), then calls ``sushy_tools.emulator.main.main()``
after these patches, outermost first:

* :class:`~tests.lab.redfish_layers.SessionLayer` wraps sushy's basic-auth
  middleware and, when switched on, adds the SessionService real BMCs have
  (X-Auth-Token sessions; a valid token skips basic auth).
* :class:`_FaultInjector`, a WSGI middleware, sits behind sushy's basic-auth
  middleware, so a 401 is still sushy's own.  It can delay
  every authenticated answer (and the open service root), answer HTTP 500 to
  ``POST .../Actions/ComputerSystem.Reset`` without acting, and toggles
  ``SUSHY_EMULATOR_DISABLE_POWER_OFF`` (sushy's HTTP 400 on ForceOff and
  GracefulShutdown).
* :class:`~tests.lab.redfish_layers.TaskLayer`, behind it, can answer a Reset
  with 202 and a task monitor, passing the Reset to sushy only after a delay
  (or never, or failing the task).
* ``fakedriver.random`` becomes an object whose ``randint()`` returns the
  power delay in whole seconds (0: the next GET shows the change; 3600:
  "accepted, never applied").

Everything else reaches sushy untouched, on the same TLS socket.  The two
layers are stand-ins for what sushy-tools 2.2.0 lacks; see
``tests/lab/redfish_layers.py`` for how they behave on the wire (DSP0266).

Faults and modes are flag files in ``FAULTS`` read on every request, so every
one can be switched on a running emulator; the constructor only sets the
initial values.  The layers count logins, logouts, basic-auth requests and
task polls in ``FAULTS/stats.json`` (:meth:`RedfishEmulator.stats`).
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import secrets
import signal
import ssl
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from http.client import HTTPConnection, HTTPSConnection
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Callable

from .ports import LOOPBACK, port_is_free
from .redfish_layers import (
    DEFAULT_SESSION_TIMEOUT,
    FINALS,
    SESSIONS_FLAG,
    STATS_FILE,
    TASK_FLAG,
    SessionLayer,
    Stats,
    TaskLayer,
    read_stats,
    session_timeout,
    task_mode,
)

if TYPE_CHECKING:
    import requests

REPO_ROOT = Path(__file__).resolve().parents[2]
OPENSSL = "/usr/bin/openssl"
#: PATH given to the emulator process (LAB.md section 2: no inherited shims).
BASE_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"

USERNAME = "admin"
PASSWORD = "adminpass"  # noqa: S105 - lab credential, never on argv
BCRYPT_COST = 4
WRONG_NAME = "wrong-name.invalid"
SYSTEMS_PATH = "/redfish/v1/Systems"
#: In the faults directory: one line per power change of a system (see
#: :func:`_record_transitions`).
TRANSITIONS_FILE = "transitions"
RESET_SUFFIX = "/Actions/ComputerSystem.Reset"

# Flag files in the faults directory (read by the launcher on every request).
FAULT_POWER_DELAY = "power-delay"  # whole seconds, text
FAULT_DISABLE_POWER_OFF = "disable-power-off"  # exists: 400 on ForceOff
FAULT_RESET_ERROR = "reset-error"  # exists: 500 on Reset, nothing done
FAULT_SLOW = "slow"  # seconds (float, text) slept before answering
FAULT_SESSIONS = SESSIONS_FLAG  # SessionTimeout (s, text): SessionService on
FAULT_TASK = TASK_FLAG  # "DELAY completed|exception task|operation": Reset tasks
#: A task delay that outlasts every test: "accepted, never finished".
TASK_NEVER = 3600.0

_POLL = 0.05
_KILL_GRACE = 5.0
_PR_SET_PDEATHSIG = 1


def redfish_missing() -> str | None:
    """Return why the Redfish emulator cannot run here, or None when it can."""
    if not os.access(OPENSSL, os.X_OK):
        return f"{OPENSSL} is missing (install the Debian openssl package)"
    for module in ("sushy_tools", "bcrypt", "requests"):
        if importlib.util.find_spec(module) is None:
            return (
                f"{sys.executable} cannot import {module} "
                "(pip install sushy-tools bcrypt into the project venv)"
            )
    return None


class RedfishEmulator:
    """One sushy-tools emulator with ``systems`` fake systems, all powered On.

    Layout under ``workdir``: ``ca.pem`` (trust this), ``server.pem``/``.key``
    (``IP:127.0.0.1``), ``wrong-name.invalid.pem``/``.key``, ``htpasswd``,
    ``emulator-PORT.conf``, ``faults-PORT/``, ``emulator-PORT.log`` and
    ``state-*/`` (one per instance).  Nothing is written or started before
    :meth:`start`; :meth:`stop` is idempotent.  A stop and start keeps the
    power states, like a BMC reboot.  The emulator gets SIGTERM when the
    *thread* that called :meth:`start` exits, so start it from a long-lived
    thread (pytest's main thread is fine).

    Args:
        workdir: Directory for the files above; may be shared with other
            instances only if their ``port`` differs.
        port: TCP port on 127.0.0.1.
        systems: Number of fake systems, named ``node1``..``nodeN``.
        tls: Serve HTTPS (TLS 1.2); plain HTTP otherwise.
        power_delay: Initial seconds until a power change shows (0 or more).
        disable_power_off: Initially answer 400 to ForceOff/GracefulShutdown.
        wrong_name_cert: Serve the certificate for ``wrong-name.invalid``.
    """

    def __init__(
        self,
        workdir: os.PathLike[str] | str,
        port: int,
        systems: int = 1,
        tls: bool = True,
        power_delay: int = 0,
        disable_power_off: bool = False,
        *,
        wrong_name_cert: bool = False,
    ) -> None:
        """Describe the emulator; nothing is written or started until start()."""
        if systems < 1:
            raise ValueError("systems must be at least 1")
        if wrong_name_cert and not tls:
            raise ValueError("wrong_name_cert needs tls=True")
        self.workdir = Path(workdir).resolve()
        self.port = port
        self.host = LOOPBACK
        self.tls = tls
        self.wrong_name_cert = wrong_name_cert
        self.username = USERNAME
        self.password = PASSWORD
        self.system_uuids = [str(uuid.uuid4()) for _ in range(systems)]
        self.system_names = [f"node{i}" for i in range(1, systems + 1)]
        self.config_file = self.workdir / f"emulator-{port}.conf"
        self.auth_file = self.workdir / "htpasswd"
        self.faults_dir = self.workdir / f"faults-{port}"
        self.log_file = self.workdir / f"emulator-{port}.log"
        self.state_dir: Path | None = None
        #: Seconds taken by the phases of the last start() and stop().
        self.timings: dict[str, float] = {}
        self._initial_faults = (power_delay, disable_power_off)
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def __repr__(self) -> str:
        """Show the URL and the number of systems."""
        return f"RedfishEmulator({self.base_url!r}, systems={len(self.system_uuids)})"

    # -- description -------------------------------------------------------

    @property
    def base_url(self) -> str:
        """Return ``https://127.0.0.1:PORT`` (``http://`` without TLS)."""
        scheme = "https" if self.tls else "http"
        return f"{scheme}://{self.host}:{self.port}"

    @property
    def ca_file(self) -> Path | None:
        """Return the CA certificate that signed both server certs (None: no TLS)."""
        return self.workdir / "ca.pem" if self.tls else None

    @property
    def systems_uris(self) -> list[str]:
        """Return ``/redfish/v1/Systems/<uuid>`` for every system, in order."""
        return [f"{SYSTEMS_PATH}/{u}" for u in self.system_uuids]

    @property
    def pid(self) -> int | None:
        """Return the emulator's pid while it runs, else None."""
        proc = self._proc
        return proc.pid if proc is not None and proc.poll() is None else None

    def is_running(self) -> bool:
        """Return True while the emulator process is alive (reaps it otherwise)."""
        return self._proc is not None and self._proc.poll() is None

    # -- lifecycle ---------------------------------------------------------

    def start(self, timeout: float = 20.0) -> None:
        """Start the emulator and return once ``GET /redfish/v1/`` answers 200.

        A no-op when it already runs.  On failure the process is stopped again
        and RuntimeError (or TimeoutError) is raised with the log's tail.
        """
        if self.is_running():
            return
        started = time.monotonic()
        deadline = started + timeout
        if not port_is_free(self.port):
            raise RuntimeError(f"TCP port {self.host}:{self.port} is already in use")
        self._write_files()
        self.timings["files"] = time.monotonic() - started
        self._log = open(self.log_file, "ab")  # noqa: SIM115 - kept open while running
        self._proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                __name__,
                "--launch",
                str(self.config_file),
                str(self.faults_dir),
                str(os.getpid()),
            ],
            cwd=self.workdir,
            env={
                "PATH": BASE_PATH,
                "LANG": "C.UTF-8",
                "HOME": str(self.workdir),
                "TMPDIR": str(self.workdir),
                "PYTHONPATH": str(REPO_ROOT),
                "PYTHONDONTWRITEBYTECODE": "1",
                "PYTHONUNBUFFERED": "1",
            },
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
        )
        try:
            self._wait_ready(deadline)
        except BaseException:
            self.stop()
            raise
        self.timings["start"] = time.monotonic() - started

    def stop(self, timeout: float = 5.0) -> None:
        """SIGTERM the emulator, SIGKILL its session after ``timeout`` s; idempotent."""
        started = time.monotonic()
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                # The session was created by start_new_session for this pid.
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=_KILL_GRACE)
        if self._log is not None:
            self._log.close()
            self._log = None
        self.timings["stop"] = time.monotonic() - started

    def __enter__(self) -> RedfishEmulator:
        """Start the emulator."""
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        """Stop the emulator."""
        self.stop()

    # -- client helpers (the emulator's own HTTP API) ------------------------

    def session(self, *, auth: bool = True) -> requests.Session:
        """Return a requests session that verifies TLS against :attr:`ca_file`.

        ``trust_env`` is off, so ``REQUESTS_CA_BUNDLE`` cannot override the CA
        (LAB.md section 13).  With the wrong-name certificate the host name is
        checked against ``wrong-name.invalid`` instead, so the helpers still
        work.
        """
        import requests  # noqa: PLC0415 - heavy; only the helpers need it

        sess = requests.Session()
        sess.trust_env = False
        sess.verify = str(self.ca_file) if self.tls else False
        if auth:
            sess.auth = (self.username, self.password)
        if self.wrong_name_cert:
            sess.mount(f"{self.base_url}/", _assert_hostname_adapter(WRONG_NAME))
        return sess

    def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        auth: bool = True,
        timeout: float = 10.0,
    ) -> requests.Response:
        """Send one request to ``base_url + path`` with :meth:`session`."""
        with self.session(auth=auth) as sess:
            return sess.request(
                method, self.base_url + path, json=json_body, timeout=timeout
            )

    def power(self, uri: str) -> str:
        """Return the ``PowerState`` (``"On"``/``"Off"``) read from ``GET uri``."""
        resp = self.request("GET", uri)
        resp.raise_for_status()
        return str(resp.json()["PowerState"])

    def reset(self, uri: str, reset_type: str) -> requests.Response:
        """POST ``{"ResetType": reset_type}`` to the system's Reset action."""
        return self.request(
            "POST", uri + RESET_SUFFIX, json_body={"ResetType": reset_type}
        )

    def set_power(self, uri: str, on: bool, timeout: float = 5.0) -> None:
        """Put system ``uri`` On or Off and wait until a GET shows it.

        An arrange step for tests: every fault and mode is suspended meanwhile
        (delay 0, power-off allowed, no 500, not slow, no tasks) and restored
        afterwards.  Its requests use basic auth, which ``stats()`` counts.

        Raises:
            RuntimeError: the Reset was refused.
            TimeoutError: the state did not show within ``timeout`` s.
        """
        want = "On" if on else "Off"
        with self._faults_suspended():
            resp = self.reset(uri, "ForceOn" if on else "ForceOff")
            if resp.status_code not in (200, 202, 204):
                raise RuntimeError(
                    f"Reset {want} of {uri} answered HTTP {resp.status_code}"
                )
            deadline = time.monotonic() + timeout
            while self.power(uri) != want:
                if time.monotonic() >= deadline:
                    raise TimeoutError(f"{uri} is not {want} after {timeout} s")
                time.sleep(_POLL)

    # -- faults (no restart needed) -------------------------------------------

    def set_power_delay(self, seconds: int) -> None:
        """Make later power changes show ``seconds`` after the Reset (3600: never).

        The change lands at ``int(time.time()) + seconds``, so 1 means 0-1 s.
        """
        if seconds < 0:
            raise ValueError("seconds must be >= 0")
        _write_atomic(self.faults_dir / FAULT_POWER_DELAY, f"{int(seconds)}\n")

    def set_disable_power_off(self, enabled: bool) -> None:
        """Make ForceOff and GracefulShutdown answer sushy's HTTP 400 (or not)."""
        self._set_flag(FAULT_DISABLE_POWER_OFF, enabled)

    def set_reset_error(self, enabled: bool) -> None:
        """Make every Reset POST answer HTTP 500 without acting (or not)."""
        self._set_flag(FAULT_RESET_ERROR, enabled)

    def set_slow(self, seconds: float) -> None:
        """Sleep ``seconds`` before every answer except a 401 (0 turns it off)."""
        path = self.faults_dir / FAULT_SLOW
        if seconds > 0:
            _write_atomic(path, f"{seconds}\n")
        else:
            path.unlink(missing_ok=True)

    def set_sessions(
        self, enabled: bool, timeout: int = DEFAULT_SESSION_TIMEOUT
    ) -> None:
        """Offer a SessionService (X-Auth-Token sessions) or not.

        Basic auth keeps working either way, as on real BMCs; sessions idle
        for ``timeout`` s expire.  Live sessions survive switching it off and
        on, but their tokens are only honoured while it is on.
        """
        path = self.faults_dir / FAULT_SESSIONS
        if enabled:
            if timeout < 1:
                raise ValueError("timeout must be at least 1 s")
            _write_atomic(path, f"{int(timeout)}\n")
        else:
            path.unlink(missing_ok=True)

    def set_task(
        self, delay: float | None, *, fails: bool = False, final: str = "task"
    ) -> None:
        """Answer every Reset with 202 and a task monitor (None: answer at once).

        sushy gets the Reset ``delay`` s later (:data:`TASK_NEVER`: never);
        with ``fails`` it never does and the task ends in ``Exception``.  The
        finished monitor answers 200 and the Task (``final="task"``), or once
        the operation's own answer and then 404 (``final="operation"``).
        """
        path = self.faults_dir / FAULT_TASK
        if delay is None:
            path.unlink(missing_ok=True)
            return
        if delay < 0 or final not in FINALS:
            raise ValueError("delay must be >= 0 and final one of " + ", ".join(FINALS))
        outcome = "exception" if fails else "completed"
        _write_atomic(path, f"{delay} {outcome} {final}\n")

    def stats(self) -> dict[str, int]:
        """Return the emulator's counters (logins, logouts, basic-auth requests, tasks).

        See ``COUNTERS`` in ``tests/lab/redfish_layers.py``; every counter is
        0 when the emulator starts.
        """
        return read_stats(self.faults_dir)

    def faults(self) -> dict[str, Any]:
        """Return the fault settings and modes in force now."""
        return {
            "power_delay": _read_number(self.faults_dir / FAULT_POWER_DELAY, int),
            "disable_power_off": (self.faults_dir / FAULT_DISABLE_POWER_OFF).exists(),
            "reset_error": (self.faults_dir / FAULT_RESET_ERROR).exists(),
            "slow": _read_number(self.faults_dir / FAULT_SLOW, float),
            "sessions": session_timeout(self.faults_dir),
            "task": task_mode(self.faults_dir),
        }

    def clear_faults(self) -> None:
        """Turn every fault and mode off: delay 0, no 500, no sessions, no tasks..."""
        self.set_power_delay(0)
        self.set_disable_power_off(False)
        self.set_reset_error(False)
        self.set_slow(0)
        self.set_sessions(False)
        self.set_task(None)

    # -- internals ---------------------------------------------------------

    def _set_flag(self, name: str, enabled: bool) -> None:
        """Create or remove the flag file ``name``."""
        path = self.faults_dir / name
        if enabled:
            _write_atomic(path, "1\n")
        else:
            path.unlink(missing_ok=True)

    @contextlib.contextmanager
    def _faults_suspended(self) -> Iterator[None]:
        """Clear every fault for the duration of the block, then restore them."""
        saved = self.faults()
        self.clear_faults()
        try:
            yield
        finally:
            self.set_power_delay(saved["power_delay"])
            self.set_disable_power_off(saved["disable_power_off"])
            self.set_reset_error(saved["reset_error"])
            self.set_slow(saved["slow"])
            self.set_sessions(saved["sessions"] is not None, saved["sessions"] or 1)
            task = saved["task"]
            if task is None:
                self.set_task(None)
            else:
                self.set_task(task[0], fails=task[1] == "exception", final=task[2])

    def _write_files(self) -> None:
        """Write certificates, htpasswd, faults and config; make the state dir."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        if self.tls and not (self.workdir / f"{WRONG_NAME}.pem").exists():
            _make_certs(self.workdir)
        if not self.auth_file.exists():
            import bcrypt  # noqa: PLC0415 - only the lab needs it

            digest = bcrypt.hashpw(
                self.password.encode(), bcrypt.gensalt(BCRYPT_COST)
            ).decode()
            fd = os.open(self.auth_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(f"{self.username}:{digest}\n")
        if self.state_dir is None:
            # Fresh per instance: an old state DB wins over FAKE_SYSTEMS (LAB 12).
            self.state_dir = Path(tempfile.mkdtemp(prefix="state-", dir=self.workdir))
            self.faults_dir.mkdir(exist_ok=True)
            delay, no_off = self._initial_faults
            self.set_power_delay(delay)
            self.set_disable_power_off(no_off)
            self.set_reset_error(False)
            self.set_slow(0)
            self.set_sessions(False)
            self.set_task(None)
        config: dict[str, Any] = {
            "SUSHY_EMULATOR_LISTEN_IP": self.host,
            "SUSHY_EMULATOR_LISTEN_PORT": self.port,
            "SUSHY_EMULATOR_AUTH_FILE": str(self.auth_file),
            "SUSHY_EMULATOR_FAKE_DRIVER": True,
            "SUSHY_EMULATOR_STATE_DIR": str(self.state_dir),
            "SUSHY_EMULATOR_FEATURE_SET": "full",
            # The launcher overrides this per request from the flag file.
            "SUSHY_EMULATOR_DISABLE_POWER_OFF": self._initial_faults[1],
            "SUSHY_EMULATOR_FAKE_SYSTEMS": [
                {
                    "uuid": sys_uuid,
                    "name": name,
                    "power_state": "On",
                    "external_notifier": False,
                    "nics": [{"mac": f"52:54:00:00:00:{i:02x}", "ip": f"192.0.2.{i}"}],
                }
                for i, (sys_uuid, name) in enumerate(
                    zip(self.system_uuids, self.system_names), start=1
                )
            ],
        }
        if self.tls:
            stem = WRONG_NAME if self.wrong_name_cert else "server"
            config["SUSHY_EMULATOR_SSL_CERT"] = str(self.workdir / f"{stem}.pem")
            config["SUSHY_EMULATOR_SSL_KEY"] = str(self.workdir / f"{stem}.key")
        self.config_file.write_text(
            "# Written by tests/lab/redfish.py; read by sushy-emulator.\n"
            + "".join(f"{key} = {value!r}\n" for key, value in config.items())
        )

    def _wait_ready(self, deadline: float) -> None:
        """Poll the open service root until it answers 200; fail if the process dies."""
        context: ssl.SSLContext | None = None
        if self.tls:
            # Chain verified; the host name is not, so the wrong-name cert works too.
            context = ssl.create_default_context(cafile=str(self.ca_file))
            context.check_hostname = False
        while True:
            assert self._proc is not None
            if self._proc.poll() is not None:
                raise RuntimeError(
                    f"sushy emulator exited with {self._proc.returncode} while "
                    f"starting; log {self.log_file}:\n{self._log_tail()}"
                )
            if self._service_root_answers(context):
                return
            if time.monotonic() >= deadline:
                raise TimeoutError(
                    f"sushy emulator on port {self.port} not ready in time; log "
                    f"{self.log_file}:\n{self._log_tail()}"
                )
            time.sleep(_POLL)

    def _service_root_answers(self, context: ssl.SSLContext | None) -> bool:
        """Return True when ``GET /redfish/v1/`` answers 200 right now."""
        conn: HTTPConnection
        if context is not None:
            conn = HTTPSConnection(self.host, self.port, timeout=2, context=context)
        else:
            conn = HTTPConnection(self.host, self.port, timeout=2)
        try:
            conn.request("GET", "/redfish/v1/")
            return conn.getresponse().status == 200
        except (OSError, ssl.SSLError):
            return False
        finally:
            conn.close()

    def _log_tail(self, limit: int = 3000) -> str:
        """Return the end of the emulator log."""
        try:
            return self.log_file.read_text(errors="replace")[-limit:]
        except OSError:
            return ""


# -- certificates and small file helpers ----------------------------------


def _openssl(*args: str, cwd: Path) -> None:
    """Run ``openssl ARGS`` in ``cwd``; raise RuntimeError with its output."""
    result = subprocess.run(
        [OPENSSL, *args],
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"openssl {args[0]} failed: {result.stderr.strip()}")


def _make_certs(workdir: Path) -> None:
    """Write ``ca.pem`` and two leaf certs it signs: ``server`` and the wrong name.

    The wrong-name certificate is written last, so its presence means the set
    is complete.

    EC P-256 keys (milliseconds to make), valid two days, with the extensions
    strict verifiers want (Python 3.13's VERIFY_X509_STRICT, for one).
    """
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    _openssl(
        "req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
        "-subj", "/CN=hakit lab CA",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        cwd=workdir,
    )  # fmt: skip
    for stem, san in (("server", f"IP:{LOOPBACK}"), (WRONG_NAME, f"DNS:{WRONG_NAME}")):
        ext = workdir / f"{stem}.ext"
        ext.write_text(
            "basicConstraints = critical,CA:FALSE\n"
            "keyUsage = critical,digitalSignature,keyEncipherment\n"
            "extendedKeyUsage = serverAuth\n"
            f"subjectAltName = {san}\n"
            "subjectKeyIdentifier = hash\n"
            "authorityKeyIdentifier = keyid\n"
        )
        _openssl(
            "req", "-new", *ec, "-keyout", f"{stem}.key", "-out", f"{stem}.csr",
            "-subj", f"/CN={san.split(':', 1)[1]}",
            cwd=workdir,
        )  # fmt: skip
        _openssl(
            "x509", "-req", "-in", f"{stem}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-set_serial", f"0x{secrets.token_hex(8)}", "-days", "2",
            "-extfile", str(ext), "-out", f"{stem}.pem",
            cwd=workdir,
        )  # fmt: skip


def _assert_hostname_adapter(hostname: str) -> Any:
    """Return a requests adapter that checks certificates against ``hostname``."""
    from requests.adapters import HTTPAdapter  # noqa: PLC0415

    class _Adapter(HTTPAdapter):
        def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
            kwargs["assert_hostname"] = hostname
            super().init_poolmanager(*args, **kwargs)

    return _Adapter()


def _write_atomic(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` so a concurrent reader never sees half."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _read_number(path: Path, kind: Callable[[str], Any]) -> Any:
    """Return ``kind(path's text)``, or ``kind("0")`` when missing or unreadable."""
    try:
        return kind(path.read_text().strip() or "0")
    except (OSError, ValueError):
        return kind("0")


# -- the launcher (runs inside the emulator process) -------------------------


class _PowerDelay:
    """Stand-in for ``fakedriver.random``: ``randint()`` returns the set delay."""

    def __init__(self, path: Path) -> None:
        self._path = path

    def randint(self, _low: int, _high: int) -> int:
        """Return the power delay from the flag file (0 when unset)."""
        return int(_read_number(self._path, int))


class _FaultInjector:
    """WSGI middleware in front of the task layer and the sushy Flask app.

    It sits behind sushy's auth check.
    """

    def __init__(self, app: Any, faults: Path, config: Any) -> None:
        self.app = app
        self.faults = faults
        self.config = config

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        """Apply the faults in force, then hand the request to sushy."""
        slow = _read_number(self.faults / FAULT_SLOW, float)
        if slow > 0:
            time.sleep(slow)
        self.config["SUSHY_EMULATOR_DISABLE_POWER_OFF"] = (
            self.faults / FAULT_DISABLE_POWER_OFF
        ).exists()
        path = environ.get("PATH_INFO", "").rstrip("/")
        if (
            environ.get("REQUEST_METHOD") == "POST"
            and path.endswith(RESET_SUFFIX)
            and (self.faults / FAULT_RESET_ERROR).exists()
        ):
            length = int(environ.get("CONTENT_LENGTH") or 0)
            if length:
                environ["wsgi.input"].read(length)
            # Byte for byte what sushy's templates/error.json renders.
            body = json.dumps(
                {
                    "error": {
                        "code": "Base.1.0.GeneralError",
                        "message": "Injected fault: reset failed",
                        "@Message.ExtendedInfo": [
                            {
                                "@odata.type": (
                                    "/redfish/v1/$metadata#Message.1.0.0.Message"
                                ),
                                "MessageId": "Base.1.0.GeneralError",
                            }
                        ],
                    }
                },
                indent=2,
            ).encode()
            start_response(
                "500 INTERNAL SERVER ERROR",
                [
                    ("Content-Type", "application/json"),
                    ("Content-Length", str(len(body))),
                ],
            )
            return [body]
        return self.app(environ, start_response)


def _record_transitions(driver: Any, path: Path) -> None:
    """Append ``TIME UUID On|Off`` to ``path`` whenever a system's power changes.

    sushy's fake driver applies a change on the next GET and keeps only the
    current state; the log keeps an off followed at once by an on (a reboot),
    so that a watcher polling the state cannot miss it.
    """
    original = driver._update

    def _update(self: Any, system: Any, **changes: Any) -> Any:
        if isinstance(system, str):
            system = self._get(system)
        was = system.get("power_state")
        pending = changes.get("pending_power") or {}
        if "Restart" in pending.get("power_state", ""):
            was = "On"  # set_power_state already wrote Off into the system
        result = original(self, system, **changes)
        now = system.get("power_state")
        if now != was:
            with open(path, "a") as handle:
                handle.write(f"{time.time():.3f} {system['uuid']} {now}\n")
        return result

    driver._update = _update


def _die_with_parent(parent_pid: int) -> None:
    """Get SIGTERM when the thread that started us dies; exit if it already has."""
    import ctypes  # noqa: PLC0415

    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    if os.getppid() != parent_pid:
        sys.exit("redfish launcher: parent exited before prctl")


def _launch(config_file: str, faults_dir: str, parent_pid: int) -> int:
    """Run sushy-emulator with the power-delay, fault and stand-in layers."""
    _die_with_parent(parent_pid)
    from sushy_tools.emulator import main as emulator  # noqa: PLC0415
    from sushy_tools.emulator.resources.systems import fakedriver  # noqa: PLC0415

    faults = Path(faults_dir)
    stats = Stats(faults / STATS_FILE)
    fakedriver.random = _PowerDelay(faults / FAULT_POWER_DELAY)
    _record_transitions(fakedriver.FakeDriver, faults / TRANSITIONS_FILE)
    app = emulator.app
    app.configure(config_file=config_file)  # installs the basic-auth middleware
    auth = app.wsgi_app
    if not isinstance(auth, emulator.RedfishAuthMiddleware):
        raise RuntimeError("the config names no SUSHY_EMULATOR_AUTH_FILE")
    auth.app = _FaultInjector(TaskLayer(auth.app, faults, stats), faults, app.config)
    app.wsgi_app = SessionLayer(auth, faults, stats)
    # main() re-parses argv and calls configure() again: with the session
    # layer outermost it would put a second basic-auth check in front of it.
    # Everything is configured already.
    app.configure = lambda config_file=None, extra_config=None: None
    sys.argv = [sys.argv[0]]
    return int(emulator.main() or 0)


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--launch":
        sys.exit(_launch(sys.argv[2], sys.argv[3], int(sys.argv[4])))
    sys.exit("usage: python -m tests.lab.redfish --launch CONFIG FAULTS PARENT_PID")
