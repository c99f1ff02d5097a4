"""The adapter over the DMTF python-redfish-library.

The library is given an explicit timeout, no retries of its own (it would
sleep 1 s before each, also after a refused connection) and an explicit TLS
setting (its default is *no* verification); every HTTP status is checked, and
no library exception crosses this module.  A failure names the BMC's
``host:port`` and the cause found under the library's, requests' and
urllib3's wrappers: connection refused, a name that does not resolve, the TLS
verification message, a timeout.

Requests per run, as few as the checks allow: the service root (it tells
whether this is a Redfish service at all, and whether the BMC has a
SessionService, so session login, else basic auth), then the System and the
reset.  Basic credentials are checked by the first request that needs them
(a 401 is an authentication failure) rather than by an extra GET; one GET of
the System serves both its PowerState and its reset action.  A session is
logged out at the end of every run that created it, failed or not.  A reset
answered 202 with a task monitor (DSP0266 asynchronous operations) returns
only once the task has ended well.
"""

from __future__ import annotations

import time

from fence_agents._runtime.driver import PowerState, PowerTarget
from fence_agents._runtime.errors import (
    ActionTimeoutError,
    AuthenticationError,
    DeviceError,
    DeviceUnreachableError,
    FenceUsageError,
)
from ha_common import lazylog
from ha_common.deadline import Deadline

TYPE_CHECKING = False  # typing costs start-up time; see STYLE.md section 9
if TYPE_CHECKING:
    from typing import Any

    from fence_agents._runtime.parse import Options

log = lazylog.get(__name__)

SYSTEM_CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
RESET = "#ComputerSystem.Reset"
#: Preferred ResetType values per request, first advertised one wins.
RESET_TYPES = {
    PowerTarget.OFF: ("ForceOff",),
    PowerTarget.ON: ("On", "ForceOn"),
    PowerTarget.CYCLE: ("PowerCycle", "ForceRestart"),
}
#: Redfish PowerState -> what the driver reads.  The transitions stay
#: transitions: only "Off" confirms an off, only "On" an on (the driver's
#: observation of a cycle gives PoweringOn its own meaning).
POWER_STATES = {
    "On": PowerState.ON,
    "Off": PowerState.OFF,
    "PoweringOn": PowerState.POWERING_ON,
    "PoweringOff": PowerState.POWERING_OFF,
}
TASK_POLL = 0.5
#: A request is not started with less time than this left.
MIN_TIMEOUT = 0.05
#: TaskState values of a task still under way; Completed is the good end,
#: anything else (Exception, Killed, Cancelled) a failure.
TASK_UNDER_WAY = (
    "New",
    "Starting",
    "Running",
    "Pending",
    "Stopping",
    "Suspended",
    "Interrupted",
    "Service",
    "Cancelling",
)


def _root_cause(exc: BaseException) -> BaseException:
    """The innermost exception under the library's, requests' and urllib3's.

    The library raises ``RetriesExhaustedError`` from requests' error, which
    wraps urllib3's, whose ``reason`` holds the socket or TLS error.
    """
    seen = {id(exc)}
    current = exc
    while True:
        reason = getattr(current, "reason", None)
        following = (
            current.__cause__
            or (reason if isinstance(reason, BaseException) else None)
            or current.__context__
        )
        if following is None or id(following) in seen:
            return current
        seen.add(id(following))
        current = following


class _TransportError(BaseException):
    """A failed HTTP exchange, carried straight through the library.

    The DMTF library wraps each request in ``except Exception``, then sleeps
    1 s and retries; 3.3.x (Debian 12's) then returns None and drops the
    cause.  Raised as a ``BaseException`` by :func:`_pass_failures_through`,
    the failure reaches this adapter at once and with its cause, whatever the
    library's version.
    """

    def __init__(self, cause: Exception) -> None:
        """Keep ``cause``, the exception requests raised."""
        super().__init__(cause)
        self.cause = cause


def _pass_failures_through(session: Any) -> None:
    """Make the requests ``session`` raise :class:`_TransportError` on failure."""
    original = session.request

    def request(*args: Any, **kwargs: Any) -> Any:
        try:
            return original(*args, **kwargs)
        except Exception as exc:
            raise _TransportError(exc) from exc

    session.request = request


def _unwrap(exc: BaseException) -> BaseException:
    """The exception to translate: a transport failure's cause, or ``exc``."""
    return exc.cause if isinstance(exc, _TransportError) else exc


