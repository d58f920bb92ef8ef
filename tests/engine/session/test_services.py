"""The session's gRPC services, called as the daemon calls them, over an
in-memory connection: health, credentials, secrets, SSH agent forwarding."""

from __future__ import annotations

import base64
import os
import socket
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trio
import trio.testing

from bakery.core.config.secrets import SecretSource
from bakery.engine.protowire import encode, fields
from bakery.engine.session.credentials import DockerConfig
from bakery.engine.session.grpc import Status, serve
from bakery.engine.session.services import (
    CHECK_AGENT,
    CREDENTIALS,
    FORWARD_AGENT,
    GET_SECRET,
    HEALTH,
    MAX_SECRET_SIZE,
    SessionServices,
)
from tests.engine.session.daemon_side import DaemonSide

AUTH = base64.b64encode(b"alice:s3cret").decode()


def services(tmp_path: Path, **kwargs: object) -> SessionServices:
    defaults: dict[str, object] = {
        "secrets": {},
        "agents": {},
        "config": DockerConfig({"auths": {"127.0.0.1:5055": {"auth": AUTH}}}),
        "environ": {},
    }
    defaults.update(kwargs)
    return SessionServices(**defaults)  # type: ignore[arg-type]


async def connected(nursery: trio.Nursery, served: SessionServices) -> DaemonSide:
    ours, theirs = trio.testing.memory_stream_pair()
    nursery.start_soon(serve, ours, served.unary(), served.streaming())
    daemon = DaemonSide(theirs)
    await daemon.start(nursery)
    return daemon


def field(message: bytes, number: int) -> bytes | int | None:
    return next((v for n, v in fields(message) if n == number), None)


async def test_health_answers_serving(tmp_path: Path) -> None:
    async with trio.open_nursery() as nursery:
        daemon = await connected(nursery, services(tmp_path))
        for _ in range(3):  # the daemon asks every second
            reply = await daemon.call(HEALTH)
            assert reply.status == Status.OK
            assert reply.headers["content-type"] == "application/grpc"
            assert field(reply.messages[0], 1) == 1  # SERVING
        nursery.cancel_scope.cancel()


async def test_an_unknown_method_is_unimplemented_so_the_daemon_falls_back(
    tmp_path: Path,
) -> None:
    # BuildKit asks GetTokenAuthority first and fetches tokens itself on UNIMPLEMENTED.
    async with trio.open_nursery() as nursery:
        daemon = await connected(nursery, services(tmp_path))
        reply = await daemon.call("/moby.filesync.v1.Auth/GetTokenAuthority", encode([(1, "h")]))
        assert reply.status == Status.UNIMPLEMENTED
        assert reply.messages == []
        nursery.cancel_scope.cancel()


async def test_credentials_of_the_registry_asked_for(tmp_path: Path) -> None:
    async with trio.open_nursery() as nursery:
        daemon = await connected(nursery, services(tmp_path))
        reply = await daemon.call(CREDENTIALS, encode([(1, "127.0.0.1:5055")]))
        assert reply.status == Status.OK
        assert field(reply.messages[0], 1) == b"alice"
        assert field(reply.messages[0], 2) == b"s3cret"
        other = await daemon.call(CREDENTIALS, encode([(1, "ghcr.io")]))
        assert other.status == Status.OK
        assert other.messages == [b""]  # none: the pull goes anonymous
        nursery.cancel_scope.cancel()


async def test_a_secret_from_a_variable_and_from_a_file(tmp_path: Path) -> None:
    (tmp_path / "npmrc").write_bytes(b"token-from-file\n")
    served = services(
        tmp_path,
        secrets={
            "env": SecretSource("env", env="GH_TOKEN"),
            "file": SecretSource("file", src=str(tmp_path / "npmrc")),
        },
        environ={"GH_TOKEN": "token-from-env"},
    )
    async with trio.open_nursery() as nursery:
        daemon = await connected(nursery, served)
        reply = await daemon.call(GET_SECRET, encode([(1, "env")]))
        assert field(reply.messages[0], 1) == b"token-from-env"
        reply = await daemon.call(GET_SECRET, encode([(1, "file")]))
        assert field(reply.messages[0], 1) == b"token-from-file\n"
        nursery.cancel_scope.cancel()


async def test_a_secret_the_build_was_not_given_is_not_found(tmp_path: Path) -> None:
    async with trio.open_nursery() as nursery:
        daemon = await connected(nursery, services(tmp_path, environ={"other": "x"}))
        reply = await daemon.call(GET_SECRET, encode([(1, "other")]))
        assert reply.status == Status.NOT_FOUND  # optional mounts are skipped, required fail
        assert "other" in reply.message
        nursery.cancel_scope.cancel()


