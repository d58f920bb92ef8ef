"""The plan: one graph of stage builds over every requested target.

Two stage builds are the same node when they come from the same Dockerfile and
context with the same stage, effective build arguments, platform and sources;
each node is built at most once per run and knows which targets share it, and
what it waits for. How nodes become daemon builds is ``bakery.core.builds``;
when each runs, and what a failure stops, ``bakery.core.scheduler``. Pure: the
caller supplies the stage graphs.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import MappingProxyType

from bakery.core.config import Target
from bakery.core.dockerfile import parse_mount
from bakery.core.errors import BakeryError, ConfigError, CycleError
from bakery.core.graph import GraphCycle, reachable, topological_order, waves
from bakery.core.stages import PROXY_ARGS, TARGET_PLATFORM_ARGS, SourceKind, Stage, StageGraph

TARGET_PREFIX = "target:"


@dataclass(frozen=True)
class Node:
    """One stage build."""

    id: str  # short digest of everything that decides the build
    stage: Stage
    graph: StageGraph
    target: Target  # the first target that asked for it: context, Dockerfile, settings
    args: tuple[tuple[str, str], ...]  # effective build arguments
    platform: str | None
    needs: tuple[str, ...]  # node ids this node reads from (stages and target contexts)
    sources: Mapping[int, str] = field(default_factory=dict)  # stage index -> node id
    context_targets: Mapping[str, str] = field(default_factory=dict)  # context name -> target
    targets: frozenset[str] = frozenset()  # every target whose image needs this node
    final_for: tuple[str, ...] = ()  # targets whose image this node is

    @property
    def label(self) -> str:
        """``target/stage``, or ``shared/stage`` for a node several targets share."""
        owner = "shared" if len(self.targets) > 1 else sorted(self.targets)[0]
        return f"{owner}/{self.stage.display_name}"

    @property
    def shared(self) -> bool:
        return len(self.targets) > 1

    @property
    def external_images(self) -> tuple[str, ...]:
        """The images the stage names; an empty name (``--from=$UNSET``) is none:
        the daemon's build reports it."""
        return tuple(s.ref for s in self.stage.sources if s.kind is SourceKind.IMAGE and s.ref)


@dataclass(frozen=True)
class PlannedTarget:
    name: str
    target: Target
    node: str  # the id of the node whose image the target is
    nodes: tuple[str, ...]  # every node it needs, in build order
    after: tuple[str, ...]  # targets that must finish first (depends-on)
    requested: bool  # named on the command line (or through a group)


@dataclass(frozen=True)
class Plan:
    nodes: Mapping[str, Node]  # in a valid build order
    targets: Mapping[str, PlannedTarget]  # requested first, then those pulled in

    def waves(self) -> list[list[str]]:
        """Node ids by depth: each wave needs only earlier waves."""
        return waves({n.id: n.needs for n in self.nodes.values()})

    def shared(self) -> list[Node]:
        return [n for n in self.nodes.values() if n.shared]

    def external_images(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(i for n in self.nodes.values() for i in n.external_images))

    def waits_for(self, node_id: str) -> tuple[str, ...]:
        """Node ids that must be done before ``node_id`` starts: what it reads from,
        plus the final nodes of the ``depends-on`` targets that every target sharing
        it depends on (a node shared with a target free of that order does not wait)."""
        node = self.nodes[node_id]
        after: set[str] | None = None
        for name in node.targets:
            deps = set(self._all_after(name))
            after = deps if after is None else after & deps
        extra = [self.targets[t].node for t in sorted(after or ())]
        return tuple(dict.fromkeys([*node.needs, *extra]))

    def _all_after(self, name: str) -> set[str]:
        out: set[str] = set()
        todo = list(self.targets[name].after)
        while todo:
            t = todo.pop()
            if t not in out:
                out.add(t)
                todo.extend(self.targets[t].after)
        return out


GraphLoader = Callable[[Target], StageGraph]


