"""The word lexer: quotes, escapes, ``$VAR`` and ``${...}``, and splitting into words.

One pass over one word, as BuildKit's ``shell/lex.go`` makes it, serving every
reader of words: expansion with a mapping of variables (``expand``,
``expand_words``), the names a word reads (``referenced_names``), and words left
as written for the heredoc reader (``split_words``). The ``#``, ``%`` and ``/``
forms hand their pattern to ``patterns``.
"""

from __future__ import annotations

from collections.abc import Mapping

from bakery.core.shell.errors import Fail, ShellError
from bakery.core.shell.patterns import replace, trim_prefix, trim_suffix

__all__ = ["WHITESPACE", "expand", "expand_words", "referenced_names", "split_words"]


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
# also counts U+001C..U+001F.) A string, for str.strip(); the Dockerfile reader uses it too.
WHITESPACE = (
    "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
    "\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
_WHITESPACE = frozenset(WHITESPACE)
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
        except Fail as fail:
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
            raise Fail(f"substitutions nested more than {_MAX_DEPTH} deep")
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
                words.split(text)  # a value splits at whitespace
            elif ch in "'\"<":
                text = self._unsplit(ch, raw_escapes=raw_escapes, depth=depth)
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
            raise Fail(f"unexpected end of statement while looking for matching {stop}")
        words.end()
        return "".join(result), words.words

    def _unsplit(self, ch: str, *, raw_escapes: bool, depth: int) -> str:
        """A quoted text, or ``<<`` and the blanks after it: either stays in one word."""
        if ch == "'":
            return self._single_quoted()
        if ch == '"':
            return self._double_quoted(raw_escapes=raw_escapes, depth=depth)
        return self._maybe_heredoc()

    def _single_quoted(self) -> str:
        # Everything up to the next ' is literal; a ' cannot be escaped inside.
        end = self.word.find("'", self.pos + 1)
        if end < 0:
            # Read to the end, as Go's scanner does: inside ${...} that makes the
            # missing '}' the problem, as BuildKit reports it.
            self.pos = len(self.word)
            raise Fail(
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
                raise Fail(
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
        except Fail:
            if not self._peek():
                raise Fail(missing) from None
            raise

    def _dollar(self, depth: int) -> str:
        self.pos += 1
        if self._peek() != "{":
            name = self._name()
            return self._value(name, "$" + name) if name else "$"
        self.pos += 1
        ch = self._peek()
        if not ch:
            raise Fail(_MISSING_BRACE)
        if ch in "{}:":
            raise Fail("syntax error: bad substitution", hint="a variable name must follow ${")
        name = self._name()
        op = self._next()
        if op == "}":
            return self._value(name, "${" + name + "}")
        if not op:
            raise Fail(_MISSING_BRACE)
        if op == "/":
            return self._replace(name, depth)

        modifier = op
        null_is_unset = op == ":"
        if null_is_unset:
            op = self._next()
            modifier += op
        elif op not in _MODIFIERS:
            raise Fail(f"unsupported modifier ({modifier}) in substitution", hint=_FORMS_HINT)
        is_pattern = op in ("#", "%")
        if null_is_unset and is_pattern:
            raise Fail(f"unsupported modifier ({modifier}) in substitution", hint=_FORMS_HINT)
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
                raise Fail(f"{name}: {arg or 'is not allowed to be unset'}")
            if unset:
                raise Fail(f"{name}: {arg or 'is not allowed to be empty'}")
            return value
        if is_pattern:
            if self.env is None:
                return ""
            # ${X#pat} removes the shortest match, ${X##pat} the longest.
            greedy = arg.startswith(op)
            if greedy:
                arg = arg[1:]
            if op == "%":
                return trim_suffix(arg, value, greedy=greedy)
            return trim_prefix(arg, value, greedy=greedy)
        raise Fail(f"unsupported modifier ({modifier}) in substitution", hint=_FORMS_HINT)

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
        return replace(pattern, value, replacement, every=replace_all)
