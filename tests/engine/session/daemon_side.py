"""The daemon's side of a session, for tests: a gRPC client on one HTTP/2
connection, as dockerd's BuildKit is (python-hyper's h2, client side)."""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass, field

import h2.config
import h2.connection
import h2.events
import trio


@dataclass
class Reply:
    headers: dict[str, str] = field(default_factory=dict)
    messages: list[bytes] = field(default_factory=list)
    trailers: dict[str, str] = field(default_factory=dict)
    buffer: bytearray = field(default_factory=bytearray)
    ended: trio.Event = field(default_factory=trio.Event)
    reset: bool = False

    @property
    def status(self) -> int:
        text = self.trailers.get("grpc-status") or self.headers.get("grpc-status") or "-1"
        return int(text)

    @property
    def message(self) -> str:
        raw = self.trailers.get("grpc-message") or self.headers.get("grpc-message") or ""
        return urllib.parse.unquote(raw)


def frame(message: bytes) -> bytes:
    return len(message).to_bytes(5, "big") + message


class DaemonSide:
    """Calls methods on the session server at the other end of ``stream``."""

    def __init__(self, stream: trio.abc.Stream) -> None:
        self.stream = stream
        config = h2.config.H2Configuration(client_side=True, header_encoding="utf-8")
        self.conn = h2.connection.H2Connection(config)
        self.replies: dict[int, Reply] = {}
        self.lock = trio.Lock()

    async def start(self, nursery: trio.Nursery) -> None:
        self.conn.initiate_connection()
        await self.flush()
        nursery.start_soon(self._read)

    async def flush(self) -> None:
        async with self.lock:
            out = self.conn.data_to_send()
            if out:
                await self.stream.send_all(out)

    async def open(self, method: str, metadata: dict[str, str] | None = None) -> int:
        stream_id = self.conn.get_next_available_stream_id()
        headers = [
            (":method", "POST"),
            (":scheme", "http"),
            (":path", method),
            (":authority", "localhost"),
            ("content-type", "application/grpc"),
            ("te", "trailers"),
            *(metadata or {}).items(),
        ]
        self.replies[stream_id] = Reply()
        self.conn.send_headers(stream_id, headers)
        await self.flush()
        return stream_id

    async def send(self, stream_id: int, message: bytes, *, end: bool = False) -> None:
        self.conn.send_data(stream_id, frame(message), end_stream=end)
        await self.flush()

    async def end(self, stream_id: int) -> None:
        self.conn.end_stream(stream_id)
        await self.flush()

    async def reset(self, stream_id: int) -> None:
        self.conn.reset_stream(stream_id)
        await self.flush()

    async def call(
        self, method: str, message: bytes = b"", metadata: dict[str, str] | None = None
    ) -> Reply:
        stream_id = await self.open(method, metadata)
        await self.send(stream_id, message, end=True)
        reply = self.replies[stream_id]
        await reply.ended.wait()
        return reply

    async def _read(self) -> None:
        while True:
            data = await self.stream.receive_some(65536)
            if not data:
                for reply in self.replies.values():
                    reply.ended.set()
                return
            for event in self.conn.receive_data(data):
                self._handle(event)
            await self.flush()

    def _handle(self, event: h2.events.Event) -> None:
        reply = self.replies.get(getattr(event, "stream_id", 0) or 0)
        if isinstance(event, h2.events.ResponseReceived) and reply:
            reply.headers = {str(k): str(v) for k, v in event.headers}
        elif isinstance(event, h2.events.TrailersReceived) and reply:
            reply.trailers = {str(k): str(v) for k, v in event.headers}
        elif isinstance(event, h2.events.DataReceived) and reply:
            self.conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            reply.buffer += event.data
            while len(reply.buffer) >= 5:
                length = int.from_bytes(reply.buffer[1:5], "big")
                if len(reply.buffer) < 5 + length:
                    break
                reply.messages.append(bytes(reply.buffer[5 : 5 + length]))
                del reply.buffer[: 5 + length]
        elif isinstance(event, h2.events.StreamEnded) and reply:
            reply.ended.set()
        elif isinstance(event, h2.events.StreamReset) and reply:
            reply.reset = True
            reply.ended.set()
