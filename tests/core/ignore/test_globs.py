"""bakery.core.ignore.globs: the pattern language, as moby/patternmatcher and Go's path.Match
read it. A .dockerignore pattern is tried as Docker uses it, through parse_dockerignore.

Rows marked (daemon) were checked against a real ``docker build`` (the docker
CLI's walker, which shares patternmatcher and the parent-results rule with
BuildKit's) with ``COPY . /ctx`` and ``find /ctx``.
"""

import pytest

from bakery.core.ignore import parse_dockerignore, path_match

# (id, .dockerignore text, path, excluded?)
EXCLUDED = [
    # * and ?
    ("star", "*.go", "a.go", True),
    ("star-one-level", "*.go", "src/a.go", False),
    ("star-matches-dirs", "*", "a/b", True),
    ("star-in-middle", "*/build", "d1/build/out", True),  # (daemon)
    ("star-in-middle-depth", "*/build", "a/b/build", False),
    ("question", "?.go", "a.go", True),  # (daemon)
    ("question-one-char", "?.go", "ab.go", False),  # (daemon)
    ("question-not-slash", "a?b", "a/b", False),
    # **
    ("dstar-any-depth", "**/*.go", "src/x/y.go", True),  # (daemon)
    ("dstar-zero-dirs", "**/*.go", "a.go", True),  # (daemon)
    ("dstar-name", "**/foo", "lib/sub/foo", True),  # (daemon)
    ("dstar-name-top", "**/foo", "foo", True),
    ("dstar-name-is-suffix-of-path", "**/foo", "xfoo", False),  # (daemon)
    ("dstar-name-parent", "**/node_modules", "x/node_modules/m/i.js", True),
    ("dstar-middle", "a/**/b", "a/b", True),
    ("dstar-middle-deep", "a/**/b", "a/x/y/b", True),
    ("dstar-middle-not-partial", "a/**/b", "a/xb", False),
    ("dstar-alone", "**", "any/thing", True),
    ("dstar-suffix-string", "**foo", "xfoo", True),  # (daemon)
    ("dstar-suffix-string-deep", "**foo", "lib/sub/foo", True),
    ("dstar-prefix-string", "foo**", "foobar", True),  # (daemon)
    ("dstar-trailing", "lib/**", "lib/sub/foo", True),  # (daemon)
    ("dstar-trailing-not-dir-itself", "lib/**", "lib", False),
    # classes and escapes
    ("class-range", "[a-c].txt", "b.txt", True),  # (daemon)
    ("class-range-miss", "[a-c].txt", "x.txt", False),
    ("class-negated", "[^a].go", "b.go", True),
    ("class-negated-miss", "[^a].go", "a.go", False),  # (daemon)
    ("class-escaped-bracket", "[\\]]x", "]x", True),
    ("class-bang-is-literal", "[!a].go", "!.go", True),
    ("escape-star", "\\*", "*", True),  # (daemon)
    ("escape-star-literal", "\\*", "a", False),  # (daemon)
    ("regex-chars-literal", "a+b", "a+b", True),  # (daemon)
    ("parens-literal", "(x)", "(x)", True),  # (daemon)
    ("dot-literal", "a.b", "axb", False),  # (daemon)
    ("dot-literal-in-regex", "*.b", "axb", False),
    ("dollar-literal", "a$*", "a$x", True),
]


@pytest.mark.parametrize(
    ("text", "path", "expected"), [row[1:] for row in EXCLUDED], ids=[row[0] for row in EXCLUDED]
)
def test_excluded(text: str, path: str, expected: bool) -> None:
    assert parse_dockerignore(text).excluded(path) is expected


@pytest.mark.parametrize(
    ("pattern", "name", "expected"),
    [
        ("*.go", "a.go", True),
        ("*.go", "a/b.go", False),
        ("*/b.go", "a/b.go", True),
        ("?", "/", False),
        ("[a-c]x", "bx", True),
        ("[^a-c]x", "dx", True),
        ("\\*", "*", True),
        ("\\*", "a", False),
        ("[z-a]", "a", False),
        ("**", "a", True),
    ],
    ids=[
        "star",
        "star-not-slash",
        "two-levels",
        "question-not-slash",
        "class",
        "negated",
        "escape",
        "escape-literal",
        "reversed-range-matches-nothing",
        "dstar-is-star",
    ],
)
def test_path_match_is_go_path_match(pattern: str, name: str, expected: bool) -> None:
    assert path_match(pattern, name) is expected


def test_path_match_rejects_malformed_patterns() -> None:
    with pytest.raises(ValueError, match="syntax error"):
        path_match("[", "a")
