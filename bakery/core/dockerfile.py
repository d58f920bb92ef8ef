"""The Dockerfile reader.

Turns Dockerfile text into instructions, as BuildKit's parser does: parser
directives (``# syntax=``, ``# escape=``), line continuations with comments
and blank lines inside them, JSON and shell forms, heredocs, ONBUILD, and
flags. Every instruction keeps its source line span and its original text, so
a stage can be re-emitted exactly as written. Pure: text in, data out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from bakery.core.errors import DockerfileError


@dataclass(frozen=True)
class Heredoc:
    """One ``<<EOF`` body attached to an instruction."""

    name: str
    content: str  # the body, lines joined with "\n", ending with "\n" when non-empty
    expand: bool  # False when the delimiter was quoted (<<"EOF"): no variable expansion
    chomp: bool  # True for <<-EOF: leading tabs are stripped


@dataclass(frozen=True)
class Instruction:
    """One instruction as written.

    ``args`` are the arguments as the reference parser splits them (before any
    variable expansion); ``flags`` the raw ``--name=value`` strings in order.
    ``start_line``/``end_line`` are 1-based and inclusive, and cover
    continuation lines and heredoc bodies. ``original`` is the exact source
    text of those lines.
    """

    keyword: str  # lower-case: "from", "run", ...
    args: tuple[str, ...]
    flags: tuple[str, ...] = ()
    json: bool = False
    heredocs: tuple[Heredoc, ...] = ()
    start_line: int = 0
    end_line: int = 0
    original: str = ""
    onbuild: Instruction | None = None  # for ONBUILD, the wrapped instruction

    def flag(self, name: str) -> str | None:
        """The value of ``--name=value`` (the last one wins), ``None`` if absent."""
        value = None
        for raw in self.flags:
            key, sep, val = raw[2:].partition("=")
            if key == name:
                value = val if sep else ""
        return value

    def flag_values(self, name: str) -> tuple[str, ...]:
        """Every value of a repeatable flag such as ``--mount``, in order."""
        out = []
        for raw in self.flags:
            key, sep, val = raw[2:].partition("=")
            if key == name:
                out.append(val if sep else "")
        return tuple(out)


@dataclass(frozen=True)
class Dockerfile:
    """A parsed Dockerfile."""

    instructions: tuple[Instruction, ...]
    directives: Mapping[str, str] = field(default_factory=dict)  # lower-case names
    escape: str = "\\"
    lines: tuple[str, ...] = ()  # the source, split into lines without their endings
    name: str = "Dockerfile"  # for messages: the path as the user knows it


@dataclass(frozen=True)
class Mount:
    """A parsed ``RUN --mount=...`` value."""

    type: str  # bind (default), cache, tmpfs, secret, ssh
    source: str | None = None
    target: str | None = None
    from_: str | None = None  # a stage name or index, a named context or an image
    options: Mapping[str, str] = field(default_factory=dict)  # every key=value as written


def parse_dockerfile(text: str, *, name: str = "Dockerfile") -> Dockerfile:
    """Parse Dockerfile text. Raises ``DockerfileError`` naming ``name`` and the line."""
    raise DockerfileError("not implemented", where=name)


def dump(dockerfile: Dockerfile) -> str:
    """The reference parser's dump format: one ``(keyword ...)`` line per instruction."""
    raise NotImplementedError


def parse_mount(value: str, *, where: str | None = None) -> Mount:
    """Parse the CSV value of one ``--mount`` flag."""
    raise DockerfileError("not implemented", where=where)
