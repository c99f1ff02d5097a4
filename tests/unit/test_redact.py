"""The secret-masking safety net: words of their own are masked, no other word."""

from __future__ import annotations

import pytest

from ha_common.redact import MASK, Redactor


@pytest.mark.parametrize(
    "text",
    [
        "action 'x' is not supported by fence_hakit_ipmi",
        "fence_hakit_ipmi[1234]: status",
        "/usr/sbin/fence_hakit_redfish",
        "host fence-ctl1.example.com",
        "defence and fences",
        "stonith:fence_hakit_ipmi",
    ],
)
def test_words_that_merely_contain_the_secret_stay_whole(text):
    assert Redactor(["fence"])(text) == text


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("fence", MASK),
        ("password fence refused", f"password {MASK} refused"),
        ("password 'fence' refused", f"password '{MASK}' refused"),
        ('{"Password": "fence"}', f'{{"Password": "{MASK}"}}'),
        ("password=fence,user=admin", f"password={MASK},user=admin"),
        ("admin:fence@bmc", f"admin:{MASK}@bmc"),
        ("it was fence.", f"it was {MASK}."),
        ("(fence)", f"({MASK})"),
        ("-fence-", f"-{MASK}-"),
    ],
)
def test_a_secret_standing_as_a_word_is_masked(text, masked):
    assert Redactor(["fence"])(text) == masked


def test_both_in_one_line():
    """The case of issue #11: the agent name stays, the password goes."""
    text = "fence_hakit_ipmi: BMC refused user admin with password fence"
    assert Redactor(["fence"])(text) == (
        f"fence_hakit_ipmi: BMC refused user admin with password {MASK}"
    )


def test_secrets_with_punctuation_and_overlaps():
    redactor = Redactor(["p@ss w0rd!", "w0rd", ""])
    assert redactor("got 'p@ss w0rd!' and w0rd") == f"got '{MASK}' and {MASK}"
    assert redactor("passw0rd w0rds") == "passw0rd w0rds"


def test_later_secrets_are_added():
    redactor = Redactor()
    assert redactor("token abc123") == "token abc123"
    redactor.add("abc123")
    assert redactor("token abc123") == f"token {MASK}"


def test_occurrence_inside_a_word_does_not_hide_one_outside():
    assert Redactor(["fence"])("fence_x fence") == f"fence_x {MASK}"
