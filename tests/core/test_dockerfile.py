"""bakery.core.dockerfile beyond BuildKit's data files: places, heredocs, flags, errors.

Expected values follow BuildKit's parser at the conformance commit (its
``parser_test.go`` and ``parser_heredoc_test.go`` where they cover the case).
"""

import pytest

from bakery.core.dockerfile import Heredoc, Instruction, dump, parse_dockerfile
from bakery.core.errors import DockerfileError


def _one(text: str) -> Instruction:
    """The last instruction of ``FROM a`` followed by ``text``."""
    return parse_dockerfile("FROM a\n" + text).instructions[-1]


# --- args, by instruction kind ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "args", "is_json"),
    [
        ("FROM golang:1.21 AS build", ("golang:1.21", "AS", "build"), False),
        ("FROM\tscratch", ("scratch",), False),
        ("COPY a b /dst/", ("a", "b", "/dst/"), False),
        ('COPY ["a b", "/dst/"]', ("a b", "/dst/"), True),
        ("ADD  --chown=1 x  y", ("x", "y"), False),
        ("RUN echo  $HOME && ls", ("echo  $HOME && ls",), False),
        ('RUN ["sh", "-c", "echo"]', ("sh", "-c", "echo"), True),
        ("RUN ['sh']", ("['sh']",), False),  # single quotes are not JSON: shell form
        ('RUN ["sh"] x', ('["sh"] x',), False),  # trailing text: shell form
        ("CMD []", (), True),
        ('ENTRYPOINT [ "/bin/app" ]', ("/bin/app",), True),
        ('SHELL ["pwsh", "-c"]', ("pwsh", "-c"), True),
        ('ENV A=1 B="2 3"', ("A", "1", "=", "B", '"2 3"', "="), False),
        ("ENV legacy value with  spaces", ("legacy", "value with  spaces", ""), False),
        ("ENV A=a\\ b", ("A", "a\\ b", "="), False),
        ('LABEL "org.x"="y z"', ('"org.x"', '"y z"', "="), False),
        ('ARG A B=2 C="x y"', ("A", "B=2", 'C="x y"'), False),
        ("EXPOSE 80/tcp 443", ("80/tcp", "443"), False),
        ("VOLUME /a /b", ("/a", "/b"), False),
        ('VOLUME ["/a"]', ("/a",), True),
        ("USER app:app", ("app:app",), False),
        ("WORKDIR /my dir", ("/my dir",), False),
        ("STOPSIGNAL SIGTERM", ("SIGTERM",), False),
        ("MAINTAINER me <me@x.org>", ("me <me@x.org>",), False),
        ("HEALTHCHECK --interval=5s CMD curl -f x", ("CMD", "curl -f x"), False),
        ('HEALTHCHECK CMD ["curl", "x"]', ("CMD", "curl", "x"), True),
        ("HEALTHCHECK NONE", ("NONE",), False),
        ("ONBUILD RUN make", ("RUN make",), False),
        ("RUN", (), False),
        ("run lower case", ("lower case",), False),
    ],
    ids=[
        "from-as",
        "from-tab",
        "copy-shell",
        "copy-json",
        "add-flag-blanks",
        "run-shell",
        "run-json",
        "run-single-quotes",
        "run-json-then-text",
        "cmd-empty-json",
        "entrypoint-json",
        "shell-json",
        "env-pairs",
        "env-legacy",
        "env-escaped-blank",
        "label-quoted",
        "arg-words",
        "expose",
        "volume-shell",
        "volume-json",
        "user",
        "workdir",
        "stopsignal",
        "maintainer",
        "healthcheck-shell",
        "healthcheck-json",
        "healthcheck-none",
        "onbuild-trigger-text",
        "no-args",
        "lower-case-keyword",
    ],
)
def test_args(text: str, args: tuple[str, ...], is_json: bool) -> None:
    ins = _one(text)
    assert ins.args == args
    assert ins.json is is_json


@pytest.mark.parametrize(
    ("text", "pairs"),
    [
        ("ENV A=1 B=2", (("A", "1"), ("B", "2"))),
        ("ENV A 1 2", (("A", "1 2"),)),
        ('LABEL a="x y"', (("a", '"x y"'),)),
    ],
    ids=["env", "env-legacy", "label-quotes-kept"],
)
def test_pairs(text: str, pairs: tuple[tuple[str, str], ...]) -> None:
    assert _one(text).pairs() == pairs