async def test_a_large_secret_waits_for_the_daemons_window(tmp_path: Path) -> None:
    # 400 KiB is six times HTTP/2's default window of 64 KiB.
    value = os.urandom(MAX_SECRET_SIZE - 100 * 1024)
    (tmp_path / "big").write_bytes(value)
    served = services(tmp_path, secrets={"big": SecretSource("big", src=str(tmp_path / "big"))})
    async with trio.open_nursery() as nursery:
        daemon = await connected(nursery, served)
        reply = await daemon.call(GET_SECRET, encode([(1, "big")]))
        assert reply.status == Status.OK
        assert field(reply.messages[0], 1) == value
        nursery.cancel_scope.cancel()


async def test_a_secret_over_buildkits_bound_is_refused(tmp_path: Path) -> None:
    (tmp_path / "huge").write_bytes(b"x" * (MAX_SECRET_SIZE + 1))
    served = services(tmp_path, secrets={"h": SecretSource("h", src=str(tmp_path / "huge"))})
    async with trio.open_nursery() as nursery:
        daemon = await connected(nursery, served)
        reply = await daemon.call(GET_SECRET, encode([(1, "h")]))
        assert reply.status == Status.NOT_FOUND
        assert "500 KiB" in reply.message
        nursery.cancel_scope.cancel()


@pytest.fixture
async def agent_socket() -> AsyncIterator[tuple[str, list[bytes]]]:
    """A stand-in agent on a Unix socket: it records what it is sent and
    answers each chunk with ``ok:`` and the chunk."""
    folder = tempfile.mkdtemp(prefix="bakery-agent-")  # short: socket paths are bounded
    path = os.path.join(folder, "agent.sock")
    seen: list[bytes] = []
    listener = trio.socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    await listener.bind(path)
    listener.listen()

    async def handle(stream: trio.SocketStream) -> None:
        async with stream:
            async for chunk in stream:
                seen.append(bytes(chunk))
                await stream.send_all(b"ok:" + bytes(chunk))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(trio.serve_listeners, handle, [trio.SocketListener(listener)])
        yield path, seen
        nursery.cancel_scope.cancel()
    os.unlink(path)
    os.rmdir(folder)


async def test_check_agent_knows_the_ids_given(tmp_path: Path) -> None:
    served = services(tmp_path, agents={"default": "/nowhere", "deploy": "/nowhere"})
    async with trio.open_nursery() as nursery:
        daemon = await connected(nursery, served)
        assert (await daemon.call(CHECK_AGENT, encode([(1, "deploy")]))).status == Status.OK
        # An empty id is the default agent, as BuildKit sends it.
        assert (await daemon.call(CHECK_AGENT, b"")).status == Status.OK
        missing = await daemon.call(CHECK_AGENT, encode([(1, "other")]))
        assert missing.status == Status.NOT_FOUND
        nursery.cancel_scope.cancel()


async def test_forward_agent_relays_both_ways_for_the_id_in_metadata(
    tmp_path: Path, agent_socket: tuple[str, list[bytes]]
) -> None:
    path, seen = agent_socket
    served = services(tmp_path, agents={"deploy": path})
    async with trio.open_nursery() as nursery:
        daemon = await connected(nursery, served)
        stream_id = await daemon.open(FORWARD_AGENT, {"buildkit.ssh.id": "deploy"})
        await daemon.send(stream_id, encode([(1, b"\x00\x00\x00\x01\x0b")]))
        reply = daemon.replies[stream_id]
        with trio.fail_after(5):
            while not reply.messages:
                await trio.sleep(0.01)
        assert field(reply.messages[0], 1) == b"ok:\x00\x00\x00\x01\x0b"
        assert seen == [b"\x00\x00\x00\x01\x0b"]
        await daemon.end(stream_id)  # the build's ssh client is done
        with trio.fail_after(5):
            await reply.ended.wait()
        assert reply.status == Status.OK
        nursery.cancel_scope.cancel()


async def test_forward_agent_for_an_unknown_id_is_not_found(tmp_path: Path) -> None:
    async with trio.open_nursery() as nursery:
        daemon = await connected(nursery, services(tmp_path))
        stream_id = await daemon.open(FORWARD_AGENT, {"buildkit.ssh.id": "nope"})
        reply = daemon.replies[stream_id]
        with trio.fail_after(5):
            await reply.ended.wait()
        assert reply.status == Status.NOT_FOUND
        nursery.cancel_scope.cancel()


