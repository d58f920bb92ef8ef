"""bakery.core.ignore.rules: .dockerignore read and its patterns applied as moby/patternmatcher
and BuildKit's walker do. What one pattern matches is test_globs.py.

Rows marked (daemon) were checked against a real ``docker build`` (the docker
CLI's walker, which shares patternmatcher and the parent-results rule with
BuildKit's) with ``COPY . /ctx`` and ``find /ctx``.
"""

import pytest

from bakery.core.errors import ConfigError
from bakery.core.ignore import (
    IgnoreError,
    IgnoreRules,
    clean_path,
    ignore_file_for,
    parse_dockerignore,
)

# (id, .dockerignore text, path, excluded?)
EXCLUDED = [
    # plain names and parent directories
    ("name", "foo", "foo", True),
    ("name-excludes-contents", "foo", "foo/bar/baz", True),
    ("name-is-anchored-at-root", "foo", "bar/foo", False),
    ("nested-name", "a/b", "a/b/c/d", True),
    ("nested-name-not-sibling", "a/b", "a/bc", False),
    ("no-patterns", "", "foo", False),
    ("root-never-excluded", "*", ".", False),
    # comments and blanks
    ("comment", "# foo", "# foo", False),
    ("comment-only-at-line-start", " # foo", "# foo", True),  # (daemon)
    ("hash-comment-hides-pattern", "#a.go", "a.go", False),  # (daemon)
    ("blank-lines", "\n\n  \nfoo\n\n", "foo", True),
    ("trimmed", "  foo \t", "foo", True),
    ("crlf", "foo\r\nbar\r\n", "bar", True),
    ("bom", "\ufefffoo", "foo", True),
    ("bom-only-first-line", "x\n\ufefffoo", "foo", False),
    # cleaning: leading / and ./, trailing /, . and ..
    ("leading-slash", "/build/", "build", True),  # (daemon)
    ("dot-slash", "./a.b", "a.b", True),  # (daemon)
    ("trailing-slash-matches-file", "build/", "build", True),
    ("double-slash", "//a//b", "a/b", True),
    ("dot-dot-folds", "a/x/../b", "a/b", True),
    ("dot-dot-above-root", "../a", "a", False),
    ("just-slash", "/", "a", False),
    ("just-dot", ".", "a", False),
    # exceptions and the last match
    ("exception", "*.md\n!README.md", "README.md", False),  # (daemon)
    ("exception-others-stay", "*.md\n!README.md", "a.md", True),  # (daemon)
    ("exception-then-exclude", "*.md\n!README.md\nREADME.md", "README.md", True),
    ("exception-first-does-nothing", "!foo\nfoo", "foo", True),
    ("exception-blank-after-bang", "foo\n! foo", "foo", False),
    ("exception-inside-dir", "docs\n!docs/keep.md", "docs/keep.md", False),  # (daemon)
    ("exception-inside-dir-others", "docs\n!docs/keep.md", "docs/drop.md", True),  # (daemon)
    ("exception-dir-itself-excluded", "docs\n!docs/keep.md", "docs", True),
    ("exception-subdir", "docs\n!docs/sub", "docs/sub/deep.md", False),  # (daemon)
    ("last-wins-deeper", "a\n!a/b\na/b/d", "a/b/d/e", True),  # (daemon)
    ("last-wins-sibling", "a\n!a/b\na/b/d", "a/b/c", False),  # (daemon)
    ("exclude-all-but", "**\n!docs", "docs/keep.md", False),  # (daemon)
    ("exclude-all-but-others", "**\n!docs", "a.go", True),  # (daemon)
    ("deep-exception", "docs/*\n!docs/sub/deep.md", "docs/sub/deep.md", False),  # (daemon)
    ("glob-exception", "*\n!src/**/*.go", "src/x/y.go", False),
    ("glob-exception-others", "*\n!src/**/*.go", "src/x/y.txt", True),
    # What a parent matched is carried down, not re-checked: "!a/b" is skipped at
    # "a/b" (nothing excluded yet) and never tried against "a/b" again.
    ("parent-results", "a/*/c\n!a/b", "a/b/c", True),  # (daemon)
    ("double-bang", "!!x", "!x", False),
]


@pytest.mark.parametrize(
    ("text", "path", "expected"), [row[1:] for row in EXCLUDED], ids=[row[0] for row in EXCLUDED]
)
def test_excluded(text: str, path: str, expected: bool) -> None:
    assert parse_dockerignore(text).excluded(path) is expected


def test_is_dir_changes_nothing() -> None:
    rules = parse_dockerignore("build/\n")
    assert rules.excluded("build", is_dir=True)
    assert rules.excluded("build", is_dir=False)


@pytest.mark.parametrize(
    ("path", "expected"),
    [("./a/b", True), ("/a/b", True), ("a//b/", True), ("a/./b", True), ("a", False)],
    ids=["dot-slash", "leading-slash", "double-and-trailing-slash", "dot", "parent-only"],
)
def test_paths_are_cleaned(path: str, expected: bool) -> None:
    assert parse_dockerignore("a/b").excluded(path) is expected


