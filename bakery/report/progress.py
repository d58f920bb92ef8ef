"""Progress while bakery builds, fed by engine events.

``PlainProgress`` writes log lines prefixed with ``[target/stage]``, readable
in CI logs; ``quiet`` mode writes nothing until the report.
"""

from __future__ import annotations

from typing import TextIO

from bakery.core.plan import Plan
from bakery.engine.backend import LogEvent, StepEvent
from bakery.engine.events import (
    Event,
    NodeFinished,
    NodeProgress,
    NodeStarted,
    Status,
    TargetFinished,
)


class PlainProgress:
    """One line per log line and per state change, prefixed with the node's label."""

    def __init__(self, plan: Plan, out: TextIO, *, quiet: bool = False) -> None:
        self.plan = plan
        self.out = out
        self.quiet = quiet
        self._started: dict[str, float] = {}

    def _label(self, node_id: str) -> str:
        node = self.plan.nodes.get(node_id)
        return node.label if node else node_id

    def __call__(self, event: Event) -> None:
        if self.quiet:
            return
        if isinstance(event, NodeStarted):
            self._started[event.node] = event.at
            node = self.plan.nodes[event.node]
            shared = f" (shared by {', '.join(sorted(node.targets))})" if node.shared else ""
            self._line(event.node, f"started{shared}")
        elif isinstance(event, NodeProgress):
            ev = event.event
            if isinstance(ev, LogEvent):
                for line in ev.text.splitlines():
                    self._line(event.node, line)
            elif isinstance(ev, StepEvent) and ev.started and not ev.completed:
                self._line(event.node, f"# {ev.name}")
        elif isinstance(event, NodeFinished):
            if event.status is Status.BUILT:
                took = event.at - self._started.get(event.node, event.at)
                self._line(event.node, f"done in {took:.1f}s")
            elif event.status is Status.FAILED:
                self._line(event.node, "FAILED")
            elif event.status is Status.CACHED:
                self._line(event.node, "cached")
        elif isinstance(event, TargetFinished) and event.status is Status.BUILT:
            self.out.write(f"[{event.target}] tagged {', '.join(event.tags) or '(no tags)'}\n")
            self.out.flush()

    def _line(self, node_id: str, text: str) -> None:
        self.out.write(f"[{self._label(node_id)}] {text}\n")
        self.out.flush()
