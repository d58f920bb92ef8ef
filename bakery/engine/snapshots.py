"""The run's context folders, each read once (per ignore file) and shared.

Reading a folder walks and hashes it in a worker thread; two builds that ask
for the same folder at once wait for one reading.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import trio

from bakery.core.plan import Node
from bakery.engine.context import ContextSnapshot
from bakery.engine.digests import DigestCache

T = TypeVar("T")
Offload = Callable[[Callable[[], Any]], Awaitable[Any]]


def threads(limit: int = 8) -> Offload:
    """Blocking work in worker threads, at most ``limit`` at a time."""
    limiter = trio.CapacityLimiter(limit)
    return functools.partial(trio.to_thread.run_sync, limiter=limiter)


class Snapshots:
    def __init__(self, offload: Offload, digests: DigestCache | None = None) -> None:
        self.offload = offload
        self.digests = digests
        self._read: dict[str, ContextSnapshot] = {}
        self._locks: dict[str, trio.Lock] = {}

    async def of_node(self, node: Node) -> ContextSnapshot:
        """The context of ``node``'s target (a ``<Dockerfile>.dockerignore`` makes
        the same folder read differently for another Dockerfile)."""
        target = node.target
        dockerfile = target.dockerfile if target.dockerfile_inline is None else None
        return await self.of_folder(target.context, dockerfile)

    async def of_folder(self, path: str, dockerfile: str | None = None) -> ContextSnapshot:
        key = f"{path}\0{dockerfile or ''}"
        async with self._locks.setdefault(key, trio.Lock()):
            if key not in self._read:
                self._read[key] = await self.offload(
                    lambda: ContextSnapshot.read(
                        Path(path), dockerfile=dockerfile, cache=self.digests
                    )
                )
        return self._read[key]
