"""File digests kept between runs, so that unchanged context files are not read
again just to be digested.

``DigestCache`` keys each digest by path, size, mtime and inode, in a JSON file
under ``<project>/.bakery/``. Synchronous; safe to share between threads.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import threading
import time
from pathlib import Path
from typing import Final

from bakery.core.errors import ConfigError
from bakery.files import is_temporary, write_atomically

DIGEST_CACHE_FILE: Final = "context-digests.json"
"""The name of the digest cache inside ``<project>/.bakery/``."""

CHUNK = 1 << 20
# A file modified this recently may change again within the same mtime tick
# without its size or mtime changing (git's "racily clean" problem): its digest
# is not kept for the next run.
_RACY_NS = 2_000_000_000


class DigestCache:
    """File digests from earlier runs, keyed by absolute path, size, mtime and inode.

    ``load`` never fails: a missing or unreadable cache is an empty one. ``save``
    writes the file atomically (a temporary file, then ``os.replace``), keeping
    what this run saw and what it did not look at; entries under a walked context
    that this run did not see (deleted or now ignored files) are dropped. Safe to
    share between threads. ``hits`` and ``misses`` count lookups."""

    VERSION: Final = 1

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self._real = Path(os.path.realpath(path)) if path is not None else None
        self.hits = 0
        self.misses = 0
        self._entries: dict[str, tuple[int, int, int, str]] = {}
        self._seen: set[str] = set()
        self._roots: set[str] = set()
        self._lock = threading.Lock()

    @classmethod
    def in_folder(cls, state_dir: Path) -> DigestCache:
        """The cache of a project's state folder, made first when missing: made
        before any context is read, so that a context holding it looks the same
        to the first run as to the next."""
        with contextlib.suppress(OSError):
            state_dir.mkdir(parents=True, exist_ok=True)
        return cls.load(state_dir / DIGEST_CACHE_FILE)

    @classmethod
    def load(cls, path: Path) -> DigestCache:
        """The cache stored at ``path``; empty when it is missing or corrupt."""
        cache = cls(path)
        try:
            raw = json.loads(path.read_bytes())
        except (OSError, ValueError):
            return cache
        if not isinstance(raw, dict) or raw.get("version") != cls.VERSION:
            return cache
        files = raw.get("files")
        if not isinstance(files, dict):
            return cache
        for name, value in files.items():
            if (
                isinstance(value, list)
                and len(value) == 4
                and all(type(v) is int for v in value[:3])
                and isinstance(value[3], str)
                and value[3].startswith("sha256:")
            ):
                cache._entries[name] = (value[0], value[1], value[2], value[3])
        return cache

    def lookup(self, path: str, st: os.stat_result) -> str | None:
        """The digest stored for ``path`` if it still has ``st``'s size, mtime and inode."""
        with self._lock:
            self._seen.add(path)
            entry = self._entries.get(path)
            if entry is not None and entry[:3] == (st.st_size, st.st_mtime_ns, st.st_ino):
                self.hits += 1
                return entry[3]
            self.misses += 1
            return None

    def store(self, path: str, st: os.stat_result, digest: str) -> None:
        """Remember ``digest`` for ``path`` as ``st`` describes it; a file changed
        in the last two seconds is not remembered (it may yet change unseen)."""
        with self._lock:
            self._seen.add(path)
            if st.st_mtime_ns > time.time_ns() - _RACY_NS:
                self._entries.pop(path, None)
                return
            self._entries[path] = (st.st_size, st.st_mtime_ns, st.st_ino, digest)

    def walked(self, root: str) -> None:
        """Note that the context folder ``root`` was walked in full by this run."""
        with self._lock:
            self._roots.add(root.rstrip("/") + "/")

    def save(self) -> None:
        """Write the cache to its file, atomically; nothing when it has no path."""
        if self.path is None:
            return
        with self._lock:
            kept = {
                name: list(entry)
                for name, entry in sorted(self._entries.items())
                if name in self._seen or not any(name.startswith(r) for r in self._roots)
            }
        data = json.dumps({"version": self.VERSION, "files": kept}, separators=(",", ":"))
        self.path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(self.path, data)

    def owns(self, path: Path) -> bool:
        """Whether ``path`` (without symlinks) is this cache's file or one of its
        temporary files, which a context walk leaves out: they change under it."""
        if self._real is None:
            return False
        if path == self._real or is_temporary(path, of=self._real):
            return True
        # Earlier versions of bakery named theirs without the leading dot.
        return is_temporary(path.with_name(f".{path.name}"), of=self._real)


# -- the walk ----------------------------------------------------------------------------


# A folder being walked: its path, its verdict, the excluded folders above it not
# sent yet (sent once something below them is), and its remaining entries.


def hash_file(path: Path) -> tuple[str, os.stat_result]:
    """The sha256 of a file read in chunks, and its stat as of opening it."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError as err:
        raise unreadable(path, err) from None
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(fd)
        h = hashlib.sha256()
        while chunk := f.read(CHUNK):
            h.update(chunk)
    return f"sha256:{h.hexdigest()}", st


def unreadable(path: Path, err: OSError) -> ConfigError:
    return ConfigError(
        f"cannot read {path.name!r} in the build context: {err.strerror}",
        where=str(path),
        hint="make it readable, or leave it out of the context in .dockerignore",
    )
