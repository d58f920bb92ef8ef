"""Stage keys of a run, and the images of earlier runs they let bakery reuse.

A node whose key (``bakery.core.keys``) is the ``dev.bakery.key`` label of the
image bakery's own stage tag names is not built: that image is the node's.
Keys are computed once, before anything runs, in build order (a key covers its
parents' keys); the daemon is asked once for every labelled image. Computing a
key also tells which context files the node reads.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from bakery.core.builds import no_cache
from bakery.core.keys import ContextReads, context_reads, node_key
from bakery.core.plan import TARGET_PREFIX, Node, Plan
from bakery.core.stages import Source, SourceKind
from bakery.engine.images import ImageStore, LabelledImage
from bakery.engine.labels import KEY_LABEL, stage_tag
from bakery.engine.snapshots import Snapshots
from bakery.engine.specs import WHOLE_READ

DOCKER_IMAGE_PREFIX = "docker-image://"
Bases = Mapping[str, tuple[str, bool] | None]  # image -> (ID, has ONBUILD), None: absent


@dataclass
class StageKeys:
    keys: dict[str, str | None] = field(default_factory=dict)  # None: cannot be keyed
    reads: dict[str, ContextReads] = field(default_factory=dict)  # context sources read
    reusable: dict[str, LabelledImage] = field(default_factory=dict)  # node -> earlier image


def external_refs(plan: Plan) -> list[str]:
    """Every image the plan's stages name, and the ``docker-image://`` contexts."""
    refs = list(plan.external_images())
    for node in plan.nodes.values():
        for src in node.stage.sources:
            value = node.target.contexts.get(src.ref, "") if src.kind is SourceKind.CONTEXT else ""
            if value.startswith(DOCKER_IMAGE_PREFIX):
                refs.append(value[len(DOCKER_IMAGE_PREFIX) :])
    return list(dict.fromkeys(refs))


async def stage_keys(
    plan: Plan,
    builder: str,
    images: ImageStore,
    snapshots: Snapshots,
    *,
    no_cache_everywhere: bool,
) -> StageKeys:
    """Every node's key and reads, and the earlier images the run may reuse."""
    refs = external_refs(plan)
    bases: Bases = await snapshots.offload(lambda: {r: images.base(r) for r in refs})
    keyer = _Keyer(plan, builder, bases, snapshots)
    for node in plan.nodes.values():
        keyer.out.keys[node.id] = await keyer.key_of(node)
    out = keyer.out
    if not no_cache_everywhere and any(out.keys.values()):
        found = await snapshots.offload(lambda: images.labelled(KEY_LABEL))
        out.reusable = _reusable(plan, out.keys, found, no_cache_everywhere)
    return out


def _reusable(
    plan: Plan,
    keys: Mapping[str, str | None],
    found: list[LabelledImage],
    no_cache_everywhere: bool,
) -> dict[str, LabelledImage]:
    """Only an image that bakery's own stage tag for the node points to counts: an
    image someone made FROM a bakery image inherits its key label, and is not
    bakery's."""
    wanted = {k: n for n, k in keys.items() if k}
    by_key: dict[str, LabelledImage] = {}
    for image in found:
        key = image.labels.get(KEY_LABEL)
        if key and key in wanted and stage_tag(wanted[key]) in image.tags:
            by_key[key] = image
    return {
        n: by_key[k]
        for n, k in keys.items()
        if k and k in by_key and not no_cache(plan, plan.nodes[n], no_cache_everywhere)
    }


@dataclass
class _Keyer:
    """Keys nodes in build order: each key covers its parents' keys."""

    plan: Plan
    builder: str
    bases: Bases
    snapshots: Snapshots
    out: StageKeys = field(default_factory=StageKeys)

    async def key_of(self, node: Node) -> str | None:
        sources: dict[Source, str | None] = {}
        onbuild = False
        for src in node.stage.sources:
            value: str | None = None
            if src.kind is SourceKind.STAGE:
                assert src.stage is not None
                parent = self.plan.nodes[node.sources[src.stage]]
                value = self.out.keys.get(parent.id)
                if src == node.stage.base:
                    onbuild = any(i.keyword == "onbuild" for i in parent.stage.instructions)
            elif src.kind is SourceKind.IMAGE:
                found = self.bases.get(src.ref)
                value = found[0] if found else None
                if src == node.stage.base:
                    # An image the daemon lacks may carry triggers that read anything.
                    onbuild = found[1] if found else True
            elif src.kind is SourceKind.CONTEXT:
                value = await self._context_key(node, src.ref)
                # Another target's image or a folder may carry triggers: assume so.
                onbuild = onbuild or src == node.stage.base
            sources[src] = value
        reads = context_reads(node.stage, base_has_onbuild=onbuild)
        self.out.reads[node.id] = WHOLE_READ if reads is None else reads
        if reads is None or any(
            v is None for s, v in sources.items() if s.kind is not SourceKind.SCRATCH
        ):
            return None
        digests: dict[tuple[str, ...], str] = {}
        if reads:
            snapshot = await self.snapshots.of_node(node)
            digests = await self.snapshots.offload(
                lambda: {r: snapshot.digest_of(r) for r in reads}
            )
        return node_key(
            node, backend=self.builder, sources=sources, context=digests, base_has_onbuild=onbuild
        )

    async def _context_key(self, node: Node, name: str) -> str | None:
        value = node.target.contexts.get(name, "")
        if value.startswith(TARGET_PREFIX):
            other = self.plan.targets.get(value[len(TARGET_PREFIX) :])
            return self.out.keys.get(other.node) if other is not None else None
        if value.startswith(DOCKER_IMAGE_PREFIX):
            found = self.bases.get(value[len(DOCKER_IMAGE_PREFIX) :])
            return found[0] if found else None
        if not value:
            return None
        snapshot = await self.snapshots.of_folder(value)
        digest = await self.snapshots.offload(lambda: snapshot.digest_of(["."]))
        return f"folder:{digest}"
