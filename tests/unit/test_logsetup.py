"""Logging set-up of OCF agents: the cluster's variables decide where logs go."""

from __future__ import annotations

import logging

import pytest

from ha_common import logsetup
from ha_common.redact import Redactor


@pytest.fixture(autouse=True)
def _restore_root_logger():
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in root.handlers:
        handler.close()
    root.handlers[:] = handlers
    root.setLevel(level)


def emit():
    log = logging.getLogger("ocf_agents.test")
    log.debug("debug line")
    log.info("info line with secret s3cr3t")
    log.warning("warning line")


def test_logfile_gets_info_and_debuglog_gets_debug_when_ha_debug(tmp_path):
    environ = {
        "HA_LOGFILE": str(tmp_path / "ha.log"),
        "HA_DEBUGLOG": str(tmp_path / "debug.log"),
        "HA_debug": "1",
    }
    logsetup.setup_ocf("agent", "rsc:0", environ, Redactor(["s3cr3t"]))
    emit()
    logfile = (tmp_path / "ha.log").read_text()
    debuglog = (tmp_path / "debug.log").read_text()
    assert "info line" in logfile and "debug line" not in logfile
    assert "debug line" in debuglog
    assert "agent(rsc:0)" in logfile
    assert "s3cr3t" not in logfile + debuglog
    assert "******" in logfile


@pytest.mark.parametrize("value", ["", "0"])
def test_ha_debug_off_values(tmp_path, value):
    environ = {"HA_DEBUGLOG": str(tmp_path / "debug.log"), "HA_debug": value}
    logsetup.setup_ocf("agent", "rsc", environ, Redactor())
    emit()
    assert "debug line" not in (tmp_path / "debug.log").read_text()


def test_stderr_gets_warnings_only_when_not_a_terminal(capsys):
    logsetup.setup_ocf("agent", "rsc", {}, Redactor())
    emit()
    err = capsys.readouterr().err
    assert "warning line" in err
    assert "info line" not in err


def test_exit_reason_records_stay_off_stderr(capsys):
    logsetup.setup_ocf("agent", "rsc", {}, Redactor())
    logging.getLogger("x").error("the reason", extra={"exit_reason": True})
    assert "the reason" not in capsys.readouterr().err


def test_unusable_logfile_is_skipped_and_the_other_handlers_still_log(tmp_path, capsys):
    """A logfile in a missing directory must not cost the agent its other logs."""
    usable = tmp_path / "debug.log"
    environ = {
        "HA_LOGFILE": str(tmp_path / "missing-dir" / "ha.log"),
        "HA_DEBUGLOG": str(usable),
        "HA_debug": "1",
    }
    logsetup.setup_ocf("agent", "rsc", environ, Redactor())
    emit()
    assert not (tmp_path / "missing-dir").exists()
    assert "debug line" in usable.read_text()
    assert "warning line" in capsys.readouterr().err


def test_facility_none_means_no_syslog():
    logsetup.setup_ocf("agent", "rsc", {"HA_LOGFACILITY": "none"}, Redactor())
    kinds = {type(h).__name__ for h in logging.getLogger().handlers}
    assert "SysLogHandler" not in kinds
