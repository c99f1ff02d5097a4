"""The Redfish adapter over a fake DMTF client: which requests it sends.

The adapter imports the Redfish library only when it connects, so these tests
hand it a scripted client instead.
"""

from __future__ import annotations

import json
import socket
import ssl

import pytest

from fence_agents._runtime.driver import PowerState, PowerTarget
from fence_agents._runtime.errors import (
    ActionTimeoutError,
    AuthenticationError,
    DeviceError,
    DeviceUnreachableError,
)
from fence_agents._runtime.parse import Options
from fence_agents.redfish import device
from fence_agents.redfish.device import RedfishSession, _basic_authorization
from ha_common.deadline import Deadline

# -- Redfish: the DMTF client's get/post ---------------------------------------

SYSTEM = "/redfish/v1/Systems/1"
TARGET = SYSTEM + "/Actions/ComputerSystem.Reset"


class FakeResponse:
    """The parts of the library's RestResponse the adapter reads."""

    def __init__(self, status, body=None, location=None, text=None, ctype=None):
        self.status = status
        self.text = json.dumps(body) if text is None and body else (text or "")
        self.headers = {
            "Location": location,
            "Content-Type": ctype or ("application/json" if body else None),
        }

    def getheader(self, name):
        return self.headers.get(name)

    @property
    def dict(self):
        raise AssertionError("the library's dict logs a non-JSON body whole")


class FakeRedfishClient:
    """A BMC with one System; ``status`` overrides every answer's status."""

    def __init__(self, status=None):
        self.power = "On"
        self.status = status
        self.calls = []
        #: Answers to the reset POST and then to the task monitor, in order.
        self.task = []

    def get(self, path, timeout=None, max_retry=None):
        self.calls.append(("GET", path))
        if "TaskMonitors" in path:
            return self.task.pop(0)
        body = {
            "PowerState": self.power,
            "Actions": {
                "#ComputerSystem.Reset": {
                    "target": TARGET,
                    "ResetType@Redfish.AllowableValues": ["On", "ForceOff"],
                }
            },
        }
        return FakeResponse(self.status or 200, body)

    def post(self, path, body=None, timeout=None, max_retry=None):
        self.calls.append(("POST", path, body["ResetType"]))
        self.power = "Off" if body["ResetType"] == "ForceOff" else "On"
        if self.task:
            return self.task.pop(0)
        return FakeResponse(self.status or 204)

    def logout(self):
        self.calls.append(("logout",))


def test_redfish_one_get_of_the_system_serves_state_and_reset_action():
    client = FakeRedfishClient()
    device = RedfishSession(client, SYSTEM, 5)
    device.request(PowerTarget.OFF, Deadline(5))
    assert device.power_state(Deadline(5)) is PowerState.OFF
    device.request(PowerTarget.ON, Deadline(5))
    assert device.power_state(Deadline(5)) is PowerState.ON
    assert client.calls == [
        ("GET", SYSTEM),
        ("POST", TARGET, "ForceOff"),
        ("GET", SYSTEM),
        ("POST", TARGET, "On"),
        ("GET", SYSTEM),
    ]


@pytest.mark.parametrize(
    ("reported", "state"),
    [
        ("On", PowerState.ON),
        ("Off", PowerState.OFF),
        ("PoweringOn", PowerState.POWERING_ON),
        ("PoweringOff", PowerState.POWERING_OFF),
    ],
)
def test_redfish_power_states_keep_the_transitions(reported, state):
    client = FakeRedfishClient()
    client.power = reported
    assert RedfishSession(client, SYSTEM, 5).power_state(Deadline(5)) is state


@pytest.mark.parametrize("reported", [None, "Paused", "off", 0])
def test_redfish_unknown_power_state_is_a_device_error(reported):
    client = FakeRedfishClient()
    client.power = reported
    with pytest.raises(DeviceError):
        RedfishSession(client, SYSTEM, 5).power_state(Deadline(5))


def test_redfish_401_on_get_is_an_authentication_error():
    device = RedfishSession(FakeRedfishClient(status=401), SYSTEM, 5)
    with pytest.raises(AuthenticationError):
        device.power_state(Deadline(5))


