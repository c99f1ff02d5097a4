"""A stand-in for an OpenDaylight (Karaf) JVM, for the lab: same files, same wire.

OpenDaylight is in neither Debian nor PyPI, so the lab runs this process in
its place.  bin/start (see :mod:`tests.lab.odl`) launches it with a command
line shaped like Karaf's (``-Dkaraf.home=HOME ... org.apache.karaf.main.Main``);
it then behaves as the real member does where the agent looks:

- it records itself in ``instances/instance.properties`` (``item.0.pid``), as
  Karaf's ``org.apache.karaf.main.Main`` does, and answers bin/stop's
  ``SHUTDOWN`` on the port it writes to ``data/port``; SIGTERM ends it with
  status 143 (the packaged unit's ``SuccessExitStatus=143``);
- ``GET /diagstatus`` answers 200 when every service is OPERATIONAL and 503
  otherwise, with the JSON of infrautils' ``ServiceStatusSummary`` (Gson
  field names ``timeStamp``, ``isOperational``, ``systemReadyState``,
  ``systemReadyStateErrorCause``, ``statusSummary`` of ``ServiceDescriptor``
  with ``moduleServiceName``, ``serviceState``, ``timestamp``,
  ``statusDesc``), content type ``application/json``.  Sources:
  opendaylight/infrautils ``diagstatus/web/src/main/java/org/opendaylight/
  infrautils/diagstatus/web/DiagStatusServlet.java`` (503 unless
  operational), ``diagstatus/api/src/main/java/org/opendaylight/infrautils/
  diagstatus/ServiceStatusSummary.java`` and ``ServiceDescriptor.java``
  (the fields), ``SystemState`` BOOTING/ACTIVE/FAILURE and ``ServiceState``
  STARTING/OPERATIONAL/ERROR;
- ``GET /jolokia/read/<mbean>`` (HTTP Basic authentication, else 401 with
  ``WWW-Authenticate: Basic realm="karaf"``) answers Jolokia's envelope
  ``{"request": {"mbean", "type": "read"}, "value", "timestamp", "status"}``
  for the two ShardManager MBeans (value ``LocalShards``, ``SyncStatus``,
  ``MemberName``) and the per-shard MBeans (``RaftState``, ``Leader``,
  ``ShardName``...); an MBean that does not exist (yet) is HTTP 200 with
  ``status`` 404 and ``error_type`` javax.management.InstanceNotFoundException.
  Sources: the FRINX ODL developer guide, "Developer Guide: Daexim"
  (https://frinxio.github.io/Frinx-docs/, ShardManager read example);
  opendaylight/docs ``docs/getting-started-guide/clustering.rst`` (the
  per-shard read with RaftState); opendaylight/controller
  ``opendaylight/md-sal/sal-distributed-datastore/src/main/java/org/
  opendaylight/controller/cluster/datastore/shardmanager/
  ShardManagerInfoMBean.java`` (the attributes).

Switches, read from ``etc/standin.json`` at every request so a test can
flip them while the member runs: ``ready_after`` (seconds before the
services become OPERATIONAL), ``sync`` (SyncStatus; DATASTORE is in ERROR
while it is false, as infrautils reports it, unless ``diag_ignores_sync``
keeps it OPERATIONAL to test the SyncStatus reads alone), ``broken`` (a service
in ERROR), ``unauthorized`` (Jolokia answers 401 whatever the
credentials), ``hang_on_stop`` (ignore SHUTDOWN and SIGTERM), ``die_after``
(exit with status 1 after that many seconds), ``role`` (RaftState of this
member's shards), ``member`` (MemberName), ``user``/``password`` (what
Jolokia accepts).  It is standard-library Python only and imports nothing
from hakit.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import sys
import threading
import time
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote

STARTED = time.monotonic()
SERVICES = ("DATASTORE", "OPENFLOW", "IFM", "ITM", "ELAN", "OVSDB")


def _home() -> str:
    for arg in sys.argv[1:]:
        if arg.startswith("-Dkaraf.home="):
            return arg.split("=", 1)[1]
    raise SystemExit("no -Dkaraf.home= on the command line")


HOME = _home()


def switches() -> dict[str, object]:
    try:
        with open(os.path.join(HOME, "etc", "standin.json"), encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def _web_config() -> tuple[str, int]:
    address, port = "127.0.0.1", 8181
    path = os.path.join(HOME, "etc", "org.ops4j.pax.web.cfg")
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            key, _, value = line.strip().partition("=")
            if key == "org.osgi.service.http.port":
                port = int(value)
            elif key == "org.ops4j.pax.web.listening.addresses":
                address = value.split(",")[0]
    return address, port


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _ready(sw: dict[str, object]) -> bool:
    return time.monotonic() - STARTED >= float(sw.get("ready_after", 0))  # type: ignore[arg-type]


def diagstatus(sw: dict[str, object]) -> tuple[int, dict[str, object]]:
    ready = _ready(sw)
    synced = bool(sw.get("sync", True))
    ignores = bool(sw.get("diag_ignores_sync"))
    states = {}
    for name in SERVICES:
        state = "OPERATIONAL" if ready else "STARTING"
        if name == "DATASTORE" and ready and not synced and not ignores:
            state = "ERROR"  # infrautils: DATASTORE needs both SyncStatus true
        states[name] = state
    if sw.get("broken"):
        states["OPENFLOW"] = "ERROR"
    operational = all(state == "OPERATIONAL" for state in states.values())
    body = {
        "timeStamp": _now(),
        "isOperational": operational,
        "systemReadyState": "ACTIVE" if ready else "BOOTING",
        "systemReadyStateErrorCause": "",
        "statusSummary": [
            {
                "moduleServiceName": name,
                "serviceState": state,
                "timestamp": _now(),
                "statusDesc": state if state != "ERROR" else f"{name} failed",
            }
            for name, state in states.items()
        ],
    }
    return (200 if operational else 503), body


def jolokia(mbean: str, sw: dict[str, object]) -> dict[str, object]:
    member = str(sw.get("member", "member-1"))
    role = str(sw.get("role", "Leader"))
    envelope: dict[str, object] = {
        "request": {"mbean": mbean, "type": "read"},
        "timestamp": int(time.time()),
    }
    fields = dict(
        part.split("=", 1) for part in mbean.split(":", 1)[-1].split(",") if "=" in part
    )
    kind = {"DistributedConfigDatastore": "config"}.get(
        fields.get("type", ""), "operational"
    )
    value: dict[str, object] | None = None
    if _ready(sw) and mbean.startswith("org.opendaylight.controller:"):
        if fields.get("Category") == "ShardManager":
            if fields.get("name") == f"shard-manager-{kind}":
                shards = [f"{member}-shard-{s}-{kind}" for s in ("default", "topology")]
                value = {
                    "LocalShards": shards,
                    "SyncStatus": bool(sw.get("sync", True)),
                    "MemberName": member,
                }
        elif fields.get("Category") == "Shards":
            name = fields.get("name", "")
            if name.startswith(f"{member}-shard-") and name.endswith(f"-{kind}"):
                shard = name[len(f"{member}-shard-") : -len(f"-{kind}")]
                leader = name if role == "Leader" else f"member-9-shard-{shard}-{kind}"
                value = {
                    "ShardName": name,
                    "RaftState": role,
                    "Leader": leader,
                    "LastIndex": 5,
                    "LastApplied": 5,
                    "CommitIndex": 5,
                    "FollowerInfo": [],
                    "VotingMember": True,
                }
    if value is None:
        envelope.update(
            status=404,
            error_type="javax.management.InstanceNotFoundException",
            error=f"javax.management.InstanceNotFoundException : {mbean}",
        )
    else:
        envelope.update(value=value, status=200)
    return envelope


class Handler(BaseHTTPRequestHandler):
    server_version = "Jetty(9.4.z-SNAPSHOT)"
    protocol_version = "HTTP/1.1"

    def _send(self, code: int, body: dict[str, object], extra: dict[str, str]) -> None:
        data = (json.dumps(body, indent=2) + "\n").encode("utf-8")
        self.send_response(code)
        self.send_header("Content-Type", "application/json;charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for key, value in extra.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def _authorized(self, sw: dict[str, object]) -> bool:
        if sw.get("unauthorized"):
            return False
        expected = f"{sw.get('user', 'admin')}:{sw.get('password', 'admin')}"
        given = self.headers.get("Authorization", "")
        if not given.startswith("Basic "):
            return False
        try:
            return base64.b64decode(given[6:]).decode("utf-8") == expected
        except ValueError:
            return False

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        sw = switches()
        if self.path == "/diagstatus":
            code, body = diagstatus(sw)
            self._send(code, body, {})
        elif self.path.startswith("/jolokia/read/"):
            if not self._authorized(sw):
                body = {"error": "Unauthorized", "status": 401}
                self._send(401, body, {"WWW-Authenticate": 'Basic realm="karaf"'})
                return
            mbean = unquote(self.path[len("/jolokia/read/") :])
            self._send(200, jolokia(mbean, sw), {})
        else:
            self._send(404, {"error": "Not Found"}, {})

    def log_message(self, *args: object) -> None:
        pass


def _shutdown_listener() -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    with open(os.path.join(HOME, "data", "port"), "w", encoding="ascii") as handle:
        handle.write(f"{listener.getsockname()[1]}\n")
    while True:
        conn, _ = listener.accept()
        with conn:
            said = conn.recv(64).decode("ascii", "replace").strip()
        if said == "SHUTDOWN" and not switches().get("hang_on_stop"):
            print("shutdown requested", flush=True)
            os._exit(0)


def _on_term(signum: int, frame: object) -> None:
    if switches().get("hang_on_stop"):
        print("SIGTERM ignored (hang_on_stop)", flush=True)
        return
    os._exit(143)


def main() -> None:
    os.makedirs(os.path.join(HOME, "instances"), exist_ok=True)
    os.makedirs(os.path.join(HOME, "data"), exist_ok=True)
    properties = (
        "count=1\n"
        "item.0.name=root\n"
        f"item.0.loc={HOME}\n"
        f"item.0.pid={os.getpid()}\n"
        "item.0.root=true\n"
    )
    with open(os.path.join(HOME, "instances", "instance.properties"), "w") as handle:
        handle.write(properties)
    seen = {
        key: os.environ.get(key)
        for key in ("JAVA_HOME", "JAVA_OPTS", "EXTRA_JAVA_OPTS")
    }
    seen.update(uid=os.getuid(), argv=sys.argv)
    with open(os.path.join(HOME, "data", "standin-env.json"), "w") as handle:
        json.dump(seen, handle)
    signal.signal(signal.SIGTERM, _on_term)
    server = ThreadingHTTPServer(_web_config(), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    threading.Thread(target=_shutdown_listener, daemon=True).start()
    print(f"Karaf stand-in of {HOME} runs as pid {os.getpid()}", flush=True)
    while True:
        die_after = switches().get("die_after")
        if die_after is not None and time.monotonic() - STARTED >= float(die_after):  # type: ignore[arg-type]
            print("dying as asked (die_after)", flush=True)
            os._exit(1)
        time.sleep(0.2)


if __name__ == "__main__":
    main()
