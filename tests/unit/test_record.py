"""ha_common.record: the frozen value classes agents use instead of dataclasses."""

from __future__ import annotations

import pytest

from ha_common.record import FrozenInstanceError, record


@record
class Point:
    x: int
    y: int = 0
    tags: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.x < 0:
            raise ValueError("x must not be negative")


def test_fields_defaults_and_keywords():
    assert Point(1) == Point(x=1, y=0, tags=())
    assert Point(1, 2).y == 2
    assert Point(1, tags=("a",)).tags == ("a",)


def test_equality_hash_and_repr():
    assert Point(1, 2) == Point(1, 2) and Point(1, 2) != Point(2, 1)
    assert hash(Point(1, 2)) == hash(Point(1, 2))
    assert len({Point(1, 2), Point(1, 2), Point(3)}) == 2
    assert repr(Point(1, 2)) == "Point(x=1, y=2, tags=())"
    assert Point(1) != (1, 0, ())


def test_frozen():
    point = Point(1)
    with pytest.raises(FrozenInstanceError):
        point.x = 3  # type: ignore[misc]
    with pytest.raises(FrozenInstanceError):
        del point.y  # type: ignore[misc]


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        ((), {}, "missing x"),
        ((1, 2, (), 4), {}, "takes 3 arguments"),
        ((1,), {"z": 1}, "unknown field 'z'"),
        ((1,), {"x": 1}, "'x' twice"),
    ],
)
def test_bad_construction(args, kwargs, message):
    with pytest.raises(TypeError, match=message):
        Point(*args, **kwargs)


def test_post_init_runs():
    with pytest.raises(ValueError, match="negative"):
        Point(-1)


def test_no_dataclasses_import():
    import subprocess
    import sys

    code = "import sys, ha_common.record; print('dataclasses' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "False"