def _dropped(exc: BaseException) -> bool:
    """Tell whether the connection broke after it was made (worth one retry)."""
    return isinstance(
        _root_cause(exc),
        (ConnectionResetError, ConnectionAbortedError, BrokenPipeError),
    )


def _network_problem(
    cause: BaseException, what: str, where: str, timeout: float
) -> Exception | None:
    """The error for a socket or TLS failure found under the wrappers, or None."""
    import socket  # noqa: PLC0415 - requests has loaded both
    import ssl  # noqa: PLC0415

    problem: Exception | None = None
    if isinstance(cause, ssl.SSLCertVerificationError):
        reason = cause.verify_message or cause.reason or "certificate not trusted"
        problem = DeviceUnreachableError(
            f"{what}: TLS verification failed for {where}: {reason}"
        )
    elif isinstance(cause, ssl.SSLError):
        reason = cause.reason or type(cause).__name__
        problem = DeviceUnreachableError(
            f"{what}: TLS handshake with {where} failed ({reason})"
        )
    elif isinstance(cause, ConnectionRefusedError):
        problem = DeviceUnreachableError(
            f"{what}: cannot reach the BMC at {where}: connection refused"
        )
    elif isinstance(cause, socket.gaierror):
        problem = DeviceUnreachableError(
            f"{what}: cannot resolve the BMC's name in {where} ({cause.strerror})"
        )
    elif isinstance(cause, (TimeoutError, socket.timeout)):
        problem = ActionTimeoutError(
            f"{what}: no answer from the BMC at {where} within {timeout:g} s"
        )
    elif isinstance(cause, OSError):
        reason = cause.strerror or type(cause).__name__
        problem = DeviceUnreachableError(
            f"{what}: cannot reach the BMC at {where}: {reason}"
        )
    return problem


def _translate(what: str, exc: BaseException, where: str, timeout: float) -> Exception:
    """A one-line hakit error for a library exception, naming ``host:port``.

    The library's own messages are not used: they are empty (``Retries
    ExhaustedError``), several lines long, or quote an answer's body; only
    the first line of ``SessionCreationError`` ("HTTP 400: Failed to create
    the session") is kept.
    """
    name = type(exc).__name__
    if name == "InvalidCredentialsError":
        return AuthenticationError(f"{what}: {where} refused the credentials")
    if name == "SessionCreationError":
        first = (str(exc).splitlines() or [name])[0]
        return DeviceError(f"{what}: {where}: {first}")
    problem = _network_problem(_root_cause(exc), what, where, timeout)
    return problem or DeviceError(f"{what}: {where}: {name}")