# --- line spans and original text ------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "spans"),
    [
        ("FROM a\nRUN x\n", [(1, 1, "FROM a"), (2, 2, "RUN x")]),
        ("\n\n# c\nFROM a\n\n\nRUN x", [(4, 4, "FROM a"), (7, 7, "RUN x")]),
        (
            "FROM a\nRUN a \\\n  # inside\n\n  b \\\n  c\nRUN d\n",
            [(1, 1, "FROM a"), (2, 6, "RUN a \\\n  # inside\n\n  b \\\n  c"), (7, 7, "RUN d")],
        ),
        ("FROM a\nRUN a \\", [(1, 1, "FROM a"), (2, 2, "RUN a \\")]),
        ("FROM a\nRUN a \\\n\n", [(1, 1, "FROM a"), (2, 3, "RUN a \\\n")]),
        (
            "FROM a\nRUN <<EOF\necho \\\nEOF\nRUN b\n",
            [(1, 1, "FROM a"), (2, 4, "RUN <<EOF\necho \\\nEOF"), (5, 5, "RUN b")],
        ),
        ("FROM a\r\nRUN a \\\r\n b\r\n", [(1, 1, "FROM a"), (2, 3, "RUN a \\\n b")]),
        ("\ufeffFROM a\n", [(1, 1, "FROM a")]),
        ("# escape=`\nFROM a\nRUN a `\n b\n", [(2, 2, "FROM a"), (3, 4, "RUN a `\n b")]),
        ("  FROM a  \n", [(1, 1, "  FROM a  ")]),
    ],
    ids=[
        "simple",
        "blank-and-comment-lines-between",
        "comment-and-blank-inside-continuation",
        "continuation-at-eof",
        "continuation-eats-blank-lines-at-eof",
        "heredoc-body-covered-and-not-joined",
        "crlf",
        "bom",
        "backtick-continuation",
        "indented",
    ],
)
def test_line_spans_and_original(text: str, spans: list[tuple[int, int, str]]) -> None:
    got = [(i.start_line, i.end_line, i.original) for i in parse_dockerfile(text).instructions]
    assert got == spans


def test_lines_are_the_source_without_endings() -> None:
    parsed = parse_dockerfile("\ufeffFROM a\r\nRUN x\n\n", name="x/Dockerfile")
    assert parsed.lines == ("FROM a", "RUN x", "")
    assert parsed.name == "x/Dockerfile"


@pytest.mark.parametrize(
    ("text", "args"),
    [
        ("RUN echo hello\\\n  world", ("echo hello  world",)),  # the indentation is kept
        ("RUN echo a \\\n# c \\\nb", ("echo a b",)),  # a comment's own \ changes nothing
        ("ENV C trailing\\\\\nENV D x", ("D", "x", "")),  # an escaped \ does not continue
        ("RUN \\\n  x", ("x",)),  # the escape alone on a line
    ],
    ids=["indentation-kept", "comment-inside", "escaped-escape", "escape-alone"],
)
def test_continuations(text: str, args: tuple[str, ...]) -> None:
    assert _one(text).args == args


# --- directives and the escape character -----------------------------------------------------


@pytest.mark.parametrize(
    ("text", "directives", "escape"),
    [
        ("# syntax=docker/dockerfile:1\nFROM a\n", {"syntax": "docker/dockerfile:1"}, "\\"),
        ("#ESCAPE = `\n# Check=skip=all \nFROM a\n", {"escape": "`", "check": "skip=all"}, "`"),
        ("  # escape=`\nFROM a\n", {"escape": "`"}, "`"),
        ("# comment\n# escape=`\nFROM a\n", {}, "\\"),
        ("\n# escape=`\nFROM a\n", {}, "\\"),
        ("# other=x\n# escape=`\nFROM a\n", {}, "\\"),
        ("FROM a\n# escape=`\n", {}, "\\"),
    ],
    ids=[
        "syntax",
        "names-case-insensitive",
        "indented",
        "after-comment-ignored",
        "after-blank-ignored",
        "after-unknown-ignored",
        "after-instruction-ignored",
    ],
)
def test_directives(text: str, directives: dict[str, str], escape: str) -> None:
    parsed = parse_dockerfile(text)
    assert dict(parsed.directives) == directives
    assert parsed.escape == escape


