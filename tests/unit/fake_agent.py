"""A small agent declaration with scripted handlers, for dispatcher tests."""

from __future__ import annotations

import os

from ha_common.kinds import BOOLEAN, PATH, PORT, STRING
from ocf_agents._runtime.errors import AgentError, HostSetupError
from ocf_agents._runtime.rc import OcfRc
from ocf_agents._runtime.spec import AgentSpec, Param, Timing, standard_actions

SPEC = AgentSpec(
    name="fake",
    shortdesc="Fake agent <for> tests & checks",
    longdesc="Handlers do what the FAKE_BEHAVIOUR variable says.",
    params=(
        Param("state", PATH, "State file", required=True),
        Param("port", PORT, "A port", default="8080"),
        Param("password", STRING, "A secret", secret=True),
        Param("verbose", BOOLEAN, "Talk more", default="false", replaces="debug"),
    ),
    actions=standard_actions(monitor=Timing(timeout=30, interval=15), promote=120),
    handlers="tests.unit.fake_agent",
)


def _behaviour() -> str:
    return os.environ.get("FAKE_BEHAVIOUR", "")


def _library() -> None:
    """Import what the behaviour says is missing (as an adapter's import would)."""
    if _behaviour() == "no-library":
        raise ModuleNotFoundError("No module named 'psutil'", name="psutil")


def start(cfg, ctx):
    """Pretend to start."""
    _library()
    if _behaviour() == "crash":
        raise RuntimeError("password is " + cfg.get_str("password"))
    if _behaviour() == "fail":
        raise AgentError("start failed with " + cfg.get_str("password"))
    if _behaviour() == "host":
        raise HostSetupError("the state directory is missing")
    if _behaviour() == "wordy":
        words = ("word",) * int(os.environ.get("FAKE_WORDS", "76"))
        raise AgentError(" ".join((*words, cfg.get_str("password"), *words)))
    return OcfRc.SUCCESS


def monitor(cfg, ctx):
    """Pretend to check."""
    _library()
    if _behaviour() == "host":
        raise HostSetupError("the state directory is missing")
    return OcfRc.NOT_RUNNING


def stop(cfg, ctx):
    """Report how stop was called through the return code."""
    _library()
    return OcfRc.ERR_GENERIC if ctx.degraded else OcfRc.SUCCESS
