"""Heredocs: which words of an instruction open one, and where each body ends.

BuildKit splits the line with its shell lexer, keeping quotes, escapes and
unset variables as written, and takes every word that matches ``<<NAME`` (or
``<<-NAME``, ``3<<NAME``); a delimiter with quotes anywhere turns expansion off.
Only ADD, COPY and RUN in shell form take heredocs. The bodies follow the
instruction's line, each up to a line that holds only its delimiter.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence

from bakery.core.dockerfile.errors import Fail
from bakery.core.dockerfile.model import Heredoc, Instruction
from bakery.core.shell import ShellError, split_words

__all__ = ["read_heredocs"]

_HEREDOC_KEYWORDS = frozenset({"add", "copy", "run"})
# Go's \s is [\t\n\f\r ]: no \v and nothing beyond ASCII.
_HEREDOC = re.compile(r"([0-9]*)<<(-?)[\t\n\f\r ]*([^<]*)")


def read_heredocs(
    ins: Instruction, line: str, lines: Sequence[str], index: int
) -> tuple[tuple[Heredoc, ...], int]:
    """The heredocs ``ins`` opens, with their bodies, and the index of the line after them.

    ``line`` is the instruction's logical line; the bodies are read from
    ``lines[index:]``, the physical lines with their endings. Raises ``Fail``.
    """
    if not _takes_heredocs(ins) or "<<" not in line:
        return (), index
    docs: list[Heredoc] = []
    for doc in _opened(line):
        content: list[str] = []
        while True:
            if index == len(lines):
                raise Fail(
                    f'unterminated heredoc "{doc.name}"',
                    hint=f"end the heredoc with a line that holds only {doc.name}",
                )
            body = lines[index]
            index += 1
            end = body.rstrip("\r\n")
            if (end.lstrip("\t") if doc.chomp else end) == doc.name:
                break
            content.append(body)
        docs.append(dataclasses.replace(doc, content="".join(content)))
    return tuple(docs), index


def _takes_heredocs(ins: Instruction) -> bool:
    target = ins.onbuild if ins.onbuild is not None else ins
    return target.keyword in _HEREDOC_KEYWORDS and not target.json


def _opened(line: str) -> list[Heredoc]:
    """The heredocs the words of ``line`` open, bodies still empty."""
    try:
        words = split_words(line, raw_quotes=True, raw_escapes=True)
    except ShellError:
        return []  # as in the reference: a line the lexer cannot split has no heredocs
    return [doc for doc in map(_heredoc, words) if doc is not None]


def _heredoc(word: str) -> Heredoc | None:
    """The heredoc a word such as ``<<EOF``, ``<<-'EOF'`` or ``3<<EOF`` opens, if any."""
    match = _HEREDOC.fullmatch(word)
    if match is None or not match[3]:
        return None
    fd = min(int(match[1] or "0"), 2**64 - 1)
    try:
        words = split_words(match[3])
        raw = split_words(match[3], raw_quotes=True)
    except ShellError as err:
        raise Fail(
            f"invalid heredoc {word}: {err.reason}",
            hint="quote the whole delimiter: <<'EOF' or <<\"EOF\"",
        ) from None
    if len(words) != 1:
        return None  # `<<EOF sh` and the like: not one word, not a heredoc
    if len(raw) != 1:
        raise Fail(f"invalid heredoc {word}: lexing it with and without quotes disagrees")
    # Quotes anywhere in the delimiter turn expansion off for the body, as in sh.
    quotes = words[0].count("'") + words[0].count('"')
    raw_quotes = raw[0].count("'") + raw[0].count('"')
    return Heredoc(
        name=words[0], content="", expand=quotes == raw_quotes, chomp=match[2] == "-", fd=fd
    )
