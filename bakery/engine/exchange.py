"""Stages handed from one daemon to others through the registry cache.

With several daemons and a cache, a stage that targets on several daemons
need is built on its home daemon and pushed; the others wait for the push and
pull it. The exchange is where the home says "it is in the registry" (or why
it never will be) and where the others wait for that word.
"""

from __future__ import annotations

import trio

__all__ = ["Exchange"]


class Exchange:
    def __init__(self) -> None:
        self._events: dict[str, trio.Event] = {}
        self._failed: dict[str, str] = {}

    def _event(self, node_id: str) -> trio.Event:
        return self._events.setdefault(node_id, trio.Event())

    def ready(self, node_id: str) -> None:
        """The node's image is in the registry."""
        self._event(node_id).set()

    def failed(self, node_id: str, reason: str) -> None:
        """The node's image will not be in the registry (first word counts)."""
        event = self._event(node_id)
        if not event.is_set():
            self._failed[node_id] = reason
            event.set()

    def settled(self, node_id: str) -> bool:
        return self._event(node_id).is_set()

    async def wait(self, node_id: str) -> str | None:
        """Until the home has spoken: None when the image is there, else why not."""
        await self._event(node_id).wait()
        return self._failed.get(node_id)
