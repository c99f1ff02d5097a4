"""Deadlines: every blocking call gets what is left of the action's time."""

from __future__ import annotations

import time


class Deadline:
    """A point in monotonic time by which an action must be done."""

    __slots__ = ("_end", "total")

    def __init__(self, seconds: float) -> None:
        """Start a deadline ``seconds`` from now."""
        self.total = max(0.0, seconds)
        self._end = time.monotonic() + self.total

    def remaining(self) -> float:
        """Seconds left, never negative."""
        return max(0.0, self._end - time.monotonic())

    def expired(self) -> bool:
        """Tell whether no time is left."""
        return self.remaining() <= 0.0

    def sub(self, seconds: float) -> Deadline:
        """A deadline ``seconds`` from now, or this one if that comes first."""
        return Deadline(min(seconds, self.remaining()))

    def __repr__(self) -> str:
        """Show the time left."""
        return f"Deadline(remaining={self.remaining():.3f})"
