"""Writing a file so that no reader ever sees half of it: bakery's one atomic
write; and reading one that must be a regular file, so that a FIFO or a device
named as a Dockerfile is an error, never a wait.

Bake files (``bakery init``, ``bakery var set``), the JSON report
(``--report-file``) and the engine's digest cache are all replaced this way. It
does disk I/O, so it is not part of the pure core; it needs only the standard
library (no docker, trio or rich), so that any layer may import it. It raises
``OSError``; what a failure means to the user is the caller's to say.
"""

from __future__ import annotations

import contextlib
import os
import stat
import threading
from pathlib import Path

__all__ = ["NotAFile", "is_temporary", "read_regular", "write_atomically"]


class NotAFile(OSError):
    """The path names something other than a regular file (a FIFO, a folder, a device)."""


def read_regular(path: Path | str, *, limit: int | None = None) -> bytes:
    """The bytes of the regular file at ``path`` (a symlink is followed), at most
    ``limit`` of them when given.
    Opened without blocking, so that a FIFO is refused at once rather than waited
    on. Raises ``NotAFile``, or the ``OSError`` of the failed open or read."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise NotAFile(f"{path} is not a regular file")
        os.set_blocking(fd, True)
        with os.fdopen(fd, "rb", closefd=False) as f:
            return f.read() if limit is None else f.read(limit)
    finally:
        os.close(fd)


# The temporary file is named after the process, so that a user can tell whose
# it is; the lock keeps two threads of one process from sharing it.
_lock = threading.Lock()


def write_atomically(path: Path | str, text: str) -> None:
    """Replace the file at ``path`` with ``text`` (UTF-8) all at once.

    The text goes to a temporary file beside the real one, is synced to disk, and
    is renamed over it: after a crash or an error there is the old file or the
    whole new one, and no temporary file. A symlink is followed (the file it
    points to is replaced, the link stays); an existing file keeps its
    permissions, owner and CRLF line endings; a new one gets what the umask
    gives. Raises ``OSError``.
    """
    real = Path(os.path.realpath(path))
    try:
        old: os.stat_result | None = real.stat()
    except FileNotFoundError:
        old = None
    # Only text with line breaks has line endings to keep.
    crlf = old is not None and "\n" in text and b"\r\n" in real.read_bytes()
    tmp = _temporary(real)
    with _lock:
        try:
            with open(tmp, "w", encoding="utf-8", newline="\r\n" if crlf else "\n") as f:
                f.write(text)
                f.flush()
                if old is not None:
                    os.fchmod(f.fileno(), stat.S_IMODE(old.st_mode))
                    with contextlib.suppress(OSError):  # only root may give a file away
                        os.fchown(f.fileno(), old.st_uid, old.st_gid)
                os.fsync(f.fileno())
            os.replace(tmp, real)
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise


def is_temporary(path: Path, of: Path) -> bool:
    """Whether ``path`` is a temporary file of ``write_atomically`` replacing
    ``of`` (both without symlinks)."""
    return (
        path.parent == of.parent
        and path.name.startswith(f".{of.name}.")
        and path.name.endswith(".tmp")
    )


def _temporary(real: Path) -> Path:
    return real.with_name(f".{real.name}.{os.getpid()}.tmp")
