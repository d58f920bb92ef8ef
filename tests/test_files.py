"""The one atomic write, on real files in ``tmp_path``."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bakery.files import is_temporary, write_atomically

MODULE = Path(__file__).resolve().parents[1] / "bakery" / "files.py"


def test_it_imports_only_the_standard_library() -> None:
    tree = ast.parse(MODULE.read_text(), str(MODULE))
    names = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    names |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert not {n for n in names if n.split(".")[0] not in sys.stdlib_module_names} - {"__future__"}
    code = (
        "import sys, bakery.files\n"
        "print(','.join(sorted(m for m in sys.modules "
        "if m.split('.')[0] in ('docker', 'trio', 'rich'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def _others(folder: Path, *keep: str) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name not in keep)


def test_a_new_file_gets_the_umask_s_mode(tmp_path: Path) -> None:
    umask = os.umask(0o022)
    try:
        write_atomically(tmp_path / "new.txt", "one\ntwo\n")
    finally:
        os.umask(umask)
    assert (tmp_path / "new.txt").read_bytes() == b"one\ntwo\n"
    assert (tmp_path / "new.txt").stat().st_mode & 0o777 == 0o644
    assert _others(tmp_path, "new.txt") == []


@pytest.mark.parametrize(
    ("before", "text", "after"),
    [
        (b"a\r\nb\r\n", "x\ny\n", b"x\r\ny\r\n"),
        (b"a\nb\n", "x\ny\n", b"x\ny\n"),
        (b"a\r\n", "no line break", b"no line break"),
    ],
    ids=["crlf-kept", "lf-kept", "no-line-break"],
)
def test_an_existing_file_keeps_its_line_endings_and_mode(
    tmp_path: Path,
    before: bytes,
    text: str,
    after: bytes,
) -> None:
    path = tmp_path / "file.txt"
    path.write_bytes(before)
    path.chmod(0o640)
    inode = path.stat().st_ino
    write_atomically(path, text)
    assert path.read_bytes() == after
    assert path.stat().st_mode & 0o777 == 0o640
    assert path.stat().st_ino != inode  # renamed over, never rewritten in place


def test_a_symlink_is_followed_and_kept(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "file.txt").write_text("old\n")
    (tmp_path / "link.txt").symlink_to("real/file.txt")
    write_atomically(tmp_path / "link.txt", "new\n")
    assert (tmp_path / "link.txt").is_symlink()
    assert (tmp_path / "real" / "file.txt").read_text() == "new\n"
    assert _others(tmp_path / "real", "file.txt") == []


def test_a_failed_write_leaves_the_old_file_and_no_temporary_one(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = tmp_path / "file.txt"
    path.write_text("old\n")

    def fail(fd: int) -> None:
        raise OSError(28, "No space left on device")

    # mock.patch: the one way to make the write fail between writing and renaming.
    monkeypatch.setattr(os, "fsync", fail)
    with pytest.raises(OSError, match="No space"):
        write_atomically(path, "new\n")
    assert path.read_text() == "old\n"
    assert _others(tmp_path, "file.txt") == []


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (".file.txt.123.tmp", True),
        ("file.txt.123.tmp", False),
        (".file.txt.123", False),
        (".other.txt.123.tmp", False),
    ],
)
def test_is_temporary(tmp_path: Path, name: str, expected: bool) -> None:
    assert is_temporary(tmp_path / name, of=tmp_path / "file.txt") is expected
