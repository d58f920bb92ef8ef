"""The runner's view of a builder: an awaitable build that trio can cancel.

A real backend blocks in a worker thread; cancelling the awaiting task closes
the build's connection through its ``Cancellation`` and waits, shielded, for
the daemon side to stop, so that nothing is left running. A fake backend for
tests implements ``Builder`` directly on trio's clock.
"""

from __future__ import annotations

import contextlib
from typing import Protocol

import trio

from bakery.engine.backend import (
    Backend,
    BuildOutput,
    BuildSpec,
    Cancellation,
    Progress,
    ProgressEvent,
)

# How long a cancelled build may take to stop on the daemon before it is left.
STOP_WAIT = 30.0


class Builder(Protocol):
    """A builder on one daemon, as the runner awaits it."""

    @property
    def name(self) -> str:
        """``buildkit`` or ``classic``."""
        ...

    async def build(self, spec: BuildSpec, progress: Progress) -> BuildOutput:
        """Build and tag ``spec``. Raises BuildFailed or DaemonUnreachable; a
        cancelled call stops the build on the daemon before it returns."""
        ...


class ThreadedBuilder:
    """A blocking ``Backend`` run in a worker thread."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    @property
    def name(self) -> str:
        return self.backend.name

    async def build(self, spec: BuildSpec, progress: Progress) -> BuildOutput:
        cancel = Cancellation()
        token = trio.lowlevel.current_trio_token()
        finished = trio.Event()

        def report(event: ProgressEvent) -> None:
            with contextlib.suppress(trio.RunFinishedError):
                token.run_sync_soon(progress, event)

        def work() -> BuildOutput:
            try:
                return self.backend.build(spec, report, cancel)
            finally:
                with contextlib.suppress(trio.RunFinishedError):
                    token.run_sync_soon(finished.set)

        try:
            return await trio.to_thread.run_sync(work, abandon_on_cancel=True)
        except trio.Cancelled:
            cancel.cancel()
            with trio.move_on_after(STOP_WAIT) as cleanup:
                cleanup.shield = True
                await finished.wait()
            raise
