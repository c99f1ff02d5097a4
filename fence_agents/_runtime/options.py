"""Fence options declared once: argv flags, stdin keys, metadata and help.

Names and aliases follow ClusterLabs fence-agents so hakit's agents are
drop-in replacements: ``ip``/``ipaddr``/``-a``, ``username``/``login``/``-l``,
``password``/``passwd``/``-p``, ``plug``/``port``/``-n`` and so on.
"""

from __future__ import annotations

from ha_common.kinds import (
    HOST,
    INTEGER,
    SECONDS,
    STRING,
    Kind,
    one_of,
    to_bool,
)
from ha_common.record import record

#: A switch without a value on the command line (``--ssl-insecure``).
FLAG = Kind("boolean", to_bool, name="flag")

#: The actions the generic driver implements; an agent offers them through the
#: choices of its ``action`` option, which metadata lists.  No ``list`` or
#: ``list-status``: one BMC fences one node (STYLE.md section 5: ``list`` only
#: for devices with ports), and advertising ``list`` would switch Pacemaker's
#: default ``pcmk_host_check`` to ``dynamic-list``.
ACTIONS = (
    "on",
    "off",
    "reboot",
    "status",
    "monitor",
    "metadata",
    "manpage",
    "validate-all",
)

#: Actions that only describe the agent: they need none of its required options.
DESCRIBING = ("metadata", "manpage")

#: Command-line switches that describe the agent and exit: (short, long, help).
#: They are argv-only and absent from metadata on purpose: a ``version=1``
#: among a stonith resource's parameters (stdin) would otherwise turn every
#: fencing request into an exit 0 that fenced nothing.
SWITCHES = (
    ("-h", "--help", "Display help and exit"),
    ("-V", "--version", "Display version information and exit"),
)


@record  # a frozen dataclass without importing dataclasses (start-up time)
class Option:
    """One option of a fence agent.

    Attributes:
        name: the stdin key and metadata name; the long flag is derived
            (``systems_uri`` -> ``--systems-uri``).
        kind: how the value is converted; ``FLAG`` takes no value on argv.
        short: a short flag (only options of the shared groups have one).
        aliases: legacy stdin names (``ipaddr``), accepted and listed as
            deprecated in metadata.
        default: the wire form of the default.
        required: the parser refuses to act without it (except for the
            describing actions and switches), and metadata marks it required.
        secret: masked in logs and messages.
        metavar: the value's name in ``--help`` and metadata.
        shortdesc: one line of documentation.
    """

    name: str
    kind: Kind = STRING
    short: str | None = None
    aliases: tuple[str, ...] = ()
    default: str | None = None
    required: bool = False
    secret: bool = False
    metavar: str = "value"
    shortdesc: str = ""

    @property
    def long(self) -> str:
        """The long command-line flag."""
        return "--" + self.name.replace("_", "-")


Group = tuple[Option, ...]

#: The action and the target, both supplied by pacemaker-fenced, so neither is
#: ``required`` (a CIB that sets them would be wrong).  The action has no
#: default either: the parser refuses to act without one, where ClusterLabs'
#: agents would reboot.
ACTION: Group = (
    Option(
        "action",
        one_of(*ACTIONS),
        short="-o",
        aliases=("option",),
        metavar="action",
        shortdesc="Fencing action",
    ),
    Option(
        "plug",
        short="-n",
        aliases=("port",),
        metavar="id",
        shortdesc="Physical plug number on device, UUID or identification of machine",
    ),
)

CREDENTIALS: Group = (
    Option(
        "username",
        short="-l",
        aliases=("login",),
        metavar="name",
        shortdesc="Login name",
    ),
    Option(
        "password",
        short="-p",
        aliases=("passwd",),
        secret=True,
        metavar="password",
        shortdesc="Login password or passphrase",
    ),
    Option(
        "password_script",
        short="-S",
        aliases=("passwd_script",),
        metavar="script",
        shortdesc="Script to run to retrieve password (run without a shell)",
    ),
)

TIMEOUTS: Group = (
    Option(
        "method",
        one_of("onoff", "cycle"),
        short="-m",
        default="onoff",
        metavar="method",
        shortdesc="Method to fence (onoff or cycle)",
    ),
    Option(
        "power_timeout",
        SECONDS,
        default="20",
        metavar="seconds",
        shortdesc="Test X seconds for status change after ON/OFF",
    ),
    Option(
        "power_wait",
        SECONDS,
        default="0",
        metavar="seconds",
        shortdesc="Wait X seconds after issuing ON/OFF",
    ),
    Option(
        "login_timeout",
        SECONDS,
        default="5",
        metavar="seconds",
        shortdesc="Wait X seconds for the BMC to answer a login",
    ),
    Option(
        "shell_timeout",
        SECONDS,
        default="3",
        metavar="seconds",
        shortdesc=(
            "Wait X seconds plus login_timeout for password_script; "
            "BMC requests are bounded by login_timeout and power_timeout"
        ),
    ),
    Option(
        "retry_on",
        INTEGER,
        default="1",
        metavar="attempts",
        shortdesc="Count of attempts to retry power on",
    ),
    Option(
        "delay",
        SECONDS,
        default="0",
        metavar="seconds",
        shortdesc="Wait X seconds before fencing is started",
    ),
)

LOGGING: Group = (
    Option("verbose", FLAG, short="-v", default="0", shortdesc="Verbose mode"),
    Option(
        "debug_file",
        short="-D",
        aliases=("debug",),
        metavar="file",
        shortdesc="Write debug information to given file",
    ),
    Option(
        "quiet", FLAG, short="-q", default="0", shortdesc="Disable logging to stderr"
    ),
)


def address(default_port: str) -> Group:
    """The BMC address options with the device's default port."""
    return (
        Option(
            "ip",
            HOST,
            short="-a",
            aliases=("ipaddr",),
            required=True,
            metavar="ip",
            shortdesc="IP address or hostname of fencing device",
        ),
        Option(
            "ipport",
            INTEGER,
            short="-u",
            default=default_port,
            metavar="port",
            shortdesc="TCP/UDP port to use for connection with device",
        ),
    )


TLS: Group = (
    Option(
        "ssl_insecure",
        FLAG,
        default="0",
        shortdesc="Do not verify the TLS certificate of the BMC",
    ),
    Option(
        "ssl_ca_file",
        STRING,
        metavar="file",
        shortdesc="CA certificate file that signed the BMC's certificate",
    ),
)
