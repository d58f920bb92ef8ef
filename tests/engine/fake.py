"""A fake daemon for runner tests: a builder on trio's clock and an image store.

``FakeBuilder`` implements the runner's ``Builder`` interface. Each plan node
"runs" for the seconds its stage name is given (0 by default), shows one step
and one log line, and fails where told. Like BuildKit, a BuildKit build runs
every stage its target needs up to the images bakery names in its place, and
builds that run together share a stage: the second waits for the first's run
and shows nothing of it. Every build and every stage run is recorded with its
virtual start and end, so that tests assert exact times and orders.
"""

from __future__ import annotations

import io
import re
import tarfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import trio

from bakery.core.plan import Plan, make_plan
from bakery.engine import labels
from bakery.engine.backend import BuildFailed, BuildOutput, BuildSpec, LogEvent, Progress, StepEvent
from bakery.engine.cache import CacheMiss, Pulled
from bakery.engine.events import Event
from bakery.engine.images import ImageUnavailable, LabelledImage
from bakery.engine.runner import Runner, RunOptions
from bakery.project import DockerfileCache, load

_LABEL = re.compile(r'"(dev\.bakery\.[a-z]+)"="([^"]*)"')


@dataclass
class Run:
    """One stage run on the fake daemon."""

    stage: str
    build: str  # the tag of the build that ran it
    start: float
    end: float | None = None
    outcome: str = "running"  # built, failed, cancelled


@dataclass
class FakeImages:
    """The fake daemon's images: tag -> ID, ID -> labels."""

    tags: dict[str, str] = field(default_factory=dict)
    labels: dict[str, dict[str, str]] = field(default_factory=dict)
    bases: dict[str, tuple[str, bool]] = field(default_factory=dict)
    pulls: list[str] = field(default_factory=list)
    unpullable: set[str] = field(default_factory=set)
    exported: dict[str, Path] = field(default_factory=dict)

    def image_id(self, ref: str) -> str | None:
        return self.tags.get(ref)

    def base(self, ref: str) -> tuple[str, bool] | None:
        return self.bases.get(ref)

    def tag(self, image_id: str, refs: tuple[str, ...]) -> None:
        for ref in refs:
            self.tags[ref] = image_id

    def labelled(self, label: str) -> list[LabelledImage]:
        return [
            LabelledImage(i, dict(lab), tuple(t for t, v in self.tags.items() if v == i))
            for i, lab in self.labels.items()
            if label in lab
        ]

    def pull(self, ref: str) -> None:
        self.pulls.append(ref)
        if ref in self.unpullable:
            raise ImageUnavailable(f"pull access denied for {ref}")

    def export(self, image_id: str, dest: Path) -> None:
        if dest.exists() and not dest.is_dir():
            raise NotADirectoryError(f"{dest} is not a folder")
        self.exported[image_id] = dest


@dataclass
class FakeCache:
    """A registry cache: key -> image ID, shared between fake daemons."""

    images: FakeImages
    repo: str = "127.0.0.1:5000/cache"
    store: dict[str, str] = field(default_factory=dict)
    asked: list[str] = field(default_factory=list)
    pushed: list[str] = field(default_factory=list)
    down: bool = False  # the registry does not answer
    mislabelled: set[str] = field(default_factory=set)  # keys whose image is someone else's
    refuse_pushes: bool = False

    def ref(self, key: str) -> str:
        return f"{self.repo}:{key}"

    def has(self, key: str) -> bool:
        self.asked.append(key)
        if self.down:
            raise CacheMiss("dial tcp 127.0.0.1:5000: connection refused")
        return key in self.store

    def pull(self, key: str) -> Pulled:
        image_id = self.store[key]
        self.images.tags[self.ref(key)] = image_id
        label = "someone-else" if key in self.mislabelled else key
        self.images.labels[image_id] = {
            **self.images.labels.get(image_id, {}),
            labels.KEY_LABEL: label,
        }
        if key in self.mislabelled:
            raise CacheMiss(f"{self.ref(key)} does not carry the stage key it is tagged with")
        return Pulled(image_id, 1000)

    def forget(self, key: str) -> None:
        self.images.tags.pop(self.ref(key), None)

    def push(self, image_id: str, key: str) -> None:
        if self.refuse_pushes:
            raise CacheMiss("denied: requested access to the resource is denied")
        self.store[key] = image_id
        self.pushed.append(key)


