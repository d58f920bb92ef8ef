"""Shell patterns, for ``${X#pattern}``, ``${X%pattern}`` and ``${X/pattern/replacement}``.

BuildKit turns a pattern into a Go regular expression and uses Go's regexp
rules for the rest; these functions do the same with ``re``, down to Go's
empty-match rules in replace-all. The lexer reads the pattern (escapes kept)
and calls these with the variable's value. Pure: text in, text out.
"""

from __future__ import annotations

import re

from bakery.core.shell.errors import Fail

__all__ = ["replace", "trim_prefix", "trim_suffix"]

_BOM = "\ufeff"


def _pattern_regex(pattern: str, *, greedy: bool) -> re.Pattern[str]:
    """Compile a shell pattern: ``*`` any run, ``?`` any one character, ``\\`` escapes ``*?\\``.

    There are no bracket expressions. ``\\}`` and ``\\/`` are ``}`` and ``/``: the
    backslash was only needed to keep them from ending the ``${...}``. The pattern
    backslash is ``\\`` whatever the Dockerfile's escape character is.
    """
    star = ".*" if greedy else ".*?"
    out: list[str] = []
    i = 1 if pattern.startswith(_BOM) else 0
    while i < len(pattern):
        ch = pattern[i]
        i += 1
        if ch == "*":
            out.append(star)
        elif ch == "?":
            out.append(".")
        elif ch == "\\":
            following = pattern[i] if i < len(pattern) else ""
            if following in ("}", "/"):
                continue
            i += 1
            if following not in ("*", "?", "\\"):
                what = f"'\\{following}'" if following else "'\\' at the end"
                raise Fail(
                    f"invalid pattern ({pattern}) in substitution: invalid escape {what}",
                    hint="in a pattern, \\ escapes only *, ? and \\",
                )
            out.append(re.escape(following))
        else:
            out.append(re.escape(ch))
    return re.compile("".join(out))


def replace(pattern: str, value: str, replacement: str, *, every: bool) -> str:
    """``${X/pat/repl}`` replaces the first (longest) match, ``${X//pat/repl}`` every one."""
    regex = _pattern_regex(pattern, greedy=True)
    if every:
        return _replace_all(regex, value, replacement)
    match = regex.search(value)
    if match is None:
        return value
    # Only the replace-all form treats $0 in the replacement as the match (Go's Expand).
    return value[: match.start()] + replacement + value[match.end() :]


def trim_prefix(pattern: str, value: str, *, greedy: bool) -> str:
    match = _pattern_regex(pattern, greedy=greedy).match(value)
    return value[match.end() :] if match else value


def trim_suffix(pattern: str, value: str, *, greedy: bool) -> str:
    # A regex finds leftmost matches, not the shortest rightmost one, so trim the
    # prefix of the reversed value with the reversed pattern (escapes kept in order).
    tokens = re.findall(r"\\.|.", pattern, re.DOTALL)
    reversed_pattern = "".join(reversed(tokens))
    return trim_prefix(reversed_pattern, value[::-1], greedy=greedy)[::-1]


def _replace_all(regex: re.Pattern[str], value: str, template: str) -> str:
    """Go's ``Regexp.ReplaceAllString``, whose empty-match rules differ from ``re.sub``."""
    out: list[str] = []
    last_end = 0
    pos = 0
    while pos <= len(value):
        match = regex.search(value, pos)
        if match is None:
            break
        start, end = match.span()
        out.append(value[last_end:start])
        # No replacement for an empty match right after the previous match.
        if end > last_end or start == 0:
            out.append(_expand_template(template, match.group()))
        last_end = end
        pos = max(pos + 1, end)
    out.append(value[last_end:])
    return "".join(out)


def _expand_template(template: str, matched: str) -> str:
    """Go's ``Regexp.Expand`` for a regex without groups: ``$0``/``${0}`` is the match,
    ``$$`` is ``$``, any other ``$name``/``${name}`` is empty, a malformed one is literal."""
    out: list[str] = []
    i = 0
    while (dollar := template.find("$", i)) >= 0:
        out.append(template[i:dollar])
        i = dollar + 1
        if template.startswith("$", i):
            out.append("$")
            i += 1
            continue
        brace = template.startswith("{", i)
        start = end = i + brace
        while end < len(template) and (
            template[end].isalpha() or template[end].isdecimal() or template[end] == "_"
        ):
            end += 1
        if end == start or (brace and not template.startswith("}", end)):
            out.append("$")
            continue
        if template[start:end] == "0":
            out.append(matched)
        i = end + brace
    out.append(template[i:])
    return "".join(out)
