"""Stand-ins for two Redfish services that real BMCs have and sushy-tools lacks.

sushy-tools 2.2.0 has no SessionService and answers a ComputerSystem.Reset at
once.  Real BMCs log clients in with sessions (DMTF DSP0266, "Sessions") and
may answer an action with a task monitor (DSP0266, "Asynchronous operations").
The two WSGI middlewares here add both on the wire, in the emulator process,
around the real sushy application (``tests.lab.redfish`` wires them up):

* :class:`SessionLayer` wraps sushy's basic-auth middleware.  The service root
  gains ``SessionService`` and ``Links.Sessions``; ``POST .../Sessions`` with
  ``UserName``/``Password`` (checked by sushy's own htpasswd check) answers 201
  with ``X-Auth-Token``, ``Location`` and the Session; a request with a live
  token skips basic auth; an unknown or expired token gets 401; a request
  without a token goes to basic auth as before; ``DELETE`` of the session's URI
  answers 204 and ends it.  Sessions expire after ``SessionTimeout`` s idle.
* :class:`TaskLayer` sits behind the auth check.  A Reset POST answers 202 with
  ``Location: /redfish/v1/TaskService/TaskMonitors/<id>`` and a Task; sushy
  gets the POST only after the configured delay, in a thread.  The monitor
  answers 202 while the task runs.  At the end it answers like the service
  chosen by ``final``: ``task`` (200 and the Task, TaskState ``Completed`` or
  ``Exception``, as iDRAC-like services do) or ``operation`` (DSP0266 to the
  letter: the status and body the operation itself would have answered, e.g.
  sushy's 204 or an error, once; then the monitor is gone, 404, as on bmcweb).
  The Task stays readable at ``/redfish/v1/TaskService/Tasks/<id>``.

Both read their switches from files in the faults directory on every request
(``sessions``: the SessionTimeout in s; ``task``: ``DELAY OUTCOME FINAL``), so
they can be changed on a running emulator, and count what happened in
``stats.json`` there, replaced atomically after every change.
"""

from __future__ import annotations

import datetime
import io
import json
import os
import secrets
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Callable

ROOT = "/redfish/v1"
SESSION_SERVICE = f"{ROOT}/SessionService"
SESSIONS = f"{SESSION_SERVICE}/Sessions"
TASK_SERVICE = f"{ROOT}/TaskService"
TASKS = f"{TASK_SERVICE}/Tasks"
TASK_MONITORS = f"{TASK_SERVICE}/TaskMonitors"
RESET_SUFFIX = "/Actions/ComputerSystem.Reset"

#: Flag files in the faults directory (see the module docstring).
SESSIONS_FLAG = "sessions"
TASK_FLAG = "task"
STATS_FILE = "stats.json"
DEFAULT_SESSION_TIMEOUT = 600
OUTCOMES = ("completed", "exception")
FINALS = ("task", "operation")

#: Counters in stats.json, all 0 when the emulator starts.
COUNTERS = (
    "basic_requests",  # requests that carried Authorization: Basic
    "sessions_created",
    "sessions_deleted",
    "sessions_expired",
    "sessions_live",
    "logins_refused",  # session POSTs with wrong credentials
    "tokens_refused",  # requests with an unknown or expired X-Auth-Token
    "tasks_created",
    "task_polls",  # GETs of a task monitor
    "tasks_reported",  # monitor answers that gave the final result
)

StartResponse = Callable[..., Any]
App = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


