"""Which build shows a shared stage's steps: the one that runs them."""

from __future__ import annotations

from pathlib import Path

from bakery.core.scheduler import Scheduler
from bakery.engine.backend import LogEvent, StepEvent
from bakery.engine.buildkit_stages import StageTracker
from bakery.engine.events import Event, NodeProgress
from bakery.engine.record import Record
from tests.engine.fake import plan_of, write_project
from tests.engine.test_runner import FILES


async def test_a_shared_step_is_shown_from_the_build_that_runs_it(tmp_path: Path) -> None:
    write_project(tmp_path, FILES)
    plan = plan_of(tmp_path, "client", "server")
    events: list[Event] = []
    record = Record(Scheduler(plan, []), events.append)
    client, server = (
        StageTracker(plan, record, plan.targets[name].nodes) for name in ("client", "server")
    )
    step = "[base 2/3] RUN make deps"
    # BuildKit declares the shared step to the client's build, then runs it in
    # the server's: the server's build is the one to show it, once.
    client.feed(StepEvent(step))
    server.feed(StepEvent(step, started=True))
    server.feed(LogEvent("deps ready", step=step))
    client.feed(LogEvent("deps ready", step=step))  # the same line, also sent to the other
    shown = [e.event for e in events if isinstance(e, NodeProgress)]
    assert shown == [StepEvent(step, started=True), LogEvent("deps ready", step=step)]
