"""Masking of secrets in messages (``logsetup.RedactingFilter`` applies it to logs)."""

from __future__ import annotations

from collections.abc import Iterable

MASK = "******"


class Redactor:
    """Replace every known secret value by a mask."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        """Remember ``secrets``; empty values are ignored."""
        self._secrets: list[str] = []
        self.add(*secrets)

    def add(self, *secrets: str) -> None:
        """Register more secret values (longest first, so overlaps mask fully)."""
        for secret in secrets:
            if secret and secret not in self._secrets:
                self._secrets.append(secret)
        self._secrets.sort(key=len, reverse=True)

    def __call__(self, text: str) -> str:
        """Return ``text`` with every secret masked."""
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        return text