def test_redfish_401_on_the_reset_is_an_authentication_error():
    client = FakeRedfishClient()
    device = RedfishSession(client, SYSTEM, 5)
    device.power_state(Deadline(5))
    client.status = 401
    with pytest.raises(AuthenticationError):
        device.request(PowerTarget.OFF, Deadline(5))


def test_redfish_basic_authorization_is_what_the_library_sends():
    opts = Options({"username": "admin"}, {})
    # base64 of "admin:pässword" in UTF-8, as redfish.rest.v1 login(auth="basic")
    assert _basic_authorization(opts, "pässword") == "Basic YWRtaW46cMOkc3N3b3Jk"


MONITOR = "/redfish/v1/TaskService/TaskMonitors/7"


def test_redfish_task_monitor_is_followed_until_the_task_completed(monkeypatch):
    monkeypatch.setattr(device, "TASK_POLL", 0)
    client = FakeRedfishClient()
    client.task = [
        # DSP0266 allows an absolute URI in Location.
        FakeResponse(202, location="https://bmc.example:443" + MONITOR),
        FakeResponse(202, {"TaskState": "Running"}),
        FakeResponse(200, {"TaskState": "Running"}),  # some BMCs, while running
        FakeResponse(200, {"TaskState": "Completed", "TaskStatus": "OK"}),
    ]
    RedfishSession(client, SYSTEM, 5).request(PowerTarget.OFF, Deadline(5))
    assert client.calls[2:] == [("GET", MONITOR)] * 3
    assert client.task == []


@pytest.mark.parametrize(
    "end",
    [
        FakeResponse(200, {"TaskState": "Exception", "Messages": [{"Message": "x"}]}),
        FakeResponse(200, {"TaskState": "Killed"}),
        FakeResponse(500, {"error": {"message": "reset failed"}}),
        FakeResponse(404),
    ],
)
def test_redfish_task_that_ends_otherwise_is_a_device_error(monkeypatch, end):
    monkeypatch.setattr(device, "TASK_POLL", 0)
    client = FakeRedfishClient()
    client.task = [FakeResponse(202, location=MONITOR), FakeResponse(202), end]
    with pytest.raises(DeviceError):
        RedfishSession(client, SYSTEM, 5).request(PowerTarget.OFF, Deadline(5))


# -- errors: host:port and the cause, in one line -------------------------------

WHERE = "10.0.0.9:443"


class RetriesExhaustedError(Exception):
    """Named like the library's: it wraps what requests raised."""


class InvalidCredentialsError(Exception):
    pass


class SessionCreationError(Exception):
    pass


def wrapped(cause):
    """The library's exception over requests' over urllib3's over ``cause``."""

    class MaxRetryError(Exception):
        def __init__(self, reason):
            super().__init__("HTTPSConnectionPool(...): Max retries exceeded")
            self.reason = reason

    try:
        try:
            raise MaxRetryError(cause)
        except MaxRetryError as urllib3_error:
            raise OSError("requests ConnectionError") from urllib3_error
    except OSError as requests_error:
        try:
            raise RetriesExhaustedError() from requests_error
        except RetriesExhaustedError as exc:
            return exc


def verify_error():
    error = ssl.SSLCertVerificationError(1, "[SSL: CERTIFICATE_VERIFY_FAILED] ...")
    error.verify_message = "self-signed certificate"
    return error


@pytest.mark.parametrize(
    ("cause", "kind", "text"),
    [
        (
            ConnectionRefusedError(111, "Connection refused"),
            DeviceUnreachableError,
            f"GET /x: cannot reach the BMC at {WHERE}: connection refused",
        ),
        (
            socket.gaierror(-2, "Name or service not known"),
            DeviceUnreachableError,
            f"GET /x: cannot resolve the BMC's name in {WHERE} "
            "(Name or service not known)",
        ),
        (
            verify_error(),
            DeviceUnreachableError,
            f"GET /x: TLS verification failed for {WHERE}: self-signed certificate",
        ),
        (
            TimeoutError("The handshake operation timed out"),
            ActionTimeoutError,
            f"GET /x: no answer from the BMC at {WHERE} within 3 s",
        ),
        (
            OSError(113, "No route to host"),
            DeviceUnreachableError,
            f"GET /x: cannot reach the BMC at {WHERE}: No route to host",
        ),
    ],
)
def test_redfish_errors_name_host_port_and_the_cause(cause, kind, text):
    error = device._translate("GET /x", wrapped(cause), WHERE, 3)
    assert type(error) is kind
    assert str(error) == text


