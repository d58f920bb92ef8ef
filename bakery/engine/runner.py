"""Carries out a plan on one daemon with trio, as the schedule decides.

The schedule (``bakery.core.scheduler``) says which builds may start, which
reuse an earlier image and which are skipped; the runner does the work: it
reads contexts, sends each build to the daemon in a task of its own, tags what
was made, and tells the schedule what happened. Each plan node is built at
most once, as an image tagged under bakery's repository
(``bakery-stage:<node id>``). Blocking calls run in worker threads; a
cancelled build stops on the daemon. Targets are tagged only when their image
is built or reused. The runner never prints: it emits events.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import trio

from bakery.core.builds import Build, BuildKind, no_cache
from bakery.core.plan import Node, Plan
from bakery.core.rewrite import with_refs
from bakery.core.scheduler import Action, Do, Scheduler
from bakery.core.stages import Source, SourceKind
from bakery.core.status import Status
from bakery.engine import preflight
from bakery.engine.backend import (
    BuildFailed,
    BuildSpec,
    DaemonUnreachable,
    ProgressEvent,
    StepEvent,
)
from bakery.engine.buildkit_stages import StageTracker
from bakery.engine.cache import Cache
from bakery.engine.cache_use import CacheUse
from bakery.engine.digests import DigestCache
from bakery.engine.events import Event, RunResult, TargetFinished, TargetResult
from bakery.engine.images import ImageStore
from bakery.engine.labels import node_labels, stage_tag
from bakery.engine.named_contexts import NamedContexts
from bakery.engine.record import Record
from bakery.engine.reuse import StageKeys, stage_keys
from bakery.engine.share import Handover, Share
from bakery.engine.signals import stop_on_signal
from bakery.engine.snapshots import Offload, Snapshots, threads
from bakery.engine.specs import (
    DOCKERFILE_IN_TAR,
    base_has_onbuild,
    classic_dockerfile,
    classic_spec,
    dockerfile_in_context,
    hidden_dockerfile,
    locate,
    output_dest,
    small_tar,
    sources_read,
    target_spec,
)
from bakery.engine.splits import daemon_builds
from bakery.engine.tar_stream import TarStream
from bakery.engine.threaded import Builder


@dataclass(frozen=True)
class RunOptions:
    jobs: int = 4
    keep_going: bool = False
    no_cache: bool = False
    pull: bool = False  # pull every external image first (targets may ask with pull = true)
    state_dir: Path | None = None  # the project's .bakery folder: the context digest cache
    allow: frozenset[str] = frozenset()  # entitlements granted (--allow network.host)


class Runner:
    """Runs one plan. ``folder_builder`` turns a folder used as a named context
    into an image (the classic builder: it hides its Dockerfile from COPY)."""

    def __init__(
        self,
        plan: Plan,
        builder: Builder,
        images: ImageStore,
        options: RunOptions,
        emit: Callable[[Event], None],
        *,
        folder_builder: Builder | None = None,
        offload: Offload | None = None,
        cache: Cache | None = None,
        warn: Callable[[str], None] = lambda _message: None,
        share: Share | None = None,
    ) -> None:
        """``cache``: the registry cache to pull nodes from and push them to;
        ``warn`` hears what went wrong on the side (a cache push that failed);
        ``share``: this daemon's part in a run on several daemons."""
        self.plan = plan
        self.builder = builder
        self.images = images
        self.options = options
        self.emit = emit
        self.folder_builder = folder_builder or builder
        self.cache = cache
        self.warn = warn
        self.share = share or Share()
        self.cached: CacheUse | None = None
        self.offload = offload or threads()
        self.digests: DigestCache | None = None
        self.snapshots = Snapshots(self.offload)
        self.keys = StageKeys()
        self.schedule = Scheduler(plan, [])
        self.record = Record(self.schedule, emit)
        self.targets: dict[str, TargetResult] = {}
        self._previous: dict[str, dict[str, str | None]] = {}
        self._splits: set[str] = set()
        self.contexts = NamedContexts(
            plan,
            self.snapshots,
            self.folder_builder,
            lambda event: self.record.progress("context", event),
        )
        self._nursery: trio.Nursery | None = None
        self._pushes: trio.Nursery | None = None
        self._halted: str | None = None
        self.lost: str | None = None  # the daemon went away during the run: how
        self._signal: int | None = None

    # -- the run ---------------------------------------------------------------------

    async def run(self, *, handle_signals: bool = False) -> RunResult:
        """Build every node of the plan; tag each target whose image was built."""
        preflight.check(self.plan, self.builder.name, self.options.allow)
        try:
            return await self._run(handle_signals)
        finally:
            if self.digests is not None:
                with contextlib.suppress(OSError):
                    self.digests.save()

    async def _run(self, handle_signals: bool) -> RunResult:
        wanted = preflight.images_to_pull(self.plan, pull_all=self.options.pull)
        await self.offload(lambda: preflight.pull_all(wanted, self.images.pull))
        self._previous = await self.offload(self._previous_tags)
        started = trio.current_time()
        if self.options.state_dir is not None:
            state_dir = self.options.state_dir
            self.digests = await self.offload(lambda: DigestCache.in_folder(state_dir))
            self.snapshots.digests = self.digests
        self.keys = await stage_keys(
            self.plan,
            self.builder.name,
            self.images,
            self.snapshots,
            no_cache_everywhere=self.options.no_cache,
        )
        handover = Handover(
            self.share,
            self.plan,
            self.keys.keys,
            buildkit=self.builder.name == "buildkit",
            enabled=self.cache is not None and not self.options.no_cache,
        )
        builds, self._splits = await daemon_builds(
            self.plan,
            self.builder.name,
            self.keys,
            self.snapshots,
            self.offload,
            no_cache_everywhere=self.options.no_cache,
            crossing=handover.crossing(),
        )
        pullable: set[str] = set()
        if self.cache is not None and not self.options.no_cache:
            self.cached = CacheUse(
                self.cache, self.keys.keys, self.images, self.offload, self.warn, handover=handover
            )
            pullable = await self.cached.pullable(self.plan, builds, self.keys.reusable)
        self.schedule = Scheduler(
            self.plan,
            builds,
            jobs=self.options.jobs,
            keep_going=self.options.keep_going,
            reusable={*self.keys.reusable, *pullable},
        )
        if self._halted is not None:
            self.schedule.halt(self._halted)
        if self._signal is not None:
            self.schedule.interrupt()
        self.record = Record(
            self.schedule, self.emit, on_failure=self.share.on_failure, on_finish=handover.settle
        )
        async with trio.open_nursery() as outer:
            if handle_signals:
                outer.start_soon(stop_on_signal, self.interrupt)
            # Cache pushes go on in the background; the run waits for them.
            async with trio.open_nursery() as pushes:
                self._pushes = pushes
                if self.cached is not None:
                    self.cached.pushes_in(pushes)
                async with trio.open_nursery() as nursery:
                    self._nursery = nursery
                    self._dispatch()
            outer.cancel_scope.cancel()
        return self.record.close(
            self.plan,
            self.targets,
            self._previous,
            started=started,
            signal=self._signal,
            backend=self.builder.name,
        )

    def _dispatch(self) -> None:
        """Start what the schedule says may start; stop everything when it says so."""
        assert self._nursery is not None
        for action in self.schedule.next():
            if action.do is Do.SKIP:
                self.record.not_started(action.nodes, action.reason or "")
            else:
                self._nursery.start_soon(self._carry_out, action)
        if self.schedule.stopping:
            self._nursery.cancel_scope.cancel()

    def interrupt(self, number: int) -> None:
        """Stop the running builds on the daemon: the run was interrupted by a signal."""
        self._signal = number  # for a schedule not made yet, too
        self.schedule.interrupt()
        for nursery in (self._nursery, self._pushes):
            if nursery is not None:
                nursery.cancel_scope.cancel()

    def halt(self, reason: str) -> None:
        """Stop the running builds for a reason from outside (a failure elsewhere)."""
        self._halted = self._halted or reason  # for a schedule not made yet, too
        self.schedule.halt(reason)
        if self._nursery is not None:
            self._nursery.cancel_scope.cancel()

    async def _carry_out(self, action: Action) -> None:
        build = action.build
        try:
            image_id: str | None = None
            if action.do is Do.BUILD:
                image_id = await self._build(build)
            elif action.do is Do.REUSE:
                image_id = await self._reuse(build.top, action.nodes)
                if image_id is None:  # the cache's image could not be had: build it
                    image_id = await self._build(build)
            elif action.do is Do.TAKE:
                image_id = self.record.results[build.top].image_id
            else:
                self.record.cached(action.nodes)
            if image_id is not None:
                for name in build.targets:
                    await self._finish_target(name, image_id)
        finally:
            self.schedule.build_ended(build.id)
        self._dispatch()

    async def _build(self, build: Build) -> str | None:
        if build.kind is BuildKind.NODE:
            image_id = await self._build_node(self.plan.nodes[build.top])
        else:
            image_id = await self._build_unit(build)
        if image_id is not None and self.cached is not None:
            self.cached.push(build.top, image_id)
        return image_id

    async def _send(self, spec: BuildSpec, progress: Callable[[ProgressEvent], None]) -> Any:
        """One build on the daemon; a daemon lost on the way fails the build (named)
        rather than the run, so that the report still comes, and the other
        daemons of a run on several go on."""
        try:
            return await self.builder.build(spec, progress)
        except DaemonUnreachable as err:
            self.lost = str(err)
            raise BuildFailed(str(err), hint=err.hint) from None

    # -- the classic builder: one node ---------------------------------------------------

    async def _build_node(self, node: Node) -> str | None:
        """Build one node; its image ID, or ``None`` when it failed (recorded)."""
        self.record.start(node.id)
        start = self.record.started[node.id]
        refs: dict[Source, str] = {}
        for src in node.stage.sources:
            if src.kind is SourceKind.STAGE:
                refs[src] = stage_tag(node.sources[src.stage or 0])
            elif src.kind is SourceKind.CONTEXT:
                refs[src] = await self.contexts.ref(node, src.ref)
        labels = node_labels(node.id, image=bool(node.final_for), key=self.keys.keys.get(node.id))
        for name in node.final_for:
            if name in self.plan.targets:
                labels.update(self.plan.targets[name].target.labels)
        emitted, multiline = classic_dockerfile(node, refs, labels)
        context, dockerfile = await self._classic_context(
            node, emitted.text.encode(), emitted.uses_context
        )
        spec = classic_spec(
            node,
            context=context,
            tag=stage_tag(node.id),
            dockerfile=dockerfile,
            labels=multiline,
            no_cache=no_cache(self.plan, node, self.options.no_cache),
        )
        steps: dict[str, bool] = {}

        def watch(event: ProgressEvent) -> None:
            if isinstance(event, StepEvent) and ": FROM " not in event.name:
                steps[event.name] = steps.get(event.name, False) or event.cached
            self.record.progress(node.id, event)

        try:
            output = await self._send(spec, watch)
        except BuildFailed as err:
            self.record.finish(
                node.id, Status.FAILED, start=start, error=locate(node, emitted, err, classic=True)
            )
            return None
        except trio.Cancelled:
            self.record.finish(
                node.id, Status.CANCELLED, start=start, reason=self.schedule.stop_reason()
            )
            raise
        cached = bool(steps) and all(steps.values())
        self.record.finish(
            node.id,
            Status.CACHED if cached else Status.BUILT,
            start=start,
            image_id=str(output.image_id),
        )
        return str(output.image_id)

    async def _classic_context(
        self, node: Node, text: bytes, uses_context: bool
    ) -> tuple[bytes | TarStream, str]:
        """The tar for one node on the classic builder, and its Dockerfile's name."""
        base = node.stage.base
        parent = (
            self.plan.nodes[node.sources[base.stage or 0]]
            if base.kind is SourceKind.STAGE
            else None
        )
        if not (uses_context or base_has_onbuild(node, parent)):
            return small_tar({DOCKERFILE_IN_TAR: text}), DOCKERFILE_IN_TAR
        snapshot = await self.snapshots.of_node(node)
        name, ignore = hidden_dockerfile(snapshot)
        extra = {name: text, ".dockerignore": ignore}
        include = sources_read(self.keys.reads, (node.id,))
        return snapshot.stream(extra=extra, include=include), name

    # -- BuildKit: a target, or a split-off stage ------------------------------------------

    async def _build_unit(self, build: Build) -> str | None:
        """One BuildKit build of ``build.top`` with its target's settings; its image
        ID, or ``None`` when it failed (recorded)."""
        top = self.plan.nodes[build.top]
        key = self.keys.keys.get(build.top)
        if build.kind is BuildKind.TARGET:
            target = self.plan.targets[build.targets[0]].target
            labels = {**target.labels, **node_labels(build.top, image=True, key=key)}
            unit_no_cache = self.options.no_cache or target.no_cache
        else:
            target = top.target
            labels = node_labels(build.top, image=bool(top.final_for), key=key)
            unit_no_cache = False
        refs: dict[Source, str] = {}
        from_splits = False
        for node_id in build.nodes:
            node = self.plan.nodes[node_id]
            for src in node.stage.sources:
                parent = node.sources.get(src.stage or 0) if src.kind is SourceKind.STAGE else None
                if parent in self._splits and parent not in build.nodes:
                    refs[src] = stage_tag(parent)
                    from_splits = True
                elif src.kind is SourceKind.CONTEXT:
                    refs[src] = await self.contexts.ref(node, src.ref)
        emitted = with_refs(top.graph, refs)
        snapshot = await self.snapshots.of_node(top)
        # Bakery's Dockerfile names split-off stages' images: it goes under a name of its own.
        dockerfile = DOCKERFILE_IN_TAR if from_splits else dockerfile_in_context(target, snapshot)
        include = sources_read(self.keys.reads, build.nodes)
        context = snapshot.stream(extra={dockerfile: emitted.text.encode()}, include=include)
        spec = target_spec(
            target,
            context=context,
            tag=stage_tag(build.top),
            dockerfile=dockerfile,
            stage=top.stage.written_name,
            labels=labels,
            no_cache=unit_no_cache,
        )
        tracker = StageTracker(self.plan, self.record, build.nodes, no_cache=spec.no_cache)
        try:
            output = await self._send(spec, tracker.feed)
        except BuildFailed as err:
            node = self.plan.nodes[tracker.node_of(err.step) or build.top]
            tracker.fail(node.id, locate(node, emitted, err, classic=False))
            tracker.settle(f"{node.label} failed")
            return None
        except trio.Cancelled:
            tracker.cancel(self.schedule.stop_reason())
            raise
        tracker.finish(str(output.image_id))
        return str(output.image_id)

    # -- images: reuse, contexts, targets -------------------------------------------------

    async def _reuse(self, node_id: str, nodes: tuple[str, ...]) -> str | None:
        """The earlier image of ``node_id``, tagged as this run's stage image, with
        ``nodes`` recorded as cached; or pulled from the registry cache (None when
        that fails)."""
        if node_id not in self.keys.reusable:
            assert self.cached is not None
            return await self.cached.pull(node_id, nodes, self.record)
        found = self.keys.reusable[node_id]
        if self.cached is not None:
            self.cached.push(node_id, found.id)  # a warm daemon fills an empty cache
        tag = stage_tag(node_id)
        if tag not in found.tags:
            await self.offload(lambda: self.images.tag(found.id, (tag,)))
        self.record.cached((*(n for n in nodes if n != node_id), node_id), found.id)
        return found.id

    def _previous_tags(self) -> dict[str, dict[str, str | None]]:
        return {
            name: {tag: self.images.image_id(tag) for tag in planned.target.tags}
            for name, planned in self.plan.targets.items()
        }

    async def _finish_target(self, name: str, image_id: str) -> None:
        target = self.plan.targets[name].target
        tags = target.tags
        await self.offload(lambda: self.images.tag(image_id, tags))
        if target.output and target.output.startswith("type=local"):
            dest = output_dest(target.output)
            try:
                await self.offload(lambda: self.images.export(image_id, Path(dest)))
            except OSError as err:
                raise BuildFailed(
                    f"cannot write the image's files to {dest}: {err}",
                    where=f"target.{name}",
                    hint="check the output folder",
                ) from None
        status = self.schedule.target_succeeded(name)
        self.targets[name] = TargetResult(
            name, status, image_id=image_id, tags=tags, previous=dict(self._previous.get(name, {}))
        )
        self.emit(TargetFinished(name, status, image_id=image_id, tags=tags))
