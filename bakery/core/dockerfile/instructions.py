"""One instruction: its keyword, its ``--flags`` and its arguments in the form BuildKit reads.

Given one logical line (continuations joined, heredoc bodies not included),
``parse_instruction`` splits off the keyword and the leading flags, and reads
the rest by the keyword's argument form (JSON or shell, words, key=value pairs,
the rest of the line), as the reference parser's ``parseXxx`` functions do.
Nothing is expanded; quotes and escapes stay where the reference keeps them.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping

from bakery.core.dockerfile.errors import Fail
from bakery.core.dockerfile.model import Instruction
from bakery.core.errors import did_you_mean
from bakery.core.shell import WHITESPACE

__all__ = ["KEYWORDS", "parse_instruction"]

KEYWORDS = (
    "add",
    "arg",
    "cmd",
    "copy",
    "entrypoint",
    "env",
    "expose",
    "from",
    "healthcheck",
    "label",
    "maintainer",
    "onbuild",
    "run",
    "shell",
    "stopsignal",
    "user",
    "volume",
    "workdir",
)
_NOT_TRIGGERS = frozenset({"onbuild", "from", "maintainer"})  # BuildKit refuses these after ONBUILD
_BLANKS = re.compile(r"[\t\v\f\r ]+")  # what the reference splits words at: ASCII blanks only


def _trim(text: str) -> str:
    return text.strip(WHITESPACE)


def _split_flags(line: str, escape: str) -> tuple[str, list[str]]:
    """Leading ``--flag`` words (quotes and escapes removed) and the rest of the line.

    A word ``--`` ends the flags and is dropped.
    """
    words: list[str] = []
    buf: list[str] = []
    in_word = in_quote = False
    quote = ""
    blank_ok = False
    n = len(line)
    pos = 0
    while pos <= n:
        ch = line[pos] if pos < n else ""
        if not in_word and not in_quote:
            if pos == n:
                break
            if ch in WHITESPACE:
                pos += 1
                continue
            if ch != "-" or pos + 1 == n or line[pos + 1] != "-":
                return line[pos:], words
            in_word = True
        if pos == n:
            word = "".join(buf)
            if word != "--" and (blank_ok or word):
                words.append(word)
            break
        if in_word:
            if ch in WHITESPACE:
                word = "".join(buf)
                in_word = False
                if word == "--":
                    return line[pos:], words
                if blank_ok or word:
                    words.append(word)
                buf.clear()
                blank_ok = False
            elif ch in "'\"":
                quote = ch
                blank_ok = True
                in_word, in_quote = False, True
            elif ch == escape:
                if pos + 1 < n:  # an escape at the very end is dropped
                    pos += 1
                    buf.append(line[pos])
            else:
                buf.append(ch)
        elif ch == quote:
            in_word, in_quote = True, False
        elif ch == escape:
            if pos + 1 == n:
                in_word, in_quote = True, False
            else:
                pos += 1
                buf.append(line[pos])
        else:
            buf.append(ch)
        pos += 1
    return "", words


def _words(rest: str, escape: str) -> list[str]:
    """Words split at blanks, quotes and escapes kept (ENV, LABEL, ARG)."""
    words: list[str] = []
    buf: list[str] = []
    phase = "space"
    quote = ""
    blank_ok = False
    n = len(rest)
    pos = 0
    while pos <= n:
        ch = rest[pos] if pos < n else ""
        if phase == "space":
            if pos == n:
                break
            if ch in WHITESPACE:
                pos += 1
                continue
            phase = "word"
        if pos == n:
            if blank_ok or buf:
                words.append("".join(buf))
            break
        if phase == "word":
            if ch in WHITESPACE:
                phase = "space"
                if blank_ok or buf:
                    words.append("".join(buf))
                buf.clear()
                blank_ok = False
                pos += 1
                continue
            if ch in "'\"":
                quote = ch
                blank_ok = True
                phase = "quote"
        elif ch == quote:
            phase = "word"
        # An escape and the character after it stay as written, even when that
        # character is a quote; nothing escapes inside '...'.
        if ch == escape and not (phase == "quote" and quote == "'"):
            if pos + 1 == n:  # an escape at the very end is dropped, and ends a quote
                phase = "word"
                pos += 1
                continue
            buf.append(ch)
            pos += 1
            ch = rest[pos]
        buf.append(ch)
        pos += 1
    return words


def _go_number(text: str) -> float:
    # Go decodes every JSON number as a float64 and fails on overflow; a failure
    # there makes the whole value "not JSON", i.e. shell form.
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"number {text} overflows")
    return value


def _reject_constant(text: str) -> object:
    raise ValueError(f"{text} is not JSON")


def _json_array(rest: str) -> tuple[str, ...] | None:
    """The strings of a JSON array, or None when ``rest`` is not valid JSON."""
    rest = rest.lstrip(WHITESPACE)
    if not rest.startswith("["):
        return None
    try:
        value = json.loads(
            rest, parse_float=_go_number, parse_int=_go_number, parse_constant=_reject_constant
        )
    except (ValueError, RecursionError):
        return None
    if not all(isinstance(item, str) for item in value):
        # Valid JSON that is not a list of strings is an error, not shell form.
        raise Fail(
            "when using JSON array syntax, arrays must be comprised of strings only",
            hint='write every element as a "string"',
        )
    # Go turns an unpaired surrogate escape (\ud800) into U+FFFD.
    return tuple(re.sub("[\ud800-\udfff]", "\ufffd", item) for item in value)


def _maybe_json(rest: str, escape: str) -> tuple[tuple[str, ...], bool]:
    if not rest:
        return (), False
    array = _json_array(rest)
    if array is not None:
        return array, True
    return (rest,), False


def _maybe_json_list(rest: str, escape: str) -> tuple[tuple[str, ...], bool]:
    array = _json_array(rest)
    if array is not None:
        return array, True
    return _blank_separated(rest, escape)


def _blank_separated(rest: str, escape: str) -> tuple[tuple[str, ...], bool]:
    if not rest:
        return (), False
    return tuple(_BLANKS.split(rest)), False


def _one_string(rest: str, escape: str) -> tuple[tuple[str, ...], bool]:
    return ((rest,) if rest else ()), False


def _names_and_values(rest: str, escape: str) -> tuple[tuple[str, ...], bool]:
    return tuple(_words(rest, escape)), False


def _key_values(keyword: str) -> Callable[[str, str], tuple[tuple[str, ...], bool]]:
    def parse(rest: str, escape: str) -> tuple[tuple[str, ...], bool]:
        words = _words(rest, escape)
        if not words:
            return (), False
        if "=" not in words[0]:
            # The legacy form: the first word is the key, everything after it the value.
            parts = _BLANKS.split(rest, maxsplit=1)
            if len(parts) < 2:
                raise Fail(
                    f"{keyword} {rest} has no value",
                    hint=f"write {keyword} {rest}=value",
                )
            return (parts[0], parts[1], ""), False
        out: list[str] = []
        for word in words:
            key, sep, value = word.partition("=")
            if not sep:
                raise Fail(
                    f'{keyword}: no "=" in "{word}"',
                    hint=f"write {keyword} name=value ..., quoting values that contain blanks",
                )
            out += (key, value, "=")
        return tuple(out), False

    return parse


def _healthcheck(rest: str, escape: str) -> tuple[tuple[str, ...], bool]:
    sep = 0
    while sep < len(rest) and rest[sep] not in WHITESPACE:
        sep += 1
    if sep == 0:
        return (), False
    after = sep
    while after < len(rest) and rest[after] in WHITESPACE:
        after += 1
    command, is_json = _maybe_json(rest[after:], escape)
    return (rest[:sep], *command), is_json


_ARGUMENTS: Mapping[str, Callable[[str, str], tuple[tuple[str, ...], bool]]] = {
    "add": _maybe_json_list,
    "arg": _names_and_values,
    "cmd": _maybe_json,
    "copy": _maybe_json_list,
    "entrypoint": _maybe_json,
    "env": _key_values("ENV"),
    "expose": _blank_separated,
    "from": _blank_separated,
    "healthcheck": _healthcheck,
    "label": _key_values("LABEL"),
    "maintainer": _one_string,
    "run": _maybe_json,
    "shell": _maybe_json,
    "stopsignal": _one_string,
    "user": _one_string,
    "volume": _maybe_json_list,
    "workdir": _one_string,
}


def parse_instruction(line: str, escape: str) -> Instruction:
    """One logical line (continuations joined) as an instruction, without its place."""
    head, *tail = _BLANKS.split(_trim(line), maxsplit=1)
    flags: list[str] = []
    rest = ""
    if tail:
        rest, flags = _split_flags(tail[0], escape)
        rest = _trim(rest)
    keyword = head.lower()
    if keyword == "onbuild":
        if not rest:
            return Instruction("onbuild", (), tuple(flags))
        inner = parse_instruction(rest, escape)
        if inner.keyword in _NOT_TRIGGERS:
            raise Fail(
                f"{inner.keyword.upper()} isn't allowed as an ONBUILD trigger",
                hint="ONBUILD takes an instruction for images built FROM this one",
            )
        return Instruction("onbuild", (rest,), tuple(flags), onbuild=inner)
    parse = _ARGUMENTS.get(keyword)
    if parse is None:
        suggestion = did_you_mean(head.upper(), map(str.upper, KEYWORDS))
        # Without a near keyword, the usual cause is a missing continuation above.
        hint = (
            None
            if suggestion
            else (f"if this line continues the one above, end that line with {escape}")
        )
        raise Fail(f'unknown instruction "{head}"{suggestion}', hint=hint)
    args, is_json = parse(rest, escape)
    return Instruction(keyword, args, tuple(flags), json=is_json)
