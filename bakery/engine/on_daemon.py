"""A runner wired to a real Docker daemon: the one way the CLI and the daemon
tests build a plan."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bakery.core.plan import Plan
from bakery.engine.backend import Backend
from bakery.engine.classic import ClassicBackend
from bakery.engine.events import Event
from bakery.engine.images import Images
from bakery.engine.runner import Runner, RunOptions
from bakery.engine.threaded import ThreadedBuilder


def daemon_runner(
    plan: Plan, client: Any, backend: Backend, options: RunOptions, emit: Callable[[Event], None]
) -> Runner:
    """``client`` is a docker SDK ``APIClient``; ``backend`` the builder on its daemon.
    Folders used as named contexts are made into images by the classic builder,
    which hides the Dockerfile from ``COPY`` (BuildKit, given a tar, would copy it)."""
    return Runner(
        plan,
        ThreadedBuilder(backend),
        Images(client),
        options,
        emit,
        folder_builder=ThreadedBuilder(ClassicBackend(client)),
    )
