"""A runner wired to a real Docker daemon: the one way the CLI and the daemon
tests build a plan."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from bakery.core.plan import Plan
from bakery.engine.backend import Backend
from bakery.engine.cache import RegistryCache
from bakery.engine.classic import ClassicBackend
from bakery.engine.events import Event
from bakery.engine.images import Images
from bakery.engine.runner import Runner, RunOptions
from bakery.engine.session import SessionBuilder
from bakery.engine.session.credentials import DockerConfig
from bakery.engine.share import Share
from bakery.engine.threaded import Builder, ThreadedBuilder


def daemon_runner(
    plan: Plan,
    client: Any,
    backend: Backend,
    options: RunOptions,
    emit: Callable[[Event], None],
    *,
    warn: Callable[[str], None] = lambda _message: None,
    cache_repo: str | None = None,
    share: Share | None = None,
) -> Runner:
    """``client`` is a docker SDK ``APIClient``; ``backend`` the builder on its daemon;
    ``warn`` hears what went wrong on the side (a broken credential helper, a
    secret that could not be read when the daemon asked, a cache push that failed);
    ``cache_repo`` the registry cache's repository, if any.
    Folders used as named contexts are made into images by the classic builder,
    which hides the Dockerfile from ``COPY`` (BuildKit, given a tar, would copy it)."""
    builder: Builder = ThreadedBuilder(backend)
    if backend.name == "buildkit":
        # The daemon's BuildKit asks its session for credentials, secrets and agents.
        config = DockerConfig.load(os.environ, warn=warn)
        builder = SessionBuilder(builder, client, config, os.environ, on_error=warn)
    cache = RegistryCache(client, cache_repo) if cache_repo else None
    return Runner(
        plan,
        builder,
        Images(client),
        options,
        emit,
        folder_builder=ThreadedBuilder(ClassicBackend(client)),
        cache=cache,
        warn=warn,
        share=share,
    )
