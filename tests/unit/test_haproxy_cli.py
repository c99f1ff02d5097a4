"""What HAProxy's master CLI answers mean (answers as HAProxy 2.6 gives them)."""

from __future__ import annotations

import socket
import threading

import pytest

from ocf_agents.haproxy import actions, cli

PROC = """\
#<PID>          <type>          <reloads>       <uptime>        <version>
29112           master          3 [failed: 1]   0d00h00m08s     2.6.12-1+deb12u4
# workers
29340           worker          1               0d00h00m02s     2.6.12-1+deb12u4
29400           worker          0               0d00h00m01s     2.6.12-1+deb12u4
# programs

"""

HEADER = (
    "# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,"
    "econ,eresp,wretr,wredis,status,weight\n"
)
STAT = (
    HEADER
    + """\
fe,FRONTEND,,,0,1,262120,3,0,0,0,0,0,,,,,OPEN,
api,s1,0,0,0,1,,3,0,0,,0,,0,0,0,0,UP,1
api,s2,0,0,0,1,,3,0,0,,0,,0,0,0,0,DOWN,1
api,BACKEND,0,0,0,1,26212,3,0,0,0,0,,0,0,0,0,UP,1
db,s1,0,0,0,0,,0,0,0,,0,,0,0,0,0,DOWN,1
db,BACKEND,0,0,0,0,26212,0,0,0,0,0,,0,0,0,0,DOWN,0
redirect,BACKEND,0,0,0,0,26212,0,0,0,0,0,,0,0,0,0,DOWN,0
nocheck,s1,0,0,0,0,,0,0,0,,0,,0,0,0,0,no check,1
nocheck,BACKEND,0,0,0,0,26212,0,0,0,0,0,,0,0,0,0,UP,1
"""
)


def test_show_proc():
    procs = cli.parse_proc(PROC)
    assert procs.master == 29112
    assert procs.reloads == 3
    assert procs.failed_reloads == 1
    assert procs.workers == (cli.Worker(29340, 1), cli.Worker(29400, 0))


def test_show_proc_without_workers_and_without_failed_count():
    procs = cli.parse_proc("#<PID> <type>\n7 master 0 0d00h00m01s 2.6\n# workers\n")
    assert (procs.master, procs.reloads, procs.failed_reloads) == (7, 0, 0)
    assert procs.workers == ()


@pytest.mark.parametrize("answer", ["", "Unknown command\n", "# workers\n1 worker 0"])
def test_show_proc_without_a_master_is_an_error(answer):
    with pytest.raises(cli.CliError, match="no master"):
        cli.parse_proc(answer)


def test_show_info():
    info = cli.parse_info(
        "Name: HAProxy\nVersion: 2.6.12\nPid: 29340\nUptime: 0d 0h00m01s\n"
    )
    assert info["Pid"] == "29340"
    assert info["Uptime"] == "0d 0h00m01s"


def test_show_info_from_no_worker_is_an_error():
    with pytest.raises(cli.CliError, match="no worker answered"):
        cli.parse_info("Can't find the target PID matching the prefix '@1'\n")


def test_backends_down_judges_only_backends_with_servers():
    rows = cli.parse_stat(STAT)
    assert cli.Row("api", "s2", "DOWN") in rows
    assert cli.backends_down(rows) == ["db"]


def test_show_stat_without_header_is_an_error():
    with pytest.raises(cli.CliError, match="no header"):
        cli.parse_stat("fe,FRONTEND,OPEN\n")
    with pytest.raises(cli.CliError, match="column"):
        cli.parse_stat("# a,b,c\n1,2,3\n")


@pytest.mark.parametrize(
    ("output", "said"),
    [
        (
            "[NOTICE]   (1) : haproxy version is 2.6.12\n"
            "[ALERT]    (1) : config : parsing [/etc/h.cfg:15] : unknown keyword "
            "'bogus' in 'backend' section\n"
            "[ALERT]    (1) : config : Error(s) found in configuration file : "
            "/etc/h.cfg\n"
            "[ALERT]    (1) : config : Fatal errors found in configuration.\n",
            "parsing [/etc/h.cfg:15] : unknown keyword 'bogus' in 'backend' section",
        ),
        (
            "[ALERT]    (9) : Starting frontend fe: cannot bind socket (Address "
            "already in use) [127.0.0.1:8080]\n",
            "Starting frontend fe: cannot bind socket (Address already in use) "
            "[127.0.0.1:8080]",
        ),
        ("something odd\nhappened", "something odd happened"),
    ],
)
def test_alerts_give_haproxys_own_first_complaint(output, said):
    assert actions._alerts(output) == said


def test_ask_reads_until_the_master_closes(tmp_path):
    path = str(tmp_path / "master.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(1)
    got: list[bytes] = []

    def answer() -> None:
        conn, _ = server.accept()
        with conn:
            data = b""
            while not data.endswith(b"\n"):
                data += conn.recv(100)
            got.append(data)
            conn.sendall(b"a" * 70000 + b"\n")

    thread = threading.Thread(target=answer)
    thread.start()
    text = cli.ask(path, "show proc", timeout=5)
    thread.join()
    server.close()
    assert got == [b"show proc\n"]
    assert len(text) == 70001


def test_ask_names_the_socket_when_it_is_missing(tmp_path):
    with pytest.raises(cli.CliError, match="does not exist"):
        cli.ask(str(tmp_path / "none.sock"), "show proc", timeout=1)


def test_ask_gives_up_after_the_timeout(tmp_path):
    path = str(tmp_path / "silent.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(1)
    try:
        with pytest.raises(cli.CliError, match="no answer to 'show proc' within 0.2 s"):
            cli.ask(path, "show proc", timeout=0.2)
    finally:
        server.close()
