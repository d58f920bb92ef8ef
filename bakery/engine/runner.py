"""Executes a plan on one daemon with trio.

Every plan node is built at most once, as an image of its own tagged under
bakery's repository (``bakery-stage:<node id>``); the stages after it start
``FROM`` that image. Independent nodes run concurrently, up to ``jobs``; a node
starts as soon as what the plan says it waits for is done. Blocking docker
calls run in worker threads under a capacity limiter; a cancelled build closes
its connection so that the daemon stops it. Targets are tagged only when their
image is built or reused. A node whose stage key (``bakery.core.keys``) is the
``dev.bakery.key`` label of an image on the daemon reuses that image without a
build call. The runner never prints: it emits events.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import json
import os
import re
import shutil
import signal
import tarfile
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

import docker.errors
import trio

from bakery.core.config import Target
from bakery.core.emit import EmittedDockerfile, emit_stage, emit_with_refs, instruction_at
from bakery.core.errors import ConfigError
from bakery.core.ignore import parse_dockerignore
from bakery.core.keys import WHOLE_CONTEXT, ContextReads, context_reads, node_key
from bakery.core.plan import TARGET_PREFIX, Node, Plan
from bakery.core.stages import PROXY_ARGS, Source, SourceKind
from bakery.engine.backend import (
    Backend,
    BuildFailed,
    BuildSpec,
    Cancellation,
    ProgressEvent,
    StepEvent,
)
from bakery.engine.classic import ClassicBackend
from bakery.engine.context import DIGEST_CACHE_FILE, ContextSnapshot, DigestCache
from bakery.engine.events import (
    Event,
    NodeFinished,
    NodeProgress,
    NodeResult,
    NodeStarted,
    RunResult,
    Status,
    TargetFinished,
    TargetResult,
)
from bakery.engine.push import split_tag

# One repository holds every intermediate image; BAKERY_STAGE_REPO names another,
# to keep two bakery setups sharing one daemon apart.
STAGE_REPO = os.environ.get("BAKERY_STAGE_REPO", "bakery-stage")
REPO_LABEL = "dev.bakery.repo"  # on stage images: the repository above
NODE_LABEL = "dev.bakery.node"  # the plan node an image was built for
ROLE_LABEL = "dev.bakery.role"  # "stage": an intermediate image; "image": a target's image
KEY_LABEL = "dev.bakery.key"  # the stage key (bakery.core.keys) of what the image was built from
DOCKERFILE_IN_TAR = ".bakery.Dockerfile"
DOCKER_IMAGE_PREFIX = "docker-image://"
T = TypeVar("T")
WHOLE_READ: ContextReads = (WHOLE_CONTEXT,)
# BuildKit: a shared stage reading this much of the context is built on its own,
# so that its files are sent once (docs/building.md, "Context").
CUT_BYTES = 1 << 20


def stage_tag(node_id: str) -> str:
    return f"{STAGE_REPO}:{node_id}"


@dataclass(frozen=True)
class RunOptions:
    jobs: int = 4
    keep_going: bool = False
    no_cache: bool = False
    pull: bool = False  # pull every external image first (targets may ask with pull = true)
    state_dir: Path | None = None  # the project's .bakery folder: the context digest cache


@dataclass
class _State:
    results: dict[str, NodeResult] = field(default_factory=dict)
    done: dict[str, trio.Event] = field(default_factory=dict)
    first_failure: str | None = None
    interrupted: bool = False


class Runner:
    """Runs one plan. ``client`` is a docker SDK ``APIClient`` (for inspect and tag)."""

    def __init__(
        self,
        plan: Plan,
        backend: Backend,
        client: Any,
        options: RunOptions,
        emit: Callable[[Event], None],
    ) -> None:
        self.plan = plan
        self.backend = backend
        self.client = client
        self.options = options
        self.emit = emit
        self._limiter = trio.CapacityLimiter(max(1, options.jobs))
        self._snapshots: dict[str, ContextSnapshot] = {}
        self._snapshot_locks: dict[str, trio.Lock] = {}
        self._context_images: dict[str, str] = {}
        self._state = _State()
        self._target_done: dict[str, trio.Event] = {}
        self._started: dict[str, float] = {}
        self._owners: dict[str, _StageTracker] = {}
        self._cached: dict[str, bool] = {}  # classic: every step of the node came from cache
        self._keys: dict[str, str | None] = {}  # node id -> stage key (None: cannot be keyed)
        self._reusable: dict[str, tuple[str, tuple[str, ...]]] = {}  # key -> image ID, tags
        self._digests: DigestCache | None = None
        self._reads: dict[str, ContextReads] = {}  # node id -> context sources it reads
        self._cuts: dict[str, trio.Event] = {}  # BuildKit: shared nodes built on their own
        self._target_results: dict[str, TargetResult] = {}
        self._cut_users: dict[str, list[str]] = {}  # cut -> the targets whose builds run it
        self._skipped: set[str] = set()  # BuildKit: targets not built as one they need failed
        self._runners: dict[str, set[str]] = {}  # BuildKit: node -> targets whose builds run it

    # -- the schedule ----------------------------------------------------------------

    async def run(self, *, handle_sigint: bool = False) -> RunResult:
        """Build every node of the plan; tag each target whose image was built."""
        state = self._state
        state.done = {n: trio.Event() for n in self.plan.nodes}
        self._preflight()
        try:
            return await self._run(handle_sigint)
        finally:
            if self._digests is not None:
                with contextlib.suppress(OSError):
                    self._digests.save()

    async def _run(self, handle_sigint: bool) -> RunResult:
        state = self._state
        await self._thread(self._pull_images)
        previous = await self._thread(self._previous_tags)
        started = trio.current_time()
        await self._compute_keys()
        target_results = self._target_results
        async with trio.open_nursery() as outer:
            if handle_sigint:
                outer.start_soon(self._watch_sigint, outer.cancel_scope)
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                if self.backend.name == "buildkit":
                    self._cut_users = await self._cut_nodes()
                    self._cuts = {n: trio.Event() for n in self._cut_users}
                    for node_id in self._cuts:
                        nursery.start_soon(self._cut_task, node_id)
                    for name in self.plan.targets:
                        nursery.start_soon(self._target_task, name, target_results, previous)
                else:
                    for node_id in self.plan.nodes:
                        nursery.start_soon(self._node_task, node_id, target_results, previous)
            outer.cancel_scope.cancel()
        finished = trio.current_time()
        for node_id in self.plan.nodes:
            if node_id not in state.results:
                reason = ("interrupted" if state.interrupted
                          else f"stopped after {self._label(state.first_failure)} failed")
                state.results[node_id] = NodeResult(node_id, Status.NOT_STARTED, reason=reason)
                self.emit(NodeFinished(node_id, Status.NOT_STARTED, finished, reason=reason))
        for name, _planned in self.plan.targets.items():
            if name not in target_results:
                result = self._target_result(name, previous.get(name, {}))
                target_results[name] = result
                self.emit(TargetFinished(name, result.status, reason=result.reason))
        return RunResult(
            nodes=dict(state.results),
            targets={n: target_results[n] for n in self.plan.targets},
            started=started,
            finished=finished,
            interrupted=state.interrupted,
            backend=self.backend.name,
        )

    async def _watch_sigint(self, scope: trio.CancelScope) -> None:
        with trio.open_signal_receiver(signal.SIGINT) as signals:
            async for _ in signals:
                self._state.interrupted = True
                self._nursery.cancel_scope.cancel()
                return

    async def _node_task(
        self, node_id: str, targets: dict[str, TargetResult],
        previous: Mapping[str, Mapping[str, str | None]],
    ) -> None:
        state = self._state
        try:
            for dep in self.plan.waits_for(node_id):
                await state.done[dep].wait()
            failed = [d for d in self.plan.waits_for(node_id)
                      if state.results[d].status not in (Status.BUILT, Status.CACHED)]
            if failed:
                reason = f"{self._label(failed[0])} did not build"
                state.results[node_id] = NodeResult(node_id, Status.NOT_STARTED, reason=reason)
                self.emit(NodeFinished(node_id, Status.NOT_STARTED, trio.current_time(),
                                       reason=reason))
                return
            image_id = await self._reuse(node_id)
            if image_id is None:
                async with self._limiter:
                    start = trio.current_time()
                    self.emit(NodeStarted(node_id, start))
                    try:
                        image_id = await self._build(self.plan.nodes[node_id])
                    except BuildFailed as err:
                        end = trio.current_time()
                        state.results[node_id] = NodeResult(node_id, Status.FAILED, start, end,
                                                            error=err)
                        self.emit(NodeFinished(node_id, Status.FAILED, end, error=err))
                        if state.first_failure is None:
                            state.first_failure = node_id
                        if not self.options.keep_going:
                            self._nursery.cancel_scope.cancel()
                        return
                    except trio.Cancelled:
                        end = trio.current_time()
                        reason = "interrupted" if state.interrupted else (
                            f"stopped after {self._label(state.first_failure)} failed")
                        state.results[node_id] = NodeResult(node_id, Status.CANCELLED, start, end,
                                                            reason=reason)
                        self.emit(NodeFinished(node_id, Status.CANCELLED, end, reason=reason))
                        raise
                    end = trio.current_time()
                    status = Status.CACHED if self._cached.get(node_id) else Status.BUILT
                    state.results[node_id] = NodeResult(node_id, status, start, end,
                                                        image_id=image_id)
                    self.emit(NodeFinished(node_id, status, end, image_id=image_id))
            node = self.plan.nodes[node_id]
            for name in node.final_for:
                if name in self.plan.targets:
                    result = await self._finish_target(name, image_id, previous.get(name, {}))
                    targets[name] = result
        finally:
            state.done[node_id].set()

    # -- BuildKit: one build per target -------------------------------------------------
    #
    # BuildKit builds only the stages a target needs, and merges identical steps
    # of builds that run at the same time, reusing its cache for those that ran
    # before in this run. So each target goes to the daemon as one build of the
    # user's own Dockerfile, all at once: a shared stage runs once, and the
    # Dockerfile is exactly what `docker build` sends. Stage status and times come
    # from BuildKit's step names ("[build-client 2/3] ...").
    #
    # Each build's tar holds only the context files its stages read. A shared
    # stage that reads CUT_BYTES or more of the context (a "cut") is built once as
    # an image of its own, and the builds after it name that image instead of the
    # stage, so its files travel once, not once per target. That needs a
    # Dockerfile of bakery's in the tar, so there is no cut where a stage after it
    # would copy that file (`COPY . .`).

    async def _cut_nodes(self) -> dict[str, list[str]]:
        """The shared nodes to build on their own: a node that at least two target
        builds run, that reads at least CUT_BYTES of the context, and that BuildKit
        can build as a target. Below that size, sending the files with each target
        costs less than making the targets wait for an image of the stage. Not:
        - without the cache (builds sent together share the stage instead);
        - the image of a target with labels of its own (later stages would
          inherit them from the cut's image);
        - for targets of different platforms (the image has one);
        - when a target's stages after it read a file named like bakery's
          Dockerfile (``COPY . .``): that build must go as written, would run the
          stage again where BuildKit's cache lacks it, and carries its files anyway.
        Each cut comes with the targets whose builds run it."""
        out: dict[str, list[str]] = {}
        for name, planned in self.plan.targets.items():
            for node_id in self._unit(planned.node, whole=True):
                self._runners.setdefault(node_id, set()).add(name)
        for node_id, node in self.plan.nodes.items():
            stage = node.stage
            users = sorted(self._runners.get(node_id, ()))
            if len(users) < 2 or not self._reads.get(node_id) or self._no_cache(node):
                continue
            if stage.written_name is None and stage.index != len(node.graph.stages) - 1:
                continue
            if any(self.plan.targets[t].target.labels for t in node.final_for
                   if t in self.plan.targets):
                continue
            # One image for every target: not for several platforms, nor for a
            # stage on a --platform of its own (the image would be for that one).
            if len({self.plan.targets[t].target.platform for t in users}) > 1 \
                    or stage.platform is not None:
                continue
            snapshot = await self._snapshot(node)
            size = await self._thread(functools.partial(
                snapshot.size_of, self._sources_read((node_id,))))
            if size < CUT_BYTES:
                continue
            # What the targets' stages after it read, all together: one check.
            after = self._sources_read(tuple(dict.fromkeys(
                n for t in users if self.plan.targets[t].node != node_id
                for n in self._unit(self.plan.targets[t].node, stop=node_id))))
            if not await self._thread(functools.partial(
                    snapshot.would_select, after, DOCKERFILE_IN_TAR)):
                out[node_id] = users
        return out

    def _unit(self, top: str, *, whole: bool = False,
              stop: str | None = None) -> tuple[str, ...]:
        """The nodes one BuildKit build of ``top`` runs, in build order: ``top`` and
        what it reads from, stopping at cuts other than ``top`` (at none when
        ``whole``; at ``stop`` when given)."""
        stops = {stop} if stop is not None else set() if whole else set(self._cuts)
        stops.discard(top)
        seen: set[str] = set()
        todo = [top]
        while todo:
            node_id = todo.pop()
            if node_id in seen or node_id in stops:
                continue
            seen.add(node_id)
            todo.extend(self.plan.nodes[node_id].sources.values())
        return tuple(n for n in self.plan.nodes if n in seen)

    def _cut_parents(self, unit: tuple[str, ...]) -> dict[Source, str]:
        """The stage references of ``unit`` that name a cut outside it."""
        out: dict[Source, str] = {}
        for node_id in unit:
            node = self.plan.nodes[node_id]
            for src in node.stage.sources:
                if src.kind is SourceKind.STAGE:
                    parent = node.sources[src.stage or 0]
                    if parent in self._cuts and parent not in unit:
                        out[src] = parent
        return out

    def _needed_targets(self, users: list[str]) -> list[str]:
        """Targets every one of ``users`` waits for, directly or not: what their
        cut waits for."""
        common: set[str] | None = None
        for name in users:
            needs: set[str] = set()
            todo = list(self._target_needs(name))
            while todo:
                other = todo.pop()
                if other not in needs:
                    needs.add(other)
                    todo.extend(self._target_needs(other))
            common = needs if common is None else common & needs
        return sorted(common or ())

    def _only_for(self, nodes: tuple[str, ...], names: set[str]) -> tuple[str, ...]:
        """Those of ``nodes`` that no build but those of targets ``names`` (and of
        targets already skipped) runs."""
        return tuple(n for n in nodes
                     if self._runners.get(n, set()) <= names | self._skipped)

    async def _wait_for(self, targets: list[str], cuts: list[str],
                        results: Mapping[str, TargetResult]) -> str | None:
        """Wait for targets and cuts; the reason to give up if one did not build."""
        for name in targets:
            await self._target_done.setdefault(name, trio.Event()).wait()
        for cut in cuts:
            await self._cuts[cut].wait()
        for name in targets:
            result = results.get(name)
            if result is None or result.status not in (Status.BUILT, Status.CACHED):
                return f"target {name} did not build"
        for cut in cuts:
            if self._state.results[cut].status not in (Status.BUILT, Status.CACHED):
                return f"{self._label(cut)} did not build"
        return None

    async def _cut_task(self, node_id: str) -> None:
        node = self.plan.nodes[node_id]
        users = self._cut_users[node_id]
        try:
            unit = self._unit(node_id)
            reason = await self._wait_for(self._needed_targets(users),
                                          list(dict.fromkeys(self._cut_parents(unit).values())),
                                          self._target_results)
            # The stages above the cut that no other build runs are this task's to
            # report when it does not build.
            mine = self._only_for(unit, set(users))
            if reason is not None:
                self._skip_nodes(mine, reason)
                return
            if await self._reuse(node_id, mine) is not None:
                return
            if all(self._reusable_image(self.plan.targets[t].node) for t in users):
                # Every target built from it reuses its image: nothing needs the stage.
                self._record_cached(mine)
                return
            labels = {NODE_LABEL: node_id, ROLE_LABEL: "image" if node.final_for else "stage",
                      REPO_LABEL: STAGE_REPO, KEY_LABEL: self._keys.get(node_id) or ""}
            async with self._limiter:
                await self._build_unit(node_id, node.target, labels, no_cache=False)
        finally:
            self._cuts[node_id].set()

    async def _target_task(
        self, name: str, targets: dict[str, TargetResult],
        previous: Mapping[str, Mapping[str, str | None]],
    ) -> None:
        planned = self.plan.targets[name]
        done = self._target_done.setdefault(name, trio.Event())
        try:
            unit = self._unit(planned.node)
            cuts = [n for n in planned.nodes if n in self._cuts]
            reason = await self._wait_for(self._target_needs(name), cuts, targets)
            if reason is not None:
                # A stage this target shares may still be built for another one.
                self._skipped.add(name)
                self._skip_nodes(self._only_for(planned.nodes, {name}), reason)
                return
            image_id: str | None
            if planned.node in self._cuts:
                image_id = self._state.results[planned.node].image_id
            else:
                image_id = await self._reuse(planned.node, unit)
            if image_id is None:
                # Without the cache, BuildKit shares a stage only between builds that
                # run at the same time: then every target goes at once, whatever
                # --jobs says.
                no_cache = self.options.no_cache or planned.target.no_cache
                limit = contextlib.nullcontext() if self.options.no_cache else self._limiter
                labels = {**planned.target.labels, NODE_LABEL: planned.node,
                          ROLE_LABEL: "image", REPO_LABEL: STAGE_REPO,
                          KEY_LABEL: self._keys.get(planned.node) or ""}
                async with limit:
                    image_id = await self._build_unit(planned.node, planned.target, labels,
                                                      no_cache)
            if image_id is None:
                return
            targets[name] = await self._finish_target(name, image_id, previous.get(name, {}))
        finally:
            done.set()

    def _target_needs(self, name: str) -> list[str]:
        target = self.plan.targets[name].target
        contexts = [v[len(TARGET_PREFIX):] for v in target.contexts.values()
                    if v.startswith(TARGET_PREFIX)]
        return list(dict.fromkeys([*target.depends_on, *contexts]))

    def _skip_nodes(self, nodes: tuple[str, ...], reason: str) -> None:
        now = trio.current_time()
        for node_id in nodes:
            if node_id not in self._state.results:
                self._state.results[node_id] = NodeResult(node_id, Status.NOT_STARTED,
                                                          reason=reason)
                self.emit(NodeFinished(node_id, Status.NOT_STARTED, now, reason=reason))

    async def _build_unit(self, top_id: str, target: Target, labels: Mapping[str, str],
                          no_cache: bool) -> str | None:
        """One BuildKit build of node ``top_id`` (with ``target``'s settings); its
        image ID, or ``None`` when it failed (reported)."""
        top = self.plan.nodes[top_id]
        graph, stage = top.graph, top.stage
        snapshot = await self._snapshot(top)
        unit = self._unit(top_id)
        cuts = self._cut_parents(unit)
        refs: dict[Source, str] = {src: stage_tag(cut) for src, cut in cuts.items()}
        for node_id in unit:
            for src in self.plan.nodes[node_id].stage.sources:
                if src.kind is SourceKind.CONTEXT:
                    refs[src] = await self._context_ref(self.plan.nodes[node_id], src.ref)
        emitted = emit_with_refs(graph, refs)
        dockerfile_name = (DOCKERFILE_IN_TAR if cuts
                           else self._dockerfile_in_context(target, snapshot))
        sources = self._sources_read(unit)
        context = await self._thread(lambda: snapshot.tar(
            extra={dockerfile_name: emitted.text.encode()}, include=sources))
        spec = BuildSpec(
            context=context,
            tag=stage_tag(top_id),
            dockerfile=dockerfile_name,
            target=stage.written_name,
            build_args=dict(target.args),
            labels=dict(labels),
            platform=target.platform,
            network=target.network,
            extra_hosts=_hosts(target.extra_hosts),
            shm_size=_bytes(target.shm_size),
            no_cache=no_cache,
            cache_from=target.cache_from,
        )
        tracker = _StageTracker(self, unit)
        tracker.no_cache = spec.no_cache
        try:
            output = await self._cancellable_build(top_id, spec, tracker.feed)
        except BuildFailed as err:
            node_id = tracker.node_of(err.step) or top_id
            node = self.plan.nodes[node_id]
            located = self._locate(node, emitted, err)
            tracker.fail(node_id, located)
            if self._state.first_failure is None:
                self._state.first_failure = node_id
            tracker.settle(f"{node.label} failed")
            if not self.options.keep_going:
                self._nursery.cancel_scope.cancel()
            return None
        except trio.Cancelled:
            tracker.cancel()
            raise
        tracker.finish(str(output.image_id))
        return str(output.image_id)

    def _sources_read(self, unit: tuple[str, ...]) -> list[str]:
        """Every context source the nodes of ``unit`` read (``.`` when unknown)."""
        out: list[str] = []
        for node_id in unit:
            reads = self._reads.get(node_id, WHOLE_READ)
            out.extend(source for read in reads for source in read)
        return list(dict.fromkeys(out))

    def _dockerfile_in_context(self, target: Target, snapshot: ContextSnapshot) -> str:
        """Where the Dockerfile goes in the tar: its own place when it is inside
        the context (as `docker build` sends it), else a name of bakery's."""
        if target.dockerfile_inline is None:
            rel = os.path.relpath(target.dockerfile, snapshot.root)
            if not rel.startswith(".."):
                return rel.replace(os.sep, "/")
        return DOCKERFILE_IN_TAR

    # -- one node --------------------------------------------------------------------

    async def _build(self, node: Node) -> str:
        refs: dict[Source, str] = {}
        for src in node.stage.sources:
            if src.kind is SourceKind.STAGE:
                assert src.stage is not None
                refs[src] = stage_tag(node.sources[src.stage])
            elif src.kind is SourceKind.CONTEXT:
                refs[src] = await self._context_ref(node, src.ref)
        # Children inherit labels: each build sets its own role again. One LABEL
        # line at the end, not the labels parameter: the classic builder turns
        # that into one committed step per label, each costing a container.
        # An empty key overrides the one the parent's image would pass on.
        labels = {NODE_LABEL: node.id, ROLE_LABEL: "image" if node.final_for else "stage",
                  REPO_LABEL: STAGE_REPO, KEY_LABEL: self._keys.get(node.id) or ""}
        for name in node.final_for:
            labels.update(self.plan.targets[name].target.labels if name in self.plan.targets
                          else {})
        emitted = emit_stage(node.graph, node.stage, refs)
        # A line break cannot be written in a Dockerfile: such labels go as the
        # parameter (one more step each).
        multiline = {k: v for k, v in labels.items() if "\n" in k + v or "\r" in k + v}
        label_line = _label_line({k: v for k, v in labels.items() if k not in multiline},
                                 node.graph.dockerfile.escape)
        emitted = replace(emitted, text=f"{emitted.text}{label_line}\n",
                          lines=(*emitted.lines, 0))
        context, dockerfile_name = await self._context_tar(node, emitted)
        args = {k: v for k, v in node.target.args.items()
                if k in node.stage.arg_names or k in node.graph.meta_arg_names
                or k in PROXY_ARGS}
        spec = BuildSpec(
            context=context,
            tag=stage_tag(node.id),
            dockerfile=dockerfile_name,
            build_args=args,
            platform=node.platform,
            network=node.target.network,
            extra_hosts=_hosts(node.target.extra_hosts),
            shm_size=_bytes(node.target.shm_size),
            no_cache=self._no_cache(node),
            cache_from=node.target.cache_from,
            labels=multiline,
        )
        steps: dict[str, bool] = {}

        def watch(event: ProgressEvent) -> None:
            if isinstance(event, StepEvent) and not re.search(r": FROM ", event.name):
                steps[event.name] = steps.get(event.name, False) or event.cached
            self.emit(NodeProgress(node.id, event))

        try:
            output = await self._cancellable_build(node.id, spec, watch)
        except BuildFailed as err:
            raise self._locate(node, emitted, err) from None
        self._cached[node.id] = bool(steps) and all(steps.values())
        return str(output.image_id)

    async def _cancellable_build(
        self, node_id: str, spec: BuildSpec,
        on_event: Callable[[ProgressEvent], None] | None = None,
        builder: Backend | None = None,
    ) -> Any:
        cancel = Cancellation()
        token = trio.lowlevel.current_trio_token()

        def forward(event: ProgressEvent) -> None:
            self.emit(NodeProgress(node_id, event))

        handler = on_event or forward

        def progress(event: ProgressEvent) -> None:
            with contextlib.suppress(trio.RunFinishedError):
                token.run_sync_soon(handler, event)

        finished = trio.Event()

        def work() -> Any:
            try:
                return (builder or self.backend).build(spec, progress, cancel)
            finally:
                with contextlib.suppress(trio.RunFinishedError):
                    token.run_sync_soon(finished.set)

        try:
            return await trio.to_thread.run_sync(work, abandon_on_cancel=True)
        except trio.Cancelled:
            cancel.cancel()
            # Wait, shielded, for the daemon side to stop, so nothing is left running.
            with trio.move_on_after(30) as cleanup:
                cleanup.shield = True
                await finished.wait()
            raise

    def _locate(self, node: Node, emitted: EmittedDockerfile, err: BuildFailed) -> BuildFailed:
        """Point the daemon's error at the user's Dockerfile line."""
        line = emitted.original_line(err.line) if err.line else None
        if line is None and err.step:
            line = _line_for_step(node, err.step, classic=self.backend.name == "classic")
        name = node.graph.dockerfile.name
        where = f"{name}:{line}" if line else name
        ins = instruction_at(node.stage, line) if line else None
        step = ins.original.split("\n")[0].strip() if ins else err.step
        return BuildFailed(err.message, step=step, line=line, exit_status=err.exit_status,
                           log_tail=err.log_tail, where=where, hint=err.hint)

    # -- reuse: stage keys -------------------------------------------------------------
    #
    # A node whose key (bakery.core.keys) matches the dev.bakery.key label of an
    # image on the daemon is not built: that image is the node's. Keys are
    # computed once, before anything runs, in build order (a key covers its
    # parents' keys); the daemon is asked once for every labelled image.

    async def _compute_keys(self) -> None:
        if self.options.state_dir is not None:
            state_dir = self.options.state_dir
            # Made before any context is read, so that a context holding it looks
            # the same to the first run as to the next.
            with contextlib.suppress(OSError):
                await self._thread(lambda: state_dir.mkdir(parents=True, exist_ok=True))
            path = state_dir / DIGEST_CACHE_FILE
            self._digests = await self._thread(lambda: DigestCache.load(path))
        images = await self._thread(self._inspect_externals)
        for node_id, node in self.plan.nodes.items():
            self._keys[node_id] = await self._key_of(node, images)
        if not self.options.no_cache and any(self._keys.values()):
            self._reusable = await self._thread(self._labelled_images)

    def _inspect_externals(self) -> dict[str, tuple[str, bool] | None]:
        """Each external image's ID and whether it has ONBUILD triggers; ``None``
        for one the daemon does not have (its nodes get no key)."""
        refs = list(self.plan.external_images())
        for node in self.plan.nodes.values():
            for src in node.stage.sources:
                value = node.target.contexts.get(src.ref, "") \
                    if src.kind is SourceKind.CONTEXT else ""
                if value.startswith(DOCKER_IMAGE_PREFIX):
                    refs.append(value[len(DOCKER_IMAGE_PREFIX):])
        out: dict[str, tuple[str, bool] | None] = {}
        for ref in dict.fromkeys(refs):
            try:
                info = self.client.inspect_image(ref)
            except docker.errors.APIError:
                out[ref] = None
                continue
            onbuild = bool((info.get("Config") or {}).get("OnBuild"))
            out[ref] = (str(info["Id"]), onbuild)
        return out

    async def _key_of(self, node: Node, images: Mapping[str, tuple[str, bool] | None],
                      ) -> str | None:
        sources: dict[Source, str | None] = {}
        onbuild = False
        for src in node.stage.sources:
            value: str | None = None
            if src.kind is SourceKind.STAGE:
                assert src.stage is not None
                parent = self.plan.nodes[node.sources[src.stage]]
                value = self._keys.get(parent.id)
                if src == node.stage.base:
                    onbuild = any(i.keyword == "onbuild" for i in parent.stage.instructions)
            elif src.kind is SourceKind.IMAGE:
                found = images.get(src.ref)
                value = found[0] if found else None
                if src == node.stage.base:
                    # An image the daemon lacks may carry triggers that read anything.
                    onbuild = found[1] if found else True
            elif src.kind is SourceKind.CONTEXT:
                value = await self._context_key(node, src.ref, images)
                # Another target's image or a folder may carry triggers: assume so.
                onbuild = onbuild or src == node.stage.base
            sources[src] = value
        reads = context_reads(node.stage, base_has_onbuild=onbuild)
        self._reads[node.id] = WHOLE_READ if reads is None else reads
        if reads is None or any(v is None for s, v in sources.items()
                                if s.kind is not SourceKind.SCRATCH):
            return None
        digests: dict[tuple[str, ...], str] = {}
        if reads:
            snapshot = await self._snapshot(node)
            digests = await self._thread(lambda: {r: snapshot.digest_of(r) for r in reads})
        return node_key(node, backend=self.backend.name, sources=sources, context=digests,
                        base_has_onbuild=onbuild)

    async def _context_key(self, node: Node, name: str,
                           images: Mapping[str, tuple[str, bool] | None]) -> str | None:
        value = node.target.contexts.get(name, "")
        if value.startswith(TARGET_PREFIX):
            other = self.plan.targets.get(value[len(TARGET_PREFIX):])
            return self._keys.get(other.node) if other is not None else None
        if value.startswith(DOCKER_IMAGE_PREFIX):
            found = images.get(value[len(DOCKER_IMAGE_PREFIX):])
            return found[0] if found else None
        if not value:
            return None
        snapshot = await self._folder_snapshot(value)
        return "folder:" + await self._thread(lambda: snapshot.digest_of(["."]))

    def _labelled_images(self) -> dict[str, tuple[str, tuple[str, ...]]]:
        """The images this run may reuse, by key: one call. Only an image that
        bakery's own stage tag for the node points to counts: an image someone
        made FROM a bakery image inherits its key label, and is not bakery's."""
        wanted = {k: n for n, k in self._keys.items() if k}
        out: dict[str, tuple[str, tuple[str, ...]]] = {}
        for image in self.client.images(filters={"label": KEY_LABEL}):
            key = (image.get("Labels") or {}).get(KEY_LABEL)
            if not key or key not in wanted:
                continue
            tags = tuple(image.get("RepoTags") or ())
            if stage_tag(wanted[key]) in tags:
                out[key] = (str(image["Id"]), tags)
        return out

    def _reusable_image(self, node_id: str) -> tuple[str, tuple[str, ...]] | None:
        """The image of an earlier run for ``node_id`` and its tags, if it may be reused."""
        key = self._keys.get(node_id)
        if key is None or self._no_cache(self.plan.nodes[node_id]):
            return None
        return self._reusable.get(key)

    async def _reuse(self, node_id: str, nodes: tuple[str, ...] = ()) -> str | None:
        """The image of an earlier run for ``node_id``, tagged as this run's stage
        image, with ``nodes`` (the rest of a BuildKit target) recorded as cached;
        ``None`` when the node must be built."""
        found = self._reusable_image(node_id)
        if found is None:
            return None
        image_id, tags = found
        tag = stage_tag(node_id)
        if tag not in tags:
            repo, name = split_tag(tag)
            await self._thread(lambda: self.client.tag(image_id, repo, name, force=True))
        self._record_cached((*nodes, node_id), image_id)
        return image_id

    def _record_cached(self, nodes: tuple[str, ...], image_id: str | None = None) -> None:
        """``nodes`` were not built: recorded as cached, the last with ``image_id``."""
        now = trio.current_time()
        for done in nodes:
            if done not in self._state.results:
                image = image_id if done == nodes[-1] else None
                self._state.results[done] = NodeResult(done, Status.CACHED, now, now,
                                                       image_id=image)
                self.emit(NodeFinished(done, Status.CACHED, now, image_id=image))

    # -- contexts --------------------------------------------------------------------

    def _no_cache(self, node: Node) -> bool:
        """--no-cache, or ``no-cache = true`` on any target that shares the node."""
        return self.options.no_cache or any(
            self.plan.targets[t].target.no_cache for t in node.targets
            if t in self.plan.targets)

    async def _snapshot(self, node: Node) -> ContextSnapshot:
        """The context of ``node``'s target (a ``<Dockerfile>.dockerignore`` makes
        the same folder read differently for another Dockerfile)."""
        target = node.target
        dockerfile = target.dockerfile if target.dockerfile_inline is None else None
        return await self._folder_snapshot(target.context, dockerfile)

    async def _folder_snapshot(self, path: str, dockerfile: str | None = None) -> ContextSnapshot:
        """A context folder, read once per run for each ignore file."""
        key = f"{path}\0{dockerfile or ''}"
        lock = self._snapshot_locks.setdefault(key, trio.Lock())
        async with lock:
            if key not in self._snapshots:
                self._snapshots[key] = await self._thread(
                    lambda: ContextSnapshot.read(Path(path), dockerfile=dockerfile,
                                                 cache=self._digests))
        return self._snapshots[key]

    async def _context_tar(self, node: Node, emitted: EmittedDockerfile) -> tuple[bytes, str]:
        """The tar for one node on the classic builder, and its Dockerfile's name."""
        text = emitted.text.encode()
        if not (emitted.uses_context or self._base_has_onbuild(node)):
            return _tar({DOCKERFILE_IN_TAR: text}), DOCKERFILE_IN_TAR
        snapshot = await self._snapshot(node)
        name, ignore = _hidden_dockerfile(snapshot)
        extra = {name: text, ".dockerignore": ignore}
        sources = self._sources_read((node.id,))
        return await self._thread(lambda: snapshot.tar(extra=extra, include=sources)), name

    def _base_has_onbuild(self, node: Node) -> bool:
        base = node.stage.base
        if base.kind is SourceKind.STAGE:
            parent = self.plan.nodes[node.sources[base.stage or 0]]
            return any(i.keyword == "onbuild" for i in parent.stage.instructions)
        # An external image, or another target's, may carry ONBUILD triggers that
        # read the context.
        return base.kind in (SourceKind.IMAGE, SourceKind.CONTEXT)

    async def _context_ref(self, node: Node, name: str) -> str:
        value = node.target.contexts[name]
        if value.startswith(TARGET_PREFIX):
            other = self.plan.targets[value[len(TARGET_PREFIX):]]
            return stage_tag(other.node)
        if value.startswith(DOCKER_IMAGE_PREFIX):
            return value[len(DOCKER_IMAGE_PREFIX):]
        return await self._context_image(value)

    async def _context_image(self, path: str) -> str:
        """A folder used as a named context becomes an image of its files."""
        if path not in self._context_images:
            snapshot = await self._folder_snapshot(path)
            name, ignore = _hidden_dockerfile(snapshot)
            extra = {name: b"FROM scratch\nCOPY . /\n", ".dockerignore": ignore}
            tar = await self._thread(lambda: snapshot.tar(extra=extra))
            tag = f"{STAGE_REPO}:context-{hashlib.sha256(path.encode()).hexdigest()[:12]}"
            spec = BuildSpec(context=tar, tag=tag, dockerfile=name,
                             labels={NODE_LABEL: "context", ROLE_LABEL: "stage",
                                     REPO_LABEL: STAGE_REPO})
            # Always the classic builder: it removes the Dockerfile from what
            # COPY sees (BuildKit, given a tar, would copy it too).
            await self._cancellable_build("context", spec, builder=ClassicBackend(self.client))
            self._context_images[path] = tag
        return self._context_images[path]

    # -- targets and tags ------------------------------------------------------------

    def _preflight(self) -> None:
        """What would fail part-way through is checked before anything is built."""
        for name, planned in self.plan.targets.items():
            target = planned.target
            where = f"target.{name}"
            folders = [("context", target.context)] + [
                (f"contexts.{k}", v) for k, v in target.contexts.items()
                if not v.startswith((TARGET_PREFIX, DOCKER_IMAGE_PREFIX))]
            for key, folder in folders:
                if not os.path.isdir(folder):
                    raise ConfigError(f"{key}: folder {folder} does not exist", where=where,
                                      hint="a context is a folder, relative to the bake file")
            final = self.plan.nodes[planned.node].stage
            last = len(self.plan.nodes[planned.node].graph.stages) - 1
            if self.backend.name == "buildkit" and final.written_name is None \
                    and final.index != last:
                raise ConfigError(
                    f"stage {final.index} has no name, so BuildKit cannot build it as a "
                    "target", where=where,
                    hint="name it (FROM ... AS name), or build with --builder classic")
            if target.output and target.output.startswith("type=local"):
                dest = _output_dest(target.output)
                if os.path.exists(dest) and not os.path.isdir(dest):
                    raise ConfigError(f"output: {dest} exists and is not a folder",
                                      where=where, hint="name a folder for type=local")

    def _pull_images(self) -> None:
        """Refresh the external images of targets that ask for it, before any build."""
        images: dict[str, str] = {}
        for name, planned in self.plan.targets.items():
            if self.options.pull or planned.target.pull:
                for node_id in planned.nodes:
                    for image in self.plan.nodes[node_id].external_images:
                        images.setdefault(image, name)
        for image, name in images.items():
            repo, tag = split_tag(image)
            try:
                self.client.pull(repo, tag=tag)
            except docker.errors.APIError as err:
                raise BuildFailed(
                    f"cannot pull {image}: {err.explanation or err}", where=f"target.{name}",
                    hint="check the image name and that its registry is reachable, "
                         "or build without --pull / pull = true to use the local image",
                ) from None

    def _previous_tags(self) -> dict[str, dict[str, str | None]]:
        out: dict[str, dict[str, str | None]] = {}
        for name, planned in self.plan.targets.items():
            out[name] = {tag: self._image_id(tag) for tag in planned.target.tags}
        return out

    def _image_id(self, ref: str) -> str | None:
        try:
            return str(self.client.inspect_image(ref)["Id"])
        except docker.errors.ImageNotFound:
            return None

    async def _finish_target(
        self, name: str, image_id: str, previous: Mapping[str, str | None],
    ) -> TargetResult:
        target = self.plan.targets[name].target
        tags = target.tags
        await self._thread(lambda: self._tag(image_id, tags))
        if target.output and target.output.startswith("type=local"):
            dest = _output_dest(target.output)
            try:
                await self._thread(lambda: export_image(self.client, image_id, Path(dest)))
            except OSError as err:
                raise BuildFailed(f"cannot write the image's files to {dest}: {err}",
                                  where=f"target.{name}", hint="check the output folder") \
                    from None
        results = self._state.results
        cached = all(n in results and results[n].status is Status.CACHED
                     for n in self.plan.targets[name].nodes)
        status = Status.CACHED if cached else Status.BUILT
        result = TargetResult(name, status, image_id=image_id, tags=tags,
                              previous=dict(previous))
        self.emit(TargetFinished(name, status, image_id=image_id, tags=tags))
        return result

    def _tag(self, image_id: str, tags: tuple[str, ...]) -> None:
        for ref in tags:
            repo, tag = split_tag(ref)
            self.client.tag(image_id, repo, tag, force=True)

    def _target_result(self, name: str, previous: Mapping[str, str | None]) -> TargetResult:
        planned = self.plan.targets[name]
        results = self._state.results
        failed = [n for n in planned.nodes if results[n].status is Status.FAILED]
        if failed:
            return TargetResult(name, Status.FAILED, previous=dict(previous),
                                reason=f"{self._label(failed[0])} failed")
        final = results[planned.node]
        return TargetResult(name, Status.NOT_STARTED, previous=dict(previous),
                            reason=final.reason or "not started")

    # -- helpers ---------------------------------------------------------------------

    def _label(self, node_id: str | None) -> str:
        if node_id is None or node_id not in self.plan.nodes:
            return "a build"
        return self.plan.nodes[node_id].label

    async def _thread(self, fn: Callable[[], T]) -> T:
        return await trio.to_thread.run_sync(fn, limiter=self._io_limiter)

    @property
    def _io_limiter(self) -> trio.CapacityLimiter:
        if not hasattr(self, "_io"):
            self._io = trio.CapacityLimiter(8)
        return self._io


def _label_line(labels: Mapping[str, str], escape: str = "\\") -> str:
    """``LABEL "k"="v" ...``, quoted so that no value is expanded or split."""
    def quote(text: str) -> str:
        body = "".join(escape + c if c in ('"', "$", escape) else c for c in text)
        return f'"{body}"'
    return "LABEL " + " ".join(f"{quote(k)}={quote(v)}" for k, v in labels.items())


def _output_dest(output: str) -> str:
    return dict(o.split("=", 1) for o in output.split(",") if "=" in o)["dest"]


def export_image(client: Any, image_id: str, dest: Path) -> None:
    """Write the files of an image into the folder ``dest`` (``output = "type=local"``):
    its layers from ``docker save``, applied in order, whiteouts included."""
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryFile() as saved:
        for chunk in client.get_image(image_id):
            saved.write(chunk)
        saved.seek(0)
        with tarfile.open(fileobj=saved) as image:
            manifest = image.extractfile("manifest.json")
            assert manifest is not None
            for layer_name in json.load(manifest)[0]["Layers"]:
                layer = image.extractfile(layer_name)
                assert layer is not None
                with tarfile.open(fileobj=layer) as tar:
                    _apply_layer(tar, dest)


def _apply_layer(tar: tarfile.TarFile, dest: Path) -> None:
    keep = []
    for member in tar:
        parent, _, base = member.name.rstrip("/").rpartition("/")
        if base == ".wh..wh..opq":
            folder = dest / parent
            for child in folder.iterdir() if folder.is_dir() else ():
                _remove(child)
        elif base.startswith(".wh."):
            _remove(dest / parent / base[len(".wh."):])
        else:
            target = dest / member.name
            if target.is_symlink() or (target.exists() and not target.is_dir()):
                target.unlink()
            keep.append(member)
    tar.extractall(dest, members=keep, filter="tar")


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def _hidden_dockerfile(snapshot: ContextSnapshot) -> tuple[str, bytes]:
    """A name for bakery's Dockerfile in the tar, and the .dockerignore to send,
    such that the classic builder removes both from the context it builds with
    (it removes the Dockerfile and .dockerignore when .dockerignore matches them),
    so that ``COPY . .`` sees exactly the user's files.

    The context is already filtered by the user's rules. When the user's own
    .dockerignore is part of what the build sees, it must go unchanged: then the
    Dockerfile takes the name of a file the user's rules exclude (so it matches
    them, and no real file has it). Only when no such name exists does the
    .dockerignore get one line more."""
    hide = f"{DOCKERFILE_IN_TAR}\n".encode()
    if ".dockerignore" not in snapshot.files:
        return DOCKERFILE_IN_TAR, b".dockerignore\n" + hide
    current = (snapshot.root / ".dockerignore").read_bytes()
    # The daemon reads the root .dockerignore, whichever ignore file chose the files.
    rules = parse_dockerignore(current.decode("utf-8", "surrogateescape"))
    taken = set(snapshot.files)
    for pattern in rules.patterns:
        name = pattern.text
        if (pattern.exclusion or pattern.kind.value != "exact" or not name or "/" in name
                or name in taken or any(p.startswith(name + "/") for p in taken)
                or not rules.excluded(name)):
            continue
        return name, current
    return DOCKERFILE_IN_TAR, current.rstrip(b"\n") + b"\n" + hide


def _tar(files: Mapping[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _hosts(entries: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for entry in entries:
        host, _, ip = entry.partition(":")
        if not ip:
            host, _, ip = entry.partition("=")
        out[host] = ip
    return out


_UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3}


def _bytes(size: str | None) -> int | None:
    if size is None:
        return None
    match = re.fullmatch(r"\s*(\d+)\s*([bkmg]?)b?\s*", size.lower())
    if not match:
        return None
    return int(match.group(1)) * _UNITS[match.group(2)]


def _line_for_step(node: Node, step: str, *, classic: bool) -> int | None:
    """The line of the instruction a builder's step name shows: classic's
    ``Step 3/5 : RUN make`` counts the instructions of the Dockerfile bakery sent
    (the global ARGs, then the stage); BuildKit's ``[build 2/3] RUN make`` counts
    the stage's own, FROM first. Failing that, the step's text is matched."""
    instructions = node.stage.instructions
    classic_step = re.match(r"^Step (\d+)/\d+ : ", step)
    buildkit_step = re.match(r"^\[(?:\S+ )?(\d+)/\d+\]", step)
    text = step
    if classic and classic_step:
        globals_ = [i for i in node.graph.dockerfile.instructions[:_first_from(node)]
                    if i.keyword == "arg"]
        n = int(classic_step.group(1)) - len(globals_) - 1
        if 0 <= n < len(instructions):
            return instructions[n].start_line
        text = step[classic_step.end():]
    elif buildkit_step:
        text = step[buildkit_step.end():]
    keyword, _, rest = text.strip().partition(" ")
    rest = " ".join(rest.split())
    escape = node.graph.dockerfile.escape
    candidates = [i for i in instructions if i.keyword == keyword.lower()]
    for ins in candidates:
        body = " ".join(ins.original.replace(escape + "\n", " ").split())
        if rest and rest in body:
            return ins.start_line
    if not classic and buildkit_step:
        n = int(buildkit_step.group(1)) - 1
        if 0 <= n < len(instructions) and instructions[n].keyword == keyword.lower():
            return instructions[n].start_line
    return candidates[0].start_line if len(candidates) == 1 else None


def _first_from(node: Node) -> int:
    return next(i for i, ins in enumerate(node.graph.dockerfile.instructions)
                if ins.keyword == "from")


def _all_steps_done(steps: Mapping[str, list[Any]]) -> bool:
    """Every step of a stage finished: the last one (``[base 4/4] ...``) among them."""
    if not steps or any(end is None for _, end, _ in steps.values()):
        return False
    for name in steps:
        match = re.match(r"^\[(?:\S+ )?(\d+)/(\d+)\]", name)
        if match and match.group(1) == match.group(2):
            return True
    return False


_STEP = re.compile(r"^\[(?:(?P<stage>[^\s\]]+) )?\d+/\d+\]")


class _StageTracker:
    """Turns the steps of one BuildKit build into stage (node) events.

    Builds that run together share a stage's steps; the first build to show a
    step of a stage owns that stage's events, so it is reported once. A stage's
    time is the span of its own steps (not the FROM lines, which BuildKit
    resolves early); a stage none of whose steps ran is ``cached``."""

    def __init__(self, runner: Runner, nodes: tuple[str, ...]) -> None:
        self.runner = runner
        self.nodes = nodes
        self.by_stage: dict[str, str] = {}
        for node_id in nodes:
            stage = runner.plan.nodes[node_id].stage
            self.by_stage[f"stage-{stage.index}"] = node_id
            if stage.name:
                self.by_stage[stage.name] = node_id
        self.single = nodes[-1] if len(nodes) == 1 else None
        # node -> step name -> [started at, completed at, cached]
        self.steps: dict[str, dict[str, list[Any]]] = {}
        self.ended = False  # this build is over (failed or cancelled) without finishing
        self.no_cache = False

    def node_of(self, step: str | None) -> str | None:
        if not step:
            return None
        match = _STEP.match(step)
        if not match:
            return None
        stage = match.group("stage")
        if stage is None:
            # A one-stage build names its steps "[2/3] ...".
            return self.single or self.nodes[-1]
        return self.by_stage.get(stage.lower())

    def _mine(self, node_id: str) -> bool:
        if node_id in self.runner._state.results:
            return False
        return self.runner._owners.setdefault(node_id, self) is self

    def feed(self, event: ProgressEvent) -> None:
        step = event.name if isinstance(event, StepEvent) else event.step
        node_id = self.node_of(step)
        if node_id is None or step is None or not self._mine(node_id):
            return
        now = trio.current_time()
        if (isinstance(event, StepEvent) and (event.started or event.completed or event.cached)
                and not _STEP.sub("", step).strip().startswith("FROM ")):
            steps = self.steps.setdefault(node_id, {})
            if not steps:
                self.runner._started[node_id] = now
                self.runner.emit(NodeStarted(node_id, now))
            entry = steps.setdefault(step, [now, None, False])
            if event.completed or event.cached:
                entry[1] = now
                entry[2] = event.cached
        self.runner.emit(NodeProgress(node_id, event))

    def finish(self, image_id: str) -> None:
        now = trio.current_time()
        state = self.runner._state
        for node_id in self.nodes:
            if node_id in state.results:
                continue
            owner = self.runner._owners.get(node_id)
            if owner is not None and owner is not self and not owner.ended:
                continue  # the build that runs it reports it when it ends
            steps = list(self.steps.get(node_id, {}).values())
            # No step of its own seen: merged into another build's, or from cache.
            cached = all(cached for _, _, cached in steps) and not (
                not steps and self.no_cache)
            status = Status.CACHED if cached else Status.BUILT
            start = min((s for s, _, _ in steps), default=now)
            end = max((e or now for _, e, _ in steps), default=now)
            state.results[node_id] = NodeResult(
                node_id, status, start, end,
                image_id=image_id if node_id == self.nodes[-1] else None)
            self.runner.emit(NodeFinished(node_id, status, end))

    def _close(self, node_id: str, status: Status, reason: str) -> None:
        """Record a stage of a build that ended early: built (or cached) when every
        one of its steps had finished, else ``status`` with ``reason``."""
        now = trio.current_time()
        steps = self.steps.get(node_id, {})
        done = list(steps.values())
        start: float | None = None
        why: str | None = reason
        if _all_steps_done(steps):
            status = Status.CACHED if all(c for _, _, c in done) else Status.BUILT
            start, now, why = min(st for st, _, _ in done), max(e for _, e, _ in done), None
        elif status is Status.CANCELLED:
            start = self.runner._started.get(node_id, now)
        self.runner._state.results[node_id] = NodeResult(
            node_id, status, start, now if start is not None else None, reason=why)
        self.runner.emit(NodeFinished(node_id, status, now, reason=why))

    def settle(self, reason: str) -> None:
        """After a failure: stages whose steps all finished here were built; stages
        another running build owns are left to it; the rest did not start."""
        for node_id in self.nodes:
            owner = self.runner._owners.get(node_id)
            if node_id in self.runner._state.results or (
                    owner is not None and owner is not self and not owner.ended):
                continue
            self._close(node_id, Status.NOT_STARTED, reason)

    def fail(self, node_id: str, error: BuildFailed) -> None:
        self.ended = True
        now = trio.current_time()
        state = self.runner._state
        start = self.runner._started.get(node_id, now)
        state.results[node_id] = NodeResult(node_id, Status.FAILED, start, now, error=error)
        self.runner.emit(NodeFinished(node_id, Status.FAILED, now, error=error))

    def cancel(self) -> None:
        """The build was stopped: the stages it had running are cancelled."""
        self.ended = True
        state = self.runner._state
        reason = "interrupted" if state.interrupted else (
            f"stopped after {self.runner._label(state.first_failure)} failed")
        for node_id in self.steps:
            if node_id not in state.results:
                self._close(node_id, Status.CANCELLED, reason)