class RedfishSession:
    """A logged-in client and the System it fences."""

    def __init__(
        self,
        client: Any,
        system: str,
        timeout: float,
        where: str = "the BMC",
    ) -> None:
        """Wrap a redfish client bound to ``system``.

        Args:
            client: the library's client, logged in.
            system: the System's URI.
            timeout: seconds for the logout request (every other request
                gets what is left of its deadline; a reset's task is followed
                within the reset's deadline).
            where: the BMC's ``host:port``, for messages.
        """
        self.client = client
        self.system = system
        self.timeout = timeout
        self.where = where
        #: The System's Actions, from the first GET of it in this run.
        self._actions: dict[str, Any] | None = None

    def send(
        self,
        method: str,
        path: str,
        deadline: Deadline,
        body: dict[str, str] | None = None,
    ) -> Any:
        """One request within ``deadline``; the library's response.

        A GET whose connection broke after it was made is sent once more if
        time remains; a POST never is (a reset must not be sent twice), and
        nothing is retried after a refusal, a TLS failure or a timeout.

        Raises:
            FenceError: the request failed (translated, one line).
        """
        what = f"{method} {path}"
        for attempt in (1, 2):
            # The library's timeout is what is left of the deadline (never
            # more), and its own retries are off: the driver reads back.
            timeout = round(deadline.remaining(), 2)
            if timeout < MIN_TIMEOUT:
                raise ActionTimeoutError(f"{what}: out of time")
            try:
                if method == "POST":
                    return self.client.post(
                        path, body=body, timeout=timeout, max_retry=0
                    )
                return self.client.get(path, timeout=timeout, max_retry=0)
            except (Exception, _TransportError) as exc:  # noqa: BLE001 - translated
                cause = _unwrap(exc)
                if method == "GET" and attempt == 1 and _dropped(cause):
                    log.debug("%s: the connection broke; once more", what)
                    continue
                raise _translate(what, cause, self.where, timeout) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _get(self, path: str, deadline: Deadline) -> dict[str, Any]:
        resp = self.send("GET", path, deadline)
        log.debug("GET %s: HTTP %s", path, resp.status)
        if resp.status == 401:
            raise AuthenticationError(
                f"GET {path}: {self.where} refused the credentials"
            )
        if resp.status != 200:
            raise DeviceError(f"GET {path}: HTTP {resp.status}{_message(resp)}")
        body = _body(resp)
        if body is None:
            raise DeviceError(
                f"GET {path}: the answer is not a JSON object ({_content_type(resp)})"
            )
        return body

    def _get_system(self, deadline: Deadline) -> dict[str, Any]:
        body = self._get(self.system, deadline)
        if self._actions is None:
            actions = body.get("Actions")
            self._actions = actions if isinstance(actions, dict) else {}
        return body

    def power_state(self, deadline: Deadline) -> PowerState:
        """Read the System's PowerState."""
        state = self._get_system(deadline).get("PowerState")
        if isinstance(state, str) and state in POWER_STATES:
            return POWER_STATES[state]
        raise DeviceError(f"{self.system}: unexpected PowerState {state!r}")

    def _reset_action(self, deadline: Deadline) -> tuple[str, tuple[str, ...]]:
        # The action's target and allowed values do not change within a run:
        # the System is read for them only if no earlier GET brought them.
        if self._actions is None:
            self._get_system(deadline)
        action = (self._actions or {}).get(RESET)
        if not action or "target" not in action:
            raise DeviceError(f"{self.system} offers no ComputerSystem.Reset action")
        allowed = tuple(action.get("ResetType@Redfish.AllowableValues", ()))
        return action["target"], allowed

    def _reset_type(self, target: PowerTarget, allowed: tuple[str, ...]) -> str:
        for candidate in RESET_TYPES[target]:
            if not allowed or candidate in allowed:
                return candidate
        raise DeviceError(
            f"the BMC allows none of {', '.join(RESET_TYPES[target])} "
            f"(it allows {', '.join(allowed) or 'nothing'})"
        )

    def request(self, target: PowerTarget, deadline: Deadline) -> None:
        """POST the reset; follow a task monitor if the BMC returns one."""
        uri, allowed = self._reset_action(deadline)
        reset = self._reset_type(target, allowed)
        resp = self.send("POST", uri, deadline, body={"ResetType": reset})
        log.debug("POST %s ResetType=%s: HTTP %s", uri, reset, resp.status)
        if resp.status == 401:
            raise AuthenticationError(
                f"POST {reset}: {self.where} refused the credentials"
            )
        if resp.status not in (200, 202, 204):
            raise DeviceError(f"POST {reset}: HTTP {resp.status}{_message(resp)}")
        monitor = resp.getheader("Location") if resp.status == 202 else None
        if monitor:
            self._follow(monitor, reset, deadline)

    def _follow(self, monitor: str, reset: str, deadline: Deadline) -> None:
        """Poll the task monitor until the task has ended.

        The monitor answers 202 while the task runs.  At the end it answers
        what the reset would have (DSP0266): 204, 200, or an HTTP error; many
        BMCs answer 200 with the Task, whose TaskState tells the outcome, and
        some answer 200 with the Task already while it runs.
        """
        monitor = _local(monitor)
        while not deadline.expired():
            resp = self.send("GET", monitor, deadline)
            body = _body(resp) or {}
            state = body.get("TaskState")
            log.debug("task of %s: HTTP %s, TaskState %s", reset, resp.status, state)
            if resp.status == 202 or (resp.status == 200 and state in TASK_UNDER_WAY):
                time.sleep(min(TASK_POLL, deadline.remaining()))
                continue
            if resp.status == 401:
                raise AuthenticationError(
                    f"task of {reset}: {self.where} refused the credentials"
                )
            if resp.status not in (200, 201, 204):
                raise DeviceError(
                    f"task of {reset} failed: HTTP {resp.status}{_message(resp)}"
                )
            if state in (None, "Completed"):
                return  # whatever TaskStatus says, the driver reads the state back
            raise DeviceError(f"task of {reset} ended as {state}{_task_message(body)}")
        raise ActionTimeoutError(f"task of {reset} did not finish in time")

    def close(self) -> None:
        """Log out (ends the session when session auth was used)."""
        try:
            self.client.logout()
        except (Exception, _TransportError) as exc:  # noqa: BLE001 - result stands
            # The session stays open until the BMC times it out, and BMCs
            # have few session slots.
            problem = _translate("logout", _unwrap(exc), self.where, self.timeout)
            log.warning("%s", problem)


