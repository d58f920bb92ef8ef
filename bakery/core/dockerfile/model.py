"""What a parsed Dockerfile is: instructions as written, their heredocs, and mounts.

Frozen data and the small lookups callers need (``Instruction.flag``,
``Instruction.pairs``); no parsing happens here, so that the stage graph, the
plan and the emitter can use the model without knowing how it was read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = ["Dockerfile", "Heredoc", "Instruction", "Mount"]


@dataclass(frozen=True)
class Heredoc:
    """One ``<<EOF`` body attached to an instruction."""

    name: str
    # The body exactly as written, each line with its line ending ("" when empty).
    # Leading tabs are kept even for <<-EOF: BuildKit strips them when it uses the body.
    content: str
    expand: bool  # False when the delimiter was quoted (<<"EOF"): no variable expansion
    chomp: bool  # True for <<-EOF: leading tabs are stripped (from the body, when used)
    fd: int = 0  # the file descriptor written before it (3<<EOF), 0 when none


@dataclass(frozen=True)
class Instruction:
    """One instruction as written.

    ``args`` are the arguments as the reference parser splits them (before any
    variable expansion); ``flags`` the raw ``--name=value`` strings in order.
    ``start_line``/``end_line`` are 1-based and inclusive, and cover
    continuation lines and heredoc bodies. ``original`` is the exact source
    text of those lines.

    What ``args`` hold, by instruction:

    - FROM, EXPOSE, and ADD/COPY/VOLUME in shell form: the words split at blanks,
      quotes kept (``FROM a AS b`` -> ``("a", "AS", "b")``);
    - ADD/COPY/VOLUME and RUN/CMD/ENTRYPOINT/SHELL in JSON form: the strings of
      the array, ``json`` is True;
    - RUN/CMD/ENTRYPOINT/SHELL in shell form, and MAINTAINER, USER, WORKDIR,
      STOPSIGNAL: one string, the rest of the line (continuations joined);
    - ENV and LABEL: triples ``(key, value, sep)`` where sep is ``"="`` for
      ``k=v`` and ``""`` for the legacy ``ENV k v`` form (see ``pairs()``);
    - ARG: the words as written (``("a", "b=1")``), quotes kept;
    - HEALTHCHECK: ``("CMD", ...)`` with the command as for CMD, or ``("NONE",)``;
    - ONBUILD: one string, the trigger as written; the trigger parsed is ``onbuild``.

    Empty when the instruction has no arguments.
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

    def pairs(self) -> tuple[tuple[str, str], ...]:
        """ENV and LABEL: the ``(key, value)`` pairs, values unexpanded, quotes kept."""
        return tuple(zip(self.args[0::3], self.args[1::3], strict=False))


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