def test_backtick_escape_keeps_windows_paths() -> None:
    parsed = parse_dockerfile("# escape=`\nFROM a\nCOPY c:\\src\\ c:\\dst\\\nRUN dir `\n  c:\\\n")
    copy, run = parsed.instructions[1:]
    assert copy.args == ("c:\\src\\", "c:\\dst\\")
    assert run.args == ("dir   c:\\",)
    assert run.end_line == 5


def test_escape_applies_to_words_and_flags() -> None:
    parsed = parse_dockerfile('# escape=`\nFROM a\nENV A="x`"y" B=c\\d\nCOPY --chown=a` b x y\n')
    env, copy = parsed.instructions[1:]
    assert env.args == ("A", '"x`"y"', "=", "B", "c\\d", "=")
    assert copy.flags == ("--chown=a b",)


# --- flags -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "flags", "args"),
    [
        ("COPY --from=build /a /b", ("--from=build",), ("/a", "/b")),
        ("COPY --link --chmod=755 a b", ("--link", "--chmod=755"), ("a", "b")),
        ('COPY --chown="a b" x y', ("--chown=a b",), ("x", "y")),
        ("COPY --chown=a\\ b x y", ("--chown=a b",), ("x", "y")),
        ("COPY -- --odd y", (), ("--odd", "y")),
        ("COPY --a -- --odd y", ("--a",), ("--odd", "y")),
        ("COPY -x y", (), ("-x", "y")),
        (
            "RUN --network=none --mount=type=cache,target=/c make",
            ("--network=none", "--mount=type=cache,target=/c"),
            ("make",),
        ),
        ('CMD --doit ["a"]', ("--doit",), ("a",)),
        ("FROM --platform=$BUILDPLATFORM golang", ("--platform=$BUILDPLATFORM",), ("golang",)),
        ("RUN echo --not-a-flag", (), ("echo --not-a-flag",)),
        ("COPY --only-flags", ("--only-flags",), ()),
        ("COPY --a  --b x", ("--a", "--b"), ("x",)),
        ('COPY --a="x\\"y" b', ('--a=x"y',), ("b",)),
        ('COPY --a="open', ("--a=open",), ()),
        ("COPY --a='' x", ("--a=",), ("x",)),
        ('COPY "--a" x', (), ('"--a"', "x")),
        ("COPY --", (), ()),
    ],
    ids=[
        "value",
        "bare-and-value",
        "quoted",
        "escaped-blank",
        "end-marker-only",
        "end-marker-after-flag",
        "single-dash-is-an-arg",
        "repeated-kinds",
        "any-instruction",
        "from-platform",
        "after-first-arg",
        "flags-only",
        "double-blank",
        "escaped-quote",
        "unclosed-quote",
        "empty-quoted",
        "quoted-dashes-are-args",
        "end-marker-alone",
    ],
)
def test_flags(text: str, flags: tuple[str, ...], args: tuple[str, ...]) -> None:
    ins = _one(text)
    assert ins.flags == flags
    assert ins.args == args


@pytest.mark.parametrize(
    ("name", "value", "values"),
    [
        ("mount", "type=cache,target=/b", ("type=bind,target=/a", "type=cache,target=/b")),
        ("link", "", ("",)),
        ("from", "x=y", ("x=y",)),
        ("chmod", None, ()),
        ("moun", None, ()),
    ],
    ids=["repeated-last-wins", "bare-is-empty", "value-with-equals", "absent", "no-prefix-match"],
)
def test_flag_lookup(name: str, value: str | None, values: tuple[str, ...]) -> None:
    ins = _one(
        "COPY --mount=type=bind,target=/a --link --from=x=y --mount=type=cache,target=/b a b"
    )
    assert ins.flag(name) == value
    assert ins.flag_values(name) == values


