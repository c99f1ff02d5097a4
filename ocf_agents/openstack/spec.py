"""Declarations of the OpenStack service agents, one per table entry.

Every service gets the same parameters with its own defaults, so an operator
writes ``ocf:hakit:nova-conductor`` and sets nothing unless the host differs
from the distribution packages.
"""

from __future__ import annotations

import re

from ha_common.kinds import (
    ARGS,
    ENV,
    HOST,
    NAME,
    PATH,
    PATHS,
    PORT,
    SECONDS,
    Kind,
    one_of,
    to_port,
)
from ocf_agents._runtime.spec import (
    AgentSpec,
    Param,
    Timing,
    standard_actions,
    stop_grace,
)
from ocf_agents.openstack.services import API, SERVICES, Service

_FLAG_RE = re.compile(r"^(-{1,2}[A-Za-z0-9][A-Za-z0-9-]*)?$")
_URL_PATH_RE = re.compile(r"^/[A-Za-z0-9._~/%-]*$")


def _flag(value: str) -> str:
    if value == "none":
        return ""
    if not _FLAG_RE.match(value):
        raise ValueError(f"{value!r} is not a command-line option like --config-file")
    return value


def _url_path(value: str) -> str:
    if not _URL_PATH_RE.match(value):
        raise ValueError(f"{value!r} is not a URL path starting with /")
    return value


def _ports(value: str) -> tuple[int, ...]:
    return tuple(to_port(item) for item in value.replace(",", " ").split())


FLAG = Kind("string", _flag, name="option")
URL_PATH = Kind("string", _url_path, name="URL path")
PORTS = Kind("string", _ports, name="list of ports")
HEALTH = one_of("http", "amqp", "process")
SCHEME = one_of("http", "https")


def _params(svc: Service) -> tuple[Param, ...]:
    default_health = "http" if svc.kind == API else "amqp"
    return (
        Param(
            "binary",
            PATH,
            "Program to run",
            f"Absolute path of the {svc.name} program.",
            default=svc.binary,
        ),
        Param(
            "config",
            PATHS,
            "Configuration files",
            "Space-separated configuration files, each passed after config_flag.",
            default=" ".join(svc.config),
        ),
        Param(
            "config_flag",
            FLAG,
            "Option that precedes each configuration file",
            "Command-line option placed before every file of config "
            "(none: the files are passed as plain arguments).",
            default=svc.config_flag,
        ),
        Param(
            "user",
            NAME,
            "User that runs the service",
            "System user the service runs as; the agent must run as root "
            "to switch to it.",
            default=svc.user,
        ),
        Param(
            "pidfile",
            PATH,
            "Pid file",
            "Where the agent records the service's pid. Default: "
            "$HA_RSCTMP/hakit-<resource>.pid.",
        ),
        Param(
            "extra_args",
            ARGS,
            "Extra arguments",
            "More arguments, split like a shell would (quotes work) but never "
            "run through one: operators, redirections and expansions are refused.",
        ),
        Param(
            "environment",
            ENV,
            "Extra environment",
            "NAME=VALUE words added to the service's environment (LD_* refused).",
        ),
        Param(
            "console_log",
            PATH,
            "File for the service's stdout and stderr",
            "The service's own logging is set in its configuration; this file "
            "catches what it prints before that. Default: discarded.",
        ),
        Param(
            "health",
            HEALTH,
            "Health check",
            "http: the process lives and answers an HTTP probe (API services). "
            "amqp: the process lives and holds an established connection to an "
            "AMQP port (RPC workers). process: the process lives.",
            default=default_health,
        ),
        Param(
            "bind_address",
            HOST,
            "Address the HTTP probe connects to",
            default="127.0.0.1",
        ),
        Param(
            "port", PORT, "Port the HTTP probe connects to", default=str(svc.port or 80)
        ),
        Param(
            "healthcheck_path",
            URL_PATH,
            "URL path of the HTTP probe",
            "Any answer below 500 counts as healthy; a 5xx, a refused "
            "connection or no answer within healthcheck_timeout is a failure. "
            "At OCF_CHECK_LEVEL 10 and more, only 2xx and 3xx count.",
            default=svc.health_path,
        ),
        Param(
            "healthcheck_scheme",
            SCHEME,
            "Scheme of the HTTP probe",
            "https probes do not verify the certificate: they check liveness "
            "of the local service, not its identity.",
            default="http",
        ),
        Param(
            "healthcheck_timeout",
            SECONDS,
            "Timeout of one HTTP probe in seconds",
            default="5",
        ),
        Param(
            "amqp_ports",
            PORTS,
            "AMQP ports of the RPC connection check",
            "Ports an RPC worker must hold an established connection to. "
            "Default: the ports of transport_url in the configuration files, "
            "else 5672.",
        ),
        Param(
            "amqp_grace",
            SECONDS,
            "Seconds an RPC worker may stay disconnected",
            "How long a running RPC worker may have no AMQP connection before "
            "the monitor fails (oslo.messaging reconnects by itself; restarting "
            "it does not help while the broker is down). At OCF_CHECK_LEVEL 10 "
            "and more the grace is not applied.",
            default="60",
        ),
        stop_grace(),
    )


def spec_for(svc: Service) -> AgentSpec:
    """Build the declaration of one service's agent."""
    check = "an HTTP probe" if svc.kind == API else "its AMQP connection"
    longdesc = (
        f"Manages {svc.summary} ({svc.name}) as a Pacemaker resource, usually "
        f"in a clone. The service runs in the foreground under the agent's "
        f"supervision; the monitor checks the process and {check}. "
        f"Stop sends SIGTERM, then SIGKILL to the whole process tree before the "
        f"timeout, and succeeds only when every process is gone."
    )
    return AgentSpec(
        name=svc.name,
        shortdesc=f"{svc.summary} (hakit)",
        longdesc=longdesc,
        params=_params(svc),
        actions=standard_actions(
            start=60 if svc.kind == API else 90,
            stop=60,
            monitor=Timing(timeout=20, interval=10),
        ),
        handlers="ocf_agents.openstack.actions",
        extra=(("service", svc),),
    )


SPECS: dict[str, AgentSpec] = {svc.name: spec_for(svc) for svc in SERVICES}
