"""A gRPC server on one HTTP/2 connection, for the services a BuildKit session offers.

In a BuildKit session the daemon is the gRPC client and bakery the server, on
the connection ``POST /session`` upgraded: the daemon sends the HTTP/2 preface,
then one stream per call. HTTP/2 itself is python-hyper's ``h2`` (sans-IO);
this module adds what gRPC puts on top: a call's path names the method, each
message has a 5-byte prefix (a compression flag, then the length), and the
call's outcome comes in trailers (``grpc-status``, ``grpc-message``).

Two kinds of method: *unary* (one request, one answer: health, registry
credentials, secrets) and *streaming* (messages both ways until either side
ends: SSH agent forwarding). Handlers run as trio tasks; a call the daemon
resets is cancelled. Flow control is honoured both ways, so an answer larger
than the daemon's window (a secret of hundreds of KiB) waits for it to open.
"""

from __future__ import annotations

import contextlib
import urllib.parse
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import trio

__all__ = [
    "Call",
    "GrpcError",
    "Status",
    "Streaming",
    "Unary",
    "serve",
]

# How much of a message bakery accepts: BuildKit's requests are a few hundred
# bytes, an SSH agent message at most 256 KiB.
MAX_MESSAGE = 4 * 1024 * 1024
_READ_SIZE = 65536


class Status:
    """The gRPC status codes bakery answers with."""

    OK = 0
    CANCELLED = 1
    INVALID_ARGUMENT = 3
    NOT_FOUND = 5
    PERMISSION_DENIED = 7
    UNIMPLEMENTED = 12
    INTERNAL = 13
    UNAVAILABLE = 14


