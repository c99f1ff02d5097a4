"""Masking of secrets in messages (``logsetup.RedactingFilter`` applies it to logs).

This is a safety net, not the protection: hakit's messages never interpolate a
secret value, so the net only catches text from elsewhere (a client library's
exception, a subprocess's output) that echoes one.

A secret is masked only where it stands as a word of its own, never inside a
longer word.  Masking every occurrence damages other words and so reveals the
secret: with the password ``fence``, ``fence_hakit_ipmi`` became
``******_hakit_ipmi``, telling every reader of Pacemaker's log the password.
Here ``fence_hakit_ipmi`` stays whole while ``password fence`` and
``'fence'`` are masked.  A word is a run of letters, digits and ``_``,
possibly joined by ``-``, ``.`` or ``/`` (a host name, a file path).
"""

from __future__ import annotations

from collections.abc import Iterable

MASK = "******"
#: Characters that join the word characters on both sides into one word.
JOINERS = frozenset("-./")


def _is_word_char(char: str) -> bool:
    return char.isalnum() or char == "_"


def _continues(text: str, index: int, step: int) -> bool:
    """Tell whether ``text[index]``, next to an occurrence, lengthens its word.

    ``step`` is -1 for the character before the occurrence, +1 for the one
    after: a joiner counts only when a word character lies beyond it.
    """
    if not 0 <= index < len(text):
        return False
    char = text[index]
    if _is_word_char(char):
        return True
    beyond = index + step
    return char in JOINERS and 0 <= beyond < len(text) and _is_word_char(text[beyond])


def mask(text: str, secret: str) -> str:
    """Return ``text`` with each occurrence of ``secret`` that is a word masked.

    Occurrences inside a longer word are left alone (see the module's
    docstring).
    """
    if not secret or secret not in text:
        return text
    parts = []
    start = 0
    found = text.find(secret)
    while found != -1:
        end = found + len(secret)
        if _continues(text, found - 1, -1) or _continues(text, end, 1):
            found = text.find(secret, found + 1)
            continue
        parts += [text[start:found], MASK]
        start = end
        found = text.find(secret, end)
    parts.append(text[start:])
    return "".join(parts)


class Redactor:
    """Mask every known secret value where it stands as a word of its own."""

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
            text = mask(text, secret)
        return text
