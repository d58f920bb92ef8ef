"""bakery.core.shell beyond BuildKit's data files: the ` escape, patterns, names, errors.

Expected values were checked against BuildKit's lexer at the conformance commit.
"""

import pytest

from bakery.core.errors import DockerfileError
from bakery.core.shell import ShellError, expand, expand_words, referenced_names


@pytest.mark.parametrize(
    ("word", "env", "expected"),
    [
        ("C:\\dir\\$X", {"X": "y"}, "C:\\dir\\y"),
        ("a`$X", {"X": "y"}, "a$X"),
        ('"a`"b`$X`c"', {"X": "y"}, 'a"b$X`c'),
        ("${X#`*}", {"X": "`*b"}, "*b"),  # ` stays literal in a pattern
        ("${X#\\*}", {"X": "*b"}, "b"),  # a pattern escapes with \ whatever the escape is
    ],
    ids=[
        "backslash-literal",
        "escaped-dollar",
        "double-quoted",
        "pattern-keeps-backtick",
        "pattern-backslash",
    ],
)
def test_backtick_escape(word: str, env: dict[str, str], expected: str) -> None:
    assert expand(word, env, escape="`") == expected


def test_backtick_escape_joins_words() -> None:
    assert expand_words("a` b c`", {}, escape="`") == ["a b", "c"]


def test_other_escape_characters_are_a_bug() -> None:
    with pytest.raises(ValueError, match="escape"):
        expand("$X", {}, escape="^")


@pytest.mark.parametrize(
    ("word", "value", "expected"),
    [
        ("${X%%.*}", "app.tar.gz", "app"),
        ("${X%.*}", "app.tar.gz", "app.tar"),
        ("${X##*/}", "/a/b/c.txt", "c.txt"),
        ("${X#*/}", "/a/b/c.txt", "a/b/c.txt"),
        ("${X//*/y}", "abc", "y"),  # Go's rule: no second, empty match at the end
        ("${X//b/'[$0]'}", "abcb", "a[b]c[b]"),  # replace-all expands $0 to the match
        ("${X/b/'[$0]'}", "abcb", "a[$0]cb"),  # replace-first does not
        ("${X//b/'$$'}", "abc", "a$c"),
    ],
    ids=[
        "longest-suffix",
        "shortest-suffix",
        "longest-prefix",
        "shortest-prefix",
        "replace-all-star",
        "replace-all-template",
        "replace-first-literal",
        "replace-all-dollar",
    ],
)
def test_patterns(word: str, value: str, expected: str) -> None:
    assert expand(word, {"X": value}) == expected


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("cat <<  EOF", ["cat", "<<  EOF"]),  # the heredoc marker stays one word
        # BuildKit itself says ["bc", "d"] here: its word buffer is shared with the
        # nested ${...} and loses "a". bakery keeps what the text says.
        ('a"${X:-b}"c d', ["abc", "d"]),
        ("${X:-b c}", ["b", "c"]),
        ('""', []),
    ],
    ids=["heredoc", "prefix-before-nested-default", "default-splits", "empty-quotes"],
)
def test_words(word: str, expected: list[str]) -> None:
    assert expand_words(word, {}) == expected


@pytest.mark.parametrize(
    ("word", "names"),
    [
        ("plain", set()),
        ("$A ${B}", {"A", "B"}),
        ("${A:-$B}${C:+${D}}", {"A", "B", "C", "D"}),
        ("${A#$B}${C//$D/$E}", {"A", "B", "C", "D", "E"}),
        ("${A?}${B:?$C}", {"A", "B", "C"}),  # unset names do not fail here
        ("'$A' \\$B \"$C\"", {"C"}),
        ("$1 ${@} $$", {"1", "@", "$"}),
    ],
    ids=["none", "simple", "nested-defaults", "patterns", "required", "quoting", "special"],
)
def test_referenced_names(word: str, names: set[str]) -> None:
    assert referenced_names(word) == names


def test_referenced_names_with_backtick_escape() -> None:
    assert referenced_names("`$A\\$B", escape="`") == {"B"}


def test_referenced_names_rejects_malformed_words() -> None:
    with pytest.raises(ShellError, match="bad substitution"):
        referenced_names("${}")


@pytest.mark.parametrize(
    ("word", "env", "message"),
    [
        ("${X:?is required}", {}, 'failed to process "${X:?is required}": X: is required'),
        ("${X?}", {}, 'failed to process "${X?}": X: is not allowed to be unset'),
        ("${X:?}", {"X": ""}, 'failed to process "${X:?}": X: is not allowed to be empty'),
        ("${X:=a}", {}, 'failed to process "${X:=a}": unsupported modifier (:=) in substitution'),
        (
            "${X#\\a}",
            {"X": "ab"},
            (
                'failed to process "${X#\\\\a}": invalid pattern (\\a) in substitution: '
                "invalid escape '\\a'"
            ),
        ),
        ("${X", {}, "failed to process \"${X\": syntax error: missing '}'"),
        ("${X/a", {}, "failed to process \"${X/a\": syntax error: missing '/' in ${}"),
        (
            "'abc",
            {},
            (
                'failed to process "\'abc": '
                "unexpected end of statement while looking for matching single-quote"
            ),
        ),
        (
            '"abc',
            {},
            (
                'failed to process "\\"abc": '
                "unexpected end of statement while looking for matching double-quote"
            ),
        ),
        ("${X:-'a", {}, "failed to process \"${X:-'a\": syntax error: missing '}'"),
        ("${X/'a", {}, "failed to process \"${X/'a\": syntax error: missing '/' in ${}"),
    ],
    ids=[
        "required-message",
        "required-unset",
        "required-empty",
        "assign-unsupported",
        "bad-pattern-escape",
        "missing-brace",
        "missing-slash",
        "single-quote",
        "double-quote",
        "single-quote-in-braces",
        "single-quote-in-pattern",
    ],
)
def test_error_messages(word: str, env: dict[str, str], message: str) -> None:
    with pytest.raises(ShellError) as info:
        expand(word, env)
    assert str(info.value) == message
    assert isinstance(info.value, DockerfileError)
    assert info.value.word == word


def test_unsupported_modifier_hints_at_the_supported_forms() -> None:
    with pytest.raises(ShellError) as info:
        expand("${X:=a}", {})
    assert info.value.hint is not None
    assert "${VAR:-default}" in info.value.hint


def test_absurd_nesting_is_an_error_not_a_crash() -> None:
    word = "${A:-" * 500 + "x" + "}" * 500
    with pytest.raises(ShellError, match="nested"):
        expand(word, {})


def test_leading_byte_order_mark_is_dropped() -> None:
    assert expand("\ufeff$X", {"X": "y"}) == "y"
