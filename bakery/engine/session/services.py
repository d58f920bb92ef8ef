"""The gRPC services bakery's BuildKit session offers the daemon.

- ``grpc.health.v1.Health/Check``: the daemon asks every second (BuildKit 0.8)
  or five (newer); a session that fails to answer is closed.
- ``moby.filesync.v1.Auth/Credentials``: a registry's user and password (or
  identity token) from the docker config. ``GetTokenAuthority`` is left
  unimplemented, so the daemon fetches registry tokens itself.
- ``moby.buildkit.secrets.v1.Secrets/GetSecret``: a secret's bytes, read from
  its file or variable when asked, never kept. An id the build was not given is
  NOT_FOUND: BuildKit then skips an optional mount and fails a required one.
- ``moby.sshforward.v1.SSH/CheckAgent`` and ``ForwardAgent``: the agent socket
  of an ssh id, its bytes relayed both ways, one stream per connection the
  build's ``RUN --mount=type=ssh`` makes.

Message layouts (field numbers) are those of BuildKit's ``.proto`` files.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import trio

from bakery.core.config.secrets import SecretSource
from bakery.engine.protowire import WireError, encode, fields, string
from bakery.engine.session.credentials import DockerConfig, HelperFailed
from bakery.engine.session.grpc import Call, GrpcError, Status, Streaming, Unary
from bakery.files import NotAFile, read_regular

__all__ = ["MAX_SECRET_SIZE", "SecretUnreadable", "SessionServices", "read_secret"]

HEALTH = "/grpc.health.v1.Health/Check"
CREDENTIALS = "/moby.filesync.v1.Auth/Credentials"
GET_SECRET = "/moby.buildkit.secrets.v1.Secrets/GetSecret"
CHECK_AGENT = "/moby.sshforward.v1.SSH/CheckAgent"
FORWARD_AGENT = "/moby.sshforward.v1.SSH/ForwardAgent"
SSH_ID_KEY = "buildkit.ssh.id"
DEFAULT_SSH_ID = "default"

MAX_SECRET_SIZE = 500 * 1024  # BuildKit's own bound on a secret
_CHUNK = 32 * 1024
_SERVING = 1


class SecretUnreadable(Exception):
    """A secret's source that cannot be read (its message names it, not its value)."""


def read_secret(secret: SecretSource, environ: Mapping[str, str]) -> bytes:
    """The bytes of ``secret``. Raises SecretUnreadable."""
    env = secret.env if secret.env is not None else (secret.id if secret.fallback else None)
    if env is not None and env in environ:
        # The bytes the variable holds, also when they are not UTF-8.
        value = environ[env].encode("utf-8", "surrogateescape")
    elif secret.src is not None and (secret.env is None):
        try:
            value = read_regular(secret.src, limit=MAX_SECRET_SIZE + 1)
        except FileNotFoundError:
            what = f"the variable {secret.id} is not set, and " if secret.fallback else ""
            raise SecretUnreadable(
                f'secret "{secret.id}": {what}there is no file {secret.src}'
            ) from None
        except (NotAFile, OSError) as err:
            reason = err.strerror if isinstance(err, OSError) and err.strerror else str(err)
            raise SecretUnreadable(
                f'secret "{secret.id}": cannot read {secret.src} ({reason})'
            ) from None
    else:
        raise SecretUnreadable(f'secret "{secret.id}": the variable {env} is not set')
    if len(value) > MAX_SECRET_SIZE:
        raise SecretUnreadable(
            f'secret "{secret.id}" is larger than {MAX_SECRET_SIZE // 1024} KiB, '
            "the most BuildKit takes"
        )
    return value


@dataclass
class SessionServices:
    """What one session serves: the secrets of the build, its agents (id to
    socket path) and the registry credentials."""

    secrets: Mapping[str, SecretSource]
    agents: Mapping[str, str]
    config: DockerConfig
    environ: Mapping[str, str]
    on_error: Callable[[str], None] = lambda _message: None

    def unary(self) -> dict[str, Unary]:
        return {
            HEALTH: self.health,
            CREDENTIALS: self.credentials,
            GET_SECRET: self.get_secret,
            CHECK_AGENT: self.check_agent,
        }

    def streaming(self) -> dict[str, Streaming]:
        return {FORWARD_AGENT: self.forward_agent}

    def methods(self) -> list[str]:
        return [*self.unary(), *self.streaming()]

    async def health(self, _request: bytes, _call: Call) -> bytes:
        return encode([(1, _SERVING)])

    async def credentials(self, request: bytes, _call: Call) -> bytes:
        host = _field(request, 1)
        try:
            # A helper that hangs must not hold up Ctrl-C: its answer is dropped then.
            found = await trio.to_thread.run_sync(
                self.config.credentials, host, abandon_on_cancel=True
            )
        except HelperFailed as err:
            self.on_error(str(err))
            raise GrpcError(Status.UNAVAILABLE, str(err)) from None
        if found is None:
            return b""
        if found.identity_token:
            return encode([(2, found.identity_token)])
        return encode([(1, found.username), (2, found.password)])

    async def get_secret(self, request: bytes, _call: Call) -> bytes:
        secret_id = _field(request, 1)
        secret = self.secrets.get(secret_id)
        if secret is None:
            raise GrpcError(Status.NOT_FOUND, f"secret {secret_id} not given to this build")
        try:
            value = await trio.to_thread.run_sync(
                read_secret, secret, self.environ, abandon_on_cancel=True
            )
        except SecretUnreadable as err:
            self.on_error(str(err))
            raise GrpcError(Status.NOT_FOUND, str(err)) from None
        return encode([(1, value)])

    async def check_agent(self, request: bytes, _call: Call) -> bytes:
        ssh_id = _field(request, 1) or DEFAULT_SSH_ID
        if ssh_id not in self.agents:
            raise GrpcError(Status.NOT_FOUND, f"no ssh agent {ssh_id} given to this build")
        return b""

    async def forward_agent(self, call: Call) -> None:
        ssh_id = call.metadata.get(SSH_ID_KEY) or DEFAULT_SSH_ID
        path = self.agents.get(ssh_id)
        if path is None:
            raise GrpcError(Status.NOT_FOUND, f"no ssh agent {ssh_id} given to this build")
        try:
            agent = await trio.open_unix_socket(path)
        except OSError as err:
            raise GrpcError(Status.UNAVAILABLE, f"ssh agent {ssh_id}: {err.strerror}") from None
        async with agent, trio.open_nursery() as nursery:

            async def to_agent() -> None:
                # An agent that goes away ends the relay as an end of stream would.
                with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
                    async for message in call.incoming:
                        data = _bytes_field(message, 1)
                        if data:
                            await agent.send_all(data)
                    await agent.send_eof()

            nursery.start_soon(to_agent)
            while True:
                try:
                    chunk = await agent.receive_some(_CHUNK)
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    chunk = b""
                if not chunk:
                    break
                await call.send(encode([(1, bytes(chunk))]))
            nursery.cancel_scope.cancel()


def _field(message: bytes, number: int) -> str:
    try:
        return next((string(v) for n, v in fields(message) if n == number), "")
    except WireError:
        raise GrpcError(Status.INVALID_ARGUMENT, "malformed request") from None


def _bytes_field(message: bytes, number: int) -> bytes:
    try:
        return b"".join(v for n, v in fields(message) if n == number and isinstance(v, bytes))
    except WireError:
        raise GrpcError(Status.INVALID_ARGUMENT, "malformed message") from None


def agent_socket(environ: Mapping[str, str]) -> str | None:
    """The user's own agent, as ``ssh`` finds it."""
    path = environ.get("SSH_AUTH_SOCK")
    return path if path and os.path.exists(path) else None