class Stats:
    """Counters shared by the layers, mirrored to a JSON file tests read."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._counts = dict.fromkeys(COUNTERS, 0)
        self._write()

    def add(self, name: str, amount: int = 1) -> None:
        """Add ``amount`` to counter ``name`` and rewrite the file."""
        with self._lock:
            self._counts[name] += amount
            self._write()

    def set(self, name: str, value: int) -> None:
        """Set counter ``name`` and rewrite the file."""
        with self._lock:
            self._counts[name] = value
            self._write()

    def _write(self) -> None:
        tmp = self._path.with_name(f".{self._path.name}.tmp")
        tmp.write_text(json.dumps(self._counts, indent=1) + "\n")
        os.replace(tmp, self._path)


def read_stats(faults: Path) -> dict[str, int]:
    """Return the counters the emulator wrote (all 0 before it first wrote)."""
    try:
        counts = json.loads((faults / STATS_FILE).read_text())
    except (OSError, ValueError):
        counts = {}
    return {name: int(counts.get(name, 0)) for name in COUNTERS}


def session_timeout(faults: Path) -> int | None:
    """Return the SessionTimeout when sessions are on, else None."""
    try:
        text = (faults / SESSIONS_FLAG).read_text().strip()
    except OSError:
        return None
    try:
        return max(1, int(text))
    except ValueError:
        return DEFAULT_SESSION_TIMEOUT


def task_mode(faults: Path) -> tuple[float, str, str] | None:
    """Return (delay, outcome, final) when Resets become tasks, else None."""
    try:
        delay, outcome, final = (faults / TASK_FLAG).read_text().split()
        mode = (float(delay), outcome, final)
    except (OSError, ValueError):
        return None
    return mode if outcome in OUTCOMES and final in FINALS else None


# -- small WSGI helpers ---------------------------------------------------------


def _path(environ: dict[str, Any]) -> str:
    return str(environ.get("PATH_INFO", "")).rstrip("/") or "/"


def _read_body(environ: dict[str, Any]) -> bytes:
    length = int(environ.get("CONTENT_LENGTH") or 0)
    return bytes(environ["wsgi.input"].read(length)) if length else b""


def _reply(
    start_response: StartResponse,
    status: str,
    body: Any = None,
    headers: Iterable[tuple[str, str]] = (),
) -> list[bytes]:
    """Answer ``status`` with ``body`` as JSON (no body when None)."""
    data = b"" if body is None else json.dumps(body, indent=4).encode()
    head = [*headers, ("Content-Length", str(len(data)))]
    if body is not None:
        head.append(("Content-Type", "application/json"))
    head.append(("OData-Version", "4.0"))
    start_response(status, head)
    return [data]


def _error_body(message: str, message_id: str) -> dict[str, Any]:
    """A Redfish error response (DSP0266 "Error responses")."""
    return {
        "error": {
            "code": message_id,
            "message": message,
            "@Message.ExtendedInfo": [
                {
                    "@odata.type": "#Message.v1_1_1.Message",
                    "MessageId": message_id,
                    "Message": message,
                    "Severity": "Critical",
                }
            ],
        }
    }


def _error(
    start_response: StartResponse,
    status: str,
    message: str,
    message_id: str = "Base.1.8.GeneralError",
    headers: Iterable[tuple[str, str]] = (),
) -> list[bytes]:
    return _reply(start_response, status, _error_body(message, message_id), headers)


def _call(app: App, environ: dict[str, Any]) -> tuple[str, list[Any], bytes]:
    """Run ``app`` to the end; return its status, headers and body."""
    answer: dict[str, Any] = {}
    chunks: list[bytes] = []

    def start_response(status: str, headers: list[Any], exc_info: Any = None) -> Any:
        answer["status"], answer["headers"] = status, headers
        return chunks.append

    result = app(environ, start_response)
    try:
        chunks.extend(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    return answer["status"], answer["headers"], b"".join(chunks)


def _with_root_links(
    app: App,
    environ: dict[str, Any],
    start_response: StartResponse,
    extra: dict[str, Any],
) -> list[bytes]:
    """Hand the service root to ``app`` and add ``extra`` to its JSON."""
    status, headers, body = _call(app, environ)
    try:
        root = json.loads(body) if status.startswith("200") else None
    except ValueError:
        root = None
    if isinstance(root, dict):
        for key, value in extra.items():
            if isinstance(value, dict) and isinstance(root.get(key), dict):
                root[key].update(value)
            else:
                root[key] = value
        body = json.dumps(root, indent=4).encode()
        headers = [h for h in headers if h[0].lower() != "content-length"]
        headers.append(("Content-Length", str(len(body))))
    start_response(status, headers)
    return [body]


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


# -- sessions -------------------------------------------------------------------


class _Session:
    def __init__(self, number: int, user: str) -> None:
        self.id = str(number)
        self.user = user
        self.token = secrets.token_hex(16)
        self.last_used = time.monotonic()

    @property
    def uri(self) -> str:
        return f"{SESSIONS}/{self.id}"

    def body(self) -> dict[str, Any]:
        # DSP0266: the password is never returned.
        return {
            "@odata.type": "#Session.v1_3_0.Session",
            "@odata.id": self.uri,
            "Id": self.id,
            "Name": f"Session {self.id}",
            "UserName": self.user,
            "Password": None,
        }


class SessionLayer:
    """The SessionService, in front of sushy's basic-auth middleware ``auth``.

    ``auth.app`` is what sushy's middleware guards; a request with a live
    token is handed to it directly, as an authenticated request (with the
    ``HTTP_X_USER`` sushy's check would have added).
    """

    def __init__(self, auth: Any, faults: Path, stats: Stats) -> None:
        self.auth = auth
        self.faults = faults
        self.stats = stats
        self._sessions: dict[str, _Session] = {}  # by token
        self._numbers = iter(range(1, 1 << 62))
        self._lock = threading.Lock()
        # The SessionService resources need authentication too: by token
        # (handled here), else by sushy's own basic-auth check.
        self._service_by_basic = type(auth)(self._service, auth.auth_file)

    def __call__(
        self, environ: dict[str, Any], start_response: StartResponse
    ) -> Iterable[bytes]:
        """Serve sessions when switched on; else hand everything to ``auth``."""
        if str(environ.get("HTTP_AUTHORIZATION", "")).lower().startswith("basic "):
            self.stats.add("basic_requests")
        timeout = session_timeout(self.faults)
        if timeout is None:
            return self.auth(environ, start_response)
        method, path = environ.get("REQUEST_METHOD"), _path(environ)
        if path == ROOT and method == "GET":
            return _with_root_links(
                self.auth,
                environ,
                start_response,
                {
                    "SessionService": {"@odata.id": SESSION_SERVICE},
                    "Links": {"Sessions": {"@odata.id": SESSIONS}},
                },
            )
        if path == SESSIONS and method == "POST":
            return self._login(environ, start_response)
        return self._authenticated(environ, start_response, path, timeout)

    def _authenticated(
        self,
        environ: dict[str, Any],
        start_response: StartResponse,
        path: str,
        timeout: int,
    ) -> Iterable[bytes]:
        """Pass a request on by its token, else through basic auth."""
        in_service = path == SESSION_SERVICE or path.startswith(SESSION_SERVICE + "/")
        token = environ.get("HTTP_X_AUTH_TOKEN")
        if token is None:
            if in_service:
                return self._service_by_basic(environ, start_response)
            return self.auth(environ, start_response)
        session = self._check(str(token), timeout)
        if session is None:
            self.stats.add("tokens_refused")
            return _error(
                start_response,
                "401 UNAUTHORIZED",
                "The session token is not valid (expired or logged out)",
                "Base.1.8.NoValidSession",
            )
        environ.pop("HTTP_AUTHORIZATION", None)
        environ["HTTP_X_USER"] = environ["HTTP_X_USER_NAME"] = session.user
        if in_service:
            return self._service(environ, start_response)
        return self.auth.app(environ, start_response)

    def _check(self, token: str, timeout: int) -> _Session | None:
        now = time.monotonic()
        with self._lock:
            expired = [
                s for s in self._sessions.values() if now - s.last_used > timeout
            ]
            for session in expired:
                del self._sessions[session.token]
            found = self._sessions.get(token)
            if found is not None:
                found.last_used = now
            live = len(self._sessions)
        if expired:
            self.stats.add("sessions_expired", len(expired))
            self.stats.set("sessions_live", live)
        return found

    def _login(
        self, environ: dict[str, Any], start_response: StartResponse
    ) -> list[bytes]:
        from sushy_tools import error  # noqa: PLC0415 - only in the emulator
        from sushy_tools.emulator import auth_basic  # noqa: PLC0415

        try:
            body = json.loads(_read_body(environ) or b"null")
        except ValueError:
            body = None
        if not (
            isinstance(body, dict)
            and isinstance(body.get("UserName"), str)
            and isinstance(body.get("Password"), str)
        ):
            return _error(
                start_response,
                "400 BAD REQUEST",
                "UserName and Password are required",
                "Base.1.8.PropertyMissing",
            )
        try:
            auth_basic.authenticate(
                self.auth.auth_file, body["UserName"], body["Password"].encode()
            )
        except error.FishyError:
            self.stats.add("logins_refused")
            return _error(
                start_response,
                "401 UNAUTHORIZED",
                "Invalid user name or password",
                "Base.1.8.ResourceAtUriUnauthorized",
            )
        with self._lock:
            session = _Session(next(self._numbers), body["UserName"])
            self._sessions[session.token] = session
            live = len(self._sessions)
        self.stats.add("sessions_created")
        self.stats.set("sessions_live", live)
        return _reply(
            start_response,
            "201 CREATED",
            session.body(),
            [("X-Auth-Token", session.token), ("Location", session.uri)],
        )

    def _service(
        self, environ: dict[str, Any], start_response: StartResponse
    ) -> list[bytes]:
        """Serve the SessionService resources to an authenticated request."""
        method, path = environ.get("REQUEST_METHOD"), _path(environ)
        with self._lock:
            by_uri = {s.uri: s for s in self._sessions.values()}
        if method == "GET" and path == SESSION_SERVICE:
            return _reply(
                start_response,
                "200 OK",
                {
                    "@odata.type": "#SessionService.v1_1_8.SessionService",
                    "@odata.id": SESSION_SERVICE,
                    "Id": "SessionService",
                    "Name": "Session Service",
                    "ServiceEnabled": True,
                    "SessionTimeout": session_timeout(self.faults)
                    or DEFAULT_SESSION_TIMEOUT,
                    "Sessions": {"@odata.id": SESSIONS},
                },
            )
        if method == "GET" and path == SESSIONS:
            return _reply(
                start_response,
                "200 OK",
                {
                    "@odata.type": "#SessionCollection.SessionCollection",
                    "@odata.id": SESSIONS,
                    "Name": "Session Collection",
                    "Members": [{"@odata.id": uri} for uri in by_uri],
                    "Members@odata.count": len(by_uri),
                },
            )
        session = by_uri.get(path)
        if session is None:
            return _error(
                start_response,
                "404 NOT FOUND",
                f"No resource at {path}",
                "Base.1.8.ResourceMissingAtURI",
            )
        if method == "GET":
            return _reply(start_response, "200 OK", session.body())
        if method == "DELETE":
            with self._lock:
                self._sessions.pop(session.token, None)
                live = len(self._sessions)
            self.stats.add("sessions_deleted")
            self.stats.set("sessions_live", live)
            return _reply(start_response, "204 NO CONTENT")
        return _error(
            start_response,
            "405 METHOD NOT ALLOWED",
            f"{method} is not allowed on {path}",
            "Base.1.8.OperationNotAllowed",
            [("Allow", "GET, DELETE")],
        )


# -- tasks ----------------------------------------------------------------------


class _Task:
    def __init__(self, number: int, target: str, payload: bytes, final: str) -> None:
        self.id = str(number)
        self.target = target
        self.payload = payload.decode(errors="replace")
        self.final = final
        self.state = "Running"
        self.status: str | None = None
        self.started = _now()
        self.ended: str | None = None
        self.messages: list[dict[str, Any]] = []
        #: What the operation answered (status, headers, body), once done.
        self.answer: tuple[str, list[Any], bytes] | None = None
        #: The monitor gave the final answer and, for "operation", is gone.
        self.gone = False

    @property
    def monitor(self) -> str:
        return f"{TASK_MONITORS}/{self.id}"

    def finish(
        self, ok: bool, answer: tuple[str, list[Any], bytes], cause: str = ""
    ) -> None:
        self.messages = [
            {
                "MessageId": "TaskEvent.1.0.TaskCompletedOK"
                if ok
                else "TaskEvent.1.0.TaskAborted",
                "Message": f"The task with Id '{self.id}' has "
                + ("completed." if ok else "been aborted."),
                "MessageArgs": [self.id],
                "Severity": "OK" if ok else "Critical",
            }
        ]
        if cause:
            self.messages.append(
                {"MessageId": "Base.1.8.GeneralError", "Message": cause}
            )
        self.answer = answer
        self.ended = _now()
        self.status = "OK" if ok else "Critical"
        self.state = "Completed" if ok else "Exception"  # last: the monitor reads it

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "@odata.type": "#Task.v1_7_3.Task",
            "@odata.id": f"{TASKS}/{self.id}",
            "Id": self.id,
            "Name": f"Task {self.id}",
            "TaskState": self.state,
            "StartTime": self.started,
            "PercentComplete": 0 if self.state == "Running" else 100,
            "TaskMonitor": self.monitor,
            "Payload": {
                "HttpOperation": "POST",
                "TargetUri": self.target,
                "JsonBody": self.payload,
            },
            "Messages": self.messages,
        }
        if self.ended:
            body["EndTime"] = self.ended
            body["TaskStatus"] = self.status
        return body


class TaskLayer:
    """Reset POSTs become tasks while the ``task`` flag file says so."""

    def __init__(self, app: App, faults: Path, stats: Stats) -> None:
        self.app = app
        self.faults = faults
        self.stats = stats
        self._tasks: dict[str, _Task] = {}
        self._numbers = iter(range(1, 1 << 62))
        self._lock = threading.Lock()

    def __call__(
        self, environ: dict[str, Any], start_response: StartResponse
    ) -> Iterable[bytes]:
        """Serve monitors and Tasks, start tasks; hand the rest to ``app``."""
        method, path = environ.get("REQUEST_METHOD"), _path(environ)
        mode = task_mode(self.faults)
        if method == "GET" and (mode or path.startswith(TASK_SERVICE + "/")):
            return self._get(environ, start_response, path, mode is not None)
        if mode and method == "POST" and path.endswith(RESET_SUFFIX):
            return self._start(environ, start_response, *mode)
        return self.app(environ, start_response)

    def _get(
        self,
        environ: dict[str, Any],
        start_response: StartResponse,
        path: str,
        on: bool,
    ) -> Iterable[bytes]:
        """Serve monitors and Tasks (the service and the root link only when on)."""
        if path.startswith(TASK_MONITORS + "/"):
            return self._monitor(path.rsplit("/", 1)[1], start_response)
        if path.startswith(TASKS + "/"):
            task = self._tasks.get(path.rsplit("/", 1)[1])
            if task is not None:
                return _reply(start_response, "200 OK", task.body())
            return _error(
                start_response,
                "404 NOT FOUND",
                f"No resource at {path}",
                "Base.1.8.ResourceMissingAtURI",
            )
        if on and path in (TASK_SERVICE, TASKS):
            return self._service(path, start_response)
        if on and path == ROOT:
            link = {"Tasks": {"@odata.id": TASK_SERVICE}}
            return _with_root_links(self.app, environ, start_response, link)
        return self.app(environ, start_response)

    def _start(
        self,
        environ: dict[str, Any],
        start_response: StartResponse,
        delay: float,
        outcome: str,
        final: str,
    ) -> list[bytes]:
        payload = _read_body(environ)
        with self._lock:
            task = _Task(next(self._numbers), _path(environ), payload, final)
            self._tasks[task.id] = task
        self.stats.add("tasks_created")
        # The request is over by the time sushy gets it: give it its own copy.
        later = {k: v for k, v in environ.items() if not k.startswith("werkzeug.")}
        later["wsgi.input"] = io.BytesIO(payload)
        later["CONTENT_LENGTH"] = str(len(payload))
        threading.Thread(
            target=self._run,
            args=(task, later, delay, outcome == "exception"),
            name=f"task-{task.id}",
            daemon=True,
        ).start()
        return _reply(
            start_response, "202 ACCEPTED", task.body(), [("Location", task.monitor)]
        )

    def _run(
        self, task: _Task, environ: dict[str, Any], delay: float, fails: bool
    ) -> None:
        time.sleep(delay)
        if fails:
            cause = "Injected fault: the reset task failed; power unchanged"
            body = json.dumps(_error_body(cause, "Base.1.8.GeneralError")).encode()
            answer = (
                "500 INTERNAL SERVER ERROR",
                [("Content-Type", "application/json")],
                body,
            )
            task.finish(False, answer, cause)
            return
        answer = _call(self.app, environ)
        if answer[0][:1] == "2":
            task.finish(True, answer)
            return
        try:
            cause = json.loads(answer[2])["error"]["message"]
        except (ValueError, KeyError, TypeError):
            cause = f"HTTP {answer[0]}"
        task.finish(False, answer, str(cause))

    def _monitor(self, task_id: str, start_response: StartResponse) -> list[bytes]:
        self.stats.add("task_polls")
        task = self._tasks.get(task_id)
        if task is None or task.gone:
            return _error(
                start_response,
                "404 NOT FOUND",
                f"No task monitor {task_id}",
                "Base.1.8.ResourceMissingAtURI",
            )
        if task.state == "Running" or task.answer is None:
            return _reply(
                start_response,
                "202 ACCEPTED",
                task.body(),
                [("Location", task.monitor), ("Retry-After", "1")],
            )
        self.stats.add("tasks_reported")
        if task.final == "operation":
            task.gone = True
            status, headers, body = task.answer
            headers = [h for h in headers if h[0].lower() != "content-length"]
            start_response(status, [*headers, ("Content-Length", str(len(body)))])
            return [body]
        return _reply(start_response, "200 OK", task.body())

    def _service(self, path: str, start_response: StartResponse) -> list[bytes]:
        if path == TASK_SERVICE:
            return _reply(
                start_response,
                "200 OK",
                {
                    "@odata.type": "#TaskService.v1_2_0.TaskService",
                    "@odata.id": TASK_SERVICE,
                    "Id": "TaskService",
                    "Name": "Task Service",
                    "ServiceEnabled": True,
                    "Tasks": {"@odata.id": TASKS},
                },
            )
        members = [{"@odata.id": f"{TASKS}/{i}"} for i in list(self._tasks)]
        return _reply(
            start_response,
            "200 OK",
            {
                "@odata.type": "#TaskCollection.TaskCollection",
                "@odata.id": TASKS,
                "Name": "Task Collection",
                "Members": members,
                "Members@odata.count": len(members),
            },
        )