def effective_args(stage: Stage, build_args: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    """The build arguments that can change what ``stage`` builds: those it declares
    with ARG, and the proxy arguments Docker passes without one."""
    names = set(stage.arg_names) | PROXY_ARGS
    return tuple(sorted((k, v) for k, v in build_args.items() if k in names))


def make_plan(
    targets: Mapping[str, Target],
    requested: Sequence[str],
    load: GraphLoader,
) -> Plan:
    """Plan ``requested`` targets (and the targets they pull in) as one graph."""
    order = _target_order(targets, requested)
    nodes: dict[str, Node] = {}
    sharing: dict[str, set[str]] = {}
    final_for: dict[str, list[str]] = {}
    planned: dict[str, PlannedTarget] = {}

    for name in order:
        target = targets[name]
        graph = load(target)
        where = f"target.{name}"
        try:
            final = graph.stage(target.target, where=where)
        except BakeryError as err:
            raise ConfigError(err.message, where=err.where, hint=err.hint) from None
        ids: dict[int, str] = {}
        for stage in graph.needed(final):
            context_targets: dict[str, str] = {}
            needs: list[str] = []
            for src in stage.sources:
                if src.kind is SourceKind.STAGE:
                    assert src.stage is not None
                    needs.append(ids[src.stage])
                elif src.kind is SourceKind.CONTEXT:
                    value = target.contexts.get(src.ref, "")
                    if value.startswith(TARGET_PREFIX):
                        other = value[len(TARGET_PREFIX) :]
                        context_targets[src.ref] = other
                        needs.append(planned[other].node)
            args = effective_args(stage, target.args)
            platform = stage.platform or target.platform
            reads_target = bool(TARGET_PLATFORM_ARGS & set(stage.arg_names))
            identity = {
                "dockerfile": target.dockerfile_inline
                if target.dockerfile_inline is not None
                else target.dockerfile,
                "context": target.context,
                "stage": stage.index,
                "args": args,
                "platform": platform,
                "target_platform": target.platform if reads_target else None,
                "sources": [[s.kind.value, s.ref] for s in stage.sources],
                "needs": needs,
                "contexts": {
                    k: v
                    for k, v in sorted(target.contexts.items())
                    if not v.startswith(TARGET_PREFIX)
                },
                "network": target.network,
                "extra_hosts": sorted(target.extra_hosts),
                "shm_size": target.shm_size,
                # Which secrets and agents the stage gets, never their values.
                **_session_use(stage, target),
                # Labels go on the target's image only, so they make its last node its own.
                "labels": sorted(target.labels.items()) if stage is final else [],
            }
            node_id = _digest(identity)
            ids[stage.index] = node_id
            if node_id not in nodes:
                nodes[node_id] = Node(
                    id=node_id,
                    stage=stage,
                    graph=graph,
                    target=target,
                    args=args,
                    platform=platform,
                    needs=tuple(dict.fromkeys(needs)),
                    sources=MappingProxyType({i: ids[i] for i in stage.needs}),
                    context_targets=MappingProxyType(context_targets),
                )
            sharing.setdefault(node_id, set()).add(name)
        final_for.setdefault(ids[final.index], []).append(name)
        planned[name] = PlannedTarget(
            name=name,
            target=target,
            node=ids[final.index],
            nodes=tuple(dict.fromkeys(ids[s.index] for s in graph.needed(final))),
            after=target.depends_on,
            requested=name in requested,
        )

    # A target's image includes what its contexts' targets built: share those nodes too.
    node_needs = {i: n.needs for i, n in nodes.items()}
    for name in order:
        for node_id in reachable(node_needs, [planned[name].node]):
            sharing[node_id].add(name)
    built = {
        node_id: replace(
            node, targets=frozenset(sharing[node_id]), final_for=tuple(final_for.get(node_id, ()))
        )
        for node_id, node in nodes.items()
    }
    ordered = {i: built[i] for i in topological_order({i: n.needs for i, n in built.items()})}
    targets_out = {n: planned[n] for n in [*requested, *order] if n in planned}
    return Plan(nodes=MappingProxyType(ordered), targets=MappingProxyType(targets_out))


def _session_use(stage: Stage, target: Target) -> dict[str, list[str]]:
    """The ids of the target's secrets the stage mounts and, when it mounts an
    SSH agent, of the target's agents: what the stage can read of them decides
    what it builds. An id bakery cannot know before the build (a variable)
    counts as every secret."""
    mounted: set[str] = set()
    ssh = False
    for ins in stage.instructions:
        if ins.keyword != "run":
            continue
        for raw in ins.flag_values("mount"):
            mount = parse_mount(raw)
            if mount.type == "ssh":
                ssh = True
            elif mount.type == "secret":
                target_path = mount.target or ""
                mounted.add(mount.options.get("id") or target_path.rsplit("/", 1)[-1] or "$")
    given = [s.id for s in target.secrets]
    every = any("$" in m for m in mounted)
    out = {}
    if target.secrets and mounted:
        out["secrets"] = sorted(i for i in given if every or i in mounted)
    if ssh and target.ssh:
        out["ssh"] = sorted(a.id for a in target.ssh)
    return out


def _digest(identity: Mapping[str, object]) -> str:
    text = json.dumps(identity, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def _target_order(targets: Mapping[str, Target], requested: Iterable[str]) -> list[str]:
    """Requested targets and those they pull in (depends-on, target: contexts),
    each after the targets it needs. Raises CycleError."""
    graph: dict[str, list[str]] = {}
    todo = list(requested)
    while todo:
        name = todo.pop(0)
        if name in graph:
            continue
        target = targets[name]
        deps = [
            v[len(TARGET_PREFIX) :] for v in target.contexts.values() if v.startswith(TARGET_PREFIX)
        ]
        graph[name] = [*target.depends_on, *deps]
        todo.extend(graph[name])
    try:
        return topological_order(graph)
    except GraphCycle as err:
        raise CycleError("target dependencies", [str(n) for n in err.cycle]) from None
