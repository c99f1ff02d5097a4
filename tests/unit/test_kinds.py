"""Value kinds: conversion and refusal of bad input."""

from __future__ import annotations

import pytest

from ha_common import kinds


@pytest.mark.parametrize("text", ["1", "yes", "Y", "TRUE", "on", "ja"])
def test_true_spellings(text):
    assert kinds.to_bool(text) is True


@pytest.mark.parametrize("text", ["0", "no", "N", "False", "OFF"])
def test_false_spellings(text):
    assert kinds.to_bool(text) is False


@pytest.mark.parametrize("text", ["", "maybe", "2", "truee"])
def test_bad_boolean_is_an_error_not_false(text):
    with pytest.raises(ValueError):
        kinds.to_bool(text)


@pytest.mark.parametrize("text", ["0", "65536", "-1", "80a", "http"])
def test_bad_ports(text):
    with pytest.raises(ValueError):
        kinds.to_port(text)


def test_port():
    assert kinds.to_port(" 5000 ") == 5000


@pytest.mark.parametrize(
    "text", ["relative/path", "/etc/x;rm -rf /", "/tmp/$(id)", "/a b", "/tmp/`x`"]
)
def test_bad_paths(text):
    with pytest.raises(ValueError):
        kinds.to_path(text)


def test_paths_list():
    assert kinds.to_paths("/a  /b\t/c") == ("/a", "/b", "/c")


@pytest.mark.parametrize("text", ["nova", "_svc", "heat-admin", "host$"])
def test_user_names(text):
    assert kinds.to_name(text) == text


@pytest.mark.parametrize("text", ["no;body", "a b", "", "9lives", "x" * 40])
def test_bad_user_names(text):
    with pytest.raises(ValueError):
        kinds.to_name(text)


def test_args_split_like_a_shell():
    assert kinds.to_args("--workers 2 --name 'a b'") == (
        "--workers",
        "2",
        "--name",
        "a b",
    )


@pytest.mark.parametrize(
    "text", ["--x; reboot", "--a && b", "--out >/etc/passwd", "$(id)", "`id`", "a | b"]
)
def test_args_refuse_shell_operators(text):
    with pytest.raises(ValueError):
        kinds.to_args(text)


def test_args_unbalanced_quote():
    with pytest.raises(ValueError):
        kinds.to_args("--name 'a")


def test_env_pairs():
    assert kinds.to_env("A=1 B='x y'") == (("A", "1"), ("B", "x y"))


@pytest.mark.parametrize("text", ["NOEQUALS", "1A=x", "LD_PRELOAD=/tmp/x.so"])
def test_bad_env(text):
    with pytest.raises(ValueError):
        kinds.to_env(text)


def test_one_of():
    kind = kinds.one_of("http", "https")
    assert kind.convert("https") == "https"
    assert kind.choices == ("http", "https")
    with pytest.raises(ValueError):
        kind.convert("ftp")


def test_control_characters_refused_in_strings():
    with pytest.raises(ValueError):
        kinds.to_string("a\nb")


def test_host_map():
    assert kinds.to_host_map("ctl1:10.0.0.1; ctl2:[fd00::2]:4567,ctl3:c3;") == {
        "ctl1": "10.0.0.1",
        "ctl2": "[fd00::2]:4567",
        "ctl3": "c3",
    }
    assert kinds.HOST_MAP.convert("") == {}


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("a:1;a:2", "twice"),
        ("a", "not node:host"),
        (":h", "not node:host"),
        ("a:$(reboot)", "not node:host"),
        ("a b:h", "not node:host"),
    ],
)
def test_bad_host_map(text, words):
    with pytest.raises(ValueError, match=words):
        kinds.to_host_map(text)