class GrpcError(Exception):
    """A call that ends with a status other than OK."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class Call:
    """One call, as a handler sees it: its metadata (lower-case header names to
    values) and, for a streaming call, the messages as they come."""

    method: str
    metadata: Mapping[str, str]
    incoming: trio.MemoryReceiveChannel[bytes]
    _send: Callable[[bytes], Awaitable[None]] = field(repr=False)

    async def send(self, message: bytes) -> None:
        """Send one message of a streaming answer."""
        await self._send(message)


Unary = Callable[[bytes, Call], Awaitable[bytes]]
Streaming = Callable[[Call], Awaitable[None]]


async def serve(
    stream: trio.abc.Stream,
    unary: Mapping[str, Unary],
    streaming: Mapping[str, Streaming] | None = None,
    *,
    received: bytes = b"",
) -> None:
    """Answer the calls that come on ``stream`` until the peer closes it (or the
    caller cancels). ``received`` is what was already read past the HTTP
    upgrade. Methods are named by path: ``/grpc.health.v1.Health/Check``."""
    server = _Server(stream, unary, streaming or {})
    await server.run(received)


class _CallState:
    def __init__(self, stream_id: int, method: str, metadata: dict[str, str]) -> None:
        self.stream_id = stream_id
        self.method = method
        self.metadata = metadata
        self.buffer = bytearray()
        self.send_in, self.receive_in = trio.open_memory_channel[bytes](64)
        self.scope = trio.CancelScope()
        self.window = trio.Event()
        self.answered = False


class _Server:
    def __init__(
        self,
        stream: trio.abc.Stream,
        unary: Mapping[str, Unary],
        streaming: Mapping[str, Streaming],
    ) -> None:
        self.stream = stream
        self.unary = unary
        self.streaming = streaming
        self.conn = h2.connection.H2Connection(
            h2.config.H2Configuration(client_side=False, header_encoding="utf-8")
        )
        self.calls: dict[int, _CallState] = {}
        self.pending = trio.Event()
        self.closed = False

    async def run(self, received: bytes) -> None:
        self.conn.initiate_connection()
        async with trio.open_nursery() as nursery:
            self.nursery = nursery
            # One task writes, outside any call's cancel scope: a call cancelled
            # mid-write must not cut a frame in half for every other call.
            nursery.start_soon(self.write_loop)
            self.wake()
            await self.read_loop(received)
            self.closed = True
            nursery.cancel_scope.cancel()

    async def read_loop(self, data: bytes) -> None:
        while not self.closed:
            if not data:
                try:
                    data = bytes(await self.stream.receive_some(_READ_SIZE))
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    data = b""
                if not data:
                    return  # the daemon closed the session
            try:
                events = self.conn.receive_data(data)
            except h2.exceptions.ProtocolError:
                return  # nothing sensible can follow a broken frame
            data = b""
            for event in events:
                self.handle(event)
            self.wake()

    async def write_loop(self) -> None:
        while True:
            await self.pending.wait()
            self.pending = trio.Event()
            out = self.conn.data_to_send()
            if not out:
                continue
            try:
                await self.stream.send_all(out)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                self.closed = True
                self.nursery.cancel_scope.cancel()
                return

    def wake(self) -> None:
        """Have the writer send what h2 holds."""
        self.pending.set()

    # -- events ------------------------------------------------------------------

    def handle(self, event: h2.events.Event) -> None:
        if isinstance(event, h2.events.RequestReceived):
            self.start(event)
        elif isinstance(event, h2.events.DataReceived):
            self.conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            call = self.calls.get(event.stream_id)
            if call is not None:
                call.buffer += event.data
                self.take_messages(call)
        elif isinstance(event, h2.events.StreamEnded):
            call = self.calls.get(event.stream_id)
            if call is not None:
                call.send_in.close()
        elif isinstance(event, h2.events.StreamReset):
            call = self.calls.pop(event.stream_id, None)
            if call is not None:
                call.scope.cancel()
        elif isinstance(event, h2.events.WindowUpdated | h2.events.RemoteSettingsChanged):
            # A window opens by WINDOW_UPDATE, or for every stream at once by a new
            # initial window size: let every waiting call look again.
            for call in self.calls.values():
                call.window.set()
        elif isinstance(event, h2.events.ConnectionTerminated):
            self.closed = True

    def start(self, event: h2.events.RequestReceived) -> None:
        headers = {str(k): str(v) for k, v in event.headers}
        method = headers.get(":path", "")
        call = _CallState(event.stream_id, method, headers)
        self.calls[event.stream_id] = call
        self.nursery.start_soon(self.answer, call)

    def take_messages(self, call: _CallState) -> None:
        while len(call.buffer) >= 5:
            length = int.from_bytes(call.buffer[1:5], "big")
            if call.buffer[0] != 0 or length > MAX_MESSAGE:
                call.scope.cancel()
                self.finish(call, Status.INTERNAL, "compressed or oversized message")
                return
            if len(call.buffer) < 5 + length:
                return
            message = bytes(call.buffer[5 : 5 + length])
            del call.buffer[: 5 + length]
            try:
                call.send_in.send_nowait(message)
            except (trio.WouldBlock, trio.ClosedResourceError):
                # A peer that floods a call it does not read: end the call.
                call.scope.cancel()
                return

    # -- answers -----------------------------------------------------------------

    async def answer(self, state: _CallState) -> None:
        call = Call(state.method, state.metadata, state.receive_in, lambda m: self.send(state, m))
        code, text = Status.OK, ""
        with state.scope:
            try:
                if state.method in self.unary:
                    request = b""
                    async for message in state.receive_in:
                        request = message
                    reply = await self.unary[state.method](request, call)
                    await self.send(state, reply)
                elif state.method in self.streaming:
                    await self.streaming[state.method](call)
                else:
                    code, text = Status.UNIMPLEMENTED, f"unknown method {state.method}"
            except GrpcError as err:
                code, text = err.code, err.message
            except Exception as err:  # one call's trouble must not end the session
                # Only the type: a message could quote a secret.
                code, text = Status.INTERNAL, type(err).__name__
        if state.scope.cancelled_caught and state.stream_id in self.calls:
            code, text = Status.CANCELLED, "cancelled"
        self.finish(state, code, text)

    async def send(self, state: _CallState, message: bytes) -> None:
        """One message of ``state``'s answer, as the window lets it go. Raises
        GrpcError(CANCELLED) once the daemon has reset the call."""
        data = len(message).to_bytes(5, "big") + message  # flag 0: not compressed
        while data:
            if state.stream_id not in self.calls:
                raise GrpcError(Status.CANCELLED, "the daemon reset the call")
            try:
                if not state.answered:
                    self.conn.send_headers(
                        state.stream_id,
                        [(":status", "200"), ("content-type", "application/grpc")],
                    )
                    state.answered = True
                window = min(
                    self.conn.local_flow_control_window(state.stream_id),
                    self.conn.max_outbound_frame_size,
                )
                if window <= 0:
                    state.window = trio.Event()
                    self.wake()
                    await state.window.wait()
                    continue
                self.conn.send_data(state.stream_id, data[:window])
            except (h2.exceptions.StreamClosedError, h2.exceptions.ProtocolError):
                raise GrpcError(Status.CANCELLED, "the daemon reset the call") from None
            data = data[window:]
            self.wake()

    def finish(self, state: _CallState, code: int, text: str) -> None:
        if self.calls.pop(state.stream_id, None) is None:
            return  # reset by the daemon, or already answered
        trailers = [("grpc-status", str(code))]
        if text:
            trailers.append(("grpc-message", urllib.parse.quote(text, safe=" ")))
        if not state.answered:
            # Trailers only: the status comes with the response headers.
            trailers = [(":status", "200"), ("content-type", "application/grpc"), *trailers]
        with contextlib.suppress(h2.exceptions.ProtocolError, h2.exceptions.StreamClosedError):
            self.conn.send_headers(state.stream_id, trailers, end_stream=True)
        self.wake()
