"""An OpenDaylight member for the lab: a Karaf-like home around the stand-in.

:func:`make_home` writes what the agent uses of a Karaf distribution:
``bin/start`` (forks the JVM with Karaf's command-line shape, as Karaf's
does), ``bin/stop`` (sends ``SHUTDOWN`` to the port the JVM wrote to
``data/port``), ``bin/status``, ``etc/org.ops4j.pax.web.cfg`` (the REST port),
and ``lib/odl_standin.py``, the process that plays the JVM
(:mod:`tests.lab.odl_standin`).

With ``HAKIT_ODL_HOME`` set to the home of a real OpenDaylight distribution
(Karaf with odl-infrautils-diagstatus and odl-jolokia installed, REST on
8181, credentials admin:admin or ``HAKIT_ODL_CREDENTIALS``), :class:`Member`
drives that instead; tests that need one of the stand-in's switches then
skip (or fail with ``CI=true``).
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import signal
import stat
from pathlib import Path

from tests.lab import agents

HERE = Path(__file__).resolve().parent
#: A real OpenDaylight home to test against instead of the stand-in.
REAL_HOME_ENV = "HAKIT_ODL_HOME"
REAL_CREDENTIALS_ENV = "HAKIT_ODL_CREDENTIALS"
STANDIN_USER = "nobody"

START = """\
#!/bin/sh
# Karaf-like bin/start: fork the JVM in the background and return.
KARAF_HOME=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$KARAF_HOME/data/log" "$KARAF_HOME/instances"
nohup python3 "$KARAF_HOME/lib/odl_standin.py" $JAVA_OPTS $EXTRA_JAVA_OPTS \\
    -Dkaraf.home="$KARAF_HOME" -Dkaraf.base="$KARAF_HOME" \\
    -Dkaraf.data="$KARAF_HOME/data" -classpath "$KARAF_HOME/lib/boot/*" \\
    org.apache.karaf.main.Main >>"$KARAF_HOME/data/log/karaf.out" 2>&1 </dev/null &
exit 0
"""

STOP = """\
#!/bin/sh
# Karaf-like bin/stop: tell the running JVM to shut down, do not wait.
KARAF_HOME=$(cd "$(dirname "$0")/.." && pwd)
exec python3 - "$KARAF_HOME" <<'PY'
import socket, sys
try:
    port = int(open(sys.argv[1] + "/data/port").read())
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        conn.sendall(b"SHUTDOWN\\n")
except (OSError, ValueError) as exc:
    sys.exit(f"Karaf is not running: {exc}")
PY
"""

STATUS = """\
#!/bin/sh
KARAF_HOME=$(cd "$(dirname "$0")/.." && pwd)
PROPS="$KARAF_HOME/instances/instance.properties"
PID=$(sed -n 's/^item.0.pid=//p' "$PROPS" 2>/dev/null)
if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then echo Running ...; exit 0; fi
echo Not Running ...; exit 1
"""


def real_home() -> str | None:
    """The real OpenDaylight home to test against, if one is given."""
    return os.environ.get(REAL_HOME_ENV) or None


def make_home(
    root: Path, port: int, *, user: str = STANDIN_USER, address: str = "127.0.0.1"
) -> Path:
    """A Karaf-like home under ``root`` (which ``user`` must be able to reach)."""
    home = root / "opendaylight"
    for sub in ("bin", "etc", "lib", "data", "instances"):
        (home / sub).mkdir(parents=True, exist_ok=True)
    for name, text in (("start", START), ("stop", STOP), ("status", STATUS)):
        path = home / "bin" / name
        path.write_text(text)
        path.chmod(0o755)
    shutil.copy(HERE / "odl_standin.py", home / "lib" / "odl_standin.py")
    (home / "etc" / "org.ops4j.pax.web.cfg").write_text(
        f"org.osgi.service.http.port={port}\n"
        f"org.ops4j.pax.web.listening.addresses={address}\n"
    )
    set_switches(home)
    entry = pwd.getpwnam(user)
    for path in (home / "data", home / "instances"):
        os.chown(path, entry.pw_uid, entry.pw_gid)
    return home


def set_switches(home: Path, **switches: object) -> None:
    """Replace the stand-in's switches (see :mod:`tests.lab.odl_standin`)."""
    path = home / "etc" / "standin.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"user": "admin", "password": "s3cret-odl", **switches}))
    tmp.chmod(0o644)
    tmp.replace(path)


