"""Prepare real OpenStack services (keystone, placement, nova-conductor) in a temp dir.

The ``prepare_*`` functions write the configuration and run the database (and
key) setup of one service from the OpenStack test virtualenv (LAB.md section
17), but never start it: the product's OCF agent starts services, and tests may
start them directly with :func:`spawn`.  Each returns a frozen :class:`Service`.

The HTTP services run as exactly ``[<venv>/bin/gunicorn, "-c", <gunicorn_conf.py>]``:
bind address, worker count, WSGI module and environment (``raw_env``) all live
in that gunicorn config file, so no extra environment is needed.

Setup is the slow part (keystone ~12 s, nova ~7 s).  Every ``prepare_*``
accepts ``template=``, a Service prepared earlier: its databases and key
repositories are copied instead of being created again, and the config files
are rewritten for the new directory.  A session-scoped fixture prepares the
template once; each test then gets a private copy in milliseconds.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import psutil

from .ports import KEYSTONE_PORT, LOOPBACK, PLACEMENT_PORT

#: Password of the keystone ``admin`` user created by bootstrap (test only).
ADMIN_PASSWORD = "adminpass"  # noqa: S105 - lab credential, never printed
REGION = "RegionOne"

#: Base environment of every lab service process (LAB.md section 2: no
#: inherited PATH shims or foreign variables).
BASE_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"}

_REPO = Path(__file__).resolve().parents[2]
_VENV_SCRIPT = _REPO / "packaging" / "ci" / "openstack-venv.sh"
_STAMP = "lab-stamp.json"
_SETUP_TIMEOUT = 240.0
_POLL = 0.05


@dataclass(frozen=True)
class Service:
    """A prepared, not started, OpenStack service.

    Attributes:
        name: short service name (``keystone``, ``placement``, ``nova-conductor``).
        argv: command line; the first element is the absolute path of the binary.
        env: extra environment variables the service needs on top of a minimal
            base environment (:data:`BASE_ENV`); empty for all current services.
        config_files: the configuration files written for the service.
        port: TCP port on 127.0.0.1 the service listens on, or None.
        workdir: directory holding config, databases, keys and logs.
        log_file: file the service itself logs to, or None for stdout/stderr.
    """

    name: str
    argv: list[str]
    env: dict[str, str]
    config_files: list[Path]
    port: int | None
    workdir: Path
    log_file: Path | None = None

    @property
    def url(self) -> str:
        """Return ``http://127.0.0.1:PORT`` of an HTTP service."""
        if self.port is None:
            raise ValueError(f"{self.name} has no port")
        return f"http://{LOOPBACK}:{self.port}"


# -- the virtualenv ----------------------------------------------------------


