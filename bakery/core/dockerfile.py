"""The Dockerfile reader.

Turns Dockerfile text into instructions, as BuildKit's parser does: parser
directives (``# syntax=``, ``# escape=``), line continuations with comments
and blank lines inside them, JSON and shell forms, heredocs, ONBUILD, and
flags. Every instruction keeps its source line span and its original text, so
a stage can be re-emitted exactly as written. Pure: text in, data out.

The reference is ``frontend/dockerfile/parser`` in moby/buildkit; its own test
data (``parser/testfiles``) is the contract, checked by the conformance tests.
Beyond the reference parser, this reader also rejects what BuildKit's
instruction layer would reject anyway and what nothing downstream could use:
unknown instructions and ONBUILD triggers that cannot be triggers. Variables
are never expanded here; that is ``bakery.core.shell``'s job.

It must not read files, print or import anything but the standard library,
``bakery.core.errors`` and ``bakery.core.shell``, whose lexer finds the heredocs.
Problems are raised as ``_Fail`` where they are found and turned into a
``DockerfileError`` naming the file and line in one place.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from bakery.core.errors import DockerfileError, did_you_mean
from bakery.core.shell import ShellError, split_words


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


# --- the rules, as data ------------------------------------------------------------------------

KEYWORDS = (
    "add", "arg", "cmd", "copy", "entrypoint", "env", "expose", "from", "healthcheck",
    "label", "maintainer", "onbuild", "run", "shell", "stopsignal", "user", "volume",
    "workdir",
)
_HEREDOC_KEYWORDS = frozenset({"add", "copy", "run"})
_NOT_TRIGGERS = frozenset({"onbuild", "from", "maintainer"})  # BuildKit refuses these after ONBUILD
_DIRECTIVES = frozenset({"syntax", "escape", "check"})

# Go's unicode.IsSpace (the White_Space property); str.isspace() also counts U+001C..U+001F.
_SPACE = (
    "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
    "\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
_BLANKS = re.compile(r"[\t\v\f\r ]+")  # what the reference splits words at: ASCII blanks only
# Go's \s is [\t\n\f\r ]: no \v and nothing beyond ASCII.
_DIRECTIVE = re.compile(r"([a-zA-Z][a-zA-Z0-9]*)[\t\n\f\r ]*=[\t\n\f\r ]*(.+?)[\t\n\f\r ]*")
_HEREDOC = re.compile(r"([0-9]*)<<(-?)[\t\n\f\r ]*([^<]*)")
_MAX_LINE = 65535  # bytes: BuildKit's line scanner stops at bufio.MaxScanTokenSize - 1
_BOM = "\ufeff"


class _Fail(Exception):
    """A problem found while reading one instruction; ``parse_dockerfile`` adds the place."""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint


def _trim(text: str) -> str:
    return text.strip(_SPACE)


def _continuation(escape: str) -> re.Pattern[str]:
    # The escape as the last non-blank character continues the line, unless it is
    # itself escaped; alone on a line it continues too.
    e = re.escape(escape)
    return re.compile(rf"([^{e}]){e}[ \t]*\Z|^{e}[ \t]*\Z")


# --- splitting one logical line ----------------------------------------------------------------

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
            if ch in _SPACE:
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
            if ch in _SPACE:
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
            if ch in _SPACE:
                pos += 1
                continue
            phase = "word"
        if pos == n:
            if blank_ok or buf:
                words.append("".join(buf))
            break
        if phase == "word":
            if ch in _SPACE:
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
            if ch == escape:
                if pos + 1 == n:  # an escape at the very end is dropped
                    pos += 1
                    continue
                # Outside quotes an escape and the character after it stay as written,
                # even when that character is a quote.
                buf.append(ch)
                pos += 1
                ch = rest[pos]
            buf.append(ch)
        else:  # in quotes
            if ch == quote:
                phase = "word"
            if ch == escape and quote != "'":  # nothing escapes inside '...'
                if pos + 1 == n:
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
    rest = rest.lstrip(_SPACE)
    if not rest.startswith("["):
        return None
    try:
        value = json.loads(rest, parse_float=_go_number, parse_int=_go_number,
                           parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        return None
    if not all(isinstance(item, str) for item in value):
        # Valid JSON that is not a list of strings is an error, not shell form.
        raise _Fail("when using JSON array syntax, arrays must be comprised of strings only",
                    hint='write every element as a "string"')
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
                raise _Fail(
                    f'{keyword} {rest} has no value',
                    hint=f"write {keyword} {rest}=value",
                )
            return (parts[0], parts[1], ""), False
        out: list[str] = []
        for word in words:
            key, sep, value = word.partition("=")
            if not sep:
                raise _Fail(
                    f'{keyword}: no "=" in "{word}"',
                    hint=f"write {keyword} name=value ..., quoting values that contain blanks",
                )
            out += (key, value, "=")
        return tuple(out), False

    return parse


def _healthcheck(rest: str, escape: str) -> tuple[tuple[str, ...], bool]:
    sep = 0
    while sep < len(rest) and rest[sep] not in _SPACE:
        sep += 1
    if sep == 0:
        return (), False
    after = sep
    while after < len(rest) and rest[after] in _SPACE:
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


def _instruction(line: str, escape: str) -> Instruction:
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
        inner = _instruction(rest, escape)
        if inner.keyword in _NOT_TRIGGERS:
            raise _Fail(
                f"{inner.keyword.upper()} isn't allowed as an ONBUILD trigger",
                hint="ONBUILD takes an instruction for images built FROM this one",
            )
        return Instruction("onbuild", (rest,), tuple(flags), onbuild=inner)
    parse = _ARGUMENTS.get(keyword)
    if parse is None:
        suggestion = did_you_mean(head.upper(), map(str.upper, KEYWORDS))
        # Without a near keyword, the usual cause is a missing continuation above.
        hint = None if suggestion else (
            f"if this line continues the one above, end that line with {escape}")
        raise _Fail(f'unknown instruction "{head}"{suggestion}', hint=hint)
    args, is_json = parse(rest, escape)
    return Instruction(keyword, args, tuple(flags), json=is_json)


# --- heredocs ----------------------------------------------------------------------------------

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
        raise _Fail(f"invalid heredoc {word}: {err.reason}",
                    hint="quote the whole delimiter: <<'EOF' or <<\"EOF\"") from None
    if len(words) != 1:
        return None  # `<<EOF sh` and the like: not one word, not a heredoc
    if len(raw) != 1:
        raise _Fail(f"invalid heredoc {word}: lexing it with and without quotes disagrees")
    # Quotes anywhere in the delimiter turn expansion off for the body, as in sh.
    quotes = words[0].count("'") + words[0].count('"')
    raw_quotes = raw[0].count("'") + raw[0].count('"')
    return Heredoc(name=words[0], content="", expand=quotes == raw_quotes,
                   chomp=match[2] == "-", fd=fd)


def _heredocs(line: str) -> list[Heredoc]:
    try:
        words = split_words(line, raw_quotes=True, raw_escapes=True)
    except ShellError:
        return []  # as in the reference: a line the lexer cannot split has no heredocs
    return [doc for doc in map(_heredoc, words) if doc is not None]


def _takes_heredocs(ins: Instruction) -> bool:
    target = ins.onbuild if ins.onbuild is not None else ins
    return target.keyword in _HEREDOC_KEYWORDS and not target.json


# --- the file ----------------------------------------------------------------------------------

def _physical_lines(text: str) -> list[str]:
    """The lines as BuildKit's scanner yields them: split at \\n only, endings kept."""
    parts = text.split("\n")
    out = [part + "\n" for part in parts[:-1]]
    if parts[-1]:
        out.append(parts[-1])
    return out


