"""A blocking backend awaited from trio: progress forwarded, cancel stops the build."""

from __future__ import annotations

import threading

import trio
import trio.testing

from bakery.engine.backend import (
    BuildCancelled,
    BuildOutput,
    BuildSpec,
    Cancellation,
    LogEvent,
    Progress,
    ProgressEvent,
)
from bakery.engine.threaded import ThreadedBuilder


class Blocking:
    """Blocks until cancelled, or returns at once when ``wait`` is false."""

    name = "classic"

    def __init__(self, *, wait: bool) -> None:
        self.wait = wait
        self.stopped = threading.Event()

    def build(self, spec: BuildSpec, progress: Progress, cancel: Cancellation) -> BuildOutput:
        progress(LogEvent("hello", step="s"))
        if not self.wait:
            return BuildOutput("sha256:1")
        cancel.on_cancel(self.stopped.set)
        self.stopped.wait(10)
        raise BuildCancelled(spec.tag)


async def test_the_output_and_progress_come_back() -> None:
    seen: list[ProgressEvent] = []
    builder = ThreadedBuilder(Blocking(wait=False))
    assert builder.name == "classic"
    output = await builder.build(BuildSpec(context=b"", tag="t"), seen.append)
    await trio.testing.wait_all_tasks_blocked()
    assert output.image_id == "sha256:1"
    assert seen == [LogEvent("hello", step="s")]


async def test_cancel_closes_the_build_and_waits_for_it() -> None:
    backend = Blocking(wait=True)
    builder = ThreadedBuilder(backend)
    with trio.move_on_after(0.2) as scope:
        await builder.build(BuildSpec(context=b"", tag="t"), lambda event: None)
    assert scope.cancelled_caught
    assert backend.stopped.is_set()