def test_redfish_library_messages_are_not_quoted():
    page = "Service responded with invalid JSON\n<html>secret page</html>"
    error = device._translate("GET /x", ValueError(page), WHERE, 3)
    assert str(error) == f"GET /x: {WHERE}: ValueError"
    error = device._translate(
        "login", SessionCreationError("HTTP 400: Failed\n<html>"), WHERE, 3
    )
    assert str(error) == f"login: {WHERE}: HTTP 400: Failed"
    error = device._translate("login", InvalidCredentialsError("HTTP 401"), WHERE, 3)
    assert isinstance(error, AuthenticationError)


class FlakyClient(FakeRedfishClient):
    """Raises the scripted exceptions first, then answers."""

    def __init__(self, failures):
        super().__init__()
        self.failures = list(failures)

    def get(self, path, timeout=None, max_retry=None):
        assert max_retry == 0, "the library must never sleep and retry"
        if self.failures:
            self.calls.append(("GET!", path))
            raise wrapped(self.failures.pop(0))
        return super().get(path, timeout, max_retry)

    def post(self, path, body=None, timeout=None, max_retry=None):
        assert max_retry == 0
        if self.failures:
            self.calls.append(("POST!", path))
            raise wrapped(self.failures.pop(0))
        return super().post(path, body, timeout, max_retry)


def test_redfish_a_dropped_get_is_sent_once_more():
    client = FlakyClient([ConnectionResetError(104, "reset")])
    session = RedfishSession(client, SYSTEM, 5)
    assert session.power_state(Deadline(5)) is PowerState.ON
    assert client.calls == [("GET!", SYSTEM), ("GET", SYSTEM)]


@pytest.mark.parametrize(
    "cause", [ConnectionRefusedError(111, "refused"), TimeoutError("timed out")]
)
def test_redfish_refused_or_timed_out_get_is_not_retried(cause):
    client = FlakyClient([cause, cause])
    with pytest.raises((DeviceUnreachableError, ActionTimeoutError)):
        RedfishSession(client, SYSTEM, 5, where=WHERE).power_state(Deadline(5))
    assert client.calls == [("GET!", SYSTEM)]


def test_redfish_a_reset_is_never_sent_twice():
    client = FlakyClient([])
    session = RedfishSession(client, SYSTEM, 5, where=WHERE)
    session.power_state(Deadline(5))  # learns the Reset action
    client.failures = [ConnectionResetError(104, "reset")]
    with pytest.raises(DeviceUnreachableError, match=WHERE):
        session.request(PowerTarget.OFF, Deadline(5))
    assert [c for c in client.calls if c[0].startswith("POST")] == [("POST!", TARGET)]


# -- the service root: is this a Redfish service at all? ------------------------

ROOT_PATH = "/redfish/v1/"
HTML = "<html><body><h1>Welcome</h1>" + "x" * 5000 + "</body></html>"


class RootClient(FakeRedfishClient):
    def __init__(self, root):
        super().__init__()
        self.root_answer = root

    def get(self, path, timeout=None, max_retry=None):
        if path == ROOT_PATH:
            self.calls.append(("GET", path))
            return self.root_answer
        return super().get(path, timeout, max_retry)


@pytest.mark.parametrize(
    ("answer", "shown"),
    [
        (
            FakeResponse(200, text=HTML, ctype="text/html; charset=utf-8"),
            "200 (text/html)",
        ),
        (FakeResponse(404, text=HTML, ctype="text/html"), "404 (text/html)"),
        (FakeResponse(200), "200 (no Content-Type)"),
        (FakeResponse(302, text="", ctype="text/plain"), "302 (text/plain)"),
        (
            FakeResponse(200, text="[1, 2]", ctype="application/json"),
            "200 (application/json)",
        ),
    ],
)
def test_redfish_a_server_that_is_not_redfish_is_named_so(answer, shown):
    session = RedfishSession(RootClient(answer), "", 5, where=WHERE)
    with pytest.raises(DeviceError) as info:
        device._service_root(session, ROOT_PATH, Deadline(5))
    message = str(info.value)
    assert message == (
        f"{WHERE} is not a Redfish service: GET {ROOT_PATH} answered HTTP {shown}"
    )


