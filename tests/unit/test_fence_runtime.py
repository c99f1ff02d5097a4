"""The fence driver against an in-memory device with scripted behaviour.

Shows the rules that matter for data safety: OFF is never reported before it
is read back, a timeout is exit 1, no input means no action.
"""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET

import pytest

from fence_agents._runtime import driver, options, parse
from fence_agents._runtime.driver import PowerState, PowerTarget
from fence_agents._runtime.errors import (
    ActionTimeoutError,
    AuthenticationError,
    DeviceError,
    UndeclaredOptionError,
)


class FakeDevice:
    def __init__(self, world):
        self.world = world

    def power_state(self, deadline):
        world = self.world
        world["reads"] += 1
        if world["pending"] is not None:
            world["countdown"] -= 1
            if world["countdown"] <= 0:
                world["power"], world["pending"] = world["pending"], None
        return world["power"]

    def request(self, target, deadline):
        world = self.world
        world["requests"].append(target)
        if world.get("error"):
            raise DeviceError("BMC answered completion code 0xff")
        if world.get("stuck"):
            return
        if target is PowerTarget.CYCLE:
            world["power"] = (
                PowerState.ON if world.get("lazy_cycle") else PowerState.OFF
            )
            world["pending"] = PowerState.ON
        else:
            world["pending"] = (
                PowerState.ON if target is PowerTarget.ON else PowerState.OFF
            )
        world["countdown"] = world.get("delay_reads", 2)

    def close(self):
        self.world["closed"] = True


class FakeAgent(driver.FenceAgent):
    name = "fence_fake"
    shortdesc = "Fake fence agent"
    longdesc = "For tests."
    options = (
        *options.address("623"),
        *options.CREDENTIALS,
        *options.ACTION,
        *options.TIMEOUTS,
        *options.LOGGING,
    )

    def __init__(self, world):
        self.world = world

    def open(self, opts, password, deadline):
        if self.world.get("no_library"):
            # What the adapter's lazy import raises without python3-redfish.
            raise ModuleNotFoundError("No module named 'redfish'", name="redfish")
        self.world["opened"] = True
        self.world["password"] = password
        if self.world.get("bad_password"):
            raise AuthenticationError(f"BMC refused user admin (password {password})")
        return FakeDevice(self.world)


@pytest.fixture
def world():
    return {
        "power": PowerState.ON,
        "pending": None,
        "countdown": 0,
        "reads": 0,
        "requests": [],
    }


def run(world, capsys, argv=None, stdin=None):
    agent = FakeAgent(world)
    with pytest.raises(SystemExit) as info:
        driver.main(agent, argv=argv or [], stdin_lines=stdin)
    out, err = capsys.readouterr()
    return info.value.code, out, err


BASE = ["-a", "10.0.0.1", "-l", "admin", "-p", "s3cret", "--power-timeout", "2"]


def test_status_on_and_off(world, capsys):
    assert run(world, capsys, BASE + ["-o", "status"])[:2] == (0, "Status: ON\n")
    world["power"] = PowerState.OFF
    assert run(world, capsys, BASE + ["-o", "status"])[:2] == (2, "Status: OFF\n")


def test_off_succeeds_only_after_off_is_read_back(world, capsys):
    world["delay_reads"] = 3
    rc, out, _ = run(world, capsys, BASE + ["-o", "off"])
    assert (rc, out) == (0, "Success: Powered OFF\n")
    assert world["power"] is PowerState.OFF
    assert world["reads"] >= 3
    assert world["closed"]


def test_bmc_that_acknowledges_off_but_stays_on_fails_within_timeout(world, capsys):
    world["stuck"] = True
    rc, out, err = run(world, capsys, BASE + ["-o", "off"])
    assert rc == 1
    assert "Success" not in out
    assert "still reports ON" in err


def test_bmc_error_fails_at_once(world, capsys):
    world["error"] = True
    rc, out, err = run(world, capsys, BASE + ["-o", "off"])
    assert rc == 1 and out == ""
    assert "0xff" in err
    assert "read back: requested OFF, the BMC reports ON" in err
    assert world["reads"] == 1, "a refused request is read back once, not polled"


