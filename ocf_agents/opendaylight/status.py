"""Pure rules: what Karaf's files and OpenDaylight's answers say.

No I/O here: the handlers read files and HTTP bodies and hand them over, so
unit tests cover every shape.  The shapes are OpenDaylight's own:

- ``/diagstatus``: infrautils' ``ServiceStatusSummary`` serialised by Gson
  (``isOperational``, ``systemReadyState``, ``statusSummary``: one
  ``ServiceDescriptor`` per service with ``moduleServiceName`` and
  ``serviceState``); 200 when operational, 503 otherwise.
- Jolokia ``read`` of an MBean: ``{"request": ..., "value": {...},
  "status": 200}``; a Jolokia error still comes with HTTP 200 and its own
  ``status`` and ``error`` in the body.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing costs ~5 ms of start-up; see STYLE.md section 9
if TYPE_CHECKING:
    from collections.abc import Sequence

#: Karaf's main class: the JVM of a Karaf home carries it on its command line.
KARAF_MAIN = "org.apache.karaf.main.Main"
#: ServiceState of a service that serves.
OPERATIONAL = "OPERATIONAL"
#: Datastore names as the ShardManager MBeans spell them.
DATASTORES = (
    ("config", "DistributedConfigDatastore"),
    ("operational", "DistributedOperationalDatastore"),
)
#: The shard whose role the level 10 monitor publishes.
ROLE_SHARD = "default"


class AnswerError(ValueError):
    """An answer that is not what OpenDaylight sends."""


def karaf_pid(properties: str) -> int | None:
    """``item.0.pid`` of ``instances/instance.properties``; None if absent."""
    for raw in properties.splitlines():
        line = raw.strip()
        if line.startswith(("#", "!")):
            continue
        key, sep, value = line.partition("=")
        if not sep:
            key, sep, value = line.partition(":")
        if sep and key.strip() == "item.0.pid":
            text = value.strip()
            return int(text) if text.isdigit() and int(text) > 0 else None
    return None


def is_karaf_of(argv: Sequence[str], homes: Sequence[str]) -> bool:
    """Tell whether ``argv`` is the Karaf JVM of one of ``homes``.

    ``homes`` are spellings of one directory (as given, resolved): Karaf's
    scripts pass the home they computed, which may be either.
    """
    if KARAF_MAIN not in argv:
        return False
    wanted = {f"-Dkaraf.home={home.rstrip('/') or '/'}" for home in homes}
    return any(arg in wanted for arg in argv)


def shard_manager_mbean(datastore: str) -> str:
    """The ShardManager MBean of ``datastore`` (``config`` or ``operational``)."""
    kind = dict(DATASTORES)[datastore]
    return (
        "org.opendaylight.controller:Category=ShardManager,"
        f"name=shard-manager-{datastore},type={kind}"
    )


def shard_mbean(member: str, shard: str, datastore: str) -> str:
    """The MBean of ``member``'s replica of ``shard`` in ``datastore``."""
    kind = dict(DATASTORES)[datastore]
    return (
        "org.opendaylight.controller:Category=Shards,"
        f"name={member}-shard-{shard}-{datastore},type={kind}"
    )


def _json(body: bytes, what: str) -> object:
    import json  # noqa: PLC0415 - only a healthy answer is parsed

    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise AnswerError(f"{what} is not JSON") from None


def _value_after(body: bytes, key: bytes, start: int) -> bytes:
    """The bytes after ``"key":`` (whitespace skipped), from index ``start``."""
    rest = body[start + len(key) :].lstrip()
    return rest[1:].lstrip() if rest.startswith(b":") else b""


def _all_operational(body: bytes) -> bool:
    """Tell, without a JSON parser, that ``body`` says operational throughout.

    ``isOperational`` is true and every ``serviceState`` is OPERATIONAL.  A
    healthy monitor runs every few seconds: ``json`` imports ``re``, which
    this scan does without.  Anything unexpected answers False, and the
    caller parses the body properly to say what is wrong.
    """
    key = b'"isOperational"'
    at = body.find(key)
    if at < 0 or not _value_after(body, key, at).startswith(b"true"):
        return False
    key = b'"serviceState"'
    at = body.find(key)
    if at < 0:
        return False
    while at >= 0:
        if not _value_after(body, key, at).startswith(b'"OPERATIONAL"'):
            return False
        at = body.find(key, at + len(key))
    return True


