"""How the plan's nodes are grouped into daemon builds, for each builder.

The classic builder makes one image per plan node, so each node is a build of
its own. BuildKit builds only the stages a target needs and merges the steps of
builds that run together, so each target is one build of the user's own
Dockerfile; a shared stage that reads much of the context is *split off*: built
once as an image of its own, so that its files travel once, and the targets'
builds start from that image instead of running the stage.

What decides a split needs the context's size, which only the engine can read:
``split_candidates`` says which nodes may be split at all, the engine measures
those, and ``buildkit_builds`` groups the nodes around the ones it kept. Pure.
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass

from bakery.core.plan import TARGET_PREFIX, Node, Plan

# A shared stage reading this much of the context is split off on BuildKit
# (docs/building.md, "Context"): below it, sending its files with each target
# costs less than making the targets wait for the stage's image.
SPLIT_BYTES = 1 << 20


class BuildKind(enum.Enum):
    NODE = "node"  # classic: one plan node
    TARGET = "target"  # BuildKit: one target, up to the splits it starts from
    SPLIT = "split"  # BuildKit: a shared stage built on its own


@dataclass(frozen=True)
class Build:
    """One build request to the daemon, and what must be done before it."""

    id: str
    kind: BuildKind
    top: str  # the node whose image the build makes
    nodes: tuple[str, ...]  # the nodes it runs, in build order (``top`` last)
    after: tuple[str, ...]  # builds that must have ended well first
    targets: tuple[str, ...] = ()  # targets whose image is ``top``'s, tagged when it ends well
    users: tuple[str, ...] = ()  # SPLIT: the targets whose builds start from it
    limited: bool = True  # takes one of the ``--jobs`` slots


def no_cache(plan: Plan, node: Node, everywhere: bool) -> bool:
    """``--no-cache`` (``everywhere``), or ``no-cache = true`` on a target sharing ``node``."""
    return everywhere or any(
        plan.targets[t].target.no_cache for t in node.targets if t in plan.targets
    )


def classic_builds(plan: Plan) -> list[Build]:
    """One build per node, after what the plan says it waits for."""
    return [
        Build(
            id=_node_build(node_id),
            kind=BuildKind.NODE,
            top=node_id,
            nodes=(node_id,),
            after=tuple(_node_build(d) for d in plan.waits_for(node_id)),
            targets=tuple(t for t in node.final_for if t in plan.targets),
        )
        for node_id, node in plan.nodes.items()
    ]


def build_nodes(plan: Plan, top: str, stops: Collection[str] = ()) -> tuple[str, ...]:
    """The nodes one BuildKit build of ``top`` runs, in build order: ``top`` and
    what it reads from, up to (not into) the nodes ``stops`` other than ``top``."""
    seen: set[str] = set()
    todo = [top]
    while todo:
        node_id = todo.pop()
        if node_id in seen or (node_id in stops and node_id != top):
            continue
        seen.add(node_id)
        todo.extend(plan.nodes[node_id].sources.values())
    return tuple(n for n in plan.nodes if n in seen)


def run_by(plan: Plan) -> dict[str, frozenset[str]]:
    """For each node, the targets whose whole BuildKit build would run it."""
    out: dict[str, set[str]] = {}
    for name, planned in plan.targets.items():
        for node_id in build_nodes(plan, planned.node):
            out.setdefault(node_id, set()).add(name)
    return {n: frozenset(t) for n, t in out.items()}


def split_candidates(
    plan: Plan, reads_context: Collection[str], *, no_cache_everywhere: bool
) -> dict[str, tuple[str, ...]]:
    """The nodes BuildKit could split off, each with the targets whose builds run
    it, before their size is known: run by two target builds or more, reading the
    context (``reads_context``), and buildable as a target of their own. Not:
    - without the cache (builds sent together share the stage instead);
    - the image of a target with labels of its own (later stages would inherit them);
    - for targets of different platforms, nor a stage on a ``--platform`` of its
      own (the image has one platform)."""
    runs = run_by(plan)
    out: dict[str, tuple[str, ...]] = {}
    for node_id, node in plan.nodes.items():
        users = tuple(sorted(runs.get(node_id, ())))
        stage = node.stage
        if (
            len(users) < 2
            or node_id not in reads_context
            or no_cache(plan, node, no_cache_everywhere)
        ):
            continue
        if stage.written_name is None and stage.index != len(node.graph.stages) - 1:
            continue
        if any(plan.targets[t].target.labels for t in node.final_for if t in plan.targets):
            continue
        if len({plan.targets[t].target.platform for t in users}) > 1 or stage.platform:
            continue
        out[node_id] = users
    return out


def after_split(plan: Plan, node_id: str, users: Iterable[str]) -> tuple[str, ...]:
    """The nodes the users' builds run after the split ``node_id``: what must not
    read bakery's Dockerfile for the split to be made."""
    return tuple(
        dict.fromkeys(
            n
            for t in users
            if plan.targets[t].node != node_id
            for n in build_nodes(plan, plan.targets[t].node, stops={node_id})
            if n != node_id
        )
    )


