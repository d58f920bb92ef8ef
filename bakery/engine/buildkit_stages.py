"""BuildKit: the stages of one build, followed through its step names.

A BuildKit build of a target runs several plan nodes (its stages); the daemon
names each step ``[stage n/m] ...``. Builds that run together share a stage's
steps: the first build to show a step of a stage owns that stage's events, so
it is reported once. A stage's time is the span of its own steps (not the FROM
lines, which BuildKit resolves early); a stage none of whose steps ran is
``cached``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import trio

from bakery.core.plan import Plan
from bakery.core.status import Status
from bakery.engine.backend import BuildFailed, ProgressEvent, StepEvent
from bakery.engine.record import Record
from bakery.engine.registry import metadata_image, normalize

_STEP = re.compile(r"^\[(?:(?P<stage>[^\s\]]+) )?\d+/\d+\]")
_LAST = re.compile(r"^\[(?:\S+ )?(\d+)/(\d+)\]")

# node -> step name -> [started at, completed at or None, cached]
Steps = dict[str, list[float | bool | None]]


class StageTracker:
    """Turns the steps of one BuildKit build of ``nodes`` into node events."""

    def __init__(
        self, plan: Plan, record: Record, nodes: tuple[str, ...], *, no_cache: bool = False
    ) -> None:
        self.plan = plan
        self.record = record
        self.nodes = nodes
        self.no_cache = no_cache
        self.by_stage: dict[str, str] = {}
        for node_id in nodes:
            stage = plan.nodes[node_id].stage
            self.by_stage[f"stage-{stage.index}"] = node_id
            if stage.name:
                self.by_stage[stage.name] = node_id
        self.steps: dict[str, Steps] = {}
        self.ended = False  # this build is over (failed or cancelled) without finishing

    def node_of(self, step: str | None) -> str | None:
        if not step:
            return None
        pulled = metadata_image(step)
        if pulled is not None:
            # The stages that start from the image: the first of them is where it failed.
            wanted = normalize(pulled)
            return next(
                (
                    n
                    for n in self.nodes
                    if any(normalize(ref) == wanted for ref in self.plan.nodes[n].external_images)
                ),
                None,
            )
        match = _STEP.match(step)
        if not match:
            return None
        stage = match.group("stage")
        if stage is None:
            # A one-stage build names its steps "[2/3] ...".
            return self.nodes[-1]
        return self.by_stage.get(stage.lower())

    def _mine(self, node_id: str) -> bool:
        if self.record.has(node_id):
            return False
        return self.record.owners.setdefault(node_id, self) is self

    def _other_runs(self, node_id: str) -> bool:
        owner = self.record.owners.get(node_id)
        return isinstance(owner, StageTracker) and owner is not self and not owner.ended

    def feed(self, event: ProgressEvent) -> None:
        step = event.name if isinstance(event, StepEvent) else event.step
        node_id = self.node_of(step)
        if node_id is None or step is None or self.record.has(node_id):
            return
        if isinstance(event, StepEvent) and not (
            event.started or event.completed or event.cached or event.error
        ):
            return  # a step BuildKit has only declared: whichever build runs it says more
        # BuildKit runs a step two builds share once, and may report it to either
        # build, not always to the one that reported the stage first: each step is
        # shown from the build that reported it first, and only once.
        if self.record.step_owners.setdefault((node_id, step), self) is not self:
            return
        if not self._mine(node_id):
            self.record.progress(node_id, event)
            return
        now = trio.current_time()
        if (
            isinstance(event, StepEvent)
            and (event.started or event.completed or event.cached)
            and not _STEP.sub("", step).strip().startswith("FROM ")
        ):
            steps = self.steps.setdefault(node_id, {})
            if not steps:
                self.record.start(node_id)
            entry = steps.setdefault(step, [now, None, False])
            if event.completed or event.cached:
                entry[1] = now
                entry[2] = event.cached
        self.record.progress(node_id, event)

    def finish(self, image_id: str) -> None:
        """The build made its image: every stage it ran, and did not leave to a
        build still running, is built or cached."""
        now = trio.current_time()
        for node_id in self.nodes:
            if self.record.has(node_id) or self._other_runs(node_id):
                continue
            steps = list(self.steps.get(node_id, {}).values())
            # No step of its own seen: merged into another build's, or from cache.
            cached = all(c for _, _, c in steps) and not (not steps and self.no_cache)
            self.record.finish(
                node_id,
                Status.CACHED if cached else Status.BUILT,
                start=min((float(s or 0) for s, _, _ in steps), default=now),
                end=max((float(e or now) for _, e, _ in steps), default=now),
                image_id=image_id if node_id == self.nodes[-1] else None,
            )

    def fail(self, node_id: str, error: BuildFailed) -> None:
        self.ended = True
        self.record.finish(
            node_id,
            Status.FAILED,
            start=self.record.started.get(node_id, trio.current_time()),
            error=error,
        )

    def settle(self, reason: str) -> None:
        """After a failure: stages whose steps all finished here were built; stages
        another running build owns are left to it; the rest did not start."""
        for node_id in self.nodes:
            if not self.record.has(node_id) and not self._other_runs(node_id):
                self._close(node_id, Status.NOT_STARTED, reason)

    def cancel(self, reason: str) -> None:
        """The build was stopped: the stages it had running are cancelled."""
        self.ended = True
        for node_id in self.steps:
            if not self.record.has(node_id):
                self._close(node_id, Status.CANCELLED, reason)

    def _close(self, node_id: str, status: Status, reason: str) -> None:
        """Record a stage of a build that ended early: built (or cached) when every
        one of its steps had finished, else ``status`` with ``reason``."""
        steps = self.steps.get(node_id, {})
        done = list(steps.values())
        if _all_steps_done(steps):
            cached = all(c for _, _, c in done)
            self.record.finish(
                node_id,
                Status.CACHED if cached else Status.BUILT,
                start=min(float(s or 0) for s, _, _ in done),
                end=max(float(e or 0) for _, e, _ in done),
            )
        elif status is Status.CANCELLED:
            self.record.finish(
                node_id,
                status,
                reason=reason,
                start=self.record.started.get(node_id, trio.current_time()),
            )
        else:
            self.record.finish(node_id, status, reason=reason)


def _all_steps_done(steps: Mapping[str, list[float | bool | None]]) -> bool:
    """Every step of a stage finished: the last one (``[base 4/4] ...``) among them."""
    if not steps or any(end is None for _, end, _ in steps.values()):
        return False
    for name in steps:
        match = _LAST.match(name)
        if match and match.group(1) == match.group(2):
            return True
    return False