# --- heredocs --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "heredocs"),
    [
        ("RUN <<EOF\necho hi\nEOF", (Heredoc("EOF", "echo hi\n", expand=True, chomp=False),)),
        ("RUN <<EOF\nEOF", (Heredoc("EOF", "", expand=True, chomp=False),)),
        ("RUN <<-EOF\n\techo\n\tEOF", (Heredoc("EOF", "\techo\n", expand=True, chomp=True),)),
        ("RUN <<EOF\n\tEOF\nEOF", (Heredoc("EOF", "\tEOF\n", expand=True, chomp=False),)),
        ('RUN <<"EOF"\n$X\nEOF', (Heredoc("EOF", "$X\n", expand=False, chomp=False),)),
        ("RUN <<'EOF'\n$X\nEOF", (Heredoc("EOF", "$X\n", expand=False, chomp=False),)),
        ("RUN <<E'O'F\n$X\nEOF", (Heredoc("EOF", "$X\n", expand=False, chomp=False),)),
        ("RUN 3<<EOF\nx\nEOF", (Heredoc("EOF", "x\n", expand=True, chomp=False, fd=3),)),
        ("RUN << EOF\nx\nEOF", (Heredoc("EOF", "x\n", expand=True, chomp=False),)),
        (
            "COPY <<A <<B /dst/\na\nA\nb\nB",
            (
                Heredoc("A", "a\n", expand=True, chomp=False),
                Heredoc("B", "b\n", expand=True, chomp=False),
            ),
        ),
        (
            "RUN <<EOF\n# not a comment\n\nEOF",
            (Heredoc("EOF", "# not a comment\n\n", expand=True, chomp=False),),
        ),
        ("RUN <<EOF\r\nx\r\nEOF\r\n", (Heredoc("EOF", "x\r\n", expand=True, chomp=False),)),
        (
            "RUN --mount=type=cache,target=/c <<EOF\nx\nEOF",
            (Heredoc("EOF", "x\n", expand=True, chomp=False),),
        ),
        ('RUN ["<<EOF"]', ()),
        ('RUN "<<EOF"', ()),
        ("RUN echo '<<EOF'", ()),
        ("RUN <<EOF sh\nx\nEOF", (Heredoc("EOF", "x\n", expand=True, chomp=False),)),
        ('RUN cat <<""', ()),  # the delimiter is no word at all
        ("USER <<EOF", ()),
        ("RUN echo 'unclosed <<EOF", ()),  # a line the lexer cannot split has none
    ],
    ids=[
        "basic",
        "empty",
        "chomp-keeps-tabs-in-body",
        "no-chomp-tab-is-body",
        "double-quoted",
        "single-quoted",
        "partly-quoted",
        "fd",
        "blank-after-marker",
        "two",
        "comment-in-body",
        "crlf",
        "with-flags",
        "json-form",
        "quoted-word",
        "single-quoted-word",
        "word-after-marker",
        "empty-delimiter",
        "not-for-user",
        "lexer-error",
    ],
)
def test_heredocs(text: str, heredocs: tuple[Heredoc, ...]) -> None:
    assert _one(text).heredocs == heredocs


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("RUN <<$EOF\nx\n$EOF", [("$EOF", True)]),  # unset variables stay as written
        ("RUN echo ${A:-x y} ${B} $1 $@ $ <<EOF\nx\nEOF", [("EOF", True)]),
        ("RUN echo ${A/a/b} ${A//a/b} ${A#x} ${A%%y} <<EOF\nx\nEOF", [("EOF", True)]),
        ('RUN echo "a\\"b$X${Y}\\q" <<EOF\nx\nEOF', [("EOF", True)]),
        ('RUN <<"E\\"F"\nx\nE"F', [('E"F', False)]),
        ("RUN <<E\\OF\nx\nEOF", [("EOF", True)]),  # BuildKit expands here, unlike sh
        ("RUN echo a<b <<EOF\nx\nEOF", [("EOF", True)]),
        ("RUN echo \\<<EOF", []),
        ("RUN echo ${A:#x} <<EOF", []),
        ("RUN echo ${ <<EOF", []),
        ("RUN echo ${} <<EOF", []),
        ("RUN echo ${A=x} <<EOF", []),
        ("RUN echo ${A/x <<EOF", []),
        ("RUN echo ${A:-x <<EOF", []),
        ('RUN echo "x <<EOF', []),
        ("RUN echo ${A: <<EOF", []),
        ("RUN <<\ufeffEOF\nx\nEOF", [("EOF", True)]),  # Go's scanner drops it, as expand() does
    ],
    ids=[
        "variable-delimiter",
        "expansions-before",
        "patterns-before",
        "double-quote-escapes",
        "escaped-quote-in-delimiter",
        "escape-in-delimiter",
        "single-angle",
        "escaped-angle",
        "bad-modifier",
        "open-brace",
        "empty-braces",
        "unsupported-modifier",
        "missing-slash",
        "missing-brace",
        "open-double-quote",
        "colon-at-end",
        "byte-order-mark-in-delimiter",
    ],
)
def test_heredoc_detection(text: str, names: list[tuple[str, bool]]) -> None:
    """Which words open heredocs: BuildKit's shell lexer decides, quotes and all."""
    assert [(h.name, h.expand) for h in _one(text).heredocs] == names


