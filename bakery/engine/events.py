"""What the engine tells the report layer, as data.

The runner emits these as work happens; ``bakery.report`` renders them live
and into the final report. Nothing here prints.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from bakery.core.status import Status
from bakery.engine.backend import BuildFailed, ProgressEvent

__all__ = [
    "Event",
    "NodeFinished",
    "NodeProgress",
    "NodeResult",
    "NodeStarted",
    "RunResult",
    "Status",
    "TargetFinished",
    "TargetResult",
]


@dataclass(frozen=True)
class NodeStarted:
    node: str
    at: float


@dataclass(frozen=True)
class NodeProgress:
    node: str
    event: ProgressEvent


@dataclass(frozen=True)
class NodeFinished:
    node: str
    status: Status
    at: float
    image_id: str | None = None
    error: BuildFailed | None = None
    reason: str | None = None  # why it did not start, or was cancelled


@dataclass(frozen=True)
class TargetFinished:
    target: str
    status: Status
    image_id: str | None = None
    tags: tuple[str, ...] = ()
    reason: str | None = None


Event = NodeStarted | NodeProgress | NodeFinished | TargetFinished


@dataclass(frozen=True)
class NodeResult:
    node: str
    status: Status
    started: float | None = None
    finished: float | None = None
    image_id: str | None = None
    error: BuildFailed | None = None
    reason: str | None = None
    pulled_bytes: int | None = None  # PULLED: the size of the image the cache gave

    @property
    def seconds(self) -> float:
        if self.started is None or self.finished is None:
            return 0.0
        return self.finished - self.started


@dataclass(frozen=True)
class TargetResult:
    target: str
    status: Status
    image_id: str | None = None
    tags: tuple[str, ...] = ()
    previous: Mapping[str, str | None] = field(default_factory=dict)  # tag -> image before
    reason: str | None = None


@dataclass(frozen=True)
class RunResult:
    nodes: Mapping[str, NodeResult]
    targets: Mapping[str, TargetResult]
    started: float
    finished: float
    interrupted: bool = False
    signal: int | None = None  # the signal that interrupted the run, if one did
    backend: str = ""
    # On several daemons: where each node ran, and each target's daemon.
    daemons: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    placement: Mapping[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.interrupted and all(
            t.status in (Status.BUILT, Status.CACHED) for t in self.targets.values()
        )