def test_check_carries_parent_results() -> None:
    rules = parse_dockerignore("a/*/c\n!a/b\n")
    a = rules.check("a")
    ab = rules.check("a/b", a)
    assert not ab.excluded
    assert rules.check("a/b/c", ab).excluded
    # Without a parent verdict every parent is tried afresh, and "!a/b" matches one.
    assert not rules.check("a/b/c").excluded


# (id, text, directory, may an exception re-include something under it?)
MAY_CONTAIN = [
    ("no-exceptions", "foo", "foo", False),
    ("exception-below", "foo\n!foo/bar", "foo", True),
    ("exception-below-deeper", "foo\n!foo/bar/baz", "foo/bar", True),
    ("exception-elsewhere", "foo\n!baz/bar", "foo", False),
    ("exception-is-sibling-prefix", "foo\n!foobar", "foo", False),
    ("exception-above", "foo\n!foo/bar", "foo/bar/deep", False),
    ("exception-trailing-dstar", "foo\n!foo/bar/**", "foo/bar", True),
    ("exception-trailing-star", "foo\n!foo/bar/*", "foo/baz", False),
    ("wildcard-exception-anywhere", "foo\n!*.go", "foo", True),
    ("escape-counts-as-wildcard", "foo\n!a\\b", "foo", True),
]


@pytest.mark.parametrize(
    ("text", "directory", "expected"),
    [row[1:] for row in MAY_CONTAIN],
    ids=[row[0] for row in MAY_CONTAIN],
)
def test_may_contain_included(text: str, directory: str, expected: bool) -> None:
    assert parse_dockerignore(text).may_contain_included(directory) is expected


# (id, text, line of the bad pattern, message fragment)
BAD = [
    ("bare-bang", "ok\n!", 2, 'illegal exclusion pattern: "!"'),
    ("bang-slash", "!/", 1, 'illegal exclusion pattern: "!"'),
    ("open-class", "a[", 1, "syntax error in pattern"),
    ("unclosed-class", "[abc", 1, "syntax error in pattern"),
    ("empty-class", "[]", 1, "syntax error in pattern"),
    ("empty-negated-class", "x\n\n[^]", 3, "syntax error in pattern"),
    ("dash-first", "[-a]", 1, "syntax error in pattern"),
    ("open-range", "[a-]", 1, "syntax error in pattern"),
    ("trailing-backslash", "a\\", 1, "syntax error in pattern"),
    ("reversed-range", "[z-a]", 1, "invalid character class range"),
    ("bad-exception", "*\n![", 2, "syntax error in pattern"),
]


@pytest.mark.parametrize(
    ("text", "line", "message"), [row[1:] for row in BAD], ids=[row[0] for row in BAD]
)
def test_bad_patterns(text: str, line: int, message: str) -> None:
    with pytest.raises(IgnoreError, match=r"syntax|illegal|range") as caught:
        parse_dockerignore(text, source="ctx/.dockerignore")
    assert message in caught.value.message
    assert caught.value.where == f"ctx/.dockerignore:{line}"
    assert caught.value.hint
    assert isinstance(caught.value, ConfigError)


def test_patterns_keep_order_lines_and_exceptions() -> None:
    rules = parse_dockerignore("# c\n*.md\n\n! /README.md/\n")
    assert [(str(p), p.line, p.exclusion) for p in rules.patterns] == [
        ("*.md", 2, False),
        ("!README.md", 4, True),
    ]
    assert rules.has_exceptions
    assert not IgnoreRules().has_exceptions


# (id, dockerfile, files that exist, the ignore file to read)
IGNORE_FILE = [
    ("none", "Dockerfile", set(), None),
    ("root", "Dockerfile", {".dockerignore"}, ".dockerignore"),
    (
        "own-wins",
        "Dockerfile",
        {".dockerignore", "Dockerfile.dockerignore"},
        "Dockerfile.dockerignore",
    ),
    (
        "own-beside-dockerfile",
        "docker/app.Dockerfile",
        {".dockerignore", "docker/app.Dockerfile.dockerignore"},
        "docker/app.Dockerfile.dockerignore",
    ),
    ("own-path-cleaned", "./Dockerfile", {"Dockerfile.dockerignore"}, "Dockerfile.dockerignore"),
    ("other-dockerfile-own-ignored", "Dockerfile", {"app.Dockerfile.dockerignore"}, None),
    ("inline-dockerfile", None, {".dockerignore", "Dockerfile.dockerignore"}, ".dockerignore"),
]


@pytest.mark.parametrize(
    ("dockerfile", "existing", "expected"),
    [row[1:] for row in IGNORE_FILE],
    ids=[row[0] for row in IGNORE_FILE],
)
def test_ignore_file_for(dockerfile: str | None, existing: set[str], expected: str | None) -> None:
    assert ignore_file_for(dockerfile, existing) == expected


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("", "."),
        (".", "."),
        ("a/", "a"),
        ("./a//b/.", "a/b"),
        ("a/../..", ".."),
        ("/../a", "/a"),
        ("//a", "/a"),
        ("/", "/"),
        ("a/b/../../c", "c"),
    ],
    ids=[
        "empty",
        "dot",
        "trailing",
        "mixed",
        "up-past-start",
        "up-past-root",
        "double-root",
        "root",
        "fold",
    ],
)
def test_clean_path_is_go_path_clean(path: str, expected: str) -> None:
    assert clean_path(path) == expected