def _body(resp: Any) -> dict[str, Any] | None:
    """The answer's JSON object: {} when there is no body, None when not JSON.

    Parsed here, not with the library's ``dict``, which logs a non-JSON
    answer whole at ERROR (an HTML page in Pacemaker's log).
    """
    import json  # noqa: PLC0415 - requests has loaded it

    try:
        text = resp.text
        if not text.strip():
            return {}
        body = json.loads(text)
    except (AttributeError, TypeError, ValueError):
        return None
    return body if isinstance(body, dict) else None


def _content_type(resp: Any) -> str:
    """The answer's Content-Type without parameters, for messages."""
    value = resp.getheader("Content-Type") or ""
    return value.split(";")[0].strip() or "no Content-Type"


def _message(resp: Any) -> str:
    try:
        error = (_body(resp) or {}).get("error", {})
        info = error.get("@Message.ExtendedInfo", [])
        text = (info[0].get("Message") if info else None) or error.get("message")
        return f" ({text})" if text else ""
    except (AttributeError, IndexError, TypeError, ValueError):
        return ""


def _task_message(task: dict[str, Any]) -> str:
    """The last message of a Task, as " (text)", or ''."""
    messages = task.get("Messages")
    if not isinstance(messages, list):
        return ""
    texts = [m.get("Message") for m in messages if isinstance(m, dict)]
    texts = [t for t in texts if isinstance(t, str) and t]
    return f" ({texts[-1]})" if texts else ""


def _local(uri: str) -> str:
    """The path (and query) of a URI: a Location header may be absolute."""
    if "://" not in uri:
        return uri
    from urllib.parse import urlsplit  # noqa: PLC0415 - requests has loaded it

    parts = urlsplit(uri)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _basic_authorization(opts: Options, password: str) -> str:
    import base64  # noqa: PLC0415 - requests has imported it already

    pair = f"{opts.text('username')}:{password}".encode()
    return "Basic " + base64.b64encode(pair).decode()


def _listed(uris: list[str], limit: int = 8) -> str:
    shown = ", ".join(uris[:limit])
    return shown + (f" and {len(uris) - limit} more" if len(uris) > limit else "")


def _choose_system(session: RedfishSession, opts: Options, deadline: Deadline) -> str:
    """The System to fence: systems_uri, else the one ``plug`` names, else the only one.

    Never a guess: several Systems and no selection, or a plug that names
    more than one System (by Id, Name, UUID or URI), is a usage error that
    lists the candidates.
    """
    if opts.text("systems_uri"):
        return opts.text("systems_uri")
    root = opts.text("redfish_uri").rstrip("/")
    members = session._get(f"{root}/Systems", deadline).get("Members", [])
    uris: list[str] = [str(m["@odata.id"]) for m in members if m.get("@odata.id")]
    if not uris:
        raise DeviceError(f"the BMC lists no Systems under {root}/Systems")
    plug = opts.text("plug")
    if plug:
        matches = []
        for uri in uris:
            body = session._get(uri, deadline)
            if plug in (body.get("Id"), body.get("Name"), body.get("UUID"), uri):
                matches.append(uri)
        if len(matches) == 1:
            return matches[0]
        if matches:
            raise FenceUsageError(
                f"plug {plug!r} names {len(matches)} Systems ({_listed(matches)}); "
                "set systems_uri to choose one"
            )
        raise FenceUsageError(
            f"no System matches plug {plug!r} (the BMC has {_listed(uris)})"
        )
    if len(uris) == 1:
        return uris[0]
    raise FenceUsageError(
        f"the BMC has {len(uris)} Systems ({_listed(uris)}); "
        "set systems_uri or plug to choose one"
    )


