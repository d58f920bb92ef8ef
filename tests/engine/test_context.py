"""bakery.engine.context: snapshots of build contexts, their digests, tars and cache.

The snapshot is checked on a real folder in ``tmp_path``; the last tests send its
tar to the real daemon, through both backends, and read back what COPY copied.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import stat
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bakery.core.errors import ConfigError
from bakery.core.ignore import IgnoreError
from bakery.engine.context import (
    DIGEST_CACHE_FILE,
    ContextChanged,
    ContextSnapshot,
    DigestCache,
)

OLD_NS = 1_600_000_000_123_456_789  # an mtime well in the past: not "racily clean"

TREE = {
    "Dockerfile": "FROM scratch\n",
    ".dockerignore": "# what the build never sees\nsecrets\n*.log\ndocs\n!docs/keep.md\n",
    "src/main.go": "package main\n",
    "src/util/util.go": "package util\n",
    "src/notes.txt": "notes\n",
    "src/debug.log": "only top-level *.log is ignored\n",
    "app.log": "log\n",
    "secrets/key": "hunter2\n",
    "docs/keep.md": "keep\n",
    "docs/drop.md": "drop\n",
    "bin/run.sh": "#!/bin/sh\necho run\n",
}
EMPTY_DIRS = ["empty", "src/empty"]
LINKS = {"latest": "src", "abs": "/etc", "dangling": "nowhere"}
MODES = {
    "bin": 0o700,
    "bin/run.sh": 0o755,
    "src/notes.txt": 0o600,
    "src": 0o755,
    "src/main.go": 0o644,
}

# Walk order: names in byte order within a folder, a folder before its contents.
INCLUDED = [
    ".dockerignore",
    "Dockerfile",
    "abs",
    "bin",
    "bin/run.sh",
    "dangling",
    "docs",
    "docs/keep.md",
    "empty",
    "latest",
    "src",
    "src/debug.log",
    "src/empty",
    "src/main.go",
    "src/notes.txt",
    "src/util",
    "src/util/util.go",
]
SRC_TREE = [
    "src",
    "src/debug.log",
    "src/empty",
    "src/main.go",
    "src/notes.txt",
    "src/util",
    "src/util/util.go",
]


def make_tree(root: Path) -> Path:
    for name, text in TREE.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    for name in EMPTY_DIRS:
        (root / name).mkdir(parents=True)
    for name, target in LINKS.items():
        (root / name).symlink_to(target)
    for name, mode in MODES.items():
        (root / name).chmod(mode)
    age(root)
    return root


def age(root: Path) -> None:
    """Give every file an old mtime, so that the digest cache may keep it."""
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink():
            os.utime(path, ns=(OLD_NS, OLD_NS))


@pytest.fixture
def ctx(tmp_path: Path) -> Path:
    return make_tree(tmp_path / "ctx")


def members(data: bytes) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return {m.name.rstrip("/"): m for m in tar.getmembers()}


def contents(data: bytes, name: str) -> bytes:
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        f = tar.extractfile(name)
        assert f is not None
        return f.read()


# -- the snapshot -------------------------------------------------------------------


def test_snapshot_holds_the_included_entries_in_walk_order(ctx: Path) -> None:
    snapshot = ContextSnapshot.read(ctx)
    assert list(snapshot.files) == INCLUDED
    assert snapshot.root == ctx.resolve()
    assert snapshot.ignore_file == ".dockerignore"


@pytest.mark.parametrize(
    ("path", "kind", "mode", "link_target"),
    [
        ("bin", "dir", 0o700, ""),
        ("bin/run.sh", "file", 0o755, ""),
        ("src/notes.txt", "file", 0o600, ""),
        ("empty", "dir", None, ""),
        ("docs", "dir", None, ""),  # excluded, but sent as the parent of docs/keep.md
        ("latest", "symlink", None, "src"),
        ("abs", "symlink", None, "/etc"),
        ("dangling", "symlink", None, "nowhere"),
    ],
    ids=[
        "dir-mode",
        "executable",
        "private-file",
        "empty-dir",
        "parent-of-exception",
        "dir-link",
        "absolute-link",
        "dangling-link",
    ],
)
def test_entries(ctx: Path, path: str, kind: str, mode: int | None, link_target: str) -> None:
    entry = ContextSnapshot.read(ctx).files[path]
    assert entry.path == path
    assert entry.kind == kind
    assert entry.link_target == link_target
    if mode is not None:
        assert entry.mode == mode


def test_file_facts_match_the_disk(ctx: Path) -> None:
    entry = ContextSnapshot.read(ctx).files["src/main.go"]
    st = (ctx / "src/main.go").stat()
    assert (entry.size, entry.mtime_ns, entry.mode) == (st.st_size, OLD_NS, 0o644)
    assert entry.digest == "sha256:" + hashlib.sha256(b"package main\n").hexdigest()


def test_links_are_not_followed(ctx: Path) -> None:
    files = ContextSnapshot.read(ctx).files
    assert not [p for p in files if p.startswith(("latest/", "abs/"))]
    link = files["latest"]
    assert link.digest == "sha256:" + hashlib.sha256(b"src").hexdigest()


def test_large_files_are_digested_whole(tmp_path: Path) -> None:
    data = os.urandom(3 * (1 << 20) + 17)
    (tmp_path / "big.bin").write_bytes(data)
    entry = ContextSnapshot.read(tmp_path).files["big.bin"]
    assert entry.size == len(data)
    assert entry.digest == "sha256:" + hashlib.sha256(data).hexdigest()


def test_exception_deep_in_an_excluded_folder(tmp_path: Path) -> None:
    for name in ("node_modules/a/b/keep.js", "node_modules/a/b/drop.js", "node_modules/c/x.js"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(name)
    (tmp_path / ".dockerignore").write_text("node_modules\n!node_modules/a/b/keep.js\n")
    files = ContextSnapshot.read(tmp_path).files
    assert list(files) == [
        ".dockerignore",
        "node_modules",
        "node_modules/a",
        "node_modules/a/b",
        "node_modules/a/b/keep.js",
    ]


def test_the_dockerfile_own_ignore_file_wins(ctx: Path) -> None:
    (ctx / "build").mkdir()
    (ctx / "build/app.Dockerfile").write_text("FROM scratch\n")
    (ctx / "build/app.Dockerfile.dockerignore").write_text("src\n")
    own = ContextSnapshot.read(ctx, dockerfile="build/app.Dockerfile")
    assert own.ignore_file == "build/app.Dockerfile.dockerignore"
    assert "src" not in own.files
    assert "secrets/key" in own.files  # .dockerignore is not read at all
    other = ContextSnapshot.read(ctx, dockerfile="Dockerfile")
    assert other.ignore_file == ".dockerignore"
    assert "src" in other.files


def test_no_ignore_file_sends_everything(ctx: Path) -> None:
    (ctx / ".dockerignore").unlink()
    snapshot = ContextSnapshot.read(ctx)
    assert snapshot.ignore_file is None
    assert {"secrets/key", "app.log", "docs/drop.md"} <= set(snapshot.files)


def test_a_missing_context_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist") as caught:
        ContextSnapshot.read(tmp_path / "nope")
    assert caught.value.where == str(tmp_path / "nope")
    assert caught.value.hint


def test_a_file_as_context_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigError, match="not a folder") as caught:
        ContextSnapshot.read(tmp_path / "file")
    assert caught.value.where == str(tmp_path / "file")


def test_a_bad_ignore_pattern_names_file_and_line(ctx: Path) -> None:
    (ctx / ".dockerignore").write_text("ok\n[oops\n")
    with pytest.raises(IgnoreError) as caught:
        ContextSnapshot.read(ctx)
    assert caught.value.where == f"{ctx.resolve() / '.dockerignore'}:2"


# -- what COPY selects ----------------------------------------------------------------

SELECT = [
    ("dot", ["."], INCLUDED),
    ("root", ["/"], INCLUDED),
    ("folder", ["src"], SRC_TREE),
    ("folder-dot-slash", ["./src/"], SRC_TREE),
    ("file", ["src/main.go"], ["src/main.go"]),
    ("absolute", ["/src/main.go"], ["src/main.go"]),
    ("cannot-leave-root", ["../../src/main.go"], ["src/main.go"]),
    ("star-in-folder", ["src/*.go"], ["src/main.go"]),
    ("star-folder", ["*/*.go"], ["src/main.go"]),
    ("star-takes-folders-whole", ["s*"], SRC_TREE),
    ("star-all-in-folder", ["src/*"], SRC_TREE[1:]),
    ("question-and-class", ["sr?/m[a-z]in.go"], ["src/main.go"]),
    ("escaped-star-is-literal", ["src/\\*"], []),
    ("malformed-wildcard-selects-nothing", ["src/[.go"], []),
    ("several-sources", ["src/util", "bin"], ["bin", "bin/run.sh", "src/util", "src/util/util.go"]),
    ("link-is-followed", ["latest"], ["latest", *SRC_TREE]),
    ("link-in-path", ["latest/main.go"], ["latest", "src/main.go"]),
    ("dangling-link", ["dangling"], ["dangling"]),
    ("link-out-of-context", ["abs"], ["abs"]),
    ("missing", ["missing"], []),
    ("excluded-is-invisible", ["secrets/key"], []),
    ("excluded-parent", ["docs"], ["docs", "docs/keep.md"]),
]


@pytest.mark.parametrize(
    ("sources", "expected"), [row[1:] for row in SELECT], ids=[row[0] for row in SELECT]
)
def test_select(ctx: Path, sources: list[str], expected: list[str]) -> None:
    assert ContextSnapshot.read(ctx).select(sources) == expected


@pytest.mark.parametrize(
    ("sources", "taken"),
    [
        (["."], True),
        (["*"], True),
        ([".bakery*"], True),
        (["./.bakery.Dockerfile"], True),
        (["src", "bin/run.sh"], False),
        (["*.go", "*/*.go"], False),
        (["missing"], False),
        ([], False),
    ],
    ids=[
        "whole",
        "star",
        "prefix-wildcard",
        "by-name",
        "folders",
        "other-wildcards",
        "missing",
        "nothing",
    ],
)
def test_would_select_a_file_added_later(ctx: Path, sources: list[str], taken: bool) -> None:
    snapshot = ContextSnapshot.read(ctx)
    assert snapshot.would_select(sources, ".bakery.Dockerfile") is taken
    assert ".bakery.Dockerfile" not in snapshot.files


@pytest.mark.parametrize(
    ("sources", "expected"),
    [
        (["all"], ["a.txt", "abs", "all", "sub", "sub/b.txt", "sub/up"]),
        (["abs/sub"], ["abs", "sub", "sub/b.txt", "sub/up"]),
        (["sub/up/"], ["a.txt", "abs", "all", "sub", "sub/b.txt", "sub/up"]),
        (["all/*.txt"], ["a.txt", "all"]),
        (["sub/up/s*/b.txt"], ["sub/b.txt", "sub/up"]),
    ],
    ids=[
        "dot-link",
        "absolute-root-link",
        "parent-link",
        "wildcard-through-link",
        "wildcard-deeper",
    ],
)
def test_select_through_links_to_the_root(
    tmp_path: Path,
    sources: list[str],
    expected: list[str],
) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "a.txt").write_text("a")
    (tmp_path / "sub" / "b.txt").write_text("b")
    (tmp_path / "all").symlink_to(".")
    (tmp_path / "abs").symlink_to("/")
    (tmp_path / "sub" / "up").symlink_to("..")
    assert ContextSnapshot.read(tmp_path).select(sources) == expected


def _write(name: str, text: str) -> Callable[[Path], None]:
    def change(root: Path) -> None:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)

    return change


def _chmod(name: str, mode: int) -> Callable[[Path], None]:
    return lambda root: (root / name).chmod(mode)


def _touch(name: str) -> Callable[[Path], None]:
    return lambda root: os.utime(root / name, ns=(OLD_NS + 10**9, OLD_NS + 10**9))


def _remove(name: str) -> Callable[[Path], None]:
    return lambda root: (root / name).unlink()


def _append(name: str, text: str) -> Callable[[Path], None]:
    def change(root: Path) -> None:
        with (root / name).open("a") as f:
            f.write(text)

    return change


# Sources ["src", "bin/run.sh"]: (id, change, does the digest change?)
DIGEST = [
    ("edit-selected", _write("src/main.go", "package MAIN\n"), True),
    ("edit-selected-deep", _write("src/util/util.go", "package other\n"), True),
    ("chmod-selected", _chmod("bin/run.sh", 0o700), True),
    ("add-to-selected-folder", _write("src/new.go", "package main\n"), True),
    ("remove-selected", _remove("src/notes.txt"), True),
    ("ignore-a-selected-file", _append(".dockerignore", "src/notes.txt\n"), True),
    ("edit-excluded", _write("secrets/key", "hunter3\n"), False),
    ("edit-excluded-by-pattern", _write("app.log", "more log\n"), False),
    ("add-excluded", _write("src/util/../../other.log", "x\n"), False),
    ("edit-unselected", _write("docs/keep.md", "changed\n"), False),
    ("add-unselected", _write("README.md", "hello\n"), False),
    ("edit-unrelated-ignore-rule", _append(".dockerignore", "README.md\n"), False),
    ("touch-selected", _touch("src/main.go"), False),
    ("nothing", lambda root: None, False),
]


@pytest.mark.parametrize(
    ("change", "changes"), [row[1:] for row in DIGEST], ids=[row[0] for row in DIGEST]
)
def test_digest_of_changes_only_with_what_is_selected(
    ctx: Path, change: Callable[[Path], None], changes: bool
) -> None:
    sources = ["src", "bin/run.sh"]
    before = ContextSnapshot.read(ctx).digest_of(sources)
    change(ctx)
    after = ContextSnapshot.read(ctx).digest_of(sources)
    assert before.startswith("sha256:")
    assert (before != after) is changes


def test_digest_of_does_not_depend_on_how_sources_are_written(ctx: Path) -> None:
    snapshot = ContextSnapshot.read(ctx)
    assert snapshot.digest_of(["src", "bin"]) == snapshot.digest_of(["bin/", "./src", "bin"])
    assert snapshot.digest_of(["src"]) != snapshot.digest_of(["bin"])
    assert snapshot.digest_of(["missing"]) == snapshot.digest_of([])


# -- the tar --------------------------------------------------------------------------


def test_tar_is_gnu_format_never_pax(ctx: Path) -> None:
    deep = "x" * 60 + "/" + "y" * 60 + "/file.txt"  # longer than a ustar name field
    (ctx / deep).parent.mkdir(parents=True)
    (ctx / deep).write_text("deep\n")
    data = ContextSnapshot.read(ctx).tar()
    assert data[257:265] == b"ustar  \x00"  # the GNU magic, not POSIX "ustar\x0000"
    assert b"PaxHeader" not in data
    assert b"././@LongLink" in data
    assert contents(data, deep) == b"deep\n"


def test_tar_holds_exactly_the_included_entries(ctx: Path) -> None:
    snapshot = ContextSnapshot.read(ctx)
    data = snapshot.tar(extra={".bakery/Dockerfile.abc": b"FROM busybox\n"})
    got = members(data)
    assert list(got) == [*INCLUDED, ".bakery/Dockerfile.abc"]
    for path, entry in snapshot.files.items():
        member = got[path]
        assert (member.uid, member.gid, member.uname, member.gname) == (0, 0, "", "")
        assert member.mode == entry.mode
        assert member.mtime == entry.mtime_ns // 10**9
        assert {"dir": member.isdir(), "file": member.isfile(), "symlink": member.issym()}[
            entry.kind
        ], path
        assert member.linkname == entry.link_target
    assert contents(data, "src/main.go") == b"package main\n"
    assert contents(data, ".bakery/Dockerfile.abc") == b"FROM busybox\n"
    assert got[".bakery/Dockerfile.abc"].mode == 0o644


def test_tar_is_deterministic(ctx: Path) -> None:
    first = ContextSnapshot.read(ctx)
    again = ContextSnapshot.read(ctx)
    extra = {"b": b"2", "a": b"1"}
    assert (
        first.tar(extra=extra)
        == first.tar(extra=extra)
        == again.tar(extra=dict(reversed(extra.items())))
    )


def test_an_extra_file_replaces_an_entry(ctx: Path) -> None:
    data = ContextSnapshot.read(ctx).tar(extra={"./Dockerfile": b"FROM generated\n"})
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        names = tar.getnames()
    assert names.count("Dockerfile") == 1
    assert contents(data, "Dockerfile") == b"FROM generated\n"


def test_an_extra_file_must_stay_in_the_context(ctx: Path) -> None:
    with pytest.raises(ValueError, match="inside the context"):
        ContextSnapshot.read(ctx).tar(extra={"../Dockerfile": b""})


@pytest.mark.parametrize(
    ("include", "expected"),
    [
        (["src/*.go"], ["src", "src/main.go"]),
        (["src/util/util.go"], ["src", "src/util", "src/util/util.go"]),
        (["latest/main.go"], ["latest", "src", "src/main.go"]),
        (["docs"], ["docs", "docs/keep.md"]),
        ([], []),
    ],
    ids=["wildcard-with-parent", "deep-file-with-parents", "through-link", "folder", "nothing"],
)
def test_tar_of_selected_sources(ctx: Path, include: list[str], expected: list[str]) -> None:
    data = ContextSnapshot.read(ctx).tar(extra={"Dockerfile": b"FROM x\n"}, include=include)
    assert list(members(data)) == [*expected, "Dockerfile"]


@pytest.mark.parametrize(
    "change",
    [
        _write("src/main.go", "package MAIN\n"),  # same size
        _write("src/main.go", "package main // longer\n"),
        _remove("src/main.go"),
        lambda root: ((root / "src/main.go").unlink(), (root / "src/main.go").symlink_to("x")),
    ],
    ids=["same-size", "grown", "deleted", "now-a-link"],
)
def test_tar_refuses_a_file_changed_since_the_snapshot(
    ctx: Path, change: Callable[[Path], None]
) -> None:
    snapshot = ContextSnapshot.read(ctx)
    change(ctx)
    with pytest.raises(ContextChanged, match=r"src/main\.go changed") as caught:
        snapshot.tar()
    assert caught.value.where == str(ctx.resolve() / "src/main.go")
    assert caught.value.exit_code == 1
    snapshot.tar(include=["bin"])  # what did not change can still be sent


# -- the digest cache -----------------------------------------------------------------


def test_the_cache_spares_reading_unchanged_files(ctx: Path, tmp_path: Path) -> None:
    cache_path = tmp_path / "project/.bakery" / DIGEST_CACHE_FILE
    cache = DigestCache.load(cache_path)
    first = ContextSnapshot.read(ctx, cache=cache)
    files = [f for f in first.files.values() if f.kind == "file"]
    assert (cache.hits, cache.misses) == (0, len(files))
    cache.save()

    # Same size, same mtime, same inode, other content: only a read would notice.
    target = ctx / "src/main.go"
    target.write_text("package MAIN\n")
    os.utime(target, ns=(OLD_NS, OLD_NS))

    cache = DigestCache.load(cache_path)
    second = ContextSnapshot.read(ctx, cache=cache)
    assert (cache.hits, cache.misses) == (len(files), 0)
    assert second.files["src/main.go"].digest == first.files["src/main.go"].digest
    assert (
        ContextSnapshot.read(ctx).files["src/main.go"].digest != first.files["src/main.go"].digest
    )
    # The tar reads the file and notices that it is not what the digest says.
    with pytest.raises(ContextChanged):
        second.tar()


def test_the_cache_reads_a_file_whose_size_or_mtime_changed(ctx: Path, tmp_path: Path) -> None:
    cache_path = tmp_path / DIGEST_CACHE_FILE
    cache = DigestCache.load(cache_path)
    ContextSnapshot.read(ctx, cache=cache)
    cache.save()
    (ctx / "src/main.go").write_text("package main // now longer\n")
    os.utime(ctx / "src/main.go", ns=(OLD_NS, OLD_NS))
    os.utime(ctx / "src/notes.txt", ns=(OLD_NS + 1, OLD_NS + 1))
    cache = DigestCache.load(cache_path)
    snapshot = ContextSnapshot.read(ctx, cache=cache)
    assert cache.misses == 2
    expected = "sha256:" + hashlib.sha256(b"package main // now longer\n").hexdigest()
    assert snapshot.files["src/main.go"].digest == expected


def test_the_cache_does_not_keep_files_changed_just_now(tmp_path: Path) -> None:
    (tmp_path / "ctx").mkdir()
    (tmp_path / "ctx/fresh.txt").write_text("may change again within this mtime tick\n")
    cache = DigestCache.load(tmp_path / DIGEST_CACHE_FILE)
    ContextSnapshot.read(tmp_path / "ctx", cache=cache)
    cache.save()
    cache = DigestCache.load(tmp_path / DIGEST_CACHE_FILE)
    ContextSnapshot.read(tmp_path / "ctx", cache=cache)
    assert (cache.hits, cache.misses) == (0, 1)


def _cached_paths(path: Path) -> set[str]:
    return set(json.loads(path.read_text())["files"])


def test_save_forgets_deleted_files_and_keeps_other_contexts(tmp_path: Path) -> None:
    one = make_tree(tmp_path / "one")
    two = make_tree(tmp_path / "two")
    cache_path = tmp_path / DIGEST_CACHE_FILE
    cache = DigestCache.load(cache_path)
    ContextSnapshot.read(one, cache=cache)
    ContextSnapshot.read(two, cache=cache)
    cache.save()
    assert str(one.resolve() / "src/main.go") in _cached_paths(cache_path)

    (one / "src/main.go").unlink()
    cache = DigestCache.load(cache_path)
    ContextSnapshot.read(one, cache=cache)  # only "one" is read this time
    cache.save()
    kept = _cached_paths(cache_path)
    assert str(one.resolve() / "src/main.go") not in kept
    assert str(one.resolve() / "src/notes.txt") in kept
    assert str(two.resolve() / "src/main.go") in kept
    assert str(one.resolve() / "secrets/key") not in kept  # excluded files are never read


@pytest.mark.parametrize(
    "content",
    [
        None,
        b"",
        b"not json",
        b"\xff\xfe\x00",
        b"[]",
        b'{"version": 99, "files": {}}',
        b'{"version": 1, "files": []}',
        b'{"version": 1}',
    ],
    ids=[
        "missing",
        "empty",
        "not-json",
        "not-utf8",
        "a-list",
        "other-version",
        "files-not-a-map",
        "no-files",
    ],
)
def test_a_missing_or_corrupt_cache_is_an_empty_one(
    ctx: Path, tmp_path: Path, content: bytes | None
) -> None:
    cache_path = tmp_path / "state" / DIGEST_CACHE_FILE
    if content is not None:
        cache_path.parent.mkdir()
        cache_path.write_bytes(content)
    cache = DigestCache.load(cache_path)
    snapshot = ContextSnapshot.read(ctx, cache=cache)
    assert cache.hits == 0
    assert snapshot.files["src/main.go"].digest.startswith("sha256:")
    cache.save()
    assert str(ctx.resolve() / "src/main.go") in _cached_paths(cache_path)


def test_bad_cache_entries_are_skipped_and_good_ones_used(ctx: Path, tmp_path: Path) -> None:
    main = ctx.resolve() / "src/main.go"
    st = main.stat()
    cache_path = tmp_path / DIGEST_CACHE_FILE
    cache_path.write_text(
        json.dumps(
            {
                "version": 1,
                "files": {
                    str(main): [st.st_size, st.st_mtime_ns, st.st_ino, "sha256:feed"],
                    str(ctx.resolve() / "src/notes.txt"): [1, 2, "three", "sha256:beef"],
                    str(ctx.resolve() / "bin/run.sh"): [1, 2, 3],
                    str(ctx.resolve() / "Dockerfile"): [1, 2, 3, "md5:abc"],
                    str(ctx.resolve() / ".dockerignore"): "garbage",
                },
            }
        )
    )
    cache = DigestCache.load(cache_path)
    snapshot = ContextSnapshot.read(ctx, cache=cache)
    assert snapshot.files["src/main.go"].digest == "sha256:feed"
    assert cache.hits == 1
    assert snapshot.files["src/notes.txt"].digest != "sha256:beef"


def test_save_replaces_the_file_atomically(ctx: Path, tmp_path: Path) -> None:
    cache_path = tmp_path / ".bakery" / DIGEST_CACHE_FILE
    cache = DigestCache.load(cache_path)
    ContextSnapshot.read(ctx, cache=cache)
    cache.save()
    first_inode = cache_path.stat().st_ino
    cache.save()
    # A new file renamed over the old one, never the old one rewritten in place.
    assert cache_path.stat().st_ino != first_inode
    assert sorted(p.name for p in cache_path.parent.iterdir()) == [DIGEST_CACHE_FILE]


def test_a_failed_save_leaves_the_old_file_whole(
    ctx: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache_path = tmp_path / DIGEST_CACHE_FILE
    cache = DigestCache.load(cache_path)
    ContextSnapshot.read(ctx, cache=cache)
    cache.save()
    saved = cache_path.read_bytes()

    def fail(fd: int) -> None:
        raise OSError(28, "No space left on device")

    # mock.patch: the one way to make the write fail between writing and renaming.
    monkeypatch.setattr(os, "fsync", fail)
    with pytest.raises(OSError, match="No space"):
        cache.save()
    assert cache_path.read_bytes() == saved
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["ctx", DIGEST_CACHE_FILE])


def test_the_cache_file_is_not_part_of_the_context_it_lives_in(ctx: Path) -> None:
    (ctx / ".dockerignore").unlink()
    cache_path = ctx / ".bakery" / DIGEST_CACHE_FILE
    cache = DigestCache.load(cache_path)
    before = ContextSnapshot.read(ctx, cache=cache)
    cache.save()
    (ctx / ".bakery" / f"{DIGEST_CACHE_FILE}.x1y2.tmp").write_text("a save under way")
    cache = DigestCache.load(cache_path)
    after = ContextSnapshot.read(ctx, cache=cache)
    assert [p for p in after.files if p.startswith(".bakery")] == [".bakery"]
    assert after.digest_of(["src"]) == before.digest_of(["src"])
    assert cache.hits > 0


# -- against the daemon ---------------------------------------------------------------


@pytest.fixture(params=["buildkit", "classic"])
def backend(request: pytest.FixtureRequest, api: Any) -> Any:
    from bakery.engine.buildkit import BuildKitBackend
    from bakery.engine.classic import ClassicBackend

    return {"buildkit": BuildKitBackend, "classic": ClassicBackend}[request.param](api)


@pytest.mark.docker
def test_the_daemon_copies_exactly_the_snapshot(
    ctx: Path, backend: Any, docker_client: Any, owned: str
) -> None:
    from bakery.engine.backend import BuildSpec, Cancellation
    from tests.engine.conftest import TEST_LABEL
    from tests.engine.dockerutil import image_files

    snapshot = ContextSnapshot.read(ctx)
    dockerfile = f"FROM bakery-busybox:latest\nLABEL {TEST_LABEL}={owned}\nCOPY . /ctx/\n"
    tar = snapshot.tar(extra={".bakery/Dockerfile.test": dockerfile.encode()})
    spec = BuildSpec(tar, f"{owned}:ctx", dockerfile=".bakery/Dockerfile.test")
    backend.build(spec, lambda event: None, Cancellation())

    copied = {
        name[len("ctx/") :]: facts
        for name, facts in image_files(docker_client, f"{owned}:ctx").items()
        if name.startswith("ctx/")
    }
    assert sorted(copied) == sorted([*INCLUDED, ".bakery", ".bakery/Dockerfile.test"])
    for path, entry in snapshot.files.items():
        _, mode, uid, gid, linkname, digest = copied[path]
        assert (uid, gid) == (0, 0), path
        assert linkname == entry.link_target, path
        if entry.kind == "file":
            assert f"sha256:{digest}" == entry.digest, path
        if entry.kind != "symlink":
            assert stat.S_IMODE(mode) == entry.mode, path
