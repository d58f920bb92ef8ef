"""The registry cache in a run: which nodes to pull, pulling them, pushing the rest.

Before the schedule is made, the registry is asked (in parallel) for the key
of every build's top node: the nodes it holds and the daemon lacks are
reusable too, by pulling. A pull that fails, or an image whose key label
does not match, is a warning and the node is built instead. After a node is
built, or reused from the daemon while the registry lacks it, its image is
pushed in the background; the run waits for its pushes before it reports,
and a push that fails is a warning, never a failed build.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable

import trio

from bakery.core.builds import Build, no_cache
from bakery.core.plan import Plan
from bakery.engine.cache import Cache, CacheMiss, Pulled
from bakery.engine.exchange import Exchange
from bakery.engine.images import ImageStore
from bakery.engine.labels import stage_tag
from bakery.engine.record import Record
from bakery.engine.share import Handover
from bakery.engine.snapshots import Offload

__all__ = ["CacheUse"]

LOOKUPS_AT_ONCE = 8
PUSHES_AT_ONCE = 4


class CacheUse:
    def __init__(
        self,
        cache: Cache,
        keys: dict[str, str | None],
        images: ImageStore,
        offload: Offload,
        warn: Callable[[str], None],
        *,
        handover: Handover | None = None,
    ) -> None:
        """With several daemons, the ``handover`` names the nodes another daemon
        builds, to be pulled once its exchange says they are pushed, and the
        nodes built here that others wait for."""
        self.exchange = handover.share.exchange if handover else Exchange()
        self.remote = dict(handover.remote) if handover else {}
        self.exported = set(handover.exported) if handover else set()
        self.cache = cache
        self.keys = keys
        self.images = images
        self.offload = offload
        self.warn = warn
        self.held: set[str] = set()  # nodes whose key the registry holds
        self.pushed: set[str] = set()
        self._pushes: trio.Nursery | None = None
        self._push_slots = trio.CapacityLimiter(PUSHES_AT_ONCE)
        self._unreachable = False

    async def pullable(
        self, plan: Plan, builds: Iterable[Build], local: Collection[str]
    ) -> set[str]:
        """The nodes to pull rather than build: of the builds' tops the registry
        holds (or another daemon will push) and the daemon lacks."""
        await self.look_up(b.top for b in builds if not no_cache(plan, plan.nodes[b.top], False))
        return (self.held | set(self.remote)) - set(local)

    async def look_up(self, nodes: Iterable[str]) -> None:
        """Ask the registry for each node's key, a few at a time."""
        wanted = [n for n in dict.fromkeys(nodes) if self.keys.get(n)]
        slots = trio.CapacityLimiter(LOOKUPS_AT_ONCE)

        async def one(node_id: str) -> None:
            key = self.keys[node_id]
            assert key is not None
            async with slots:
                try:
                    if await self.offload(lambda: self.cache.has(key)):
                        self.held.add(node_id)
                except CacheMiss as err:
                    self._cannot_reach(str(err))

        async with trio.open_nursery() as nursery:
            for node_id in wanted:
                nursery.start_soon(one, node_id)

    async def pull(self, node_id: str, nodes: tuple[str, ...], record: Record) -> str | None:
        """The node's image from the registry, tagged as its stage image, and
        ``nodes`` recorded as pulled; None when the pull fails (warned)."""
        key = self.keys[node_id]
        assert key is not None
        if node_id in self.remote and node_id not in self.held:
            # Built on another daemon: wait for its push (no slot is held meanwhile).
            why = await self.exchange.wait(node_id)
            if why is not None:
                self.warn(f"{why}: building it here instead")
                return None
        record.start(node_id)
        start = record.started[node_id]
        try:
            pulled: Pulled = await self.offload(lambda: self.cache.pull(key))
        except CacheMiss as err:
            self.warn(f"cannot pull {self.cache.ref(key)} from the cache: {err}; building it")
            self.held.discard(node_id)
            return None
        tag = stage_tag(node_id)
        try:
            await self.offload(lambda: self.images.tag(pulled.image_id, (tag,)))
        except Exception as err:  # the daemon went away, or refused the tag
            self.warn(f"cannot tag what the cache gave for {node_id}: {type(err).__name__}")
            return None
        finally:
            await self.offload(lambda: self.cache.forget(key))
        inside = tuple(n for n in nodes if n != node_id)
        record.pulled((*inside, node_id), pulled.image_id, start, pulled.size)
        if node_id in self.exported:
            self.exchange.ready(node_id)  # it was in the registry already
        return pulled.image_id

    def push(self, node_id: str, image_id: str) -> None:
        """Push the node's image in the background, unless the registry has it."""
        key = self.keys.get(node_id)
        if key and node_id in self.held and node_id in self.exported:
            self.exchange.ready(node_id)  # the registry has it already
        if not key or node_id in self.held or node_id in self.pushed or self._pushes is None:
            return
        self.pushed.add(node_id)
        self._pushes.start_soon(self._push, node_id, image_id, key)

    async def _push(self, node_id: str, image_id: str, key: str) -> None:
        async with self._push_slots:
            try:
                await self.offload(lambda: self.cache.push(image_id, key))
            except CacheMiss as err:
                self.pushed.discard(node_id)
                self.warn(f"cannot push to the cache {self.cache.repo}: {err}")
                if node_id in self.exported:
                    self.exchange.failed(node_id, f"the push of {node_id} failed")
                return
        if node_id in self.exported:
            self.exchange.ready(node_id)

    def _cannot_reach(self, reason: str) -> None:
        if not self._unreachable:
            self._unreachable = True
            self.warn(f"cannot ask the cache {self.cache.repo}: {reason}; building instead")

    # The runner opens the nursery the pushes run in, around the builds.
    def pushes_in(self, nursery: trio.Nursery) -> None:
        self._pushes = nursery
