"""Decodes BuildKit's progress traces, as the Docker daemon relays them.

``POST /build?version=2`` streams JSON lines; progress comes as
``{"id": "moby.buildkit.trace", "aux": "<base64>"}`` where the payload is one
protobuf ``StatusResponse`` of BuildKit's ``api/services/control/control.proto``.
This module turns such a payload into frozen dataclasses with a small reader of
the protobuf wire format: no generated code, no protobuf dependency.

It is pure: no sockets, no docker, no clock. Unknown fields are skipped, so newer
daemons that add fields decode as well; a malformed payload raises ``TraceError``.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from bakery.engine.protowire import WireError, fields, integer, message, signed, string

__all__ = [
    "SourceRange",
    "StatusUpdate",
    "TraceError",
    "Vertex",
    "VertexLog",
    "VertexStatus",
    "VertexWarning",
    "decode_status",
    "decode_trace",
]


# A trace payload that is not a well-formed ``StatusResponse``.
TraceError = WireError


# -- the messages ------------------------------------------------------------------


@dataclass(frozen=True)
class Vertex:
    """One node of the build graph, e.g. ``[stage-0 2/3] RUN make``.

    Times are Unix seconds; ``None`` when not (yet) set. ``error`` is ``None``
    unless the vertex failed (or was cancelled).
    """

    digest: str
    inputs: tuple[str, ...] = ()
    name: str = ""
    cached: bool = False
    started: float | None = None
    completed: float | None = None
    error: str | None = None


@dataclass(frozen=True)
class VertexStatus:
    """Progress of a sub-task of a vertex (a layer being exported, bytes copied)."""

    id: str
    vertex: str = ""
    name: str = ""
    current: int = 0
    total: int = 0
    timestamp: float | None = None
    started: float | None = None
    completed: float | None = None


@dataclass(frozen=True)
class VertexLog:
    """A chunk of a vertex's output. ``stream`` is 1 for stdout, 2 for stderr.

    A chunk is not a line: it may hold several lines or end mid-line.
    """

    vertex: str
    data: bytes = b""
    stream: int = 0
    timestamp: float | None = None


@dataclass(frozen=True)
class SourceRange:
    """Lines (1-based, inclusive) of the source file a warning points at."""

    start: int
    end: int


@dataclass(frozen=True)
class VertexWarning:
    """A frontend warning (newer BuildKit only), e.g. a deprecated instruction form."""

    vertex: str
    level: int = 0
    short: str = ""
    detail: tuple[str, ...] = ()
    url: str = ""
    filename: str | None = None
    ranges: tuple[SourceRange, ...] = ()


@dataclass(frozen=True)
class StatusUpdate:
    """One ``StatusResponse``: what changed since the previous one."""

    vertexes: tuple[Vertex, ...] = ()
    statuses: tuple[VertexStatus, ...] = ()
    logs: tuple[VertexLog, ...] = ()
    warnings: tuple[VertexWarning, ...] = ()


# -- entry points ------------------------------------------------------------------


def decode_trace(aux: str | bytes) -> StatusUpdate:
    """Decode the base64 ``aux`` of a ``moby.buildkit.trace`` message."""
    try:
        payload = base64.b64decode(aux, validate=True)
    except (binascii.Error, ValueError) as err:
        raise TraceError(f"trace payload is not base64: {err}") from None
    return decode_status(payload)


def decode_status(payload: bytes) -> StatusUpdate:
    """Decode a serialized ``StatusResponse``."""
    vertexes: list[Vertex] = []
    statuses: list[VertexStatus] = []
    logs: list[VertexLog] = []
    warnings: list[VertexWarning] = []
    for number, value in fields(payload):
        if number == 1:
            vertexes.append(_vertex(message(value)))
        elif number == 2:
            statuses.append(_vertex_status(message(value)))
        elif number == 3:
            logs.append(_vertex_log(message(value)))
        elif number == 4:
            warnings.append(_vertex_warning(message(value)))
    return StatusUpdate(tuple(vertexes), tuple(statuses), tuple(logs), tuple(warnings))


# -- the schema (field numbers from control.proto and solver/pb/ops.proto) ---------


def _vertex(data: bytes) -> Vertex:
    digest, name, error = "", "", ""
    inputs: list[str] = []
    cached = False
    started: float | None = None
    completed: float | None = None
    for number, value in fields(data):
        if number == 1:
            digest = string(value)
        elif number == 2:
            inputs.append(string(value))
        elif number == 3:
            name = string(value)
        elif number == 4:
            cached = bool(integer(value))
        elif number == 5:
            started = _timestamp(message(value))
        elif number == 6:
            completed = _timestamp(message(value))
        elif number == 7:
            error = string(value)
        # 8: progressGroup (newer BuildKit), not needed.
    return Vertex(digest, tuple(inputs), name, cached, started, completed, error or None)


def _vertex_status(data: bytes) -> VertexStatus:
    id_, vertex, name = "", "", ""
    current = total = 0
    times: dict[int, float | None] = {}
    for number, value in fields(data):
        if number == 1:
            id_ = string(value)
        elif number == 2:
            vertex = string(value)
        elif number == 3:
            name = string(value)
        elif number == 4:
            current = signed(integer(value))
        elif number == 5:
            total = signed(integer(value))
        elif number in (6, 7, 8):
            times[number] = _timestamp(message(value))
    return VertexStatus(id_, vertex, name, current, total, times.get(6), times.get(7), times.get(8))


def _vertex_log(data: bytes) -> VertexLog:
    vertex = ""
    timestamp: float | None = None
    stream = 0
    chunks: list[bytes] = []
    for number, value in fields(data):
        if number == 1:
            vertex = string(value)
        elif number == 2:
            timestamp = _timestamp(message(value))
        elif number == 3:
            stream = signed(integer(value))
        elif number == 4:
            chunks.append(message(value))
    return VertexLog(vertex, b"".join(chunks), stream, timestamp)


def _vertex_warning(data: bytes) -> VertexWarning:
    vertex, short, url = "", "", ""
    level = 0
    detail: list[str] = []
    filename: str | None = None
    ranges: list[SourceRange] = []
    for number, value in fields(data):
        if number == 1:
            vertex = string(value)
        elif number == 2:
            level = signed(integer(value))
        elif number == 3:
            short = string(value)
        elif number == 4:
            detail.append(string(value))
        elif number == 5:
            url = string(value)
        elif number == 6:
            filename = _source_filename(message(value))
        elif number == 7:
            ranges.append(_range(message(value)))
    return VertexWarning(vertex, level, short, tuple(detail), url, filename, tuple(ranges))


def _source_filename(data: bytes) -> str | None:
    # pb.SourceInfo: filename = 1; data, definition and language are not needed.
    for number, value in fields(data):
        if number == 1:
            return string(value)
    return None


def _range(data: bytes) -> SourceRange:
    # pb.Range { Position start = 1; Position end = 2; } Position { int32 line = 1; ... }
    lines = {1: 0, 2: 0}
    for number, value in fields(data):
        if number in lines:
            for inner, line in fields(message(value)):
                if inner == 1:
                    lines[number] = signed(integer(line))
    return SourceRange(lines[1], lines[2] or lines[1])


def _timestamp(data: bytes) -> float | None:
    # google.protobuf.Timestamp { int64 seconds = 1; int32 nanos = 2; }; Go's zero
    # time (year 1) marshals as a large negative number of seconds: treat as unset.
    seconds = nanos = 0
    for number, value in fields(data):
        if number == 1:
            seconds = signed(integer(value))
        elif number == 2:
            nanos = signed(integer(value))
    if seconds < 0:
        return None
    return seconds + nanos / 1e9
