"""The signals that stop a run: Ctrl-C, the SIGTERM a CI runner sends on cancel,
and SIGHUP. Each stops the running builds on the daemon, and the run ends
with its report."""

from __future__ import annotations

import signal
from collections.abc import Callable

import trio

__all__ = ["STOP_SIGNALS", "stop_on_signal"]

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


async def stop_on_signal(stop: Callable[[int], None]) -> None:
    """Call ``stop`` with the first stop signal that comes, then return."""
    with trio.open_signal_receiver(*STOP_SIGNALS) as signals:
        async for number in signals:
            stop(number)
            return
