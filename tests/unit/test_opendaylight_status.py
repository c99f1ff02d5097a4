"""The OpenDaylight agent's pure rules: Karaf's files and ODL's answers."""

from __future__ import annotations

import json

import pytest

from ocf_agents.opendaylight import status

HOME = "/opt/opendaylight"
KARAF = (
    "/usr/lib/jvm/java-17/bin/java",
    "-Xmx2g",
    f"-Dkaraf.home={HOME}",
    f"-Dkaraf.base={HOME}",
    "-classpath",
    f"{HOME}/lib/boot/*",
    "org.apache.karaf.main.Main",
)


def summary(states: dict[str, str], operational: bool | None = None) -> bytes:
    ok = all(s == "OPERATIONAL" for s in states.values())
    return json.dumps(
        {
            "timeStamp": "2026-12-04T10:00:00Z",
            "isOperational": ok if operational is None else operational,
            "systemReadyState": "ACTIVE" if ok else "BOOTING",
            "systemReadyStateErrorCause": "",
            "statusSummary": [
                {"moduleServiceName": n, "serviceState": s, "statusDesc": s}
                for n, s in states.items()
            ],
        },
        indent=2,
    ).encode()


def test_item_0_pid_is_read_from_instance_properties():
    text = "#Karaf\ncount=1\nitem.0.name=root\nitem.0.pid = 4242\nitem.0.root=true\n"
    assert status.karaf_pid(text) == 4242
    assert status.karaf_pid("count=1\n") is None
    assert status.karaf_pid("item.0.pid=-1\n") is None
    assert status.karaf_pid("item.0.pid=abc\n") is None


@pytest.mark.parametrize(
    ("argv", "homes", "expected"),
    [
        (KARAF, (HOME,), True),
        (KARAF, ("/opt/other",), False),
        (KARAF, ("/opt/other", HOME), True),
        (tuple(a for a in KARAF if "Main" not in a), (HOME,), False),
        (("sleep", "60"), (HOME,), False),
        (KARAF, (HOME + "/",), True),
    ],
)
def test_the_karaf_jvm_is_told_by_main_class_and_home(argv, homes, expected):
    assert status.is_karaf_of(argv, homes) is expected


def test_all_operational_is_healthy():
    body = summary({"DATASTORE": "OPERATIONAL", "OPENFLOW": "OPERATIONAL"})
    assert status.diagstatus_problem(200, body) == ""


def test_compact_json_is_read_too():
    body = json.dumps(json.loads(summary({"IFM": "OPERATIONAL"}))).encode()
    assert status.diagstatus_problem(200, body) == ""


def test_a_503_names_the_services_that_are_not_operational():
    body = summary({"DATASTORE": "ERROR", "IFM": "STARTING", "ITM": "OPERATIONAL"})
    problem = status.diagstatus_problem(503, body)
    assert problem == (
        "HTTP 503; system BOOTING; not OPERATIONAL: DATASTORE ERROR, IFM STARTING"
    )


def test_a_200_that_says_not_operational_is_not_trusted():
    body = summary({"IFM": "OPERATIONAL"}, operational=False)
    assert "isOperational is false" in status.diagstatus_problem(200, body)


def test_the_issue_s_field_names_are_understood_as_well():
    body = json.dumps(
        {"statusSummary": [{"serviceName": "X", "effectiveStatus": "ERROR"}]}
    ).encode()
    assert "X ERROR" in status.diagstatus_problem(503, body)


def test_a_body_that_is_no_json_says_so():
    assert "not JSON" in status.diagstatus_problem(200, b"<html>")
    assert status.diagstatus_problem(502, b"<html>").startswith("HTTP 502")


def envelope(value: object, code: int = 200) -> bytes:
    return json.dumps(
        {"request": {"mbean": "m", "type": "read"}, "value": value, "status": code}
    ).encode()


def test_sync_status_and_member_of_a_shard_manager():
    value = status.jolokia_value(
        200,
        envelope({"SyncStatus": False, "MemberName": "member-2", "LocalShards": []}),
        "m",
    )
    assert status.sync_status(value) == (False, "member-2")


def test_jolokia_errors_are_typed():
    with pytest.raises(status.AnswerError, match="HTTP 401"):
        status.jolokia_value(401, b"", "m")
    missing = json.dumps(
        {
            "status": 404,
            "error_type": "javax.management.InstanceNotFoundException",
            "error": "javax.management.InstanceNotFoundException : m",
        }
    ).encode()
    with pytest.raises(status.AnswerError, match="404 for m: InstanceNotFound"):
        status.jolokia_value(200, missing, "m")
    with pytest.raises(status.AnswerError, match="no boolean SyncStatus"):
        status.sync_status({"SyncStatus": "true"})


def test_raft_state_of_a_shard():
    assert status.raft_state({"RaftState": "Follower"}) == "Follower"
    with pytest.raises(status.AnswerError):
        status.raft_state({})


def test_mbean_names_are_odl_s():
    assert status.shard_manager_mbean("operational") == (
        "org.opendaylight.controller:Category=ShardManager,"
        "name=shard-manager-operational,type=DistributedOperationalDatastore"
    )
    assert status.shard_mbean("member-1", "default", "config") == (
        "org.opendaylight.controller:Category=Shards,"
        "name=member-1-shard-default-config,type=DistributedConfigDatastore"
    )


def test_basic_authorization_never_echoes_the_secret():
    assert status.basic_authorization("admin:admin\n", "/f") == "Basic YWRtaW46YWRtaW4="
    with pytest.raises(status.AnswerError) as caught:
        status.basic_authorization("just-a-password\n", "/f")
    assert "just-a-password" not in str(caught.value)
