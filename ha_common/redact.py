"""Masking of secrets in log records and messages."""

from __future__ import annotations

import logging
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


class RedactingFilter(logging.Filter):
    """A logging filter that renders the message and masks secrets in it."""

    def __init__(self, redactor: Redactor) -> None:
        """Use ``redactor`` on every record."""
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        """Render ``record`` once, masked; never drop it."""
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redactor(record.exc_text)
        record.msg = self.redactor(message)
        record.args = None
        return True
