"""The walk of a context folder, as BuildKit walks it: which entries a build sends.

``.dockerignore`` rules come from ``bakery.core.ignore``; symlinks are kept as
links, not followed; empty folders are kept. Each entry is remembered with its
path, size, mode, mtime and a sha256 of its content.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Container, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeAlias

from bakery.core.ignore import IgnoreRules, Verdict
from bakery.engine.digests import DigestCache, hash_file, unreadable


@dataclass(frozen=True)
class ContextFile:
    """One entry of a build context.

    ``mode`` holds the permission bits (``stat.S_IMODE``); ``kind`` is ``"file"``,
    ``"dir"`` or ``"symlink"``. ``digest`` is ``"sha256:<hex>"`` of a file's
    content or of a link's target, and ``""`` for a folder, whose ``size`` is 0.
    ``link_target`` is what a symlink points to, as written."""

    path: str
    size: int
    mode: int
    mtime_ns: int
    digest: str
    kind: str
    link_target: str = ""


_Frame: TypeAlias = tuple[
    str, Verdict | None, tuple[tuple[str, os.stat_result], ...], Iterator[os.DirEntry[str]]
]


class Walker:
    """BuildKit's walk (fsutil ``filterFS.Walk``): names in byte order, a folder
    before what is in it; each entry judged with its parent's verdict; an excluded
    folder entered only when an exception could re-include something in it, and
    then sent as the parent of what is re-included."""

    def __init__(self, root: Path, rules: IgnoreRules, cache: DigestCache | None) -> None:
        self.root = root
        self.rules = rules
        self.cache = cache
        self.files: dict[str, ContextFile] = {}

    def walk(self) -> dict[str, ContextFile]:
        stack: list[_Frame] = [("", None, (), self._list("", excluded=False))]
        while stack:
            folder, parent, pending, entries = stack[-1]
            entry = next(entries, None)
            if entry is None:
                stack.pop()
                continue
            rel = f"{folder}/{entry.name}" if folder else entry.name
            if self.cache is not None and self.cache.owns(self.root / rel):
                continue
            try:
                st = entry.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue  # gone since the folder was listed
            kind = _kind(st.st_mode)
            if kind is None:
                continue  # sockets, pipes and devices are not sent
            verdict = self.rules.check(rel, parent)
            if verdict.excluded:
                if kind == "dir" and self.rules.may_contain_included(rel):
                    children = self._list(rel, excluded=True)
                    stack.append((rel, verdict, (*pending, (rel, st)), children))
                continue
            for parent_rel, parent_st in pending:
                if parent_rel not in self.files:
                    self.files[parent_rel] = self._entry(parent_rel, "dir", parent_st)
            self.files[rel] = self._entry(rel, kind, st)
            if kind == "dir":
                stack.append((rel, verdict, (), self._list(rel, excluded=False)))
        if self.cache is not None:
            self.cache.walked(str(self.root))
        return {p: self.files[p] for p in sorted(self.files, key=_walk_order)}

    def _list(self, rel: str, *, excluded: bool) -> Iterator[os.DirEntry[str]]:
        path = self.root / rel
        try:
            with os.scandir(path) as it:
                entries = list(it)
        except PermissionError as err:
            if excluded:
                return iter(())  # BuildKit, too, forgives an unreadable excluded folder
            raise unreadable(path, err) from None
        except OSError as err:
            raise unreadable(path, err) from None
        return iter(sorted(entries, key=lambda e: os.fsencode(e.name)))

    def _entry(self, rel: str, kind: str, st: os.stat_result) -> ContextFile:
        path = self.root / rel
        mode = stat.S_IMODE(st.st_mode)
        if kind == "dir":
            return ContextFile(rel, 0, mode, st.st_mtime_ns, "", kind)
        if kind == "symlink":
            target = os.readlink(path)
            digest = "sha256:" + hashlib.sha256(os.fsencode(target)).hexdigest()
            return ContextFile(rel, st.st_size, mode, st.st_mtime_ns, digest, kind, target)
        key = str(path)
        found = self.cache.lookup(key, st) if self.cache is not None else None
        if found is None:
            found, st = hash_file(path)
            if self.cache is not None:
                self.cache.store(key, st, found)
        return ContextFile(rel, st.st_size, stat.S_IMODE(st.st_mode), st.st_mtime_ns, found, kind)


class FilesOnDisk(Container[str]):
    """The regular files under a folder, as a container of relative paths."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and (self.root / name).is_file()


def _kind(mode: int) -> str | None:
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISDIR(mode):
        return "dir"
    if stat.S_ISLNK(mode):
        return "symlink"
    return None


def _walk_order(path: str) -> list[bytes]:
    return [os.fsencode(part) for part in path.split("/")]
