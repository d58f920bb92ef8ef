"""Contexts made while they are sent: the same tar, never whole in memory,
stopped at once, and a writer's failure raised to the reader."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import BinaryIO

import pytest

from bakery.engine.context import ContextChanged, ContextSnapshot
from bakery.engine.tar_stream import BLOCK, TarStream, UploadCancelled


def folder(tmp_path: Path) -> Path:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "main.go").write_text("package main\n")
    (tmp_path / "big.bin").write_bytes(b"z" * (3 * BLOCK + 17))
    return tmp_path


def test_the_stream_is_the_tar(tmp_path: Path) -> None:
    snapshot = ContextSnapshot.read(folder(tmp_path))
    extra = {"Dockerfile": b"FROM scratch\n"}
    assert snapshot.stream(extra=extra).read_all() == snapshot.tar(extra=extra)
    assert snapshot.stream(include=["src"]).read_all() == snapshot.tar(include=["src"])


def zeros(size: int):  # type: ignore[no-untyped-def]
    def write(out: BinaryIO) -> None:
        block = bytes(BLOCK)
        for _ in range(size // BLOCK):
            out.write(block)

    return write


def writers() -> int:
    return sum(1 for t in threading.enumerate() if "_writer" in t.name)


def test_cancel_stops_the_reader_and_the_writer(tmp_path: Path) -> None:
    before = writers()
    stream = TarStream(zeros(1 << 30))  # 1 GiB: only ever a few blocks of it exist
    blocks = iter(stream)
    assert len(next(blocks)) > 0
    stream.cancel()
    with pytest.raises(UploadCancelled):
        next(blocks)
    deadline = time.monotonic() + 5
    while writers() > before:
        assert time.monotonic() < deadline, "the writer did not stop"
        time.sleep(0.01)


def test_a_reader_that_stops_early_ends_the_writer() -> None:
    before = writers()
    blocks = iter(TarStream(zeros(1 << 30)))
    next(blocks)
    blocks.close()  # the request gave up (the daemon went away)
    deadline = time.monotonic() + 5
    while writers() > before:
        assert time.monotonic() < deadline, "the writer did not stop"
        time.sleep(0.01)


def test_the_writers_failure_reaches_the_reader(tmp_path: Path) -> None:
    root = folder(tmp_path)
    snapshot = ContextSnapshot.read(root)
    (root / "src" / "main.go").write_text("package MAIN\n")  # changed since the snapshot
    with pytest.raises(ContextChanged, match=r"src/main\.go changed"):
        snapshot.stream().read_all()


def test_a_stream_is_read_once() -> None:
    stream = TarStream(zeros(BLOCK))
    stream.read_all()
    with pytest.raises(RuntimeError, match="read once"):
        stream.read_all()