def _is_comment(line: str) -> bool:
    return line.lstrip(_SPACE).startswith("#")


class _Directives:
    """Parser directives: ``# name=value`` lines before anything else."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}
        self.done = False

    def read(self, line: str) -> bool:
        """Whether ``line`` (without its ending) is a directive. Raises ``_Fail``."""
        if self.done:
            return False
        match = None
        if line.startswith("#"):
            match = _DIRECTIVE.fullmatch(line[1:].lstrip(_SPACE))
        name = match[1].lower() if match else ""
        if match is None or name not in _DIRECTIVES:
            self.done = True
            return False
        if name in self.values:
            raise _Fail(f"only one {name} parser directive can be used",
                        hint=f"remove the second # {name}= line")
        value = match[2]
        if name == "escape" and value not in ("\\", "`"):
            raise _Fail(f"invalid escape token '{value}' does not match ` or \\",
                        hint="write # escape=\\ or # escape=`")
        self.values[name] = value
        return True


def _placed(ins: Instruction, start: int, end: int, original: str,
            heredocs: tuple[Heredoc, ...]) -> Instruction:
    """``ins`` with its place in the file; an ONBUILD trigger shares its instruction's."""
    onbuild = None if ins.onbuild is None else _placed(ins.onbuild, start, end, original, heredocs)
    return dataclasses.replace(ins, start_line=start, end_line=end, original=original,
                               heredocs=heredocs, onbuild=onbuild)