async def test_a_call_the_daemon_resets_is_cancelled(
    tmp_path: Path, agent_socket: tuple[str, list[bytes]]
) -> None:
    path, _ = agent_socket
    served = services(tmp_path, agents={"default": path})
    async with trio.open_nursery() as nursery:
        daemon = await connected(nursery, served)
        stream_id = await daemon.open(FORWARD_AGENT)
        await daemon.reset(stream_id)
        # The server goes on answering other calls.
        with trio.fail_after(5):
            assert (await daemon.call(HEALTH)).status == Status.OK
        nursery.cancel_scope.cancel()


async def test_the_server_ends_when_the_daemon_closes_the_connection(tmp_path: Path) -> None:
    ours, theirs = trio.testing.memory_stream_pair()
    served = services(tmp_path)
    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(serve, ours, served.unary(), served.streaming())
            daemon = DaemonSide(theirs)
            daemon.conn.initiate_connection()
            await daemon.flush()
            await theirs.aclose()


async def test_a_call_reset_while_its_handler_works_leaves_the_session_up(
    tmp_path: Path,
) -> None:
    async def slow(_request: bytes, _call: object) -> bytes:
        # A thread that cannot be cancelled (a credential helper) returns after
        # the reset, without a checkpoint: the answer must be dropped quietly.
        await trio.to_thread.run_sync(time.sleep, 0.3)
        return b"late"

    ours, theirs = trio.testing.memory_stream_pair()
    served = services(tmp_path)
    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(serve, ours, {**served.unary(), "/slow": slow})
            daemon = DaemonSide(theirs)
            await daemon.start(nursery)
            stream_id = await daemon.open("/slow")
            await daemon.send(stream_id, b"", end=True)
            await trio.sleep(0.05)
            await daemon.reset(stream_id)
            await trio.sleep(0.5)
            assert (await daemon.call(HEALTH)).status == Status.OK
            nursery.cancel_scope.cancel()


async def test_a_larger_initial_window_lets_a_waiting_answer_go(tmp_path: Path) -> None:
    """grpc-go grows windows with SETTINGS_INITIAL_WINDOW_SIZE, not only WINDOW_UPDATE."""
    import h2.config
    import h2.connection
    import h2.settings

    value = b"s" * 100_000
    served = services(tmp_path, secrets={"s": SecretSource("s", env="S")}, environ={"S": "x"})

    async def big(_request: bytes, _call: object) -> bytes:
        return value

    ours, theirs = trio.testing.memory_stream_pair()
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    conn.initiate_connection()
    conn.increment_flow_control_window(1 << 22)  # the connection's window: wide open
    headers = [(":method", "POST"), (":path", "/big"), (":scheme", "http"), (":authority", "a")]
    conn.send_headers(1, [*headers, ("content-type", "application/grpc")])
    conn.send_data(1, b"\0" * 5, end_stream=True)
    received = 0
    ended = trio.Event()

    async def daemon() -> None:
        nonlocal received
        await theirs.send_all(conn.data_to_send())
        grown = False
        while not ended.is_set():
            for event in conn.receive_data(await theirs.receive_some()):
                if isinstance(event, h2.events.DataReceived):
                    received += len(event.data)  # never acknowledged per stream
                elif isinstance(event, h2.events.StreamEnded):
                    ended.set()
            if received >= 65535 and not grown:
                grown = True
                conn.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 1 << 20})
            await theirs.send_all(conn.data_to_send())

    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(serve, ours, {**served.unary(), "/big": big})
            nursery.start_soon(daemon)
            await ended.wait()
            nursery.cancel_scope.cancel()
    assert received >= len(value)


async def test_a_call_reset_mid_write_does_not_cut_other_calls_frames(tmp_path: Path) -> None:
    """A reset lands while a large answer is being written: the next call's
    answer still arrives whole (the writer is not cancelled with the call)."""
    value = os.urandom(400 * 1024)
    (tmp_path / "big").write_bytes(value)
    served = services(tmp_path, secrets={"big": SecretSource("big", src=str(tmp_path / "big"))})
    left, right = socket.socketpair()
    for sock in (left, right):  # small buffers: the write takes many rounds
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    ours = trio.SocketStream(trio.socket.from_stdlib_socket(left))
    theirs = trio.SocketStream(trio.socket.from_stdlib_socket(right))
    with trio.fail_after(10):
        async with ours, theirs, trio.open_nursery() as nursery:
            nursery.start_soon(serve, ours, served.unary(), served.streaming())
            daemon = DaemonSide(theirs)
            await daemon.start(nursery)
            stream_id = await daemon.open(GET_SECRET)
            await daemon.send(stream_id, encode([(1, "big")]), end=True)
            reply = daemon.replies[stream_id]
            while len(reply.buffer) < 8192:
                await trio.sleep(0.001)
            await daemon.reset(stream_id)
            health = await daemon.call(HEALTH)
            assert health.status == Status.OK
            assert field(health.messages[0], 1) == 1
            nursery.cancel_scope.cancel()