def test_refused_request_whose_state_is_reached_is_a_success(world, capsys):
    # Some BMCs refuse to power off what is off already.
    world["error"] = True
    world["power"] = PowerState.OFF
    rc, out, _ = run(world, capsys, BASE + ["-o", "off"])
    assert (rc, out) == (0, "Success: Powered OFF\n")


def test_unanswered_request_carried_out_late_is_read_back(world, capsys):
    class Late(FakeDevice):
        def request(self, target, deadline):
            super().request(target, deadline)  # the BMC acts ...
            raise ActionTimeoutError("power off: no answer from the BMC within 1 s")

    world["delay_reads"] = 4
    agent = FakeAgent(world)
    agent.open = lambda opts, password, deadline: Late(world)
    with pytest.raises(SystemExit) as info:
        driver.main(agent, argv=BASE + ["-o", "off"])
    assert info.value.code == 0
    assert world["reads"] >= 4


def test_unanswered_request_never_carried_out_fails_within_the_phase(world, capsys):
    class Lost(FakeDevice):
        def request(self, target, deadline):
            self.world["requests"].append(target)
            raise ActionTimeoutError("power off: no answer from the BMC within 1 s")

    agent = FakeAgent(world)
    agent.open = lambda opts, password, deadline: Lost(world)
    began = time.monotonic()
    with pytest.raises(SystemExit) as info:
        driver.main(agent, argv=BASE + ["-o", "off", "--power-timeout", "1"])
    assert info.value.code == 1
    assert time.monotonic() - began < 1.2
    err = capsys.readouterr().err
    assert "no answer from the BMC within 1 s; read back:" in err
    assert "still reports ON" in err


def test_unanswered_reads_are_tried_again_within_the_phase(world, capsys):
    class Flaky(FakeDevice):
        def power_state(self, deadline):
            if self.world["reads"] < 2:
                self.world["reads"] += 1
                raise ActionTimeoutError("get power: no answer")
            return super().power_state(deadline)

    agent = FakeAgent(world)
    agent.open = lambda opts, password, deadline: Flaky(world)
    with pytest.raises(SystemExit) as info:
        driver.main(agent, argv=BASE + ["-o", "off"])
    assert info.value.code == 0


def test_reboot_is_verified_off_then_on(world, capsys):
    rc, out, _ = run(world, capsys, BASE + ["-o", "reboot"])
    assert (rc, out) == (0, "Success: Rebooted\n")
    assert world["requests"] == [PowerTarget.OFF, PowerTarget.ON]


def test_reboot_where_power_on_fails_still_fenced(world, capsys):
    class OffOnly(FakeDevice):
        def request(self, target, deadline):
            if target is PowerTarget.ON:
                self.world["requests"].append(target)
                return  # never comes back on
            super().request(target, deadline)

    agent = FakeAgent(world)
    agent.open = lambda opts, password, deadline: OffOnly(world)
    with pytest.raises(SystemExit) as info:
        driver.main(agent, argv=BASE + ["-o", "reboot", "--power-timeout", "1"])
    assert info.value.code == 0
    assert world["power"] is PowerState.OFF


def test_cycle_reads_the_state_back(world, capsys):
    rc, out, _ = run(world, capsys, BASE + ["-o", "reboot", "-m", "cycle"])
    assert (rc, out) == (0, "Success: Rebooted\n")
    assert world["requests"] == [PowerTarget.CYCLE]


def test_cycle_never_seen_off_falls_back_to_verified_off_and_on(world, capsys):
    world["lazy_cycle"] = True  # acknowledges, stays ON: proves nothing
    argv = BASE + ["-o", "reboot", "-m", "cycle", "--power-timeout", "1"]
    rc, out, err = run(world, capsys, argv)
    assert (rc, out) == (0, "Success: Rebooted\n")
    assert world["requests"] == [PowerTarget.CYCLE, PowerTarget.OFF, PowerTarget.ON]
    assert "powering off and on instead" in err


