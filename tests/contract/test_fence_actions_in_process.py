"""Every action of both fence agents, in-process, against fake BMC libraries.

The adapters' and the driver's code runs whole (option reads, deadlines, the
read-back) with only pyghmi's session module and the ``redfish`` module
replaced, so a misspelled option name on any action's path fails here as
``internal error: UndeclaredOptionError`` rather than on a real fencing.
tests/contract/test_fence_option_reads.py checks the same names statically.
"""

from __future__ import annotations

import json
import sys
import types

import pytest

from fence_agents import registry
from fence_agents._runtime import driver
from fence_agents._runtime.options import ACTIONS


@pytest.fixture(autouse=True)
def _no_handlers_of_earlier_tests():
    """An agent run starts without logging set up, as a fresh process does.

    Earlier in-process runs leave root handlers on streams pytest has closed
    since; the library's INFO lines would reach them.
    """
    import logging

    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    root.handlers.clear()
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


# -- IPMI: pyghmi.ipmi.private.session.Session ----------------------------------


class FakePyghmiSession:
    """A BMC whose chassis follows Chassis Control; a cycle is seen OFF once."""

    power = True
    cycling = 0

    def __init__(self, **kwargs):
        assert isinstance(kwargs["userid"], bytes)
        assert isinstance(kwargs["password"], bytes)

    def raw_command(self, netfn, command, data=(), bridge_request=None):
        cls = type(self)
        if command == 2:
            if data[0] == 2:
                cls.power, cls.cycling = True, 1
            else:
                cls.power = data[0] == 1
            return {"netfn": netfn + 1, "command": command, "code": 0, "data": b""}
        power = cls.power and not cls.cycling
        cls.cycling = max(0, cls.cycling - 1)
        return {
            "netfn": netfn + 1,
            "command": command,
            "code": 0,
            "data": bytearray([1 if power else 0, 0, 0]),
        }

    def logout(self):
        pass


# -- Redfish: the DMTF library ---------------------------------------------------

SYSTEM = "/redfish/v1/Systems/1"
TARGET = SYSTEM + "/Actions/ComputerSystem.Reset"


class FakeResponse:
    def __init__(self, status, body=None):
        self.status = status
        self.text = json.dumps(body) if body is not None else ""

    def getheader(self, name):
        return "application/json" if name == "Content-Type" else None


class FakeRedfishClient:
    """One System; ForceRestart passes through PoweringOn."""

    states = ["On"]

    def __init__(self, **kwargs):
        # 1: see fence_agents.redfish.device.open_session (3.3.x's check).
        assert kwargs["max_retry"] == 1
        self._session = types.SimpleNamespace(trust_env=True, request=None)

    def get(self, path, timeout=None, max_retry=None):
        if path == "/redfish/v1/":
            return FakeResponse(200, {"RedfishVersion": "1.6.0"})
        if path == "/redfish/v1/Systems":
            return FakeResponse(200, {"Members": [{"@odata.id": SYSTEM}]})
        states = type(self).states
        state = states.pop(0) if len(states) > 1 else states[0]
        allowed = ["On", "ForceOff", "ForceRestart"]
        reset = {"target": TARGET, "ResetType@Redfish.AllowableValues": allowed}
        body = {
            "Id": "1",
            "PowerState": state,
            "Actions": {"#ComputerSystem.Reset": reset},
        }
        return FakeResponse(200, body)

    def post(self, path, body=None, timeout=None, max_retry=None):
        assert path == TARGET
        type(self).states = {
            "ForceOff": ["PoweringOff", "Off"],
            "On": ["PoweringOn", "On"],
            "ForceRestart": ["PoweringOn", "On"],
        }[body["ResetType"]]
        return FakeResponse(204)

    def set_authorization_key(self, key):
        pass

    def logout(self):
        pass


@pytest.fixture
def fake_libraries(monkeypatch):
    FakePyghmiSession.power, FakePyghmiSession.cycling = True, 0
    FakeRedfishClient.states = ["On"]
    private = types.ModuleType("pyghmi.ipmi.private")
    private.session = types.SimpleNamespace(Session=FakePyghmiSession)
    monkeypatch.setitem(sys.modules, "pyghmi.ipmi.private", private)
    library = types.ModuleType("redfish")
    library.redfish_client = FakeRedfishClient
    monkeypatch.setitem(sys.modules, "redfish", library)


BASE = ["-a", "127.0.0.1", "-l", "admin", "-p", "pw", "--power-timeout", "2"]
RUNS = [
    *((["-o", action], (0, 2) if action == "status" else (0,)) for action in ACTIONS),
    (["-o", "reboot", "-m", "cycle"], (0,)),
    (["-o", "reboot", "--retry-on", "2", "--power-wait", "0"], (0,)),
    (["-o", "status", "-v"], (0,)),
]


@pytest.mark.parametrize("name", registry.names())
@pytest.mark.parametrize(
    ("argv", "codes"), [pytest.param(*run, id=" ".join(run[0])) for run in RUNS]
)
def test_every_action_runs_its_whole_path(
    fake_libraries, capsys, tmp_path, name, argv, codes
):
    agent = registry.agent(name)
    extra = ["--ssl-insecure"] if name == "fence_hakit_redfish" else []
    debug = ["-D", str(tmp_path / "debug.log")]
    with pytest.raises(SystemExit) as info:
        driver.main(agent, argv=[*BASE, *extra, *debug, *argv])
    out, err = capsys.readouterr()
    assert "internal error" not in err
    assert info.value.code in codes, err


def test_every_declared_action_is_run():
    ran = {argv[1] for argv, _ in RUNS}
    for name in registry.names():
        assert set(registry.agent(name).actions) <= ran
