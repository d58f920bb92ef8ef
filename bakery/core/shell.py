"""Dockerfile word expansion: ``$VAR``, ``${VAR:-default}``, quotes, escapes, word splitting.

This is the expansion Dockerfile instructions apply to their arguments (``FROM``,
``ARG``, ``ENV``, ``COPY --from``, ...), made to agree with BuildKit's
``frontend/dockerfile/shell/lex.go`` case for case; BuildKit's ``envVarTest`` and
``wordsTest`` are the contract. bakery needs it to name stages and to know which
build arguments a stage reads exactly as the daemon will, before anything is built.
The same lexer, told to keep quotes, escapes and variables as written, splits the
lines in which the Dockerfile reader looks for heredocs, as BuildKit's parser does.

It must not run a shell, read the process environment, touch the disk or print:
variables come in as a mapping, and every problem is raised as ``ShellError``
(translated into text once, by the CLI). Only the standard library is used.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

from bakery.core.errors import DockerfileError

__all__ = ["ShellError", "expand", "expand_words", "referenced_names", "split_words"]


class ShellError(DockerfileError):
    """A word cannot be expanded: bad ``${...}`` syntax, an unclosed quote, ``${X:?msg}``."""

    def __init__(
        self,
        reason: str,
        *,
        word: str | None = None,
        where: str | None = None,
        hint: str | None = None,
    ):
        # Worded as BuildKit words it, so that the message matches what `docker build` says.
        message = reason if word is None else f"failed to process {_quote(word)}: {reason}"
        super().__init__(message, where=where, hint=hint)
        self.reason = reason
        self.word = word


def expand(word: str, env: Mapping[str, str], *, escape: str = "\\") -> str:
    """Expand variables and remove quotes and escapes in ``word`` (BuildKit's ``ProcessWord``)."""
    return _Lexer(word, env, escape).run()[0]


def expand_words(word: str, env: Mapping[str, str], *, escape: str = "\\") -> list[str]:
    """Expand ``word`` and split it at unquoted whitespace (BuildKit's ``ProcessWords``).

    Whitespace that comes out of a variable splits too, unless the variable was
    inside double quotes. Empty words are dropped.
    """
    return _Lexer(word, env, escape).run()[1]


def referenced_names(word: str, *, escape: str = "\\") -> frozenset[str]:
    """The variable names expanding ``word`` would read, whatever their values.

    Names in defaults and patterns count (``${A:-$B}`` reads A and B); names in
    single quotes or after an escape do not. Positional and special parameters
    (``$1``, ``$@``) are included as the names they are looked up under.
    Raises ``ShellError`` for a word that is malformed whatever the values are.
    """
    lexer = _Lexer(word, None, escape)
    lexer.run()
    return frozenset(lexer.names)


def split_words(
    text: str, *, raw_quotes: bool = False, raw_escapes: bool = False, escape: str = "\\"
) -> list[str]:
    """Split ``text`` into words without expanding it, as BuildKit's heredoc reader does.

    No variable is set and each stays as written (``$X``, ``${X:-y}``: BuildKit's
    ``SkipUnsetEnv``); ``raw_quotes`` keeps the quote characters in the words and
    ``raw_escapes`` the escape characters, so that a caller can tell what was quoted.
    Empty words are dropped. Raises ``ShellError`` for a malformed text.
    """
    lexer = _Lexer(text, {}, escape, keep_unset=True, raw_quotes=raw_quotes)
    return lexer.run(raw_escapes=raw_escapes)[1]


# --- the lexer -------------------------------------------------------------------------------

_SPECIAL_PARAMS = frozenset("@*#?-$!0")
# Go's unicode.IsSpace: the Unicode White_Space property. (str.isspace() differs: it
# also counts U+001C..U+001F.)
_WHITESPACE = frozenset(
    "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
    "\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
_HEREDOC_BLANKS = frozenset(" \t\r")
_MODIFIERS = frozenset("+-?#%")
_BOM = "\ufeff"
# Go grows its stack; Python's recursion limit would turn absurd nesting into a crash.
_MAX_DEPTH = 100
_MISSING_BRACE = "syntax error: missing '}'"
_FORMS_HINT = (
    "supported forms: ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:+alt}, ${VAR+alt}, "
    "${VAR:?message}, ${VAR?message}, ${VAR#pattern}, ${VAR##pattern}, ${VAR%pattern}, "
    "${VAR%%pattern}, ${VAR/pattern/replacement}, ${VAR//pattern/replacement}"
)


class _Fail(Exception):
    """Raised where a problem is found; ``_Lexer.run`` turns it into a ``ShellError``."""

    def __init__(self, reason: str, hint: str | None = None):
        super().__init__(reason)
        self.reason = reason
        self.hint = hint


class _Words:
    """Collects words: unquoted whitespace ends one, quoted or escaped text never does."""

    def __init__(self) -> None:
        self.words: list[str] = []
        self._current: list[str] = []

    def split(self, text: str) -> None:
        for ch in text:
            if ch in _WHITESPACE:
                self.end()
            else:
                self._current.append(ch)

    def keep(self, text: str) -> None:
        self._current.append(text)

    def end(self) -> None:
        text = "".join(self._current)
        self._current.clear()
        if text:
            self.words.append(text)


class _Lexer:
    """One pass over one word. ``env`` None means: only collect the names read.

    ``keep_unset`` leaves a variable that is not in ``env`` as written instead of
    empty; ``raw_quotes`` keeps quote characters in the text.
    """

    def __init__(
        self,
        word: str,
        env: Mapping[str, str] | None,
        escape: str,
        *,
        keep_unset: bool = False,
        raw_quotes: bool = False,
    ):
        if escape not in ("\\", "`"):
            raise ValueError(f"escape must be '\\' or '`', not {escape!r}")
        self.word = word
        self.env = env
        self.escape = escape
        self.keep_unset = keep_unset
        self.raw_quotes = raw_quotes
        self.names: set[str] = set()
        # Go's text/scanner drops a byte order mark at the very start.
        self.pos = 1 if word.startswith(_BOM) else 0

    def run(self, *, raw_escapes: bool = False) -> tuple[str, list[str]]:
        """The text and its words; ``raw_escapes`` keeps escape characters in both."""
        try:
            return self._until(None, raw_escapes=raw_escapes, depth=0)
        except _Fail as fail:
            raise ShellError(fail.reason, word=self.word, hint=fail.hint) from None

    def _peek(self) -> str:
        """The next character, or "" at the end."""
        return self.word[self.pos] if self.pos < len(self.word) else ""

    def _next(self) -> str:
        ch = self._peek()
        if ch:
            self.pos += 1
        return ch

    def _until(self, stop: str | None, *, raw_escapes: bool, depth: int) -> tuple[str, list[str]]:
        """Read up to ``stop`` (consumed) or the end; return the text and its words.

        ``raw_escapes`` keeps escape characters in the text, for patterns, which
        give ``\\*`` and ``\\}`` their own meaning later.
        """
        if depth > _MAX_DEPTH:
            raise _Fail(f"substitutions nested more than {_MAX_DEPTH} deep")
        result: list[str] = []
        words = _Words()
        while ch := self._peek():
            if ch == stop:
                self.pos += 1
                words.end()
                return "".join(result), words.words
            if ch == "$":
                text = self._dollar(depth)
                result.append(text)
                words.split(text)
            elif ch == "'":
                text = self._single_quoted()
                result.append(text)
                words.keep(text)
            elif ch == '"':
                text = self._double_quoted(raw_escapes=raw_escapes, depth=depth)
                result.append(text)
                words.keep(text)
            elif ch == "<":
                text = self._maybe_heredoc()
                result.append(text)
                words.keep(text)
            else:
                self.pos += 1
                if ch == self.escape:
                    if raw_escapes:
                        result.append(ch)
                        words.keep(ch)
                    ch = self._next()
                    if not ch:  # an escape at the very end is dropped
                        break
                    words.keep(ch)
                else:
                    words.split(ch)
                result.append(ch)
        if stop is not None:
            raise _Fail(f"unexpected end of statement while looking for matching {stop}")
        words.end()
        return "".join(result), words.words

    def _single_quoted(self) -> str:
        # Everything up to the next ' is literal; a ' cannot be escaped inside.
        end = self.word.find("'", self.pos + 1)
        if end < 0:
            # Read to the end, as Go's scanner does: inside ${...} that makes the
            # missing '}' the problem, as BuildKit reports it.
            self.pos = len(self.word)
            raise _Fail(
                "unexpected end of statement while looking for matching single-quote",
                hint="close the quote",
            )
        text = self.word[self.pos : end + 1] if self.raw_quotes else self.word[self.pos + 1 : end]
        self.pos = end + 1
        return text

    def _double_quoted(self, *, raw_escapes: bool, depth: int) -> str:
        # Variables expand; the escape character escapes only " $ and itself.
        self.pos += 1
        out: list[str] = ['"'] if self.raw_quotes else []
        while True:
            ch = self._peek()
            if not ch:
                raise _Fail(
                    "unexpected end of statement while looking for matching double-quote",
                    hint=f'close the quote, or write a literal " as {self.escape}"',
                )
            if ch == '"':
                self.pos += 1
                if self.raw_quotes:
                    out.append(ch)
                return "".join(out)
            if ch == "$":
                out.append(self._dollar(depth))
                continue
            self.pos += 1
            if ch == self.escape:
                if raw_escapes:
                    out.append(ch)
                following = self._peek()
                if not following:
                    continue  # the next turn reports the missing quote
                if following in ('"', "$", self.escape):
                    ch = following
                    self.pos += 1
            out.append(ch)

    def _maybe_heredoc(self) -> str:
        # "<<" and the blanks after it stay one word, so that `<< EOF` reads as a heredoc.
        self.pos += 1
        if self._peek() != "<":
            return "<"
        self.pos += 1
        start = self.pos
        while self._peek() in _HEREDOC_BLANKS:
            self.pos += 1
        return "<<" + self.word[start : self.pos]

    def _name(self) -> str:
        """A variable name: digits (positional), one special character, or letters/digits/_."""
        start = self.pos
        ch = self._peek()
        if ch.isdecimal():
            while self._peek().isdecimal():
                self.pos += 1
        elif ch in _SPECIAL_PARAMS:
            self.pos += 1
        else:
            while (c := self._peek()) and (c.isalpha() or c.isdecimal() or c == "_"):
                self.pos += 1
        return self.word[start : self.pos]

    def _lookup(self, name: str) -> tuple[str, bool]:
        if name:
            self.names.add(name)
        if self.env is None or name not in self.env:
            return "", False
        return self.env[name], True

    def _value(self, name: str, written: str) -> str:
        """The value of a variable that is read as is, ``written`` being how it was written."""
        value, is_set = self._lookup(name)
        return written if self.keep_unset and not is_set else value

    def _nested(self, stop: str, *, raw_escapes: bool, depth: int, missing: str) -> str:
        try:
            return self._until(stop, raw_escapes=raw_escapes, depth=depth + 1)[0]
        except _Fail:
            if not self._peek():
                raise _Fail(missing) from None
            raise

    def _dollar(self, depth: int) -> str:
        self.pos += 1
        if self._peek() != "{":
            name = self._name()
            return self._value(name, "$" + name) if name else "$"
        self.pos += 1
        ch = self._peek()
        if not ch:
            raise _Fail(_MISSING_BRACE)
        if ch in "{}:":
            raise _Fail("syntax error: bad substitution", hint="a variable name must follow ${")
        name = self._name()
        op = self._next()
        if op == "}":
            return self._value(name, "${" + name + "}")
        if not op:
            raise _Fail(_MISSING_BRACE)
        if op == "/":
            return self._replace(name, depth)

        modifier = op
        null_is_unset = op == ":"
        if null_is_unset:
            op = self._next()
            modifier += op
        elif op not in _MODIFIERS:
            raise _Fail(f"unsupported modifier ({modifier}) in substitution", hint=_FORMS_HINT)
        is_pattern = op in ("#", "%")
        if null_is_unset and is_pattern:
            raise _Fail(f"unsupported modifier ({modifier}) in substitution", hint=_FORMS_HINT)
        # The argument is read (and its variables expanded) before the modifier is judged.
        arg = self._nested("}", raw_escapes=is_pattern, depth=depth, missing=_MISSING_BRACE)
        value, is_set = self._lookup(name)
        if self.keep_unset and not is_set:
            return "${" + name + modifier + arg + "}"  # the modifier is not judged then
        unset = not is_set or (null_is_unset and value == "")
        if op == "-":
            return arg if unset else value
        if op == "+":
            return "" if unset else arg
        if op == "?":
            if self.env is None:
                return ""
            if not is_set:
                raise _Fail(f"{name}: {arg or 'is not allowed to be unset'}")
            if unset:
                raise _Fail(f"{name}: {arg or 'is not allowed to be empty'}")
            return value
        if is_pattern:
            if self.env is None:
                return ""
            # ${X#pat} removes the shortest match, ${X##pat} the longest.
            greedy = arg.startswith(op)
            if greedy:
                arg = arg[1:]
            if op == "%":
                return _trim_suffix(arg, value, greedy=greedy)
            return _trim_prefix(arg, value, greedy=greedy)
        raise _Fail(f"unsupported modifier ({modifier}) in substitution", hint=_FORMS_HINT)

    def _replace(self, name: str, depth: int) -> str:
        """``${X/pat/repl}`` replaces the first (longest) match, ``${X//pat/repl}`` every one."""
        replace_all = self._peek() == "/"
        if replace_all:
            self.pos += 1
        pattern = self._nested(
            "/", raw_escapes=True, depth=depth, missing="syntax error: missing '/' in ${}"
        )
        replacement = self._nested("}", raw_escapes=True, depth=depth, missing=_MISSING_BRACE)
        value, is_set = self._lookup(name)
        if self.keep_unset and not is_set:
            return "${" + name + "/" + pattern + "/" + replacement + "}"  # one / for // too
        if self.env is None:
            return ""
        regex = _pattern_regex(pattern, greedy=True)
        if replace_all:
            return _replace_all(regex, value, replacement)
        match = regex.search(value)
        if match is None:
            return value
        # Only the replace-all form treats $0 in the replacement as the match (Go's Expand).
        return value[: match.start()] + replacement + value[match.end() :]


# --- patterns ----------------------------------------------------------------------------------


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
                raise _Fail(
                    f"invalid pattern ({pattern}) in substitution: invalid escape {what}",
                    hint="in a pattern, \\ escapes only *, ? and \\",
                )
            out.append(re.escape(following))
        else:
            out.append(re.escape(ch))
    return re.compile("".join(out))


def _trim_prefix(pattern: str, value: str, *, greedy: bool) -> str:
    match = _pattern_regex(pattern, greedy=greedy).match(value)
    return value[match.end() :] if match else value


def _trim_suffix(pattern: str, value: str, *, greedy: bool) -> str:
    # A regex finds leftmost matches, not the shortest rightmost one, so trim the
    # prefix of the reversed value with the reversed pattern (escapes kept in order).
    tokens = re.findall(r"\\.|.", pattern, re.DOTALL)
    reversed_pattern = "".join(reversed(tokens))
    return _trim_prefix(reversed_pattern, value[::-1], greedy=greedy)[::-1]


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


def _quote(text: str) -> str:
    """Double-quoted with backslash escapes, as Go's %q shows a word in BuildKit's errors."""
    return json.dumps(text, ensure_ascii=False)
