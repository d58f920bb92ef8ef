"""What goes wrong in a word, and how it is told.

``Fail`` is raised wherever the lexer or a pattern finds a problem; the lexer
turns it into the public ``ShellError`` in one place, adding the word, so that
the message reads as BuildKit's does.
"""

from __future__ import annotations

import json

from bakery.core.errors import DockerfileError


class ShellError(DockerfileError):
    """A word cannot be expanded: bad ``${...}`` syntax, an unclosed quote, ``${X:?msg}``."""

    def __init__(
        self,
        reason: str,
        *,
        word: str | None = None,
        where: str | None = None,
        hint: str | None = None,
    ):
        # Worded as BuildKit words it, so that the message matches what `docker build` says.
        message = reason if word is None else f"failed to process {_quote(word)}: {reason}"
        super().__init__(message, where=where, hint=hint)
        self.reason = reason
        self.word = word


class Fail(Exception):
    """Raised where a problem is found, without the word: the lexer's ``run`` adds it."""

    def __init__(self, reason: str, hint: str | None = None):
        super().__init__(reason)
        self.reason = reason
        self.hint = hint


def _quote(text: str) -> str:
    """Double-quoted with backslash escapes, as Go's %q shows a word in BuildKit's errors."""
    return json.dumps(text, ensure_ascii=False)