def test_absurd_nesting_before_a_heredoc_is_no_crash() -> None:
    # The shell lexer's nesting limit: the line cannot be split, so it has no heredocs.
    nested = "${A:-" * 500 + "x" + "}" * 500
    assert _one(f"RUN echo {nested} <<EOF\n").heredocs == ()


def test_heredoc_stays_with_its_instruction() -> None:
    parsed = parse_dockerfile("FROM a\nRUN <<EOF\nFROM b\nEOF\nRUN c\n")
    assert [i.keyword for i in parsed.instructions] == ["from", "run", "run"]
    run = parsed.instructions[1]
    assert run.args == ("<<EOF",)
    assert (run.start_line, run.end_line) == (2, 4)
    assert run.original == "RUN <<EOF\nFROM b\nEOF"


def test_heredoc_after_continuation() -> None:
    ins = _one("RUN python3 \\\n  <<EOF\nprint(1)\nEOF\n")
    assert ins.args == ("python3   <<EOF",)
    assert ins.heredocs == (Heredoc("EOF", "print(1)\n", expand=True, chomp=False),)
    assert (ins.start_line, ins.end_line) == (2, 5)


# --- ONBUILD ---------------------------------------------------------------------------------


def test_onbuild_wraps_its_trigger() -> None:
    ins = _one("ONBUILD COPY --from=x a b\n")
    assert ins.keyword == "onbuild"
    assert ins.args == ("COPY --from=x a b",)
    assert ins.onbuild == Instruction(
        "copy",
        ("a", "b"),
        ("--from=x",),
        start_line=2,
        end_line=2,
        original="ONBUILD COPY --from=x a b",
    )


def test_onbuild_trigger_with_heredoc() -> None:
    ins = _one("ONBUILD RUN <<EOF\necho\nEOF\n")
    expected = (Heredoc("EOF", "echo\n", expand=True, chomp=False),)
    assert ins.heredocs == expected
    assert ins.onbuild is not None
    assert ins.onbuild.heredocs == expected
    assert (ins.onbuild.start_line, ins.onbuild.end_line) == (2, 4)


def test_onbuild_json_trigger_has_no_heredoc() -> None:
    ins = _one('ONBUILD RUN ["<<EOF"]\n')
    assert ins.heredocs == ()
    assert ins.onbuild is not None
    assert ins.onbuild.json


def test_bare_onbuild() -> None:
    ins = _one("ONBUILD\n")
    assert (ins.args, ins.onbuild) == ((), None)


# --- dump ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("ONBUILD RUN --x=1 a", '(onbuild (run ["--x=1"] "a"))'),
        ("ONBUILD", "(onbuild)"),
        ('LABEL a="é\u200b\x01\U0001f600"', '(label "a" "\\"é\\u200b\\x01\U0001f600\\"" "=")'),
        ('CMD ["\\t\\u0000\\ud800"]', '(cmd "\\t\\x00\ufffd")'),  # U+FFFD is printable
        ('CMD ["a", 1e999]', '(cmd "[\\"a\\", 1e999]")'),  # Go cannot decode it: shell form
        ("CMD [NaN]", '(cmd "[NaN]")'),
    ],
    ids=[
        "onbuild-flags",
        "onbuild-bare",
        "go-quoting",
        "json-escapes",
        "number-overflow",
        "nan-not-json",
    ],
)
def test_dump(text: str, line: str) -> None:
    assert dump(parse_dockerfile(f"FROM a\n{text}\n")) == f'(from "a")\n{line}\n'


