"""The run's record of every node: results kept, events emitted, the schedule told.

Every component that learns a node's fate (the runner, the BuildKit step
tracker) reports it here, once: the first report of a node counts.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import trio

from bakery.core.plan import Plan
from bakery.core.scheduler import Scheduler
from bakery.core.status import Status
from bakery.engine.backend import BuildFailed, ProgressEvent
from bakery.engine.events import (
    Event,
    NodeFinished,
    NodeProgress,
    NodeResult,
    NodeStarted,
    RunResult,
    TargetFinished,
    TargetResult,
)


class Record:
    def __init__(
        self,
        schedule: Scheduler,
        emit: Callable[[Event], None],
        on_failure: Callable[[str], None] = lambda _node: None,
        on_finish: Callable[[str, Status, str | None], None] = lambda _n, _s, _i: None,
    ) -> None:
        self.schedule = schedule
        self.emit = emit
        self.on_failure = on_failure
        self.on_finish = on_finish  # every node's final state, with its image if any
        self.results: dict[str, NodeResult] = {}
        self.started: dict[str, float] = {}
        self.owners: dict[str, object] = {}  # BuildKit: the build that reports a shared stage
        self.step_owners: dict[tuple[str, str], object] = {}  # and each of its steps

    def has(self, node_id: str) -> bool:
        return node_id in self.results

    def start(self, node_id: str) -> None:
        now = trio.current_time()
        self.started[node_id] = now
        self.emit(NodeStarted(node_id, now))

    def progress(self, node_id: str, event: ProgressEvent) -> None:
        self.emit(NodeProgress(node_id, event))

    def finish(
        self,
        node_id: str,
        status: Status,
        *,
        start: float | None = None,
        end: float | None = None,
        image_id: str | None = None,
        error: BuildFailed | None = None,
        reason: str | None = None,
    ) -> None:
        """``node_id`` ended as ``status``; ``end`` defaults to now, and a node
        that did not start has no times."""
        if node_id in self.results:
            return
        at = trio.current_time() if end is None else end
        self.results[node_id] = NodeResult(
            node_id,
            status,
            started=start,
            finished=at if start is not None else None,
            image_id=image_id,
            error=error,
            reason=reason,
        )
        self.schedule.node_finished(node_id, status, reason)
        self.emit(NodeFinished(node_id, status, at, image_id=image_id, error=error, reason=reason))
        self.on_finish(node_id, status, image_id)
        if status is Status.FAILED:
            self.on_failure(node_id)

    def cached(self, nodes: tuple[str, ...], image_id: str | None = None) -> None:
        """``nodes`` were not built: cached, the last one with ``image_id``."""
        now = trio.current_time()
        for node_id in nodes:
            self.finish(
                node_id,
                Status.CACHED,
                start=now,
                end=now,
                image_id=image_id if node_id == nodes[-1] else None,
            )

    def pulled(self, nodes: tuple[str, ...], image_id: str, start: float, size: int) -> None:
        """``nodes`` came from the registry cache: the last one's image, pulled since
        ``start``, ``size`` bytes; the others are in it."""
        now = trio.current_time()
        for node_id in nodes:
            if node_id in self.results:
                continue
            last = node_id == nodes[-1]
            self.results[node_id] = NodeResult(
                node_id,
                Status.PULLED,
                started=start,
                finished=now,
                image_id=image_id if last else None,
                pulled_bytes=size if last else None,
            )
            self.schedule.node_finished(node_id, Status.PULLED)
            self.on_finish(node_id, Status.PULLED, image_id if last else None)
            self.emit(
                NodeFinished(node_id, Status.PULLED, now, image_id=image_id if last else None)
            )

    def close(
        self,
        plan: Plan,
        targets: dict[str, TargetResult],
        previous: Mapping[str, dict[str, str | None]],
        *,
        started: float,
        signal: int | None,
        backend: str,
    ) -> RunResult:
        """The run's result, now: what never got a final state did not start (the
        schedule says why), and each target not tagged gets its outcome."""
        finished = trio.current_time()
        for node_id in self.schedule.unreported():
            self.finish(
                node_id, Status.NOT_STARTED, end=finished, reason=self.schedule.stop_reason()
            )
        for name in plan.targets:
            if name not in targets:
                outcome = self.schedule.target_outcome(name)
                targets[name] = TargetResult(
                    name, outcome.status, previous=previous.get(name, {}), reason=outcome.reason
                )
                self.emit(TargetFinished(name, outcome.status, reason=outcome.reason))
        return RunResult(
            nodes=dict(self.results),
            targets={n: targets[n] for n in plan.targets},
            started=started,
            finished=finished,
            interrupted=self.schedule.interrupted,
            signal=signal,
            backend=backend,
        )

    def not_started(self, nodes: tuple[str, ...], reason: str) -> None:
        for node_id in nodes:
            self.finish(node_id, Status.NOT_STARTED, reason=reason)