def _service_root(
    session: RedfishSession, prefix: str, deadline: Deadline
) -> tuple[Any, dict[str, Any]]:
    """GET the service root: the answer and its JSON object.

    A 401 gives an empty root, as in the library (some services protect the
    root too): no SessionService is known, so basic auth follows.

    Raises:
        DeviceError: the answer is no Redfish service root (it names the
            status and the content type, never the body), or an error.
    """
    resp = session.send("GET", prefix, deadline)
    log.debug("GET %s: HTTP %s", prefix, resp.status)
    if resp.status == 401:
        return resp, {}
    body = _body(resp)
    if not body:  # not JSON (an HTML page, a login form), or nothing at all
        raise DeviceError(
            f"{session.where} is not a Redfish service: GET {prefix} answered "
            f"HTTP {resp.status} ({_content_type(resp)})"
        )
    if resp.status != 200:
        raise DeviceError(f"GET {prefix}: HTTP {resp.status}{_message(resp)}")
    return resp, body


def _login(
    session: RedfishSession,
    opts: Options,
    password: str,
    root: tuple[Any, dict[str, Any]],
) -> None:
    """Session login when the root names a SessionService, else basic auth."""
    client = session.client
    resp, body = root
    if "SessionService" not in body:
        # What login(auth="basic") sets, without its extra GET of the
        # sessions URI: the first request needs the credentials anyway,
        # and a 401 on it is an AuthenticationError (see _get).
        client.set_authorization_key(_basic_authorization(opts, password))
        return
    # What the library's constructor and get_root_object() take from their
    # own GET of the root, which _service_root made instead.
    client.root_resp = resp
    links = body.get("Links")
    sessions = links.get("Sessions") if isinstance(links, dict) else None
    if isinstance(sessions, dict) and isinstance(sessions.get("@odata.id"), str):
        client.login_url = sessions["@odata.id"]
    try:
        client.login(auth="session")
    except (Exception, _TransportError) as exc:  # noqa: BLE001 - translated
        raise _translate(
            "login", _unwrap(exc), session.where, session.timeout
        ) from None
    opts.add_secret(str(client.get_session_key() or ""))


def open_session(opts: Options, password: str, deadline: Deadline) -> RedfishSession:
    """Connect (verified TLS by default), log in, and pick the System.

    The library (3.2.5 or later, for ``check_connectivity``) is built without
    its own GET of the service root: that GET would retry refused connections
    after a 1 s sleep, hide the cause under ``RetriesExhaustedError``, and log
    a non-JSON answer whole.  :func:`_service_root` makes it instead.
    """
    import logging  # noqa: PLC0415 - the library has imported it already

    import redfish  # noqa: PLC0415 - only when fencing

    # The library's DEBUG lines dump whole HTTP exchanges, session tokens
    # (X-Auth-Token) included; verbose runs keep hakit's own request lines.
    logging.getLogger("redfish").setLevel(logging.INFO)
    if opts.flag("ssl_insecure") and opts.text("ssl_ca_file"):
        raise FenceUsageError("ssl_insecure and ssl_ca_file contradict each other")
    cafile = (
        None
        if opts.flag("ssl_insecure")
        else (opts.text("ssl_ca_file") or SYSTEM_CA_BUNDLE)
    )
    if cafile is None:
        # Asked for: urllib3's InsecureRequestWarning on every request would
        # only add lines to Pacemaker's log.
        import warnings  # noqa: PLC0415 - loaded at start-up

        from urllib3.exceptions import InsecureRequestWarning  # noqa: PLC0415

        warnings.simplefilter("ignore", InsecureRequestWarning)
        log.debug("TLS is not verified (ssl_insecure)")
    host = opts.text("ip")
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    where = f"{host}:{opts.number('ipport')}"
    prefix = opts.text("redfish_uri").rstrip("/") + "/"
    timeout = max(1, int(deadline.remaining()))
    try:
        client = redfish.redfish_client(
            base_url=f"https://{where}",
            username=opts.text("username"),
            password=password,
            default_prefix=prefix,
            cafile=cafile,
            timeout=timeout,
            # Each request asks for no retry (max_retry=0); the client's own
            # value must be 1 because 3.3.x compares its attempt count with
            # it after a success and would call a first-time success
            # "RetriesExhaustedError".  Failures never reach its retry loop
            # (_pass_failures_through).
            max_retry=1,
            check_connectivity=False,
        )
    except Exception as exc:  # noqa: BLE001 - translated, never leaks
        raise _translate("connect", exc, where, timeout) from None
    client._session.trust_env = False  # REQUESTS_CA_BUNDLE must not override
    _pass_failures_through(client._session)
    session = RedfishSession(client, "", timeout, where=where)
    _login(session, opts, password, _service_root(session, prefix, deadline))
    try:
        session.system = _choose_system(session, opts, deadline)
    except BaseException:
        session.close()  # the driver closes only what open() returned
        raise
    return session