def test_cycle_never_seen_off_and_off_stuck_is_no_success(world, capsys):
    world["stuck"] = True
    argv = BASE + ["-o", "reboot", "-m", "cycle", "--power-timeout", "1"]
    rc, out, _ = run(world, capsys, argv)
    assert rc == 1
    assert "Success" not in out


def test_cycle_on_a_chassis_that_reads_off_powers_it_on(world, capsys):
    world["power"] = PowerState.OFF
    rc, out, err = run(world, capsys, BASE + ["-o", "reboot", "-m", "cycle"])
    assert (rc, out) == (0, "Success: Rebooted\n")
    assert world["requests"] == [PowerTarget.ON]
    assert world["power"] is PowerState.ON
    assert "reads OFF already" in err


def test_cycle_that_leaves_the_node_off_fails(world, capsys):
    class Dead(FakeDevice):
        def request(self, target, deadline):
            self.world["requests"].append(target)
            self.world["power"] = PowerState.OFF

    agent = FakeAgent(world)
    agent.open = lambda opts, password, deadline: Dead(world)
    with pytest.raises(SystemExit) as info:
        driver.main(
            agent, argv=BASE + ["-o", "reboot", "-m", "cycle", "--power-timeout", "1"]
        )
    assert info.value.code == 1


def test_stdin_without_action_does_nothing(world, capsys):
    rc, out, err = run(world, capsys, stdin=["ip=10.0.0.1", "username=a", "password=b"])
    assert rc == 1 and out == ""
    assert "no action" in err
    assert "opened" not in world


def test_stdin_legacy_option_key_and_extra_keys(world, capsys):
    stdin = [
        "# from pacemaker-fenced",
        "option=status",
        "ipaddr=10.0.0.1",
        "login=admin",
        "passwd=s3cret",
        "nodename=ctl2",
        "pcmk_host_list=ctl2",
        "",
        "frobnicate=1",
    ]
    rc, out, err = run(world, capsys, stdin=stdin)
    assert (rc, out) == (0, "Status: ON\n")
    assert "frobnicate" in err
    assert "nodename" not in err and "pcmk_host_list" not in err


@pytest.mark.parametrize(
    "argv",
    [
        BASE + ["-o", "explode"],
        BASE + ["-o", "status", "--no-such-flag"],
        BASE + ["-o", "status", "--power-timeout", "soon"],
        ["-o", "status"],
    ],
)
def test_usage_errors_exit_1_without_touching_power(world, capsys, argv):
    rc, out, err = run(world, capsys, argv)
    assert rc == 1
    assert world["requests"] == []
    assert "Traceback" not in err


def test_password_never_printed(world, capsys):
    world["bad_password"] = True
    rc, out, err = run(world, capsys, BASE + ["-o", "status"])
    assert rc == 1
    assert "s3cret" not in out + err
    assert "******" in err


def test_password_script_runs_without_a_shell(world, capsys):
    argv = [
        "-a",
        "10.0.0.1",
        "-l",
        "admin",
        "-S",
        "/bin/echo pw from; script",
        "-o",
        "status",
    ]
    rc, _, _ = run(world, capsys, argv)
    assert rc == 0
    assert (
        world["password"] == "pw from; script"
    )  # echo got the words, no shell ran them


def test_scripted_password_is_masked_in_errors_and_logs(world, capsys, tmp_path):
    """A password found while acting (password_script) is masked at once."""
    world["bad_password"] = True  # the device's error text echoes the password
    debug_file = tmp_path / "debug.log"
    argv = ["-a", "10.0.0.1", "-l", "admin", "-S", "/bin/echo scripted-Pw0rd"]
    argv += ["-o", "status", "-v", "-D", str(debug_file)]
    rc, out, err = run(world, capsys, argv)
    assert rc == 1
    assert world["password"] == "scripted-Pw0rd"
    logged = debug_file.read_text()
    assert "scripted-Pw0rd" not in out + err + logged
    assert "password ******" in err
    assert "password ******" in logged


