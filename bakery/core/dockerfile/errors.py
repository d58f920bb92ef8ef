"""The reader's one way to report a problem: ``Fail``, raised where it is found.

It carries the message and a hint but not the place: ``parse_dockerfile`` and
``parse_mount`` know the file, the line or the flag, and turn it into a
``DockerfileError`` there, once.
"""

from __future__ import annotations

__all__ = ["Fail"]


class Fail(Exception):
    """A problem found while reading an instruction or a mount; the caller adds the place."""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint
