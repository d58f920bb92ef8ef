"""Every BuildKit build with a session of its own.

A session per build, not per run: the daemon asks a session for a secret by id
only, so a build can read only what its own session holds, and one target's
secrets never reach another target's build. Opening one costs a connection
and a round trip, next to a build that costs seconds.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

import trio

from bakery.engine.backend import BuildFailed, BuildOutput, BuildSpec, Progress
from bakery.engine.connection import daemon_address
from bakery.engine.session.agents import AgentError
from bakery.engine.session.credentials import DockerConfig
from bakery.engine.session.dial import can_dial
from bakery.engine.session.open import open_session
from bakery.engine.session.redact import Redactor
from bakery.engine.session.services import SecretUnreadable, read_secret
from bakery.engine.threaded import Builder

__all__ = ["SessionBuilder"]


class SessionBuilder:
    """A BuildKit ``Builder`` whose builds each open a session first."""

    def __init__(
        self,
        inner: Builder,
        client: Any,
        config: DockerConfig,
        environ: Mapping[str, str],
        on_error: Callable[[str], None] = lambda _message: None,
    ) -> None:
        self.inner = inner
        self.client = client
        self.config = config
        self.environ = environ
        self.on_error = on_error

    @property
    def name(self) -> str:
        return self.inner.name

    async def build(self, spec: BuildSpec, progress: Progress) -> BuildOutput:
        try:
            return await self._build(spec, progress)
        except AgentError as err:
            # Found only when the agent starts (a key with a passphrase): this build fails.
            raise BuildFailed(str(err), hint=err.hint) from None

    async def _build(self, spec: BuildSpec, progress: Progress) -> BuildOutput:
        if not can_dial(self.client):
            if spec.secrets or spec.ssh:
                raise BuildFailed(
                    f"secrets and SSH agents need a BuildKit session, which bakery cannot "
                    f"open to the daemon at {daemon_address(self.client)} yet",
                    hint="reach the daemon over unix:// or tcp:// (DOCKER_HOST)",
                )
            # Without a session, pulls go anonymous: what bakery did before sessions.
            return await self.inner.build(spec, progress)
        redact = Redactor(await trio.to_thread.run_sync(self._values, spec))
        masked = (lambda event: progress(redact.event(event))) if redact else progress
        async with open_session(
            self.client,
            self.config,
            self.environ,
            secrets=spec.secrets,
            ssh=spec.ssh,
            on_error=self.on_error,
        ) as session_id:
            try:
                return await self.inner.build(dataclasses.replace(spec, session=session_id), masked)
            except BuildFailed as err:
                raise (redact.failure(err) if redact else err) from None

    def _values(self, spec: BuildSpec) -> list[bytes]:
        """The values to mask in this build's output (those that can be read now:
        one that cannot fails the build when the daemon asks for it)."""
        values = []
        for secret in spec.secrets:
            with contextlib.suppress(SecretUnreadable):
                values.append(read_secret(secret, self.environ))
        return values