def test_redfish_service_root_answers():
    root = {"RedfishVersion": "1.6.0", "SessionService": {"@odata.id": "/s"}}
    session = RedfishSession(RootClient(FakeResponse(200, root)), "", 5)
    assert device._service_root(session, ROOT_PATH, Deadline(5))[1] == root
    # A protected root (the library's workaround too): basic auth follows.
    session = RedfishSession(RootClient(FakeResponse(401)), "", 5)
    assert device._service_root(session, ROOT_PATH, Deadline(5))[1] == {}
    busy = FakeResponse(503, {"error": {"message": "Service busy"}})
    session = RedfishSession(RootClient(busy), "", 5)
    with pytest.raises(DeviceError, match=r"HTTP 503 \(Service busy\)"):
        device._service_root(session, ROOT_PATH, Deadline(5))


# -- open_session: how the library is built and logged in ----------------------


class FakeLibrary:
    """Stands in for the ``redfish`` module: records how the client is built."""

    def __init__(self, client):
        self.client = client
        self.kwargs = None

    def redfish_client(self, **kwargs):
        self.kwargs = kwargs
        return self.client


class SessionClient(RootClient):
    def __init__(self, root):
        super().__init__(root)
        self._session = type(
            "RequestsSession", (), {"trust_env": True, "request": None}
        )()
        self.login_url = "/redfish/v1/SessionService/Sessions"
        self.authorization = None

    def set_authorization_key(self, key):
        self.authorization = key

    def login(self, auth):
        self.calls.append(("login", auth, self.login_url, self.root_resp.status))

    def get_session_key(self):
        return "tok-123456"


def opened(monkeypatch, client, *extra):
    import sys

    from fence_agents._runtime import parse
    from fence_agents.redfish import RedfishFence

    library = FakeLibrary(client)
    monkeypatch.setitem(sys.modules, "redfish", library)
    argv = ["-a", "bmc1", "-u", "8443", "-l", "admin", "-p", "pw", "-o", "status"]
    opts = parse.resolve(RedfishFence().options, [*argv, *extra], None)
    session = device.open_session(opts, "pw", Deadline(5))
    return library, session, opts


def test_redfish_client_is_built_without_retries_or_its_own_root_get(monkeypatch):
    client = SessionClient(FakeResponse(200, {"RedfishVersion": "1.0.0"}))
    library, session, _ = opened(
        monkeypatch, client, "--systems-uri", SYSTEM, "--ssl-insecure"
    )
    # 1, never retried: each request asks for max_retry=0, and failures pass
    # the library's loop (_pass_failures_through); 3.3.x needs 1 here.
    assert library.kwargs["max_retry"] == 1
    assert library.kwargs["check_connectivity"] is False
    assert library.kwargs["base_url"] == "https://bmc1:8443"
    assert library.kwargs["cafile"] is None
    assert client._session.trust_env is False
    assert session.where == "bmc1:8443"
    assert client.authorization.startswith("Basic ")
    assert client.calls == [("GET", ROOT_PATH)]


def test_redfish_session_login_uses_the_roots_sessions_link(monkeypatch):
    root = {
        "SessionService": {"@odata.id": "/redfish/v1/SessionService"},
        "Links": {"Sessions": {"@odata.id": "/redfish/v1/Sessions"}},
    }
    client = SessionClient(FakeResponse(200, root))
    _, _, opts = opened(monkeypatch, client, "--systems-uri", SYSTEM)
    assert client.calls == [
        ("GET", ROOT_PATH),
        ("login", "session", "/redfish/v1/Sessions", 200),
    ]
    assert "tok-123456" in opts.secrets


def test_a_failed_exchange_passes_the_librarys_retry_loop_with_its_cause():
    """3.3.x's loop would sleep 1 s, then return None and drop the cause."""
    from fence_agents.redfish import device

    class Session:
        def request(self, *args, **kwargs):
            raise ConnectionRefusedError(111, "Connection refused")

    session = Session()
    device._pass_failures_through(session)
    attempts = 0
    with pytest.raises(device._TransportError) as info:
        try:
            attempts += 1
            session.request("GET", "https://bmc/redfish/v1/")
        except Exception:  # what the library's loop catches
            pytest.fail("the failure was caught as an Exception")
    assert attempts == 1
    assert isinstance(info.value.cause, ConnectionRefusedError)