@pytest.mark.parametrize("action", ["list", "list-status"])
def test_list_is_refused_without_touching_the_bmc(world, capsys, action):
    """One BMC, one node: no plugs to list (as fence_ipmilan and fence_redfish).

    Advertising list would also switch Pacemaker's default pcmk_host_check to
    dynamic-list, which needs node names the BMC does not know.
    """
    rc, out, err = run(world, capsys, BASE + ["-o", action])
    assert (rc, out) == (1, "")
    assert f"{action!r} is not one of" in err
    assert "opened" not in world


def test_validate_all_checks_the_options_without_contacting_the_bmc(world, capsys):
    # As ClusterLabs fence-agents: pcs stonith create runs it, also while the
    # BMC is down; monitor is what reaches the BMC.
    rc, _, err = run(world, capsys, BASE + ["-o", "validate-all"])
    assert rc == 0, err
    assert "opened" not in world
    assert world["requests"] == []


def test_validate_all_never_runs_password_script(world, capsys, tmp_path):
    ran = tmp_path / "ran"
    script = tmp_path / "vault"
    script.write_text(f"#!/bin/sh\ntouch {ran}\necho pw\n")
    script.chmod(0o700)
    argv = ["-a", "10.0.0.1", "-l", "admin", "-S", str(script), "-o", "validate-all"]
    rc, _, err = run(world, capsys, argv)
    assert rc == 0, err
    assert not ran.exists()
    assert "opened" not in world


def test_validate_all_names_a_missing_password_script(world, capsys, tmp_path):
    missing = tmp_path / "no-such-vault"
    argv = ["-a", "10.0.0.1", "-l", "admin", "-S", f"{missing} ctl1", "-o"]
    rc, out, err = run(world, capsys, [*argv, "validate-all"])
    assert (rc, out) == (1, "")
    assert f"password_script: {missing} is not an executable program" in err
    assert "ctl1" not in err  # the arguments may be secret
    assert "opened" not in world


def test_metadata(world, capsys):
    rc, out, _ = run(world, capsys, ["-o", "metadata"])
    assert rc == 0
    root = ET.fromstring(out.split("\n", 1)[1])
    params = {p.get("name"): p for p in root.iter("parameter")}
    assert params["ip"].get("required") == "1"
    assert params["ip"].get("obsoletes") == "ipaddr"
    assert params["ipaddr"].get("deprecated") == "1"
    assert params["ipaddr"].get("required") == "0"
    assert params["action"].find("content").get("type") == "select"
    assert params["plug"].get("required") == "0"
    actions = [a.get("name") for a in root.iter("action")]
    assert actions == list(options.ACTIONS) == list(FakeAgent(world).actions)
    assert not set(actions) & {"list", "list-status"}
    # No default action: without one the agent refuses (see the stdin test).
    assert params["action"].find("content").get("default") is None
    choices = [o.get("value") for o in params["action"].iter("option")]
    assert choices == actions


# -- the declaration is the single truth ---------------------------------------


class TokenAgent(FakeAgent):
    """An agent whose declaration requires an option the runtime never names."""

    options = (*FakeAgent.options, options.Option("token", required=True))


def test_required_is_what_the_declaration_says(world, capsys):
    agent = TokenAgent(world)
    with pytest.raises(SystemExit) as info:
        driver.main(agent, argv=BASE + ["-o", "status"])
    assert info.value.code == 1
    assert "token is required (--token or token= on stdin)" in capsys.readouterr().err
    assert "opened" not in world
    with pytest.raises(SystemExit) as info:
        driver.main(agent, argv=[*BASE, "--token", "t", "-o", "status"])
    assert info.value.code == 0


@pytest.mark.parametrize("value", [None, ""])
def test_ip_is_required_by_its_declaration(world, capsys, value):
    stdin = ["action=status", "username=a", "password=b"]
    if value is not None:
        stdin.append(f"ip={value}")
    rc, out, err = run(world, capsys, stdin=stdin)
    assert (rc, out) == (1, "")
    assert "ip is required (-a, --ip or ip= on stdin)" in err
    assert "opened" not in world