def parse_dockerfile(text: str, *, name: str = "Dockerfile") -> Dockerfile:
    """Parse Dockerfile text. Raises ``DockerfileError`` naming ``name`` and the line."""
    text = text.removeprefix(_BOM)
    physical = _physical_lines(text)
    lines = tuple(p.rstrip("\n").removesuffix("\r") for p in physical)
    for number, raw in enumerate(physical, start=1):
        if len(raw.rstrip("\n").encode("utf-8", "surrogatepass")) > _MAX_LINE:
            raise DockerfileError(
                f"line is longer than {_MAX_LINE} bytes, the most BuildKit reads",
                where=f"{name}:{number}", hint="split it with line continuations",
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
        line = take().lstrip(_SPACE)
        try:
            if directives.read(line):
                escape = directives.values.get("escape", escape)
                continuation = _continuation(escape)
        except _Fail as err:
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
            if _is_comment(line) or not line.lstrip(_SPACE):
                continue
            joined, count = continuation.subn(r"\1", line)
            parts.append(joined)
        logical = "".join(parts)

        try:
            ins = _instruction(logical, escape)
            heredocs = _heredocs(logical) if _takes_heredocs(ins) and "<<" in logical else []
        except _Fail as err:
            raise DockerfileError(err.message, where=f"{name}:{start}", hint=err.hint) from None
        bodies: list[Heredoc] = []
        for doc in heredocs:
            content: list[str] = []
            while True:
                if index == len(physical):
                    raise DockerfileError(
                        f'unterminated heredoc "{doc.name}"', where=f"{name}:{start}",
                        hint=f"end the heredoc with a line that holds only {doc.name}",
                    )
                body = physical[index]
                end = take()
                if (end.lstrip("\t") if doc.chomp else end) == doc.name:
                    break
                content.append(body)
            bodies.append(dataclasses.replace(doc, content="".join(content)))

        original = "\n".join(lines[start - 1:index])
        instructions.append(_placed(ins, start, index, original, tuple(bodies)))

    if not instructions:
        empty = not text.strip(_SPACE)
        raise DockerfileError(
            "the Dockerfile is empty" if empty
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


# --- the reference dump ------------------------------------------------------------------------

_GO_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t",
               "\v": "\\v", '"': '\\"', "\\": "\\\\"}


def _go_quote(text: str) -> str:
    """Go's ``strconv.Quote``."""
    out = ['"']
    for ch in text:
        code = ord(ch)
        if ch in _GO_ESCAPES:
            out.append(_GO_ESCAPES[ch])
        elif ch.isprintable():
            out.append(ch)
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\x{code:02x}")
        elif 0xD800 <= code <= 0xDFFF:
            out.append("\\ufffd")  # not a valid rune in Go
        elif code < 0x10000:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    out.append('"')
    return "".join(out)


def _dump_one(ins: Instruction) -> str:
    parts = [ins.keyword]
    if ins.flags:
        parts.append("[" + " ".join(map(_go_quote, ins.flags)) + "]")
    if ins.onbuild is not None:
        parts.append(f"({_dump_one(ins.onbuild)})")
    else:
        parts.extend(map(_go_quote, ins.args))
    return " ".join(parts)


def dump(dockerfile: Dockerfile) -> str:
    """The reference parser's dump format: one ``(keyword ...)`` line per instruction."""
    return "".join(f"({_dump_one(ins)})\n" for ins in dockerfile.instructions)


# --- RUN --mount -------------------------------------------------------------------------------

MOUNT_TYPES = ("bind", "cache", "tmpfs", "secret", "ssh")
_MOUNT_KEYS = (
    "type", "from", "source", "src", "target", "dst", "destination", "readonly", "ro",
    "readwrite", "rw", "id", "sharing", "required", "size", "mode", "uid", "gid", "env",
)
_SHARING = ("shared", "private", "locked")
_GO_BOOLS = {"1": True, "t": True, "T": True, "TRUE": True, "true": True, "True": True,
             "0": False, "f": False, "F": False, "FALSE": False, "false": False, "False": False}
_SIZE = re.compile(r"[0-9]+(\.[0-9]+)* ?[kKmMgGtTpP]?[iI]?[bB]?")  # docker/go-units RAMInBytes


def _csv_fields(value: str) -> list[str]:
    """One CSV record, as Go's encoding/csv reads it (``""`` is a quote inside quotes)."""
    if value.endswith("\n"):
        value = value[:-2] if value.endswith("\r\n") else value[:-1]
    if not value:
        raise _Fail("empty value", hint="write --mount=type=TYPE,target=PATH,...")
    fields: list[str] = []
    pos = 0
    while True:
        if not value.startswith('"', pos):
            comma = value.find(",", pos)
            text = value[pos:] if comma < 0 else value[pos:comma]
            if '"' in text:
                raise _Fail(f'bare " in field "{text}"', hint='quote the whole field: "key=value"')
            fields.append(text)
            if comma < 0:
                return fields
            pos = comma + 1
            continue
        pos += 1
        text = ""
        while True:
            close = value.find('"', pos)
            if close < 0:
                raise _Fail("a quoted field is not closed", hint='end it with "')
            text += value[pos:close]
            pos = close + 1
            if value.startswith('"', pos):  # "" inside quotes is one quote
                text += '"'
                pos += 1
                continue
            break
        fields.append(text)
        if pos == len(value):
            return fields
        if value[pos] != ",":
            raise _Fail('extraneous or missing " in quoted field', hint='write "" for a quote')
        pos += 1


def _check_mount_value(key: str, value: str, kind: str) -> None:
    """Raise ``_Fail`` unless ``value`` is valid for ``key`` in a mount of type ``kind``."""
    bad = f"invalid value for {key}: {value}"
    if key in ("readonly", "ro", "readwrite", "rw") and value not in _GO_BOOLS:
        raise _Fail(bad, hint=f"write {key}=true or {key}=false")
    if key == "required":
        if kind not in ("secret", "ssh"):
            raise _Fail(f"unexpected key '{key}' for mount type '{kind}'",
                        hint="required applies to secret and ssh mounts")
        if value not in _GO_BOOLS:
            raise _Fail(bad, hint="write required=true or required=false")
    if key == "size":
        if kind != "tmpfs":
            raise _Fail(f"unexpected key '{key}' for mount type '{kind}'",
                        hint="size applies to tmpfs mounts")
        if not _SIZE.fullmatch(value):
            raise _Fail(bad, hint="write a size such as 64m or 1g")
    if key == "sharing" and value.lower() not in _SHARING:
        raise _Fail(f'unsupported sharing value "{value}"' + did_you_mean(value, _SHARING),
                    hint="sharing is shared, private or locked")
    if key in ("uid", "gid", "mode"):
        digits = "[0-7]+" if key == "mode" else "[0-9]+"
        if not re.fullmatch(digits, value) or int(value, 8 if key == "mode" else 10) >= 2**32:
            raise _Fail(f"invalid value {value} for {key}",
                        hint="mode is octal (0755); uid and gid are numbers")


def parse_mount(value: str, *, where: str | None = None) -> Mount:
    """Parse the CSV value of one ``--mount`` flag.

    Keys are case-insensitive; ``type`` defaults to bind. Values are not
    expanded: a value holding ``$`` is kept as written and not checked (except
    ``from``, where BuildKit refuses variables).
    """
    try:
        return _mount(value)
    except _Fail as err:
        raise DockerfileError(f"--mount={value}: {err.message}", where=where,
                              hint=err.hint) from None


def _mount(value: str) -> Mount:
    kind = "bind"
    source = target = from_ = None
    options: dict[str, str] = {}
    for item in _csv_fields(value):
        key, sep, val = item.partition("=")
        key = key.lower()
        if not sep:
            if key in ("readonly", "ro", "readwrite", "rw"):
                options[key] = ""
                continue
            if key == "required":
                _check_mount_value(key, "true", kind)
                options[key] = ""
                continue
            raise _Fail(f"invalid field '{item}' must be a key=value pair",
                        hint="write key=value; fields are separated by commas")
        options[key] = val
        if key == "from" and "$" in val[:-1]:
            raise _Fail("'from' doesn't support variable expansion, define alias stage instead",
                        hint="add FROM ${VAR} AS name and mount from=name")
        if key not in _MOUNT_KEYS:
            raise _Fail(f"unexpected key '{key}' in '{item}'" + did_you_mean(key, _MOUNT_KEYS),
                        hint="keys are " + ", ".join(_MOUNT_KEYS))
        checked = "$" not in val
        if key == "type":
            kind = val.lower() if checked else val  # lower-casing $t would rename the variable
            if checked and kind not in MOUNT_TYPES:
                raise _Fail(f'unsupported mount type "{val}"' + did_you_mean(kind, MOUNT_TYPES),
                            hint="types are " + ", ".join(MOUNT_TYPES))
        elif key == "from":
            from_ = val
        elif key in ("source", "src"):
            source = val
        elif key in ("target", "dst", "destination"):
            target = val
        elif checked and "$" not in kind:
            _check_mount_value(key, val, kind)
    if "$" not in kind:
        _check_mount(kind, options, source=source, target=target, from_=from_)
    return Mount(type=kind, source=source, target=target, from_=from_, options=options)


def _check_mount(kind: str, options: Mapping[str, str], *, source: str | None,
                 target: str | None, from_: str | None) -> None:
    if kind not in ("secret", "ssh", "cache"):
        for key in ("mode", "uid", "gid"):
            if key in options:
                raise _Fail(f'{key} not allowed for "{kind}" type mounts',
                            hint=f"{key} applies to cache, secret and ssh mounts")
    if "sharing" in options and kind != "cache":
        raise _Fail(f"invalid cache sharing set for {kind} mount",
                    hint="sharing applies to cache mounts")
    if kind == "secret":
        if from_:
            raise _Fail("secret mount should not have a from", hint="remove from=")
        if not source and not target and not options.get("id"):
            raise _Fail("invalid secret mount. one of source, target required",
                        hint="write --mount=type=secret,id=NAME")
        if source and options.get("id"):
            raise _Fail("both source and id can't be set", hint="keep id=")
