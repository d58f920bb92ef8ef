"""Errors the user can fix.

Every problem bakery reports to a user is a ``BakeryError``: it carries one
message that names where the problem is (file, line, key), an optional hint,
and the exit code the CLI ends with. Errors are raised where they are found and
translated into text exactly once, in ``bakery.cli``. Anything that is not a
``BakeryError`` is a bug in bakery.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class BakeryError(Exception):
    """A problem the user can fix. ``exit_code`` is what the CLI exits with."""

    exit_code = 2

    def __init__(self, message: str, *, where: str | None = None, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.where = where
        self.hint = hint

    def __str__(self) -> str:
        if self.where:
            return f"{self.where}: {self.message}"
        return self.message


class ConfigError(BakeryError):
    """bake.toml, the command line or a variable is wrong; nothing was built."""


class DockerfileError(BakeryError):
    """A Dockerfile cannot be read; nothing was built."""


class CycleError(ConfigError):
    """A cycle in inherits, depends-on, groups or stages. ``cycle`` is the loop, closed."""

    def __init__(self, kind: str, cycle: Iterable[str], *, where: str | None = None):
        self.cycle = tuple(cycle)
        super().__init__(
            f"cycle in {kind}: {' -> '.join(self.cycle)}",
            where=where,
            hint=f"remove one of the {kind} links so that the chain ends",
        )


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """Return ``'; did you mean "x"?'`` for the nearest choice, or ``""``."""
    options = sorted(set(choices))
    lowered = {c.lower(): c for c in options}
    if word.lower() in lowered and lowered[word.lower()] != word:
        return f'; did you mean "{lowered[word.lower()]}"?'
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    if not close:
        # A prefix ("tag" for "tags", "server" for "server-debug") is also a good guess.
        close = [c for c in options if c.startswith(word) or word.startswith(c)][:1]
    return f'; did you mean "{close[0]}"?' if close else ""