@pytest.mark.parametrize(
    "argv",
    [["-o", "metadata"], ["-o", "manpage"], ["-h"], ["--help"], ["-V"]],
)
def test_describing_needs_no_required_option(world, capsys, argv):
    rc, out, err = run(world, capsys, argv)
    assert rc == 0, err
    assert out
    assert "opened" not in world


@pytest.mark.parametrize("flag", ["-V", "--version"])
def test_version_prints_the_agent_and_hakits_version(world, capsys, flag):
    from ha_common import __version__

    assert run(world, capsys, [flag]) == (0, f"fence_fake {__version__}\n", "")


def test_switches_are_argv_only(world, capsys):
    """version=1 among a stonith resource's parameters must not fence nothing."""
    stdin = ["action=status", "ip=10.0.0.1", "version=1", "help=1"]
    rc, out, err = run(world, capsys, stdin=stdin)
    assert (rc, out) == (0, "Status: ON\n")
    assert "ignoring unknown key 'version'" in err


def test_manpage_lists_every_option_and_switch(world, capsys):
    rc, out, _ = run(world, capsys, ["-o", "manpage"])
    assert rc == 0
    for opt in FakeAgent.options:
        assert opt.long in out
    assert "-V, --version" in out
    assert "-a, --ip  IP address or hostname of fencing device (required)" in out


def test_an_empty_value_takes_the_default(world, capsys):
    stdin = ["action=status", "ip=10.0.0.1", "power_timeout=", "shell_timeout="]
    rc, out, err = run(world, capsys, stdin=stdin)
    assert (rc, out) == (0, "Status: ON\n"), err


def test_an_unusable_secret_is_not_quoted(world, capsys):
    rc, _, err = run(world, capsys, [*BASE, "-p", "pw\x01tail", "-o", "status"])
    assert rc == 1
    assert "password: not a valid string" in err
    assert "tail" not in err


@pytest.mark.parametrize(
    "read",
    [
        lambda o: o.text("power_timout"),
        lambda o: o.number("power_timout"),
        lambda o: o.flag("verbos"),
        lambda o: o["ipadr"],
    ],
)
def test_reading_an_undeclared_option_raises(read):
    opts = parse.resolve(FakeAgent.options, [*BASE, "-o", "status"], None)
    with pytest.raises(UndeclaredOptionError):
        read(opts)


def test_reading_an_integer_without_a_value_raises():
    opts = parse.resolve(FakeAgent.options, [*BASE, "-o", "status"], None)
    with pytest.raises(TypeError):
        opts.number("password_script")


def test_a_misspelled_read_is_an_internal_error_not_zero(world, capsys):
    """A typo'd timeout must not read as 0 s: the action fails, rc 1."""

    class Typo(FakeAgent):
        def open(self, opts, password, deadline):
            opts.number("login_timout")
            return super().open(opts, password, deadline)

    with pytest.raises(SystemExit) as info:
        driver.main(Typo(world), argv=[*BASE, "-o", "off"])
    out, err = capsys.readouterr()
    assert (info.value.code, out) == (1, "")
    assert "internal error: UndeclaredOptionError" in err
    assert world["requests"] == []


# -- transitions (Redfish PoweringOn/PoweringOff) ------------------------------

ON, OFF = PowerState.ON, PowerState.OFF
UP, DOWN = PowerState.POWERING_ON, PowerState.POWERING_OFF


class ScriptedDevice(FakeDevice):
    """Reads the scripted states in turn (the last one repeats)."""

    def power_state(self, deadline):
        self.world["reads"] += 1
        script = self.world["script"]
        return script.pop(0) if len(script) > 1 else script[0]

    def request(self, target, deadline):
        self.world["requests"].append(target)


def scripted(world, capsys, states, argv):
    world["script"] = list(states)
    agent = FakeAgent(world)
    agent.open = lambda opts, password, deadline: ScriptedDevice(world)
    with pytest.raises(SystemExit) as info:
        driver.main(agent, argv=[*BASE, "--power-timeout", "1", *argv])
    out, err = capsys.readouterr()
    return info.value.code, out, err


