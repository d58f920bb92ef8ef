"""Decoding BuildKit's trace payloads, and reading a BuildKit build's JSON lines.

The base64 literals were captured once from Docker 20.10.24 (BuildKit 0.8)
building::

    FROM bakery-busybox:latest
    RUN echo hello && echo world >&2
    RUN echo before-fail && exit 3

and a two-stage ``FROM ... AS base`` file; the hand-built payloads cover what
that daemon never sends (warnings, unknown fields, malformed data).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Any

import pytest

from bakery.engine.backend import LogEvent, StepEvent
from bakery.engine.buildkit import BuildKitStream
from bakery.engine.buildkit_trace import (
    SourceRange,
    StatusUpdate,
    TraceError,
    Vertex,
    VertexLog,
    VertexWarning,
    decode_status,
    decode_trace,
)

RUN_DIGEST = "sha256:31b20ec1f96f9995f1d88dc1296cf4a3b558a80bb96efe82031829601c190165"
PARENT_DIGEST = "sha256:369c9e34909e269986de9a942ccc145cf9c0a9f8cdcca2a54d62744817aa352d"
RUN_NAME = "[3/3] RUN echo before-fail && exit 3"
RUN_ERROR = "executor failed running [/bin/sh -c echo before-fail && exit 3]: exit code: 3"

# The failing RUN vertex, started.
RUN_STARTED = (
    "CsUBCkdzaGEyNTY6MzFiMjBlYzFmOTZmOTk5NWYxZDg4ZGMxMjk2Y2Y0YTNiNTU4YTgwYmI5NmVmZTgyMDMxODI5"
    "NjAxYzE5MDE2NRJHc2hhMjU2OjM2OWM5ZTM0OTA5ZTI2OTk4NmRlOWE5NDJjY2MxNDVjZjljMGE5ZjhjZGNjYTJh"
    "NTRkNjI3NDQ4MTdhYTM1MmQaJFszLzNdIFJVTiBlY2hvIGJlZm9yZS1mYWlsICYmIGV4aXQgMyoLCOr9qNgGEP3d"
    "1S8="
)
# Its output: "before-fail\n" on stdout.
RUN_LOG = (
    "GmcKR3NoYTI1NjozMWIyMGVjMWY5NmY5OTk1ZjFkODhkYzEyOTZjZjRhM2I1NThhODBiYjk2ZWZlODIwMzE4Mjk2"
    "MDFjMTkwMTY1EgwI6v2o2AYQrdGR7QEYASIMYmVmb3JlLWZhaWwK"
)
# The vertex again, completed, with its error.
RUN_FAILED = (
    "CqICCkdzaGEyNTY6MzFiMjBlYzFmOTZmOTk5NWYxZDg4ZGMxMjk2Y2Y0YTNiNTU4YTgwYmI5NmVmZTgyMDMxODI5"
    "NjAxYzE5MDE2NRJHc2hhMjU2OjM2OWM5ZTM0OTA5ZTI2OTk4NmRlOWE5NDJjY2MxNDVjZjljMGE5ZjhjZGNjYTJh"
    "NTRkNjI3NDQ4MTdhYTM1MmQaJFszLzNdIFJVTiBlY2hvIGJlZm9yZS1mYWlsICYmIGV4aXQgMyoLCOr9qNgGEP3d"
    "1S8yDAjq/ajYBhDKqf7vATpNZXhlY3V0b3IgZmFpbGVkIHJ1bm5pbmcgWy9iaW4vc2ggLWMgZWNobyBiZWZvcmUt"
    "ZmFpbCAmJiBleGl0IDNdOiBleGl0IGNvZGU6IDM="
)
# Two logs in one update: "world\n" on stderr, then "hello\n" on stdout.
TWO_LOGS = (
    "GmAKR3NoYTI1NjozNjljOWUzNDkwOWUyNjk5ODZkZTlhOTQyY2NjMTQ1Y2Y5YzBhOWY4Y2RjY2EyYTU0ZDYyNzQ0"
    "ODE3YWEzNTJkEgsI6v2o2AYQj/izKxgCIgZ3b3JsZAoaYApHc2hhMjU2OjM2OWM5ZTM0OTA5ZTI2OTk4NmRlOWE5"
    "NDJjY2MxNDVjZjljMGE5ZjhjZGNjYTJhNTRkNjI3NDQ4MTdhYTM1MmQSCwjq/ajYBhCT4LcrGAEiBmhlbGxvCg=="
)
# A FROM vertex of a named stage, cached.
FROM_CACHED = (
    "Cp4BCkdzaGEyNTY6NjFjMDc2YTY3Y2IzOWEyMDU0MzA5MjM5NTFmNmI1ZTZmMDM0MGFjY2U4MWQ2ODdmOTk5MmRh"
    "ZjVkZmJiYWY2Nxo3W2Jhc2UgMS8yXSBGUk9NIGRvY2tlci5pby9saWJyYXJ5L2Jha2VyeS1idXN5Ym94OmxhdGVz"
    "dCABKgsI84Gp2AYQlfy+LTILCPOBqdgGENqbwC0="
)
# A status of the export vertex.
EXPORT_STATUS = (
    "EoUBChBleHBvcnRpbmcgbGF5ZXJzEkdzaGEyNTY6ZThjNjEzZTA3YjBiN2ZmMzM4OTNiNjk0Zjc3NTlhMTBkNDJl"
    "MTgwZjJiNGRjMzQ5ZmI1N2RjNmI3MWRjYWIwMDIMCPOBqdgGENbQn40COgwI84Gp2AYQtsHxhAJCDAjzganYBhCn"
    "v5+NAg=="
)


# -- a tiny protobuf writer, to hand-build payloads --------------------------------


def varint(value: int) -> bytes:
    value &= (1 << 64) - 1
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def field(number: int, value: int | bytes | str, wire: int | None = None) -> bytes:
    if isinstance(value, str):
        value = value.encode()
    if isinstance(value, bytes):
        return varint(number << 3 | 2) + varint(len(value)) + value
    if wire == 1:
        return varint(number << 3 | 1) + value.to_bytes(8, "little")
    if wire == 5:
        return varint(number << 3 | 5) + value.to_bytes(4, "little")
    return varint(number << 3) + varint(value)


def timestamp(seconds: int, nanos: int = 0) -> bytes:
    return field(1, seconds) + field(2, nanos)


# -- captured payloads -------------------------------------------------------------


def test_a_started_vertex() -> None:
    update = decode_trace(RUN_STARTED)
    assert update.statuses == ()
    assert update.logs == ()
    assert update.warnings == ()
    (vertex,) = update.vertexes
    assert vertex.digest == RUN_DIGEST
    assert vertex.inputs == (PARENT_DIGEST,)
    assert vertex.name == RUN_NAME
    assert not vertex.cached
    assert vertex.started == pytest.approx(1795833578.099970813, abs=1e-6)
    assert vertex.completed is None
    assert vertex.error is None


def test_a_failed_vertex_carries_the_error_and_its_end() -> None:
    (vertex,) = decode_trace(RUN_FAILED).vertexes
    assert vertex.name == RUN_NAME
    assert vertex.error == RUN_ERROR
    assert vertex.started == pytest.approx(1795833578.099970813, abs=1e-6)
    assert vertex.completed == pytest.approx(1795833578.503289, abs=1e-6)


def test_a_log_chunk() -> None:
    update = decode_trace(RUN_LOG)
    assert update.vertexes == ()
    assert update.logs == (VertexLog(RUN_DIGEST, b"before-fail\n", 1, update.logs[0].timestamp),)
    assert update.logs[0].timestamp == pytest.approx(1795833578.497314, abs=1e-6)


def test_two_logs_keep_their_streams_and_order() -> None:
    logs = decode_trace(TWO_LOGS).logs
    assert [(log.vertex, log.stream, log.data) for log in logs] == [
        (PARENT_DIGEST, 2, b"world\n"),
        (PARENT_DIGEST, 1, b"hello\n"),
    ]


def test_a_cached_vertex_of_a_named_stage() -> None:
    (vertex,) = decode_trace(FROM_CACHED).vertexes
    assert vertex.name == "[base 1/2] FROM docker.io/library/bakery-busybox:latest"
    assert vertex.cached
    assert vertex.started is not None
    assert vertex.completed is not None


def test_a_status() -> None:
    update = decode_trace(EXPORT_STATUS)
    (status,) = update.statuses
    assert status.id == "exporting layers"
    assert status.vertex.startswith("sha256:e8c613e0")
    assert (status.current, status.total) == (0, 0)
    assert status.started is not None
    assert status.completed is not None
    assert status.timestamp is not None


def test_decode_status_takes_the_raw_bytes() -> None:
    assert decode_status(base64.b64decode(RUN_LOG)) == decode_trace(RUN_LOG)


# -- hand-built payloads -----------------------------------------------------------


def test_an_empty_payload_is_an_empty_update() -> None:
    assert decode_trace("") == StatusUpdate()


def test_every_vertex_field() -> None:
    vertex = (
        field(1, "sha256:a")
        + field(2, "sha256:b")
        + field(2, "sha256:c")
        + field(3, "[2/2] RUN make")
        + field(4, 1)
        + field(5, timestamp(10, 500_000_000))
        + field(6, timestamp(12))
        + field(7, "boom")
        + field(8, field(1, "group") + field(2, "name"))
    )  # progressGroup: skipped
    (decoded,) = decode_status(field(1, vertex)).vertexes
    assert decoded == Vertex(
        "sha256:a", ("sha256:b", "sha256:c"), "[2/2] RUN make", True, 10.5, 12.0, "boom"
    )


def test_unknown_fields_of_every_wire_type_are_skipped() -> None:
    log = field(1, "sha256:a") + field(4, b"out\n") + field(3, 2)
    payload = (
        field(99, 7)
        + field(98, 1 << 40, wire=1)
        + field(97, 5, wire=5)
        + field(96, b"\x00\xff")
        + field(3, log + field(50, 1, wire=5))
    )
    assert decode_status(payload).logs == (VertexLog("sha256:a", b"out\n", 2, None),)


def test_a_warning_with_its_source_lines() -> None:
    position = field(1, 3) + field(2, 4)
    source = field(1, "Dockerfile") + field(2, b"FROM x\n") + field(4, "Dockerfile")
    warning = (
        field(1, "sha256:a")
        + field(2, 1)
        + field(3, b"legacy ENV form")
        + field(4, b"detail one")
        + field(4, b"detail two")
        + field(5, "https://docs")
        + field(6, source)
        + field(7, field(1, position) + field(2, field(1, 5)))
    )
    (decoded,) = decode_status(field(4, warning)).warnings
    assert decoded == VertexWarning(
        "sha256:a",
        1,
        "legacy ENV form",
        ("detail one", "detail two"),
        "https://docs",
        "Dockerfile",
        (SourceRange(3, 5),),
    )


def test_negative_numbers_and_the_zero_time() -> None:
    status = (
        field(1, "id") + field(4, -1) + field(5, -2) + field(6, timestamp(-62135596800))
    )  # Go's zero time.Time
    (decoded,) = decode_status(field(2, status)).statuses
    assert (decoded.current, decoded.total, decoded.timestamp) == (-1, -2, None)


def test_invalid_utf8_is_replaced_not_fatal() -> None:
    (vertex,) = decode_status(field(1, field(1, "d") + field(3, b"RUN \xff"))).vertexes
    assert vertex.name == "RUN \ufffd"


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        pytest.param(b"\x0a\x05abc", "past the end", id="length-past-end"),
        pytest.param(b"\x08", "truncated varint", id="truncated-varint"),
        pytest.param(b"\x08" + b"\xff" * 11, "longer than 10", id="overlong-varint"),
        pytest.param(b"\x09\x00\x00", "past the end", id="truncated-fixed64"),
        pytest.param(b"\x0b", "wire type 3", id="group"),
        pytest.param(b"\x00\x00", "field number 0", id="field-zero"),
        pytest.param(field(1, 5), "expected a length-delimited", id="vertex-as-number"),
        pytest.param(field(1, field(4, b"yes")), "expected a number", id="bool-as-bytes"),
    ],
)
def test_malformed_payloads_raise_trace_error(payload: bytes, reason: str) -> None:
    with pytest.raises(TraceError, match=reason):
        decode_status(payload)


def test_non_base64_raises_trace_error() -> None:
    with pytest.raises(TraceError, match="base64"):
        decode_trace("not base64!")


# -- reading a build's JSON lines --------------------------------------------------


def trace(aux: str | bytes) -> dict[str, Any]:
    if isinstance(aux, bytes):
        aux = base64.b64encode(aux).decode()
    return {"id": "moby.buildkit.trace", "aux": aux}


def feed_all(stream: BuildKitStream, messages: list[Mapping[str, Any]]) -> list[object]:
    events: list[object] = []
    for message in messages:
        events.extend(stream.feed(message))
    events.extend(stream.finish())
    return events


ERROR_DETAIL = json.loads(
    '{"errorDetail":{"message":"executor failed running [/bin/sh -c echo before-fail '
    '\\u0026\\u0026 exit 3]: exit code: 3"},"error":"executor failed running [/bin/sh -c echo '
    'before-fail \\u0026\\u0026 exit 3]: exit code: 3"}'
)


def test_a_failed_run_as_the_daemon_sends_it() -> None:
    stream = BuildKitStream()
    events = feed_all(stream, [trace(RUN_STARTED), trace(RUN_LOG), trace(RUN_FAILED), ERROR_DETAIL])
    assert events == [
        StepEvent(RUN_NAME, started=True),
        LogEvent("before-fail", step=RUN_NAME),
        StepEvent(RUN_NAME, started=True, completed=True, error=RUN_ERROR),
    ]
    failure = stream.failure()
    assert failure is not None
    assert failure.message == RUN_ERROR
    assert failure.step == RUN_NAME
    assert failure.exit_status == 3
    assert failure.line is None  # the daemon sends no source position for a RUN
    assert failure.log_tail == ("before-fail",)


def vertex_msg(
    digest: str,
    name: str,
    *,
    started: int | None = None,
    completed: int | None = None,
    error: str = "",
    cached: bool = False,
) -> bytes:
    body = field(1, digest) + field(3, name)
    if cached:
        body += field(4, 1)
    if started is not None:
        body += field(5, timestamp(started))
    if completed is not None:
        body += field(6, timestamp(completed))
    if error:
        body += field(7, error)
    return field(1, body)


def log_msg(digest: str, data: bytes, stream: int = 1) -> bytes:
    return field(3, field(1, digest) + field(3, stream) + field(4, data))


def test_logs_are_split_into_lines_across_chunks_and_the_tail_is_kept() -> None:
    stream = BuildKitStream(tail=3)
    lines = b"".join(b"line %d\n" % i for i in range(1, 6))
    events = feed_all(
        stream,
        [
            trace(vertex_msg("d", "[1/1] RUN x", started=1)),
            trace(log_msg("d", lines[:10])),  # "line 1\nlin"
            trace(log_msg("d", lines[10:] + b"progress 10%\rprogress 100%")),
            trace(log_msg("d", b"on stderr\n", stream=2)),
            trace(
                vertex_msg(
                    "d",
                    "[1/1] RUN x",
                    started=1,
                    completed=2,
                    error='process "/bin/sh -c x" did not complete successfully: exit code: 127',
                )
            ),
            {
                "errorDetail": {
                    "message": 'failed to solve: process "/bin/sh -c x" did not '
                    "complete successfully: exit code: 127"
                }
            },
        ],
    )
    logs = [e for e in events if isinstance(e, LogEvent)]
    assert [log.text for log in logs] == [
        "line 1",
        "line 2\nline 3\nline 4\nline 5",
        "on stderr",
        "progress 100%",
    ]
    failure = stream.failure()
    assert failure is not None
    assert failure.exit_status == 127
    assert failure.step == "[1/1] RUN x"
    assert failure.log_tail == ("line 5", "on stderr", "progress 100%")


def test_the_failed_vertex_is_not_a_cancelled_sibling() -> None:
    stream = BuildKitStream()
    feed_all(
        stream,
        [
            trace(
                vertex_msg(
                    "a", "[a 2/2] RUN sleep 9", started=1, completed=2, error="context canceled"
                )
            ),
            trace(
                vertex_msg(
                    "b",
                    "[b 2/2] RUN exit 4",
                    started=1,
                    completed=2,
                    error="executor failed running [/bin/sh -c exit 4]: exit code: 4",
                )
            ),
            {"error": "executor failed running [/bin/sh -c exit 4]: exit code: 4"},
        ],
    )
    failure = stream.failure()
    assert failure is not None
    assert (failure.step, failure.exit_status) == ("[b 2/2] RUN exit 4", 4)


def test_a_parse_error_names_its_line() -> None:
    stream = BuildKitStream()
    feed_all(
        stream,
        [
            {
                "errorDetail": {
                    "message": "failed to solve with frontend dockerfile.v0: "
                    "failed to create LLB definition: dockerfile "
                    "parse error line 2: unknown instruction: FOO"
                }
            }
        ],
    )
    failure = stream.failure()
    assert failure is not None
    assert (failure.line, failure.step, failure.exit_status) == (2, None, None)


def test_success_gives_the_image_id_and_state_changes_once() -> None:
    stream = BuildKitStream()
    started = trace(vertex_msg("d", "[1/2] FROM x", started=1))
    events = feed_all(
        stream,
        [
            started,
            started,  # BuildKit repeats vertices: only changes are events
            trace(vertex_msg("d", "[1/2] FROM x", started=1, completed=1, cached=True)),
            trace(b"\xff\xff"),  # an unreadable payload is skipped
            {"id": "moby.image.id", "aux": {"ID": "sha256:abc"}},
            {"stream": "Successfully tagged x:latest\n"},
        ],
    )
    assert events == [
        StepEvent("[1/2] FROM x", started=True),
        StepEvent("[1/2] FROM x", started=True, completed=True, cached=True),
    ]
    assert stream.failure() is None
    assert stream.image_id == "sha256:abc"