# --- errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        ("", "Dockerfile", "the Dockerfile is empty"),
        ("\n  \n", "Dockerfile", "the Dockerfile is empty"),
        (
            "# a\n\n# b\n",
            "Dockerfile",
            "the Dockerfile has no instructions, only comments and blank lines",
        ),
        ("FROM a\n\nENV PATH\n", "Dockerfile:3", "ENV PATH has no value"),
        ("FROM a\nLABEL a=b c\n", "Dockerfile:2", 'LABEL: no "=" in "c"'),
        ("FORM a\n", "Dockerfile:1", 'unknown instruction "FORM"; did you mean "FROM"?'),
        (
            "FROM a\nRUN apt-get update &&\n  apt-get install x\n",
            "Dockerfile:3",
            'unknown instruction "apt-get"',
        ),
        ("FROM a\nRUN x\nCOPY <<EOF /x\nbody\n", "Dockerfile:3", 'unterminated heredoc "EOF"'),
        ("FROM a\nRUN <<-EOF\nbody\n  EOF\n", "Dockerfile:2", 'unterminated heredoc "EOF"'),
        (
            "# escape=`\n# escape=\\\nFROM a\n",
            "Dockerfile:2",
            "only one escape parser directive can be used",
        ),
        ("# escape=^\nFROM a\n", "Dockerfile:1", "invalid escape token '^' does not match ` or \\"),
        (
            'FROM a\nCMD [ "echo", [ "x" ] ]\n',
            "Dockerfile:2",
            "when using JSON array syntax, arrays must be comprised of strings only",
        ),
        (
            "FROM a\nRUN [1]\n",
            "Dockerfile:2",
            "when using JSON array syntax, arrays must be comprised of strings only",
        ),
        (
            "FROM a\nONBUILD ONBUILD RUN x\n",
            "Dockerfile:2",
            "ONBUILD isn't allowed as an ONBUILD trigger",
        ),
        ("FROM a\nONBUILD FROM b\n", "Dockerfile:2", "FROM isn't allowed as an ONBUILD trigger"),
        (
            "FROM a\nONBUILD RUNN x\n",
            "Dockerfile:2",
            'unknown instruction "RUNN"; did you mean "RUN"?',
        ),
        (
            "FROM a\nRUN " + "x" * 65532 + "\n",
            "Dockerfile:2",
            "line is longer than 65535 bytes, the most BuildKit reads",
        ),
    ],
    ids=[
        "empty",
        "blank",
        "comments-only",
        "env-no-value",
        "label-no-equals",
        "unknown-with-suggestion",
        "unknown-missing-continuation",
        "unterminated-heredoc",
        "chomp-needed-for-indented-end",
        "duplicate-directive",
        "bad-escape",
        "nested-json",
        "json-number",
        "onbuild-onbuild",
        "onbuild-from",
        "onbuild-unknown",
        "line-too-long",
    ],
)
def test_errors(text: str, where: str, message: str) -> None:
    with pytest.raises(DockerfileError) as caught:
        parse_dockerfile(text)
    assert caught.value.where == where
    assert caught.value.message == message


def test_error_names_the_file_and_hints() -> None:
    with pytest.raises(DockerfileError) as caught:
        parse_dockerfile("FROM a\nRUN make &&\n  make install\n", name="app/Dockerfile")
    assert str(caught.value) == 'app/Dockerfile:3: unknown instruction "make"'
    assert caught.value.hint == "if this line continues the one above, end that line with \\"


def test_longest_line_is_accepted() -> None:
    assert _one("RUN " + "x" * 65531 + "\n").args == ("x" * 65531,)


def test_directives_read_as_buildkits_pattern_in_linear_time() -> None:
    import itertools
    import re
    import time

    from bakery.core.dockerfile.parser import directive

    # BuildKit's own pattern is the oracle on every short text of these characters.
    pattern = re.compile(r"([a-zA-Z][a-zA-Z0-9]*)[\t\n\f\r ]*=[\t\n\f\r ]*(.+?)[\t\n\f\r ]*")
    for size in range(6):
        for chars in itertools.product("a1= \t\n", repeat=size):
            text = "".join(chars)
            match = pattern.fullmatch(text)
            assert directive(text) == (match.groups() if match else None), repr(text)
    start = time.perf_counter()
    dockerfile = parse_dockerfile("# syntax=a" + " " * 65_000 + "b\nFROM busybox\n")
    assert time.perf_counter() - start < 1.0
    assert dockerfile.instructions[0].keyword == "from"