@pytest.mark.parametrize("states", [[DOWN, UP], [UP], [DOWN], [ON, DOWN, UP, UP]])
def test_off_is_confirmed_only_by_off(world, capsys, states):
    """PoweringOn after an off is the node coming back: never a success."""
    rc, out, err = scripted(world, capsys, states, ["-o", "off"])
    assert (rc, out) == (1, "")
    assert f"still reports {states[-1].value}" in err


def test_off_read_back_after_powering_off(world, capsys):
    rc, out, _ = scripted(world, capsys, [ON, DOWN, OFF], ["-o", "off"])
    assert (rc, out) == (0, "Success: Powered OFF\n")


@pytest.mark.parametrize(
    ("states", "rc"), [([UP, UP, ON], 0), ([UP], 1), ([DOWN, UP], 1)]
)
def test_on_is_confirmed_only_by_on(world, capsys, states, rc):
    assert scripted(world, capsys, states, ["-o", "on"])[0] == rc


@pytest.mark.parametrize("state", [UP, DOWN])
def test_status_of_a_transition_is_on(world, capsys, state):
    """Exit 2 says the node is off; one powering on or off may still run."""
    assert scripted(world, capsys, [state], ["-o", "status"])[:2] == (
        0,
        "Status: ON\n",
    )


@pytest.mark.parametrize(
    "states", [[ON, OFF, UP, ON], [ON, DOWN, UP, ON], [ON, UP, UP, ON]]
)
def test_cycle_takes_powering_on_as_its_second_half(world, capsys, states):
    rc, out, _ = scripted(world, capsys, states, ["-o", "reboot", "-m", "cycle"])
    assert (rc, out) == (0, "Success: Rebooted\n")
    assert world["requests"] == [PowerTarget.CYCLE]


@pytest.mark.parametrize("states", [[ON, UP], [ON, DOWN], [ON]])
def test_cycle_still_needs_on_at_the_end(world, capsys, states):
    rc, out, _ = scripted(world, capsys, states, ["-o", "reboot", "-m", "cycle"])
    assert (rc, out) == (1, "")


# -- secrets: never in text, and the mask damages no other word ----------------


class EchoingAgent(FakeAgent):
    """Its device's error text echoes the password, as a library might."""

    name = "fence_hakit_fake"

    def open(self, opts, password, deadline):
        raise AuthenticationError(
            f"{self.name}: BMC refused user admin (password {password})"
        )


def test_password_fence_masks_the_password_and_not_the_agent_name(
    world, capsys, tmp_path
):
    """Issue #11: with password 'fence' the agent's name read '******_hakit_...'."""
    debug_file = tmp_path / "debug.log"
    argv = ["-a", "10.0.0.1", "-l", "admin", "-p", "fence", "-o", "status"]
    with pytest.raises(SystemExit) as info:
        driver.main(EchoingAgent(world), argv=[*argv, "-D", str(debug_file)])
    out, err = capsys.readouterr()
    assert (info.value.code, out) == (1, "")
    assert err == (
        "Failed: fence_hakit_fake: BMC refused user admin (password ******)\n"
    )
    logged = debug_file.read_text()
    assert "fence_hakit_fake: BMC refused user admin (password ******)" in logged
    assert " fence)" not in logged


def test_a_failure_is_one_line(world, capsys):
    class Multiline(FakeAgent):
        def open(self, opts, password, deadline):
            raise DeviceError("login failed:\n  <html>\n  <body>x</body>")

    with pytest.raises(SystemExit):
        driver.main(Multiline(world), argv=[*BASE, "-o", "status"])
    assert capsys.readouterr().err == ("Failed: login failed: <html> <body>x</body>\n")


def test_a_missing_library_is_one_line_naming_the_package(world, capsys):
    world["no_library"] = True
    rc, out, err = run(world, capsys, BASE + ["-o", "status"])
    assert (rc, out) == (1, "")
    assert err.strip().splitlines() == [
        "Failed: the Python module redfish is missing: install python3-redfish "
        "(Debian 12 has none: hakit's make deb builds it)"
    ]