def diagstatus_problem(status: int, body: bytes) -> str:
    """Judge ``GET /diagstatus``: "" when every service is OPERATIONAL.

    Otherwise the services that are not, with their state, on one line.
    """
    if status == 200 and _all_operational(body):  # noqa: PLR2004
        return ""
    try:
        summary = _json(body, "the /diagstatus answer")
    except AnswerError as exc:
        return f"HTTP {status}, {exc}" if status != 200 else str(exc)  # noqa: PLR2004
    if not isinstance(summary, dict):
        return f"HTTP {status}: /diagstatus answered no object"
    services = summary.get("statusSummary") or []
    bad = []
    for entry in services if isinstance(services, list) else []:
        if not isinstance(entry, dict):
            continue
        name = entry.get("moduleServiceName") or entry.get("serviceName") or "?"
        state = entry.get("serviceState") or entry.get("effectiveStatus") or "?"
        if state != OPERATIONAL:
            bad.append(f"{name} {state}")
    ready = summary.get("systemReadyState")
    if status == 200 and not bad and summary.get("isOperational", True):  # noqa: PLR2004
        return ""
    parts = [f"HTTP {status}"]
    if ready and ready != "ACTIVE":
        parts.append(f"system {ready}")
    if bad:
        parts.append("not OPERATIONAL: " + ", ".join(sorted(bad)))
    elif status == 200:  # noqa: PLR2004
        parts.append("isOperational is false")
    return "; ".join(parts)


def jolokia_value(status: int, body: bytes, mbean: str) -> dict[str, object]:
    """The ``value`` of a Jolokia read of ``mbean``.

    Raises:
        AnswerError: an HTTP error (401: credentials refused), a Jolokia
            error (the MBean does not exist yet), or not Jolokia's shape.
    """
    if status == 401:  # noqa: PLR2004
        raise AnswerError("Jolokia refused the credentials (HTTP 401)")
    if status != 200:  # noqa: PLR2004
        raise AnswerError(f"Jolokia answered HTTP {status}")
    answer = _json(body, "the Jolokia answer")
    if not isinstance(answer, dict):
        raise AnswerError("the Jolokia answer is no object")
    inner = answer.get("status")
    if inner != 200:  # noqa: PLR2004
        error = str(answer.get("error_type") or answer.get("error") or "")
        short = error.rsplit(".", 1)[-1][:80]
        raise AnswerError(f"Jolokia status {inner} for {mbean}: {short}")
    value = answer.get("value")
    if not isinstance(value, dict):
        raise AnswerError(f"Jolokia read of {mbean} has no value object")
    return value


def sync_status(value: dict[str, object]) -> tuple[bool, str]:
    """``SyncStatus`` and ``MemberName`` of a ShardManager value.

    Raises:
        AnswerError: the value carries no boolean SyncStatus.
    """
    synced = value.get("SyncStatus")
    if not isinstance(synced, bool):
        raise AnswerError("the ShardManager value has no boolean SyncStatus")
    return synced, str(value.get("MemberName") or "")


def raft_state(value: dict[str, object]) -> str:
    """``RaftState`` of a shard value (Leader, Follower, Candidate...)."""
    state = value.get("RaftState")
    if not isinstance(state, str) or not state:
        raise AnswerError("the shard value has no RaftState")
    return state


def basic_authorization(text: str, path: str) -> str:
    """``Basic <base64>`` from a credentials file's text (user:password).

    Raises:
        AnswerError: no ``user:password`` line (the message names the file,
            never its content).
    """
    line = text.strip().splitlines()[0].strip() if text.strip() else ""
    user, sep, _ = line.partition(":")
    if not sep or not user:
        raise AnswerError(f"credentials {path} holds no user:password line")
    import binascii  # noqa: PLC0415 - base64 would import re

    encoded = binascii.b2a_base64(line.encode("utf-8"), newline=False)
    return "Basic " + encoded.decode("ascii")
