"""The pattern language of ``.dockerignore``: one pattern checked and translated
to a regular expression, as ``github.com/moby/patternmatcher`` does it.

- ``*`` and ``?`` never match ``/``; ``[...]`` is a character class (``^``
  negates); ``\\`` escapes; ``**`` matches any number of directories, and
  patterns that start or end with ``**`` compare suffixes and prefixes of the
  path as strings (``**foo`` excludes ``xfoo``, ``foo**`` excludes ``foobar``);
- ``compile_pattern`` is patternmatcher's ``Pattern.compile``, after the check
  it makes with Go's ``filepath.Match`` before it uses a pattern; ``path_match``
  is Go's ``path.Match``, the same language without ``**``, as COPY and ADD
  match their wildcard sources.

Deliberate deviations, for patterns nobody writes: ``*`` or ``?`` inside
``[...]``, ``[[:alpha:]]`` and ``\\d``-style escapes follow ``filepath.Match``
(a literal class member, a literal letter) rather than the regular expression
that patternmatcher happens to build from them.

Pure: only the standard library. A malformed pattern is raised as
``BadPattern``, with no file or line: the caller that read the pattern names them.
"""

from __future__ import annotations

import enum
import functools
import re

# Characters that make a pattern more than a literal path (fsutil's patternChars).
GLOB_CHARS = frozenset("*[]?^\\")
# Characters patternmatcher escapes before handing the pattern to a regexp.
_REGEX_ESCAPES = frozenset(".+()|{}$")
_BAD_PATTERN = "syntax error in pattern"


class BadPattern(ValueError):
    """A pattern Go would reject; the message is Go's, without the pattern."""


class MatchKind(enum.Enum):
    """patternmatcher's matchType: how a compiled pattern is compared with a path."""

    EXACT = "exact"
    PREFIX = "prefix"
    SUFFIX = "suffix"
    REGEX = "regex"


def path_match(pattern: str, name: str) -> bool:
    """Go's ``path.Match``, as COPY and ADD match their wildcard sources: ``*``
    and ``?`` stop at ``/``. Raises ``ValueError`` for a malformed pattern."""
    return _match_regex(pattern).match(name) is not None


@functools.lru_cache(maxsize=256)
def _match_regex(pattern: str) -> re.Pattern[str]:
    _validate_pattern(pattern)
    out: list[str] = []
    pos = 0
    while pos < len(pattern):
        ch = pattern[pos]
        pos += 1
        if ch == "*":
            out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        elif ch == "[":
            cls, pos = _class(pattern, pos, strict=False)
            out.append(cls)
        elif ch == "\\":
            out.append(re.escape(pattern[pos]))
            pos += 1
        else:
            out.append(re.escape(ch))
    return re.compile("".join(out) + r"\Z")


def compile_pattern(text: str) -> tuple[MatchKind, re.Pattern[str] | None]:
    """patternmatcher's ``Pattern.compile``: the match kind and, for REGEX, the regex.
    Raises ``BadPattern`` for a pattern patternmatcher rejects."""
    _validate_pattern(text)
    out = ["^"]
    kind = MatchKind.EXACT
    pos = 0
    first = True
    while pos < len(text):
        ch = text[pos]
        pos += 1
        if ch == "*":
            if text[pos : pos + 1] == "*":
                pos += 1
                if text[pos : pos + 1] == "/":
                    pos += 1  # "**/" is "**"
                if pos == len(text):
                    # A trailing "**" matches everything below, as in .gitignore.
                    if kind is MatchKind.EXACT:
                        kind = MatchKind.PREFIX
                    else:
                        out.append(".*")
                        kind = MatchKind.REGEX
                else:
                    out.append("(.*/)?")
                    kind = MatchKind.REGEX
                if first:
                    kind = MatchKind.SUFFIX
            else:
                out.append("[^/]*")
                kind = MatchKind.REGEX
        elif ch == "?":
            out.append("[^/]")
            kind = MatchKind.REGEX
        elif ch in _REGEX_ESCAPES:
            out.append("\\" + ch)
        elif ch == "\\":
            # Validation has made sure that something follows.
            out.append(re.escape(text[pos]))
            pos += 1
            kind = MatchKind.REGEX
        elif ch == "[":
            cls, pos = _class(text, pos)
            out.append(cls)
            kind = MatchKind.REGEX
        elif ch == "]":
            out.append(r"\]")
            kind = MatchKind.REGEX
        else:
            # Verbatim, as patternmatcher writes it; "^" is then an anchor in both
            # Go's and Python's regexp syntax, so such a pattern matches alike.
            out.append(ch)
        first = False
    if kind is not MatchKind.REGEX:
        return kind, None
    # No DOTALL: Go's "." does not match a newline either.
    return kind, re.compile("".join(out) + r"\Z")


def _class(text: str, pos: int, *, strict: bool = True) -> tuple[str, int]:
    """Translate the character class that starts after the ``[`` at ``pos - 1``
    (already validated) to a Python regex; return it and the position after ``]``.

    A reversed range (``z-a``) is an error for patternmatcher (Go's regexp
    rejects it) but matches nothing for ``path.Match``; ``strict`` picks which."""
    negated = text[pos : pos + 1] == "^"
    if negated:
        pos += 1
    members: list[str] = []
    count = 0
    while True:
        if text[pos] == "]" and count > 0:
            break
        lo, pos = _class_char(text, pos)
        hi = lo
        if text[pos] == "-":
            hi, pos = _class_char(text, pos + 1)
        count += 1
        if lo > hi:
            if strict:
                raise BadPattern("invalid character class range")
            continue
        member = _class_escape(lo)
        members.append(member if lo == hi else f"{member}-{_class_escape(hi)}")
    pos += 1
    if not members:
        return ("(?s:.)" if negated else "(?!)"), pos
    return "[" + ("^" if negated else "") + "".join(members) + "]", pos


def _class_char(text: str, pos: int) -> tuple[str, int]:
    if text[pos] == "\\":
        pos += 1
    return text[pos], pos + 1


def _class_escape(ch: str) -> str:
    # Escaped so that Python reads each one as itself (and warns of no set operation).
    return "\\" + ch if ch in "\\]^-[&~|" else ch


def _validate_pattern(pattern: str) -> None:
    """Raise ``BadPattern`` where Go's ``filepath.Match`` would say ErrBadPattern.

    patternmatcher checks every pattern so before it uses it: a ``[`` must open a
    non-empty class closed by ``]``, whose members and range ends may not be a
    bare ``-`` or ``]``, and a ``\\`` must escape something."""
    pos = 0
    n = len(pattern)
    while pos < n:
        ch = pattern[pos]
        pos += 1
        if ch == "\\":
            if pos == n:
                raise BadPattern(_BAD_PATTERN)
            pos += 1
        elif ch == "[":
            if pos < n and pattern[pos] == "^":
                pos += 1
            count = 0
            while True:
                if pos < n and pattern[pos] == "]" and count > 0:
                    pos += 1
                    break
                pos = _validate_class_char(pattern, pos)
                if pattern[pos] == "-":
                    pos = _validate_class_char(pattern, pos + 1)
                count += 1


def _validate_class_char(pattern: str, pos: int) -> int:
    # Go's getEsc: a member must exist, not be a bare "-" or "]", and be followed by more.
    n = len(pattern)
    if pos >= n or pattern[pos] in "-]":
        raise BadPattern(_BAD_PATTERN)
    if pattern[pos] == "\\":
        pos += 1
        if pos >= n:
            raise BadPattern(_BAD_PATTERN)
    pos += 1
    if pos >= n:
        raise BadPattern(_BAD_PATTERN)
    return pos
