"""The file: lines, parser directives, continuations, and each instruction's place.

Splits the text as BuildKit's scanner does (at ``\\n``, endings kept, lines of
at most 65535 bytes), reads the ``# syntax=`` / ``# escape=`` / ``# check=``
directives before anything else, joins continuation lines (skipping comments
and blank lines inside them), hands each logical line to ``parse_instruction``
and its heredocs to ``read_heredocs``, and records the lines each instruction
spans. Every problem becomes a ``DockerfileError`` naming the file and line here.
"""

from __future__ import annotations

import dataclasses
import re

from bakery.core.dockerfile.errors import Fail
from bakery.core.dockerfile.heredocs import read_heredocs
from bakery.core.dockerfile.instructions import parse_instruction
from bakery.core.dockerfile.model import Dockerfile, Heredoc, Instruction
from bakery.core.errors import DockerfileError
from bakery.core.shell import WHITESPACE

__all__ = ["parse_dockerfile"]

_DIRECTIVES = frozenset({"syntax", "escape", "check"})
# Go's \s is [\t\n\f\r ]: no \v and nothing beyond ASCII.
_DIRECTIVE_NAME = re.compile(r"([a-zA-Z][a-zA-Z0-9]*)[\t\n\f\r ]*=")
_GO_SPACE = "\t\n\f\r "
_MAX_LINE = 65535  # bytes: BuildKit's line scanner stops at bufio.MaxScanTokenSize - 1
_BOM = "\ufeff"


def _continuation(escape: str) -> re.Pattern[str]:
    # The escape as the last non-blank character continues the line, unless it is
    # itself escaped; alone on a line it continues too.
    e = re.escape(escape)
    return re.compile(rf"([^{e}]){e}[ \t]*\Z|^{e}[ \t]*\Z")


def _physical_lines(text: str) -> list[str]:
    """The lines as BuildKit's scanner yields them: split at \\n only, endings kept."""
    parts = text.split("\n")
    out = [part + "\n" for part in parts[:-1]]
    if parts[-1]:
        out.append(parts[-1])
    return out


def _is_comment(line: str) -> bool:
    return line.lstrip(WHITESPACE).startswith("#")


def directive(text: str) -> tuple[str, str] | None:
    """``name=value`` of a directive line after its ``#``, as BuildKit's
    ``\\s*([a-zA-Z][a-zA-Z0-9]*)\\s*=\\s*(.+?)\\s*`` reads it, in linear time
    (that pattern, run by a backtracking engine, is quadratic in the blanks)."""
    match = _DIRECTIVE_NAME.match(text)
    if match is None:
        return None
    rest = text[match.end() :]
    if not rest or "\n" in rest.strip(_GO_SPACE):
        return None
    value = rest.strip(_GO_SPACE)
    if not value:
        # Only blanks: the lazy group still takes one, the last it can (not a newline).
        value = rest.rstrip("\n")[-1:]
    return (match[1], value) if value else None


class _Directives:
    """Parser directives: ``# name=value`` lines before anything else."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}
        self.done = False

    def read(self, line: str) -> bool:
        """Whether ``line`` (without its ending) is a directive. Raises ``Fail``."""
        if self.done:
            return False
        found = directive(line[1:].lstrip(WHITESPACE)) if line.startswith("#") else None
        name = found[0].lower() if found else ""
        if found is None or name not in _DIRECTIVES:
            self.done = True
            return False
        if name in self.values:
            raise Fail(
                f"only one {name} parser directive can be used",
                hint=f"remove the second # {name}= line",
            )
        value = found[1]
        if name == "escape" and value not in ("\\", "`"):
            raise Fail(
                f"invalid escape token '{value}' does not match ` or \\",
                hint="write # escape=\\ or # escape=`",
            )
        self.values[name] = value
        return True


def _placed(
    ins: Instruction, start: int, end: int, original: str, heredocs: tuple[Heredoc, ...]
) -> Instruction:
    """``ins`` with its place in the file; an ONBUILD trigger shares its instruction's."""
    onbuild = None if ins.onbuild is None else _placed(ins.onbuild, start, end, original, heredocs)
    return dataclasses.replace(
        ins, start_line=start, end_line=end, original=original, heredocs=heredocs, onbuild=onbuild
    )


def parse_dockerfile(text: str, *, name: str = "Dockerfile") -> Dockerfile:
    """Parse Dockerfile text. Raises ``DockerfileError`` naming ``name`` and the line."""
    text = text.removeprefix(_BOM)
    physical = _physical_lines(text)
    lines = tuple(p.rstrip("\n").removesuffix("\r") for p in physical)
    for number, raw in enumerate(physical, start=1):
        if len(raw.rstrip("\n").encode("utf-8", "surrogatepass")) > _MAX_LINE:
            raise DockerfileError(
                f"line is longer than {_MAX_LINE} bytes, the most BuildKit reads",
                where=f"{name}:{number}",
                hint="split it with line continuations",
            )

    directives = _Directives()
    escape = "\\"
    continuation = _continuation(escape)
    instructions: list[Instruction] = []
    index = 0  # of the next physical line; physical[index] is line index + 1

    def take() -> str:
        nonlocal index
        index += 1
        return physical[index - 1].rstrip("\r\n")

    while index < len(physical):
        start = index + 1
        line = take().lstrip(WHITESPACE)
        try:
            if directives.read(line):
                escape = directives.values.get("escape", escape)
                continuation = _continuation(escape)
        except Fail as err:
            raise DockerfileError(err.message, where=f"{name}:{start}", hint=err.hint) from None
        if _is_comment(line):
            continue
        joined, count = continuation.subn(r"\1", line)
        if count == 0 and not joined:
            continue
        parts = [joined]
        while count and index < len(physical):
            line = take()
            # Comment lines and blank lines inside a continuation are skipped; the
            # reference warns that blank ones will become errors one day.
            if _is_comment(line) or not line.lstrip(WHITESPACE):
                continue
            joined, count = continuation.subn(r"\1", line)
            parts.append(joined)
        logical = "".join(parts)

        try:
            ins = parse_instruction(logical, escape)
            heredocs, index = read_heredocs(ins, logical, physical, index)
        except Fail as err:
            raise DockerfileError(err.message, where=f"{name}:{start}", hint=err.hint) from None

        original = "\n".join(lines[start - 1 : index])
        instructions.append(_placed(ins, start, index, original, heredocs))

    if not instructions:
        empty = not text.strip(WHITESPACE)
        raise DockerfileError(
            "the Dockerfile is empty"
            if empty
            else "the Dockerfile has no instructions, only comments and blank lines",
            where=name,
            hint="a Dockerfile starts with FROM image (after any ARG lines)",
        )
    return Dockerfile(
        instructions=tuple(instructions),
        directives=dict(directives.values),
        escape=escape,
        lines=lines,
        name=name,
    )
