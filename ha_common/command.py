"""Run a program to its end within a deadline: no shell, output captured.

The OCF agents run every program they wait for (cluster tools, database
clients, installers) through :func:`run_cmd`, so each call has a timeout
taken from the action's deadline, never reads the agent's stdin, and fails
with a typed error that names the program.  Daemons, which outlive the
agent, are started by ``ocf_agents._runtime.proc.start`` instead.
``subprocess`` (about 4 ms of imports in an agent) is imported on the first
call, not with this module.
"""

from __future__ import annotations

from ha_common.record import record

TYPE_CHECKING = False  # typing costs ~5 ms of start-up; see STYLE.md section 9
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from ha_common.deadline import Deadline


class CommandError(Exception):
    """A program could not be run, or did not finish in time."""


class CommandNotFoundError(CommandError):
    """The program does not exist or cannot be executed."""


class CommandTimeoutError(CommandError):
    """The program did not finish in time; it was killed."""


@record
class Completed:
    """What a finished program left.

    Attributes:
        program: ``argv[0]``, to name it in messages.
        returncode: its exit status (negative: killed by that signal).
        stdout: its standard output, decoded as UTF-8 (bad bytes replaced).
        stderr: its standard error, decoded the same way.
    """

    program: str
    returncode: int
    stdout: str
    stderr: str

    def detail(self, limit: int = 300) -> str:
        """The program's complaint on one line: stderr (else stdout), cut."""
        lines = [line.strip() for line in (self.stderr or self.stdout).splitlines()]
        text = "; ".join(line for line in lines if line)
        return text if len(text) <= limit else text[: limit - 3] + "..."


def run_cmd(
    argv: Sequence[str],
    deadline: Deadline,
    *,
    limit: float | None = None,
    env: Mapping[str, str] | None = None,
    stdin: str | None = None,
) -> Completed:
    """Run ``argv`` until it exits, at most until ``deadline`` (and ``limit`` s).

    Args:
        argv: the program and its arguments; never run through a shell.
            Secrets must not be among them (other users can read a
            process's arguments): pass them on ``stdin`` or in a 0600 file.
        deadline: the action's deadline; the program is killed when it is due.
        limit: a shorter bound for this one call, in seconds.
        env: the program's whole environment (None: the agent's own).
        stdin: text to feed on standard input (None: ``/dev/null``).

    Returns:
        The exit status and output, whatever the status; callers judge it.

    Raises:
        CommandNotFoundError: the program is missing or not executable.
        CommandTimeoutError: no time was left, or it ran out; it was killed.
        CommandError: the program could not be started for another reason.
    """
    program = argv[0]
    timeout = (
        deadline.remaining() if limit is None else min(limit, deadline.remaining())
    )
    if timeout <= 0:
        raise CommandTimeoutError(f"no time left to run {program}")
    import subprocess  # noqa: PLC0415 - only actions that run a tool pay for it

    try:
        done = subprocess.run(  # noqa: S603 - argv list, never a shell
            list(argv),
            input=stdin,
            stdin=subprocess.DEVNULL if stdin is None else None,
            capture_output=True,
            env=None if env is None else dict(env),
            encoding="utf-8",
            errors="replace",
            timeout=timeout,
            check=False,
        )
    except FileNotFoundError:
        raise CommandNotFoundError(f"{program} is not installed") from None
    except PermissionError:
        raise CommandNotFoundError(f"{program} is not executable") from None
    except subprocess.TimeoutExpired:
        raise CommandTimeoutError(
            f"{program} did not finish within {timeout:.1f} s"
        ) from None
    except OSError as exc:
        raise CommandError(f"cannot run {program}: {exc.strerror or exc}") from None
    return Completed(program, done.returncode, done.stdout, done.stderr)
