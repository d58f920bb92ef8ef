"""Build contexts: read a context folder once per run, digest it, send it.

``ContextSnapshot.read`` walks a context folder the way BuildKit's walker does
(``.dockerignore`` rules from ``bakery.core.ignore``; symlinks are not followed
but kept as links; empty folders are kept) and remembers, for every entry it
would send, the path, size, mode, mtime and a sha256 of the content. From that
one reading it answers two questions: ``digest_of`` - a digest of what a
COPY/ADD selects, for cache keys - and ``tar`` - the bytes to send to the
daemon, in GNU format (BuildKit misreads PAX), uid/gid 0 as the docker CLI
sends them. File content is read again when the tar is made, and checked against
the snapshot: a file that changed in between is an error, never a silent
mismatch between a cache key and what was built.

The walk itself is ``bakery.engine.walk``; the digests kept between runs,
``bakery.engine.digests``.

Synchronous and blocking (callers run it in a worker thread); it never prints.
Problems the user can fix are raised as ``BakeryError``s.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import tarfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import IO, BinaryIO

from bakery.core.errors import BakeryError, ConfigError, Outcome
from bakery.core.ignore import (
    IgnoreRules,
    clean_path,
    ignore_file_for,
    parse_dockerignore,
    path_match,
)
from bakery.engine.digests import DIGEST_CACHE_FILE, DigestCache
from bakery.engine.tar_stream import TarStream
from bakery.engine.walk import ContextFile, FilesOnDisk, Walker
from bakery.files import read_regular

__all__ = [
    "DIGEST_CACHE_FILE",
    "ContextChanged",
    "ContextFile",
    "ContextSnapshot",
    "DigestCache",
]

_MAX_LINKS = 255


class ContextChanged(BakeryError):
    """A context file changed between the snapshot and the moment it was sent."""

    outcome = Outcome.FAILED


@dataclass(frozen=True, eq=False)
class ContextSnapshot:
    """The entries of one context folder that a build would send, read once.

    ``files`` maps context-relative paths to entries, parents before children,
    names in byte order within a folder (the order of the walk, and of the tar).
    ``ignore_file`` is the ignore file that applied, relative to ``root``."""

    root: Path
    files: Mapping[str, ContextFile]
    ignore_file: str | None = None
    rules: IgnoreRules = field(default_factory=IgnoreRules)

    @classmethod
    def read(
        cls,
        root: Path,
        *,
        dockerfile: str | None = None,
        cache: DigestCache | None = None,
    ) -> ContextSnapshot:
        """Walk the context folder ``root``. ``dockerfile`` (relative to ``root``)
        picks ``<dockerfile>.dockerignore`` over ``.dockerignore`` when it exists;
        ``cache`` spares reading files whose digest it already holds."""
        given = root
        root = Path(os.path.abspath(root))
        if not root.exists():
            raise ConfigError(
                f"build context {str(given)!r} does not exist",
                where=str(root),
                hint="a target's context is a folder relative to the bake file; "
                "create it or fix the path",
            )
        if not root.is_dir():
            raise ConfigError(
                f"build context {str(given)!r} is not a folder",
                where=str(root),
                hint="a target's context must be a folder; name the Dockerfile with `dockerfile`",
            )
        root = root.resolve()
        ignore_file = ignore_file_for(dockerfile, FilesOnDisk(root))
        rules = IgnoreRules()
        if ignore_file is not None:
            ignore_path = root / ignore_file
            try:
                text = read_regular(ignore_path).decode("utf-8", "surrogateescape")
            except OSError as err:
                raise ConfigError(
                    f"cannot read the ignore file: {err.strerror}",
                    where=str(ignore_path),
                    hint="make it readable",
                ) from None
            rules = parse_dockerignore(text, source=str(ignore_path))
        files = Walker(root, rules, cache).walk()
        return cls(root, MappingProxyType(files), ignore_file, rules)

    def select(self, sources: Iterable[str]) -> list[str]:
        """The paths of the entries that COPY/ADD ``sources`` select, in order.

        Sources are relative to the context root (a leading ``/`` or ``..``
        cannot leave it); a folder selects itself and everything under it; a
        wildcard source (``*``, ``?``, ``[...]``) is matched as BuildKit matches it,
        with Go's ``path.Match``, and a folder it matches is selected whole. A
        selected symlink is followed, as COPY follows it, so what it points to is
        selected too. ``"."`` selects everything."""
        chosen: set[str] = set()
        for source in sources:
            path = clean_path("/" + source).lstrip("/")
            if not path:
                chosen.update(self.files)
            elif _has_wildcards(path):
                self._select_wildcard(path, chosen)
            else:
                self._select_tree(path, chosen)
        return [p for p in self.files if p in chosen]

    def size_of(self, sources: Iterable[str]) -> int:
        """The bytes of the files ``sources`` select."""
        return sum(self.files[path].size for path in self.select(sources))

    def would_select(self, sources: Iterable[str], name: str) -> bool:
        """Would COPY of ``sources`` take a file called ``name`` (a path inside the
        context that no entry has) if one were added to the context?"""
        probe = ContextFile(path=name, size=0, mode=0o644, mtime_ns=0, digest="", kind="file")
        files = {**self.files, name: probe}
        return name in replace(self, files=MappingProxyType(files)).select(sources)

    def digest_of(self, sources: Iterable[str]) -> str:
        """``"sha256:<hex>"`` over the entries ``sources`` select (see ``select``):
        their paths, kinds, modes, contents and link targets - not their mtimes.
        It changes exactly when what a COPY of those sources would copy changes."""
        h = hashlib.sha256()
        for path in self.select(sources):
            f = self.files[path]
            line = f"{f.kind}\0{path}\0{f.mode:o}\0{f.digest}\0{f.link_target}\n"
            h.update(line.encode("utf-8", "surrogateescape"))
        return f"sha256:{h.hexdigest()}"

    def tar(
        self,
        *,
        extra: Mapping[str, bytes] = MappingProxyType({}),
        include: Iterable[str] | None = None,
    ) -> bytes:
        """An uncompressed GNU-format tar of the entries (all of them, or those the
        ``include`` sources select, with their parent folders), then ``extra``
        files (name -> content, mode 0644, mtime 0), which replace an entry of the
        same name. Files are read now and must be as the snapshot saw them, else
        ``ContextChanged``. The same snapshot and arguments give the same bytes."""
        buf = io.BytesIO()
        self.write_tar(buf, extra=extra, include=include)
        return buf.getvalue()

    def stream(
        self,
        *,
        extra: Mapping[str, bytes] = MappingProxyType({}),
        include: Iterable[str] | None = None,
    ) -> TarStream:
        """The same tar as ``tar``, made while it is sent: never held whole."""
        return TarStream(lambda out: self.write_tar(out, extra=extra, include=include))

    def write_tar(
        self,
        out: BinaryIO,
        *,
        extra: Mapping[str, bytes] = MappingProxyType({}),
        include: Iterable[str] | None = None,
    ) -> None:
        """Write the tar of ``tar`` to ``out``."""
        extras = {_extra_name(name): data for name, data in extra.items()}
        if include is None:
            paths = [p for p in self.files if p not in extras]
        else:
            wanted = set(self.select(include))
            for path in list(wanted):
                parts = path.split("/")
                wanted.update("/".join(parts[:n]) for n in range(1, len(parts)))
            paths = [p for p in self.files if p in wanted and p not in extras]
        with tarfile.open(fileobj=out, mode="w", format=tarfile.GNU_FORMAT) as tar:
            for path in paths:
                self._add(tar, self.files[path])
            for name in sorted(extras):
                info = _tar_info(name, 0o644, 0)
                info.size = len(extras[name])
                tar.addfile(info, io.BytesIO(extras[name]))

    # -- selection ---------------------------------------------------------------------

    def _select_tree(self, path: str, chosen: set[str]) -> None:
        resolved = self._resolve(path, chosen)
        if resolved == "":  # a link to the context's root: all of it
            chosen.update(self.files)
            return
        if resolved is None or resolved not in self.files:
            return
        chosen.add(resolved)
        if self.files[resolved].kind == "dir":
            chosen.update(self._below(resolved))

    def _select_wildcard(self, path: str, chosen: set[str]) -> None:
        # BuildKit (fsutil copy.ResolveWildcards): the part before the first
        # component with a wildcard is a path (links followed); the rest is matched
        # against every path below it; a folder that matches is taken whole.
        parts = path.split("/")
        first = next(i for i, part in enumerate(parts) if _has_wildcards(part))
        base = "/".join(parts[:first])
        pattern = "/".join(parts[first:])
        resolved = self._resolve(base, chosen) if base else ""
        if resolved:
            if resolved not in self.files:
                return
            candidates = self._below(resolved)
            prefix = resolved + "/"
        elif resolved is None:
            return
        else:  # no folder before the wildcard, or a link to the context's root
            candidates = iter(self.files)
            prefix = ""
        taken: str | None = None
        for candidate in candidates:
            if taken is not None and candidate.startswith(taken):
                continue
            try:
                hit = path_match(pattern, candidate[len(prefix) :])
            except ValueError:
                return  # BuildKit ignores Match's error: a malformed wildcard selects nothing
            if hit:
                self._select_tree(candidate, chosen)
                taken = candidate + "/"

    def _below(self, directory: str) -> Iterator[str]:
        prefix = directory + "/"
        return (p for p in self.files if p.startswith(prefix))

    def _resolve(self, path: str, chosen: set[str]) -> str | None:
        """``path`` with every symlink in it followed inside the context (an
        absolute target starts again at the root, as BuildKit scopes it); the
        links passed through are added to ``chosen``. ``None`` for a link loop."""
        todo = path.split("/")
        todo.reverse()
        done: list[str] = []
        hops = 0
        while todo:
            name = todo.pop()
            if name in ("", "."):
                continue
            if name == "..":
                if done:
                    done.pop()
                continue
            here = "/".join([*done, name])
            entry = self.files.get(here)
            if entry is None or entry.kind != "symlink":
                done.append(name)
                continue
            hops += 1
            if hops > _MAX_LINKS:
                return None
            chosen.add(here)
            if entry.link_target.startswith("/"):
                done = []
            todo.extend(reversed(entry.link_target.split("/")))
        return "/".join(done)

    # -- tar ---------------------------------------------------------------------------

    def _add(self, tar: tarfile.TarFile, f: ContextFile) -> None:
        info = _tar_info(f.path, f.mode, f.mtime_ns // 1_000_000_000)
        if f.kind == "dir":
            info.type = tarfile.DIRTYPE
            tar.addfile(info)
        elif f.kind == "symlink":
            info.type = tarfile.SYMTYPE
            info.linkname = f.link_target
            tar.addfile(info)
        else:
            info.size = f.size
            with self._open_unchanged(f) as reader:
                try:
                    tar.addfile(info, reader)
                except OSError:  # tarfile: "unexpected end of data"
                    raise self._changed(f) from None
                if reader.digest() != f.digest:
                    raise self._changed(f)

    @contextlib.contextmanager
    def _open_unchanged(self, f: ContextFile) -> Iterator[_DigestingReader]:
        try:
            fd = os.open(self.root / f.path, os.O_RDONLY | os.O_NOFOLLOW)
        except OSError:
            raise self._changed(f) from None
        with os.fdopen(fd, "rb") as raw:
            if os.fstat(fd).st_size != f.size:
                raise self._changed(f)
            yield _DigestingReader(raw)

    def _changed(self, f: ContextFile) -> ContextChanged:
        return ContextChanged(
            f"{f.path} changed while bakery was using it",
            where=str(self.root / f.path),
            hint="run the build again once the files have settled",
        )


class _DigestingReader(io.RawIOBase):
    """A file as ``tarfile`` reads it, digested on the way."""

    def __init__(self, raw: IO[bytes]) -> None:
        super().__init__()
        self._raw = raw
        self._hash = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        data = self._raw.read(size)
        self._hash.update(data)
        return data

    def digest(self) -> str:
        return f"sha256:{self._hash.hexdigest()}"


def _has_wildcards(path: str) -> bool:
    # BuildKit's containsWildcards: "*", "?" or "[" not escaped by a backslash.
    escaped = False
    for ch in path:
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch in "*?[":
            return True
    return False


def _extra_name(name: str) -> str:
    cleaned = clean_path(name).lstrip("/")
    if cleaned in ("", ".") or cleaned == ".." or cleaned.startswith("../"):
        raise ValueError(f"not a path inside the context: {name!r}")
    return cleaned


def _tar_info(name: str, mode: int, mtime: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.mode = mode
    info.mtime = mtime
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info