def buildkit_builds(
    plan: Plan, splits: Mapping[str, tuple[str, ...]], *, no_cache_everywhere: bool
) -> list[Build]:
    """A build per split (first) and per target. Without the cache every target
    goes at once, whatever ``--jobs`` says: BuildKit then shares a stage only
    between builds that run at the same time."""
    builds: list[Build] = []
    for node_id, users in splits.items():
        nodes = build_nodes(plan, node_id, splits)
        needed = _common_needs(plan, users)
        builds.append(
            Build(
                id=_split_build(node_id),
                kind=BuildKind.SPLIT,
                top=node_id,
                nodes=nodes,
                after=(
                    *(_target_build(t) for t in needed),
                    *(_split_build(p) for p in _split_parents(plan, nodes, splits)),
                ),
                targets=tuple(t for t in plan.nodes[node_id].final_for if t in plan.targets),
                users=users,
            )
        )
    for name, planned in plan.targets.items():
        builds.append(
            Build(
                id=_target_build(name),
                kind=BuildKind.TARGET,
                top=planned.node,
                nodes=build_nodes(plan, planned.node, splits),
                after=(
                    *(_target_build(t) for t in target_needs(plan, name)),
                    *(_split_build(n) for n in planned.nodes if n in splits),
                ),
                targets=(name,),
                users=(name,),
                limited=not no_cache_everywhere,
            )
        )
    return builds


def target_needs(plan: Plan, name: str) -> tuple[str, ...]:
    """The targets ``name`` needs directly: ``depends-on`` and ``target:`` contexts."""
    target = plan.targets[name].target
    contexts = [
        v[len(TARGET_PREFIX) :] for v in target.contexts.values() if v.startswith(TARGET_PREFIX)
    ]
    return tuple(dict.fromkeys([*target.depends_on, *contexts]))


def _common_needs(plan: Plan, users: Iterable[str]) -> list[str]:
    """Targets every one of ``users`` needs, directly or not: what their split waits for."""
    common: set[str] | None = None
    for name in users:
        needs: set[str] = set()
        todo = list(target_needs(plan, name))
        while todo:
            other = todo.pop()
            if other not in needs:
                needs.add(other)
                todo.extend(target_needs(plan, other))
        common = needs if common is None else common & needs
    return sorted(common or ())


def _split_parents(plan: Plan, nodes: tuple[str, ...], splits: Collection[str]) -> list[str]:
    """The splits outside ``nodes`` that the stages of ``nodes`` start from or copy from."""
    return list(
        dict.fromkeys(
            parent
            for n in nodes
            for parent in plan.nodes[n].sources.values()
            if parent in splits and parent not in nodes
        )
    )


def _node_build(node_id: str) -> str:
    return f"node:{node_id}"


def _split_build(node_id: str) -> str:
    return f"split:{node_id}"


def _target_build(name: str) -> str:
    return f"target:{name}"
