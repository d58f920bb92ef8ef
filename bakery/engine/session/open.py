"""One BuildKit session, open for the length of a block.

The session is dialled and its services started before the block runs, so
that the build sent inside finds it (the daemon waits 5 s for a session it is
told of, then fails). Leaving the block, however it is left (success, failure,
Ctrl-C), stops the services, closes the connection (the daemon drops the
session at its next health check, within a second or five) and stops any
private SSH agent.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any

import trio

from bakery.core.config.secrets import SecretSource, SshSource
from bakery.engine.session.agents import ssh_agents
from bakery.engine.session.credentials import DockerConfig
from bakery.engine.session.dial import dial_session
from bakery.engine.session.grpc import serve
from bakery.engine.session.services import SessionServices

__all__ = ["open_session"]

SESSION_NAME = "bakery"


@contextlib.asynccontextmanager
async def open_session(
    client: Any,
    config: DockerConfig,
    environ: Mapping[str, str],
    *,
    secrets: Sequence[SecretSource] = (),
    ssh: Sequence[SshSource] = (),
    on_error: Callable[[str], None] = lambda _message: None,
) -> AsyncIterator[str]:
    """The id of a session on ``client``'s daemon, served until the block ends.
    Raises DaemonUnreachable (or SessionRefused), or AgentError."""
    session_id = uuid.uuid4().hex
    async with contextlib.AsyncExitStack() as stack:
        agents: dict[str, str] = {}
        if ssh:
            # Starting and stopping a private agent blocks on its process: keep
            # trio's loop free (other builds' sessions answer health checks on it).
            manager = ssh_agents(ssh, environ)
            agents = await trio.to_thread.run_sync(manager.__enter__)

            async def stop_agents() -> None:
                with trio.CancelScope(shield=True):
                    await trio.to_thread.run_sync(manager.__exit__, None, None, None)

            stack.push_async_callback(stop_agents)
        services = SessionServices(
            secrets={s.id: s for s in secrets},
            agents=agents,
            config=config,
            environ=environ,
            on_error=on_error,
        )
        stream, received = await dial_session(
            client, session_id, SESSION_NAME, session_id, services.methods()
        )
        # What the block raises goes out as it is, not in the nursery's exception group.
        caught: BaseException | None = None
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(
                    _serve, stream, services, received, name="bakery session " + session_id
                )
                try:
                    yield session_id
                except BaseException as err:
                    caught = err
                finally:
                    nursery.cancel_scope.cancel()
        finally:
            await trio.aclose_forcefully(stream)
        if caught is not None:
            raise caught


async def _serve(stream: trio.abc.Stream, services: SessionServices, received: bytes) -> None:
    try:
        await serve(stream, services.unary(), services.streaming(), received=received)
    except Exception as err:  # a broken session fails the builds that need it, not bakery
        services.on_error(f"the BuildKit session ended: {type(err).__name__}")
