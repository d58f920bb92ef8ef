"""The daemon builds of a run: on BuildKit, which shared stages go alone.

A shared stage is split off into a build of its own when it reads at least
``SPLIT_BYTES`` of the context (its files then go once), unless a later
stage of its targets would read bakery's Dockerfile (``COPY . .``): that build
must go as written, would run the stage again where BuildKit's cache lacks
it, and carries its files anyway. A stage that crosses daemons goes alone
too, so that it has an image of its own to hand over. The grouping itself is
``bakery.core.builds``; this measures what it needs to know.
"""

from __future__ import annotations

import functools
from collections.abc import Collection

from bakery.core.builds import (
    SPLIT_BYTES,
    Build,
    after_split,
    buildkit_builds,
    classic_builds,
    split_candidates,
)
from bakery.core.plan import Plan
from bakery.engine.reuse import StageKeys
from bakery.engine.snapshots import Offload, Snapshots
from bakery.engine.specs import DOCKERFILE_IN_TAR, sources_read

__all__ = ["daemon_builds"]


async def daemon_builds(
    plan: Plan,
    builder: str,
    keys: StageKeys,
    snapshots: Snapshots,
    offload: Offload,
    *,
    no_cache_everywhere: bool,
    crossing: Collection[str] = (),
) -> tuple[list[Build], set[str]]:
    """The builds, and the nodes split off into builds of their own."""
    if builder != "buildkit":
        return classic_builds(plan), set()
    splits = await _by_size(plan, keys, snapshots, offload, no_cache_everywhere)
    for node_id in crossing:
        splits.setdefault(node_id, tuple(sorted(plan.nodes[node_id].targets)))
    return buildkit_builds(plan, splits, no_cache_everywhere=no_cache_everywhere), set(splits)


async def _by_size(
    plan: Plan,
    keys: StageKeys,
    snapshots: Snapshots,
    offload: Offload,
    no_cache_everywhere: bool,
) -> dict[str, tuple[str, ...]]:
    reads = keys.reads
    out: dict[str, tuple[str, ...]] = {}
    candidates = split_candidates(
        plan, {n for n, r in reads.items() if r}, no_cache_everywhere=no_cache_everywhere
    )
    for node_id, users in candidates.items():
        snapshot = await snapshots.of_node(plan.nodes[node_id])
        size = await offload(functools.partial(snapshot.size_of, sources_read(reads, (node_id,))))
        if size < SPLIT_BYTES:
            continue
        later = sources_read(reads, after_split(plan, node_id, users))
        if not await offload(functools.partial(snapshot.would_select, later, DOCKERFILE_IN_TAR)):
            out[node_id] = users
    return out
