"""The table of OpenStack services hakit manages, with their defaults.

Pure data: the registry imports it to know the agent names, so it must stay
cheap.  Paths follow the Debian/Ubuntu and RDO packages; every default can be
overridden by a resource parameter.
"""

from __future__ import annotations

from ha_common.record import record

API = "api"
RPC = "rpc"


@record
class Service:
    """One OpenStack service and its defaults.

    Attributes:
        name: the agent name (``ocf:hakit:<name>``).
        kind: ``api`` (checked by an HTTP probe) or ``rpc`` (checked by its
            AMQP connection).
        summary: what the service does, for meta-data.
        binary: the program to run.
        config: configuration files, passed each after ``config_flag``.
        user: the system user that runs it.
        port: the API port (``api`` services).
        health_path: the URL path the HTTP probe requests.
        config_flag: the option that precedes each configuration file.
    """

    name: str
    kind: str
    summary: str
    binary: str
    config: tuple[str, ...]
    user: str
    port: int = 0
    health_path: str = "/"
    config_flag: str = "--config-file"


_NOVA = ("/etc/nova/nova.conf",)
_NEUTRON = "/etc/neutron/neutron.conf"
_CINDER = ("/etc/cinder/cinder.conf",)
_HEAT = ("/etc/heat/heat.conf",)

SERVICES: tuple[Service, ...] = (
    Service(
        "keystone",
        API,
        "OpenStack Identity API (WSGI under uWSGI)",
        "/usr/bin/uwsgi",
        ("/etc/keystone/keystone-uwsgi-public.ini",),
        "keystone",
        5000,
        "/v3",
        "--ini",
    ),
    Service(
        "glance-api",
        API,
        "OpenStack Image API",
        "/usr/bin/glance-api",
        ("/etc/glance/glance-api.conf",),
        "glance",
        9292,
        "/healthcheck",
    ),
    Service(
        "placement-api",
        API,
        "OpenStack Placement API (WSGI under uWSGI)",
        "/usr/bin/uwsgi",
        ("/etc/placement/placement-uwsgi.ini",),
        "placement",
        8778,
        "/",
        "--ini",
    ),
    Service(
        "nova-api",
        API,
        "OpenStack Compute API",
        "/usr/bin/nova-api",
        _NOVA,
        "nova",
        8774,
        "/",
    ),
    Service(
        "nova-scheduler",
        RPC,
        "OpenStack Compute scheduler",
        "/usr/bin/nova-scheduler",
        _NOVA,
        "nova",
    ),
    Service(
        "nova-conductor",
        RPC,
        "OpenStack Compute conductor",
        "/usr/bin/nova-conductor",
        _NOVA,
        "nova",
    ),
    Service(
        "nova-novncproxy",
        API,
        "OpenStack Compute noVNC console proxy",
        "/usr/bin/nova-novncproxy",
        _NOVA,
        "nova",
        6080,
        "/",
    ),
    Service(
        "neutron-server",
        API,
        "OpenStack Networking API server",
        "/usr/bin/neutron-server",
        (_NEUTRON, "/etc/neutron/plugins/ml2/ml2_conf.ini"),
        "neutron",
        9696,
        "/",
    ),
    Service(
        "neutron-dhcp-agent",
        RPC,
        "OpenStack Networking DHCP agent",
        "/usr/bin/neutron-dhcp-agent",
        (_NEUTRON, "/etc/neutron/dhcp_agent.ini"),
        "neutron",
    ),
    Service(
        "neutron-l3-agent",
        RPC,
        "OpenStack Networking L3 agent",
        "/usr/bin/neutron-l3-agent",
        (_NEUTRON, "/etc/neutron/l3_agent.ini"),
        "neutron",
    ),
    Service(
        "neutron-metadata-agent",
        RPC,
        "OpenStack Networking metadata agent",
        "/usr/bin/neutron-metadata-agent",
        (_NEUTRON, "/etc/neutron/metadata_agent.ini"),
        "neutron",
    ),
    Service(
        "neutron-openvswitch-agent",
        RPC,
        "OpenStack Networking Open vSwitch agent",
        "/usr/bin/neutron-openvswitch-agent",
        (_NEUTRON, "/etc/neutron/plugins/ml2/openvswitch_agent.ini"),
        "neutron",
    ),
    Service(
        "cinder-api",
        API,
        "OpenStack Block Storage API",
        "/usr/bin/cinder-api",
        _CINDER,
        "cinder",
        8776,
        "/healthcheck",
    ),
    Service(
        "cinder-scheduler",
        RPC,
        "OpenStack Block Storage scheduler",
        "/usr/bin/cinder-scheduler",
        _CINDER,
        "cinder",
    ),
    Service(
        "cinder-volume",
        RPC,
        "OpenStack Block Storage volume service",
        "/usr/bin/cinder-volume",
        _CINDER,
        "cinder",
    ),
    Service(
        "heat-api",
        API,
        "OpenStack Orchestration API",
        "/usr/bin/heat-api",
        _HEAT,
        "heat",
        8004,
        "/",
    ),
    Service(
        "heat-api-cfn",
        API,
        "OpenStack Orchestration CloudFormation API",
        "/usr/bin/heat-api-cfn",
        _HEAT,
        "heat",
        8000,
        "/",
    ),
    Service(
        "heat-engine",
        RPC,
        "OpenStack Orchestration engine",
        "/usr/bin/heat-engine",
        _HEAT,
        "heat",
    ),
)

SERVICE_NAMES: tuple[str, ...] = tuple(s.name for s in SERVICES)


def service(name: str) -> Service:
    """Return the table entry called ``name``."""
    for entry in SERVICES:
        if entry.name == name:
            return entry
    raise KeyError(name)