def openstack_venv() -> Path:
    """Return the OpenStack test virtualenv (``openstack-venv.sh --path``).

    The path is returned even when the venv is not built; see :func:`venv_missing`.
    """
    out = subprocess.run(
        ["/bin/bash", str(_VENV_SCRIPT), "--path"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
        stdin=subprocess.DEVNULL,
    )
    return Path(out.stdout.strip())


def venv_missing(venv: Path | None = None) -> str | None:
    """Return why the OpenStack venv is unusable, or None when it is complete."""
    venv = venv or openstack_venv()
    if not (venv / ".complete").is_file():
        return f"OpenStack venv {venv} is not built (run {_VENV_SCRIPT})"
    for tool in ("keystone-manage", "placement-manage", "nova-manage", "gunicorn"):
        if not os.access(venv / "bin" / tool, os.X_OK):
            return f"{venv}/bin/{tool} is missing"
    return None


# -- keystone -----------------------------------------------------------------


def prepare_keystone(
    workdir: os.PathLike[str] | str,
    port: int = KEYSTONE_PORT,
    *,
    template: Service | None = None,
    venv: Path | None = None,
) -> Service:
    """Prepare keystone (sqlite, fernet, bootstrap) served by gunicorn on ``port``.

    Without ``template`` runs ``keystone-manage db_sync``, ``fernet_setup``,
    ``credential_setup`` and ``bootstrap`` (user ``admin``, password
    :data:`ADMIN_PASSWORD`, endpoints ``http://127.0.0.1:PORT/v3/`` in
    RegionOne).  With ``template`` (a keystone Service for the same port)
    copies its database and key repositories instead.
    """
    venv = venv or openstack_venv()
    wd = _fresh_dir(workdir)
    conf = wd / "keystone.conf"
    db = wd / "keystone.sqlite"
    fernet = wd / "fernet-keys"
    credential = wd / "credential-keys"
    _write_ini(
        conf,
        {
            "DEFAULT": {"debug": "false"},
            "database": {"connection": f"sqlite:///{db}"},
            "token": {"provider": "fernet"},
            # Receipts share the token keys, like keystone's own defaults.
            "fernet_tokens": {"key_repository": f"{fernet}/"},
            "fernet_receipts": {"key_repository": f"{fernet}/"},
            "credential": {"key_repository": f"{credential}/"},
            "cache": {"enabled": "false"},
        },
    )
    if template is not None:
        _copy_state(
            template, wd, "keystone", port, [db.name, fernet.name, credential.name]
        )
    else:
        manage = [str(venv / "bin" / "keystone-manage"), "--config-file", str(conf)]
        owner = ["--keystone-user", "root", "--keystone-group", "root"]
        endpoint = f"http://{LOOPBACK}:{port}/v3/"
        _run(manage + ["db_sync"], wd)
        _run(manage + ["fernet_setup", *owner], wd)
        _run(manage + ["credential_setup", *owner], wd)
        _run(
            manage
            + [
                "bootstrap",
                "--bootstrap-admin-url",
                endpoint,
                "--bootstrap-public-url",
                endpoint,
                "--bootstrap-internal-url",
                endpoint,
                "--bootstrap-region-id",
                REGION,
            ],
            wd,
            # From the environment, so the password stays out of argv and ps.
            extra_env={"OS_BOOTSTRAP_PASSWORD": ADMIN_PASSWORD},
        )
        _stamp(wd, "keystone", port)
    # LAB.md "argv wrapper gotcha": keystone lets oslo.config parse sys.argv,
    # which under gunicorn is gunicorn's own command line.
    module = "hakit_lab_keystone_wsgi"
    (wd / f"{module}.py").write_text(
        '"""WSGI entry point of the lab keystone."""\n'
        "import sys\n\n"
        "sys.argv = sys.argv[:1]\n\n"
        "from keystone.server.wsgi import initialize_public_application\n\n"
        "application = initialize_public_application()\n"
    )
    log = wd / "keystone.log"
    gconf = _write_gunicorn_conf(
        wd, port, f"{module}:application", {"OS_KEYSTONE_CONFIG_FILES": str(conf)}, log
    )
    return Service(
        name="keystone",
        argv=[str(venv / "bin" / "gunicorn"), "-c", str(gconf)],
        env={},
        config_files=[gconf, conf],
        port=port,
        workdir=wd,
        log_file=log,
    )


# -- placement ----------------------------------------------------------------


def prepare_placement(
    workdir: os.PathLike[str] | str,
    port: int = PLACEMENT_PORT,
    *,
    template: Service | None = None,
    venv: Path | None = None,
) -> Service:
    """Prepare a no-auth placement API (sqlite) served by gunicorn on ``port``.

    Without ``template`` runs ``placement-manage db sync``; with it, copies the
    template's database.
    """
    venv = venv or openstack_venv()
    wd = _fresh_dir(workdir)
    conf = wd / "placement.conf"  # the name OS_PLACEMENT_CONFIG_DIR implies
    db = wd / "placement.sqlite"
    _write_ini(
        conf,
        {
            "DEFAULT": {"debug": "false"},
            "api": {"auth_strategy": "noauth2"},
            "placement_database": {"connection": f"sqlite:///{db}"},
        },
    )
    if template is not None:
        _copy_state(template, wd, "placement", None, [db.name])
    else:
        manage = str(venv / "bin" / "placement-manage")
        _run([manage, "--config-file", str(conf), "db", "sync"], wd)
        _stamp(wd, "placement", None)
    log = wd / "placement.log"
    gconf = _write_gunicorn_conf(
        wd,
        port,
        "placement.wsgi.api:application",
        {"OS_PLACEMENT_CONFIG_DIR": str(wd)},
        log,
    )
    return Service(
        name="placement",
        argv=[str(venv / "bin" / "gunicorn"), "-c", str(gconf)],
        env={},
        config_files=[gconf, conf],
        port=port,
        workdir=wd,
        log_file=log,
    )


# -- nova-conductor -------------------------------------------------------------


def prepare_nova_conductor(
    workdir: os.PathLike[str] | str,
    transport_url: str,
    keystone_port: int = KEYSTONE_PORT,
    placement_port: int = PLACEMENT_PORT,
    *,
    template: Service | None = None,
    venv: Path | None = None,
    heartbeat_timeout: int | None = None,
) -> Service:
    """Prepare nova-conductor (sqlite, one worker) using RabbitMQ at ``transport_url``.

    The ``[placement]`` client authenticates against keystone on
    ``keystone_port`` and is pointed at placement on ``placement_port``
    (without a placement client the conductor dies with MissingAuthPlugin).
    Without ``template`` runs ``nova-manage api_db sync`` and ``db sync``;
    with it, copies the template's databases.  ``heartbeat_timeout`` sets
    oslo.messaging's ``heartbeat_timeout_threshold`` (seconds; its default
    is 60): how long a connection to a member that vanished without a RST,
    as a dead node's does, is kept before the conductor reconnects.
    """
    venv = venv or openstack_venv()
    wd = _fresh_dir(workdir)
    conf = wd / "nova.conf"
    api_db = wd / "nova_api.sqlite"
    db = wd / "nova.sqlite"
    state = wd / "state"
    locks = wd / "lock"
    log = wd / "nova-conductor.log"
    for path in (state, locks):
        path.mkdir(exist_ok=True)
    _write_ini(
        conf,
        {
            "DEFAULT": {
                "transport_url": transport_url,
                "host": "hakit-lab",
                "state_path": str(state),
                "log_file": str(log),
                "debug": "false",
            },
            "conductor": {"workers": "1"},
            "database": {"connection": f"sqlite:///{db}"},
            "api_database": {"connection": f"sqlite:///{api_db}"},
            "oslo_concurrency": {"lock_path": str(locks)},
            "oslo_messaging_rabbit": (
                {"heartbeat_timeout_threshold": str(heartbeat_timeout)}
                if heartbeat_timeout
                else {}
            ),
            "placement": {
                "auth_type": "password",
                "auth_url": f"http://{LOOPBACK}:{keystone_port}/v3",
                "username": "admin",
                "password": ADMIN_PASSWORD,
                "project_name": "admin",
                "user_domain_name": "Default",
                "project_domain_name": "Default",
                "region_name": REGION,
                "endpoint_override": f"http://{LOOPBACK}:{placement_port}",
            },
        },
    )
    if template is not None:
        _copy_state(template, wd, "nova", None, [api_db.name, db.name])
    else:
        manage = [str(venv / "bin" / "nova-manage"), "--config-file", str(conf)]
        _run(manage + ["api_db", "sync"], wd)
        _run(manage + ["db", "sync"], wd)
        _stamp(wd, "nova", None)
    return Service(
        name="nova-conductor",
        argv=[str(venv / "bin" / "nova-conductor"), "--config-file", str(conf)],
        env={},
        config_files=[conf],
        port=None,
        workdir=wd,
        log_file=log,
    )


# -- running and observing services -----------------------------------------------


def spawn(service: Service, console_log: Path | None = None) -> subprocess.Popen[bytes]:
    """Start ``service`` in its own session with :data:`BASE_ENV` plus ``service.env``.

    stdout and stderr go to ``console_log`` (default ``WORKDIR/NAME.console.log``).
    The caller stops it with :func:`terminate_tree`.
    """
    console_log = console_log or service.workdir / f"{service.name}.console.log"
    with open(console_log, "ab") as out:
        return subprocess.Popen(
            service.argv,
            env={**BASE_ENV, **service.env},
            cwd=service.workdir,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def terminate_tree(proc: subprocess.Popen[bytes] | int, timeout: float = 10.0) -> None:
    """Stop a process and all its descendants, by pid; SIGKILL after ``timeout`` s.

    For a Popen started with ``start_new_session=True`` its process group is
    SIGKILLed last (stragglers that left the tree) and the Popen is reaped.
    Zombies count as dead.  Safe on processes that already exited.
    """
    pid = proc if isinstance(proc, int) else proc.pid
    try:
        root = psutil.Process(pid)
        tree = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        tree = []
    for each in tree:
        _send(each, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while any(_alive(p) for p in tree) and time.monotonic() < deadline:
        time.sleep(_POLL)
    for each in tree:
        if _alive(each):
            _send(each, signal.SIGKILL)
    if isinstance(proc, subprocess.Popen):
        try:
            if os.getpgid(pid) == pid:
                os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=10)


def tcp_connections(
    pid: int, remote_port: int, status: str = psutil.CONN_ESTABLISHED
) -> list[tuple[int, object]]:
    """Return ``(pid, conn)`` for TCP connections of ``pid`` and its descendants.

    Only connections in ``status`` whose remote port is ``remote_port`` count.
    """
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []
    found = []
    for each in procs:
        # psutil >= 6 renamed Process.connections() to net_connections().
        lister = getattr(each, "net_connections", None) or each.connections
        try:
            conns = lister(kind="tcp")
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        found.extend(
            (each.pid, conn)
            for conn in conns
            if conn.status == status and conn.raddr and conn.raddr.port == remote_port
        )
    return found


def wait_http(
    url: str, timeout: float = 30.0, *, proc: subprocess.Popen[bytes] | None = None
) -> int:
    """Poll ``GET url`` until it answers with a status below 500; return that status.

    Raises TimeoutError after ``timeout`` s, or RuntimeError as soon as ``proc``
    (the server, when given) has exited.
    """
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(
                f"server exited with {proc.returncode} before {url} answered"
            )
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(
                f"{url} did not answer within {timeout} s (last: {last})"
            )
        try:
            with urllib.request.urlopen(url, timeout=min(5.0, remaining)) as resp:  # noqa: S310
                return int(resp.status)
        except urllib.error.HTTPError as err:
            if err.code < 500:
                return int(err.code)
            last = err.code
        except (urllib.error.URLError, OSError) as err:
            last = err
        time.sleep(0.1)


# -- internals ------------------------------------------------------------------


def _alive(proc: psutil.Process) -> bool:
    """Return True when ``proc`` runs; a zombie counts as dead (LAB.md section 2)."""
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False


def _send(proc: psutil.Process, sig: int) -> None:
    """Signal ``proc``; psutil refuses when its pid has been reused."""
    try:
        proc.send_signal(sig)
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        pass


def _fresh_dir(workdir: os.PathLike[str] | str) -> Path:
    """Create ``workdir`` (it may exist, empty or not) and return it absolute."""
    wd = Path(workdir).resolve()
    wd.mkdir(parents=True, exist_ok=True)
    return wd


def _write_ini(path: Path, sections: dict[str, dict[str, str]]) -> None:
    """Write an oslo.config INI file, owner-readable only (it holds passwords)."""
    lines = []
    for section, options in sections.items():
        lines.append(f"[{section}]")
        lines.extend(f"{key} = {value}" for key, value in options.items())
        lines.append("")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write("\n".join(lines))


def _write_gunicorn_conf(
    wd: Path, port: int, wsgi_app: str, env: dict[str, str], log: Path
) -> Path:
    """Write the gunicorn config file that fully describes one HTTP service."""
    path = wd / "gunicorn_conf.py"
    settings = {
        "bind": f"{LOOPBACK}:{port}",
        "workers": 1,
        "pythonpath": str(wd),
        "chdir": str(wd),
        "wsgi_app": wsgi_app,
        "raw_env": [f"{key}={value}" for key, value in env.items()],
        "timeout": 60,
        "graceful_timeout": 5,
        "errorlog": str(log),
        "capture_output": True,
        # gunicorn >= 25.1 opens $HOME/.gunicorn/gunicorn.ctl by default; two
        # instances would fight over that one socket.
        "control_socket_disable": True,
    }
    body = "".join(f"{key} = {value!r}\n" for key, value in settings.items())
    path.write_text(f'"""gunicorn settings of a hakit lab service."""\n{body}')
    return path


def _run(argv: list[str], cwd: Path, extra_env: dict[str, str] | None = None) -> None:
    """Run one setup command, bounded; raise RuntimeError with its output on failure.

    The error names the binary and subcommand only, never option values.
    """
    words = [Path(argv[0]).name]
    for arg in argv[3:]:  # after "--config-file PATH": the subcommand words
        if arg.startswith("-"):
            break
        words.append(arg)
    what = " ".join(words)
    try:
        done = subprocess.run(
            argv,
            cwd=cwd,
            env={**BASE_ENV, **(extra_env or {})},
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=_SETUP_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"{what} took longer than {_SETUP_TIMEOUT} s") from None
    if done.returncode != 0:
        tail = (done.stdout + done.stderr)[-3000:]
        raise RuntimeError(f"{what} failed with {done.returncode}:\n{tail}")


def _stamp(wd: Path, kind: str, port: int | None) -> None:
    """Record what a prepared directory holds, so a template copy can be checked."""
    (wd / _STAMP).write_text(json.dumps({"kind": kind, "port": port}))


def _copy_state(
    template: Service, wd: Path, kind: str, port: int | None, names: list[str]
) -> None:
    """Copy databases and key repositories ``names`` from a template Service."""
    src = template.workdir
    stamp = json.loads((src / _STAMP).read_text())
    if stamp != {"kind": kind, "port": port}:
        raise ValueError(f"template {src} holds {stamp}, not {kind} for port {port}")
    if src == wd:
        return
    for name in names:
        if (src / name).is_dir():
            shutil.copytree(src / name, wd / name, dirs_exist_ok=True)
        else:
            shutil.copy2(src / name, wd / name)
    shutil.copy2(src / _STAMP, wd / _STAMP)
