"""mariadbd's wsrep status, read with MariaDB's own client (``mariadb``).

One ``mariadb`` process per reading, over the unix socket only
(``--protocol=socket``: a ``host=`` in some option file cannot send the
monitor to another server)::

    mariadb --defaults-extra-file=F --protocol=socket --socket=S
            --connect-timeout=N -N -B -e "SHOW GLOBAL STATUS WHERE ..."

With ``check_defaults_file`` the client reads the system option files, then
that file (its ``[client]`` user and password, ``!include`` and TLS options
as MariaDB reads them).  Without it the client reads no option file and
connects as root, which MariaDB lets in through ``unix_socket``
authentication.  The password is never on the command line, and the client
gets a clean environment: no ``HOME`` (so root's ``~/.my.cnf``, read after
the extra file, cannot change who the monitor is), no ``MYSQL_PWD``, and
``LC_ALL=C`` for messages in English.

Authentication is the client's business: it speaks every plugin its server
version offers (``unix_socket``, ``mysql_native_password``, ``ed25519``,
``caching_sha2_password``, ``parsec``...), and Debian upgrades it together
with the server.  A MariaDB upgrade that changes the default authentication
therefore does not make a healthy node look failed, which a plugin list of
our own could not promise.
"""

from __future__ import annotations

from ha_common.command import (
    CommandError,
    CommandNotFoundError,
    CommandTimeoutError,
    run_cmd,
)
from ocf_agents._runtime import host
from ocf_agents._runtime.errors import AgentError, HostSetupError, NotInstalledError

TYPE_CHECKING = False  # typing costs ~5 ms of start-up; see STYLE.md section 9
if TYPE_CHECKING:
    from ha_common.deadline import Deadline
    from ocf_agents._runtime.env import Config

#: Status variables a reading asks for: what :func:`problem` judges, what
#: promotion announces (the cluster uuid), and what the log shows.
VARIABLES = (
    "wsrep_cluster_status",
    "wsrep_local_state",
    "wsrep_local_state_comment",
    "wsrep_ready",
    "wsrep_cluster_state_uuid",
    "wsrep_cluster_size",
)
QUERY = "SHOW GLOBAL STATUS WHERE Variable_name IN ({})".format(
    ", ".join(f"'{name}'" for name in VARIABLES)
)
#: Longest one reading may take, whatever the deadline says.
TIMEOUT = 5.0
#: The client's whole environment.
ENVIRONMENT = {"PATH": "/usr/bin:/bin", "LC_ALL": "C"}
#: Local State 2: Donor/Desynced (serving a state transfer).
DONOR = "2"


def program(cfg: Config) -> str:
    """The client program (``client_binary``)."""
    return cfg.get_str("client_binary")


def require(cfg: Config) -> None:
    """Raise ``NotInstalledError`` unless the client program is there."""
    host.require_program(program(cfg), "client_binary")


def _options(cfg: Config) -> list[str]:
    """The option-file arguments, which must come first."""
    defaults_file = cfg.get_str("check_defaults_file")
    if defaults_file:
        return [f"--defaults-extra-file={defaults_file}"]
    return ["--no-defaults", "--user=root"]


def argv(cfg: Config, timeout: float) -> list[str]:
    """The command line of one status reading that may take ``timeout`` s."""
    connect = max(1, int(timeout + 0.999))  # whole seconds, rounded up
    return [
        program(cfg),
        *_options(cfg),
        "--protocol=socket",
        f"--socket={cfg.get_str('socket')}",
        f"--connect-timeout={connect}",
        "-N",
        "-B",
        "-e",
        QUERY,
    ]


def parse(output: str) -> dict[str, str]:
    """``name<TAB>value`` lines (``-N -B`` output) into a dictionary."""
    values = {}
    for line in output.splitlines():
        name, sep, value = line.partition("\t")
        if sep:
            values[name] = value
    return values


def status(cfg: Config, deadline: Deadline) -> dict[str, str]:
    """Read the server's wsrep status.

    Raises:
        NotInstalledError: the client program is missing.
        AgentError: the server did not answer, refused the credentials, or
            the client failed otherwise; the message is the client's own
            (it never shows a password).
    """
    timeout = min(TIMEOUT, deadline.remaining())
    where = cfg.get_str("socket")
    try:
        done = run_cmd(argv(cfg, timeout), deadline, limit=timeout, env=ENVIRONMENT)
    except CommandNotFoundError as exc:
        raise NotInstalledError(f"{exc} (client_binary)") from None
    except CommandTimeoutError as exc:
        raise AgentError(f"no answer on {where}: {exc}") from None
    except CommandError as exc:
        raise AgentError(str(exc)) from None
    if done.returncode != 0:
        raise AgentError(f"no answer on {where}: {done.detail()}")
    return parse(done.stdout)


def check_option_file(cfg: Config, deadline: Deadline) -> None:
    """Check that the client can read ``check_defaults_file`` and finds a user.

    Asks the client what it would use (``--print-defaults``), so the file is
    read exactly as the monitor will read it, ``!include`` and all.  Its
    output carries the password: it is searched, never shown.

    Raises:
        HostSetupError: the client rejects the file, or no ``user`` is set.
    """
    path = cfg.get_str("check_defaults_file")
    try:
        done = run_cmd(
            [program(cfg), f"--defaults-extra-file={path}", "--print-defaults"],
            deadline,
            limit=TIMEOUT,
            env=ENVIRONMENT,
        )
    except CommandNotFoundError as exc:
        raise NotInstalledError(f"{exc} (client_binary)") from None
    except CommandError as exc:
        raise AgentError(str(exc)) from None
    if done.returncode != 0:
        # stderr only: stdout lists the options read, the password among them.
        complaint = "; ".join(line for line in done.stderr.splitlines() if line)
        raise HostSetupError(
            f"{program(cfg)} cannot use check_defaults_file {path}: "
            f"{complaint or f'exit status {done.returncode}'}"
        )
    if not any(word.startswith("--user=") for word in done.stdout.split()):
        raise HostSetupError(f"check_defaults_file {path} names no user in [client]")


def problem(cfg: Config, values: dict[str, str]) -> str:
    """Say what is wrong with a member's status; empty when it is healthy."""
    cluster_status = values.get("wsrep_cluster_status")
    if cluster_status is None:
        return "wsrep is not enabled (no wsrep_cluster_status)"
    if cluster_status != "Primary":
        return f"not in the Primary Component (wsrep_cluster_status={cluster_status})"
    comment = values.get("wsrep_local_state_comment", "?")
    donor = values.get("wsrep_local_state") == DONOR
    if comment != "Synced" and not (donor and cfg.get_bool("allow_donor")):
        return f"not synced (wsrep_local_state_comment={comment})"
    if values.get("wsrep_ready") != "ON":
        return f"not ready (wsrep_ready={values.get('wsrep_ready')})"
    return ""