class FakeBuilder:
    def __init__(
        self,
        plan: Plan,
        images: FakeImages,
        *,
        name: str = "buildkit",
        seconds: Mapping[str, float] | None = None,
        fail: Mapping[str, int] | None = None,
        cached: set[str] | None = None,
    ) -> None:
        self.plan = plan
        self.images = images
        self.name = name
        self.seconds = dict(seconds or {})
        self.fail = dict(fail or {})  # stage -> exit status
        self.cached = cached or set()  # stages the daemon's cache holds
        self.builds: list[tuple[float, str]] = []  # (start, tag) of every build call
        self.runs: list[Run] = []
        self._shared: dict[str, trio.Event] = {}  # node -> its run has ended
        self._failed: dict[str, BuildFailed] = {}  # node -> how its run failed
        self._count = 0

    def stage_of(self, node_id: str) -> str:
        return self.plan.nodes[node_id].stage.display_name

    def started(self, stage: str) -> list[float]:
        return [r.start for r in self.runs if r.stage == stage]

    async def build(self, spec: BuildSpec, progress: Progress) -> BuildOutput:
        self.builds.append((trio.current_time(), spec.tag))
        top = spec.tag.rpartition(":")[2]
        text = _dockerfile(spec)
        if self.name == "classic" or top not in self.plan.nodes:
            nodes = [top] if top in self.plan.nodes else []
        else:
            given = set(re.findall(rf"{re.escape(labels.STAGE_REPO)}:([0-9a-f]{{12}})", text))
            nodes = self._unit(top, given)
        for node_id in nodes:
            await self._run(node_id, spec, progress)
        self._count += 1
        image_id = f"sha256:{self._count:064x}"
        self.images.tags[spec.tag] = image_id
        self.images.labels[image_id] = {**dict(_LABEL.findall(text)), **spec.labels}
        return BuildOutput(image_id)

    def _unit(self, top: str, given: set[str]) -> list[str]:
        seen: set[str] = set()
        todo = [top]
        while todo:
            node_id = todo.pop()
            if node_id in seen or (node_id in given and node_id != top):
                continue
            seen.add(node_id)
            todo.extend(self.plan.nodes[node_id].sources.values())
        return [n for n in self.plan.nodes if n in seen]

    async def _run(self, node_id: str, spec: BuildSpec, progress: Progress) -> None:
        stage = self.stage_of(node_id)
        if self.name == "buildkit" and node_id in self._shared and not spec.no_cache:
            await self._shared[node_id].wait()  # merged with the build that runs it
            if node_id in self._failed:
                raise self._failed[node_id]
            return
        done = self._shared.setdefault(node_id, trio.Event())
        # The stage's last instruction, as each builder names its step.
        instructions = self.plan.nodes[node_id].stage.instructions
        last = f"{len(instructions)}/{len(instructions)}"
        text = instructions[-1].original.split("\n")[0]
        step = f"Step {last} : {text}" if self.name == "classic" else f"[{stage} {last}] {text}"
        if stage in self.cached and not spec.no_cache:
            progress(StepEvent(step, cached=True))
            done.set()
            return
        run = Run(stage, spec.tag, trio.current_time())
        self.runs.append(run)
        progress(StepEvent(step, started=True))
        progress(LogEvent(f"running {stage}", step=step))
        try:
            await trio.sleep(self.seconds.get(stage, 0))
        except trio.Cancelled:
            run.end, run.outcome = trio.current_time(), "cancelled"
            raise
        finally:
            done.set()
        run.end = trio.current_time()
        if stage in self.fail:
            run.outcome = "failed"
            self._failed[node_id] = BuildFailed(
                f"process did not complete: exit code {self.fail[stage]}",
                step=step,
                exit_status=self.fail[stage],
            )
            raise self._failed[node_id]
        run.outcome = "built"
        progress(StepEvent(step, completed=True))


def _dockerfile(spec: BuildSpec) -> str:
    body = spec.context if isinstance(spec.context, bytes) else spec.context.read_all()
    with tarfile.open(fileobj=io.BytesIO(body)) as tar:
        member = tar.extractfile(spec.dockerfile)
        return member.read().decode() if member is not None else ""


async def inline(fn):  # type: ignore[no-untyped-def]
    """Blocking work done at once, on trio's clock (no thread)."""
    return fn()


def write_project(root: Path, files: Mapping[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def plan_of(root: Path, *names: str, sets: tuple[str, ...] = ()) -> Plan:
    project = load(["bake.toml"], cwd=root, cli_vars={}, sets=sets, env={})
    return make_plan(project.targets, project.select(list(names)), DockerfileCache().graph)


@dataclass
class Harness:
    """A plan, its fake daemon, and the events of a run."""

    plan: Plan
    builder: FakeBuilder
    images: FakeImages
    events: list[Event] = field(default_factory=list)
    cache: FakeCache | None = None
    warnings: list[str] = field(default_factory=list)

    def runner(self, **options: object) -> Runner:
        return Runner(
            self.plan,
            self.builder,
            self.images,
            RunOptions(**options),  # type: ignore[arg-type]
            self.events.append,
            offload=inline,
            cache=self.cache,
            warn=self.warnings.append,
        )


def harness(
    root: Path,
    files: Mapping[str, str],
    *names: str,
    builder: str = "buildkit",
    bases: Mapping[str, str] | None = None,
    **fake: object,
) -> Harness:
    write_project(root, files)
    plan = plan_of(root, *names)
    images = FakeImages(bases={ref: (image, False) for ref, image in (bases or {}).items()})
    return Harness(plan, FakeBuilder(plan, images, name=builder, **fake), images)  # type: ignore[arg-type]
