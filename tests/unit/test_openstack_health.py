"""OpenStack health helpers that need no daemon: transport_url, disconnect clock."""

from __future__ import annotations

from ocf_agents.openstack import health


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_transport_ports_from_multi_host_url(tmp_path):
    conf = write(
        tmp_path,
        "nova.conf",
        "[DEFAULT]\ntransport_url = rabbit://u:p@10.0.0.1:5673,u:p@10.0.0.2:5674,"
        "u:p@[fd00::3]:5675/nova\n[database]\nconnection = x\n",
    )
    assert health.transport_ports([conf]) == (5673, 5674, 5675)


def test_transport_url_without_port_means_5672(tmp_path):
    conf = write(tmp_path, "a.conf", "[DEFAULT]\ntransport_url = rabbit://u:p@ctl1/\n")
    assert health.transport_ports([conf]) == (5672,)


def test_last_file_wins_and_missing_files_are_skipped(tmp_path):
    first = write(tmp_path, "a.conf", "[DEFAULT]\ntransport_url = rabbit://h:1000/\n")
    second = write(tmp_path, "b.conf", "[DEFAULT]\ntransport_url = rabbit://h:2000/\n")
    missing = str(tmp_path / "missing.conf")
    assert health.transport_ports([first, missing, second]) == (2000,)


def test_no_transport_url(tmp_path):
    conf = write(tmp_path, "a.conf", "[DEFAULT]\ndebug = true\n")
    assert health.transport_ports([conf]) == ()


def test_password_with_at_sign_and_colon(tmp_path):
    conf = write(
        tmp_path, "a.conf", "[DEFAULT]\ntransport_url = rabbit://u:p@:ss@h:5999/\n"
    )
    assert health.transport_ports([conf]) == (5999,)


def test_disconnect_clock_counts_from_first_failure(tmp_path, monkeypatch):
    now = [100.0]
    monkeypatch.setattr(health, "boottime", lambda: now[0])
    clock = health.DisconnectClock(str(tmp_path / "state"))
    assert clock.disconnected_for() == 0.0
    now[0] = 130.0
    assert clock.disconnected_for() == 30.0
    clock.connected()
    now[0] = 140.0
    assert clock.disconnected_for() == 0.0


def test_disconnect_clock_survives_garbage_state(tmp_path, monkeypatch):
    monkeypatch.setattr(health, "boottime", lambda: 50.0)
    state = tmp_path / "state"
    state.write_text("not a number")
    assert health.DisconnectClock(str(state)).disconnected_for() == 0.0