def jvm_pid(home: Path) -> int | None:
    """``item.0.pid`` of the home, if recorded."""
    try:
        text = (home / "instances" / "instance.properties").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("item.0.pid="):
            return int(line.split("=", 1)[1])
    return None


def alive(pid: int) -> bool:
    """A process that exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            data = handle.read()
    except OSError:
        return False
    return data[data.rfind(b")") + 2 :][:1] not in (b"Z", b"X")


def kill(pid: int | None) -> None:
    """SIGKILL, ignoring a process already gone."""
    if pid is None:
        return
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def write_private(path: Path, text: str, mode: int = 0o600) -> Path:
    """Write a secret file with ``mode`` (created with it: never readable by all)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.chmod(path, mode)
    return path


class Member:
    """One ODL member's parameters and files, driven through the installed agent."""

    def __init__(self, workdir: Path, port: int, instance: str) -> None:
        self.workdir = workdir
        self.port = port
        self.real = real_home()
        self.rsctmp = workdir / "rsctmp"
        self.rsctmp.mkdir(parents=True, exist_ok=True)
        self.logfile = workdir / "agent.log"
        self.instance = instance
        if self.real:
            self.home = Path(self.real)
            creds = os.environ.get(REAL_CREDENTIALS_ENV, "admin:admin")
            user = Path(self.real).stat().st_uid
            owner = pwd.getpwuid(user).pw_name
            self.port = 8181
        else:
            self.home = make_home(workdir, port)
            creds = "admin:s3cret-odl"
            owner = STANDIN_USER
        self.credentials = write_private(workdir / "odl.credentials", creds + "\n")
        self.params: dict[str, object] = {
            "home": str(self.home),
            "user": owner,
            "rest_port": str(self.port),
            "credentials": str(self.credentials),
            "java_opts": "-Xms64m -Xmx128m",
            "extra_java_opts": "-Dhakit.lab=1",
        }

    def need_standin(self) -> None:
        """Skip (fail in CI) a test that flips the stand-in's switches."""
        if self.real:
            from tests.unavailable import unavailable  # noqa: PLC0415

            unavailable(f"needs the stand-in's switches ({REAL_HOME_ENV} is set)")

    def switches(self, **values: object) -> None:
        """Set the stand-in's switches."""
        self.need_standin()
        set_switches(self.home, **values)

    def run(
        self,
        action: str,
        *,
        level: int = 0,
        interval_ms: int = 0,
        timeout_ms: int = 60000,
        **params: object,
    ) -> agents.Run:
        """Run the installed agent as pacemaker-execd would."""
        return agents.run(
            "opendaylight",
            action,
            {**self.params, **params},
            instance=self.instance,
            interval_ms=interval_ms,
            timeout_ms=timeout_ms,
            extra_env={
                "HA_RSCTMP": str(self.rsctmp),
                "OCF_CHECK_LEVEL": str(level),
                "HA_LOGFILE": str(self.logfile),
            },
        )

    def log_text(self) -> str:
        """What the agent logged to its HA_LOGFILE so far."""
        try:
            return self.logfile.read_text()
        except FileNotFoundError:
            return ""

    @property
    def pid(self) -> int | None:
        """The JVM's pid as Karaf recorded it."""
        return jvm_pid(self.home)

    def seen_env(self) -> dict[str, object]:
        """What the stand-in JVM recorded of its environment and user."""
        return json.loads((self.home / "data" / "standin-env.json").read_text())


def world_readable(path: Path) -> bool:
    """Tell whether others may read ``path``."""
    return bool(path.stat().st_mode & stat.S_IROTH)
