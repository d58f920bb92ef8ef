"""A build context made while it is sent: never held whole in memory.

A thread writes the tar into a pipe; the request body reads the other end in
blocks, so what is in memory at any time is a block and the pipe's buffer,
whatever the context's size (``requests`` sends an iterable body chunked, as
the docker CLI sends its contexts). ``cancel`` makes the next block an end:
an upload stops within one block, and the writer stops at its next write. A
failure of the writer (a file changed under it) is raised to the reader
once the pipe is drained.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Generator
from typing import BinaryIO, cast

__all__ = ["BLOCK", "TarStream", "UploadCancelled"]

BLOCK = 256 * 1024


class UploadCancelled(Exception):
    """The stream was cancelled while it was being read."""


class TarStream:
    def __init__(self, write: Callable[[BinaryIO], None]) -> None:
        self._write = write
        self._cancelled = threading.Event()
        self._error: BaseException | None = None
        self._started = False

    def cancel(self) -> None:
        self._cancelled.set()

    def __iter__(self) -> Generator[bytes, None, None]:
        if self._started:
            raise RuntimeError("a TarStream is read once")
        self._started = True
        read_fd, write_fd = os.pipe()
        writer = threading.Thread(target=self._writer, args=(write_fd,), daemon=True)
        writer.start()
        with os.fdopen(read_fd, "rb") as reader:
            while True:
                if self._cancelled.is_set():
                    raise UploadCancelled
                block = reader.read(BLOCK)
                if not block:
                    break
                yield block
        # Closing the read end (cancel, or the request gave up) ends the writer.
        writer.join()
        if self._error is not None:
            raise self._error

    def read_all(self) -> bytes:
        """The whole tar (for small contexts and tests)."""
        return b"".join(self)

    def _writer(self, fd: int) -> None:
        out = os.fdopen(fd, "wb", buffering=BLOCK)
        try:
            self._write(cast(BinaryIO, _Checked(out, self._cancelled)))
        except (BrokenPipeError, UploadCancelled):
            pass  # the reader went away: nothing more to write
        except BaseException as err:  # the reader raises it
            self._error = err
        finally:
            # What is still buffered has nowhere to go when the reader left.
            with contextlib.suppress(OSError):
                out.close()


class _Checked:
    """A file that stops being written once the stream is cancelled."""

    def __init__(self, out: BinaryIO, cancelled: threading.Event) -> None:
        self._out = out
        self._cancelled = cancelled
        self._written = 0

    def write(self, data: bytes) -> int:
        if self._cancelled.is_set():
            raise UploadCancelled
        self._written += len(data)
        return self._out.write(data)

    def tell(self) -> int:  # tarfile asks where it is; it never seeks when writing
        return self._written
