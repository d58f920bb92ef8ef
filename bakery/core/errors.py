"""Errors the user can fix, and the one table from how a command ended to its exit code.

Every problem bakery reports to a user is a ``BakeryError``: it carries one
message that names where the problem is (file, line, key), an optional hint,
and the ``Outcome`` it makes of the command. Errors are raised where they are
found and translated into text exactly once, in ``bakery.cli``. Anything that is
not a ``BakeryError`` is a bug in bakery.

``EXIT_CODES`` is the only place that gives an outcome its number: an error
says what kind of ending it is, never which code.
"""

from __future__ import annotations

import difflib
import enum
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import ClassVar, Final


class Outcome(enum.Enum):
    """How a command ended; the value says it as the CLI's help does."""

    OK = "success"
    FAILED = "a build or push failed"
    USAGE = "usage or configuration error (nothing was built)"
    INTERRUPTED = "interrupted"
    TERMINATED = "terminated (SIGTERM, as a CI runner cancels a job)"
    HUNG_UP = "hung up (SIGHUP)"
    OUTPUT_CLOSED = "output closed early (as by a pipe to head)"


EXIT_CODES: Final[Mapping[Outcome, int]] = MappingProxyType(
    {
        Outcome.OK: 0,
        Outcome.FAILED: 1,  # also: the daemon could not be reached, a pull failed
        Outcome.USAGE: 2,  # a bad bake file, Dockerfile, name or option
        Outcome.INTERRUPTED: 130,  # 128 + SIGINT, as shells report Ctrl-C
        Outcome.TERMINATED: 143,  # 128 + SIGTERM
        Outcome.HUNG_UP: 129,  # 128 + SIGHUP
        Outcome.OUTPUT_CLOSED: 141,  # 128 + SIGPIPE, as a program killed by it reports
    }
)


class BakeryError(Exception):
    """A problem the user can fix. ``outcome`` is the kind of ending it makes of
    the command (a subclass says its own); ``exit_code`` is that outcome's code."""

    outcome: ClassVar[Outcome] = Outcome.USAGE

    def __init__(self, message: str, *, where: str | None = None, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.where = where
        self.hint = hint

    def __str__(self) -> str:
        if self.where:
            return f"{self.where}: {self.message}"
        return self.message

    @property
    def exit_code(self) -> int:
        """What the CLI exits with for this error."""
        return EXIT_CODES[self.outcome]


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
