"""The BuildKit backend: ``POST /build?version=2`` on the daemon's own BuildKit.

No BuildKit session is opened: the context goes up as the request body (an
uncompressed GNU or USTAR tar), and progress comes back as JSON lines whose
``moby.buildkit.trace`` messages carry BuildKit's protobuf status updates. The
interpretation of those lines is ``BuildKitStream``, which does no I/O; the
backend around it posts and cancels, and reads with ``bakery.engine.stream``.

What the daemon (Docker 20.10, BuildKit 0.8) sends when a ``RUN`` fails: the
failed vertex, named as in ``[stage-0 3/4] RUN exit 3`` (``[3/4] ...`` for a
one-stage Dockerfile), with ``error`` set to ``executor failed running
[/bin/sh -c exit 3]: exit code: 3`` (newer BuildKit: ``process "/bin/sh -c exit 3"
did not complete successfully: exit code: 3``), then ``{"errorDetail":
{"message": ...}, "error": ...}`` with the same text. No source position comes
with it, so ``BuildFailed.line`` is only known for parse errors (``dockerfile
parse error line 2: ...``); the runner maps the step name back to a line.
"""

from __future__ import annotations

import contextlib
import json
import re
import uuid
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import requests

from bakery.engine.backend import (
    BuildCancelled,
    BuildFailed,
    BuildOutput,
    BuildSpec,
    Cancellation,
    LogEvent,
    Progress,
    ProgressEvent,
    StepEvent,
)
from bakery.engine.connection import abort_response, daemon_address, unreachable
from bakery.engine.registry import HELPER_HINT
from bakery.engine.stream import no_image_id, parse_error_line, read_build, refused
from bakery.engine.tar_stream import TarStream, UploadCancelled

if TYPE_CHECKING:
    from bakery.engine.buildkit_trace import Vertex, VertexLog

__all__ = ["TAIL_LINES", "BuildKitBackend", "BuildKitStream", "build_params"]

TAIL_LINES = 20
TRACE_ID = "moby.buildkit.trace"
IMAGE_ID = "moby.image.id"

_EXIT_CODE = re.compile(r"exit code: (\d+)")
_CANCELLED = ("context canceled", "context cancelled", "canceled", "cancelled")


@dataclass(frozen=True)
class _StepState:
    started: bool
    completed: bool
    cached: bool
    error: str | None


class BuildKitStream:
    """Interprets the JSON messages of one BuildKit build, one ``feed`` at a time.

    Keeps what a failure report needs: the vertices seen, the last ``tail`` log
    lines of each, the daemon's error and the image ID. Pure: no I/O.
    """

    def __init__(self, tail: int = TAIL_LINES) -> None:
        self.image_id: str | None = None
        self.error: str | None = None
        self._tail = tail
        self._vertexes: dict[str, Vertex] = {}
        self._states: dict[str, _StepState] = {}
        self._errored: list[str] = []
        self._partial: dict[tuple[str, int], bytes] = {}
        self._logs: dict[str, deque[str]] = {}

    def feed(self, message: Mapping[str, Any]) -> list[ProgressEvent]:
        """Take one decoded JSON line of the response; return the progress it makes."""
        if "errorDetail" in message or "error" in message:
            detail = message.get("errorDetail") or {}
            text = detail.get("message") if isinstance(detail, Mapping) else None
            self.error = str(text or message.get("error") or "the build failed")
            return []
        kind = message.get("id")
        aux = message.get("aux")
        if kind in (IMAGE_ID, None) and isinstance(aux, Mapping) and aux.get("ID"):
            # Docker 20.10 says "moby.image.id"; the classic form has no "id".
            self.image_id = str(aux["ID"])
            return []
        if kind == TRACE_ID and isinstance(aux, str | bytes):
            # Imported on the first trace: a run that builds nothing never decodes one.
            from bakery.engine.buildkit_trace import TraceError, decode_trace  # noqa: PLC0415

            try:
                update = decode_trace(aux)
            except TraceError:
                return []  # progress is decoration: a payload we cannot read must not fail a build
            return self._update(update.vertexes, update.logs)
        stream = message.get("stream")
        if (
            isinstance(stream, str)
            and stream.strip()
            and not stream.startswith("Successfully tagged")
        ):
            return [LogEvent(stream.rstrip("\n"))]
        return []

    def finish(self) -> list[ProgressEvent]:
        """The output still held back as partial lines, at the end of the stream."""
        events: list[ProgressEvent] = []
        for key in list(self._partial):
            events.extend(self._flush(key))
        return events

    def failure(self) -> BuildFailed | None:
        """The build's failure, if the daemon reported one (call after ``finish``)."""
        if self.error is None and (self.image_id is not None or not self._errored):
            return None
        vertex = self._failed_vertex()
        message = self.error or (vertex.error if vertex else None) or "the build failed"
        reasons = [message, vertex.error if vertex and vertex.error else ""]
        exit_status = next((int(m.group(1)) for r in reasons if (m := _EXIT_CODE.search(r))), None)
        line = next((n for r in reasons if (n := parse_error_line(r)) is not None), None)
        tail = tuple(self._logs.get(vertex.digest, ())) if vertex else ()
        return BuildFailed(
            message,
            step=vertex.name if vertex else None,
            line=line,
            exit_status=exit_status,
            log_tail=tail,
            hint=_hint(message),
        )

    # -- inside --------------------------------------------------------------------

    def _update(
        self,
        vertexes: tuple[Vertex, ...],
        logs: tuple[VertexLog, ...],
    ) -> list[ProgressEvent]:
        for vertex in vertexes:
            self._vertexes[vertex.digest] = vertex
        events: list[ProgressEvent] = []
        for log in logs:
            events.extend(self._log(log))
        for vertex in vertexes:
            state = _StepState(
                vertex.started is not None,
                vertex.completed is not None,
                vertex.cached,
                vertex.error,
            )
            if state == self._states.get(vertex.digest):
                continue
            self._states[vertex.digest] = state
            if vertex.error and vertex.digest not in self._errored:
                self._errored.append(vertex.digest)
            if state.completed:
                for key in [k for k in self._partial if k[0] == vertex.digest]:
                    events.extend(self._flush(key))
            events.append(
                StepEvent(
                    vertex.name,
                    started=state.started,
                    completed=state.completed,
                    cached=state.cached,
                    error=state.error,
                )
            )
        return events

    def _log(self, log: VertexLog) -> list[ProgressEvent]:
        key = (log.vertex, log.stream)
        *lines, rest = (self._partial.pop(key, b"") + log.data).split(b"\n")
        if rest:
            self._partial[key] = rest
        return self._lines(log.vertex, lines)

    def _flush(self, key: tuple[str, int]) -> list[ProgressEvent]:
        rest = self._partial.pop(key, b"")
        return self._lines(key[0], [rest]) if rest else []

    def _lines(self, digest: str, raw: list[bytes]) -> list[ProgressEvent]:
        if not raw:
            return []
        lines = [_clean(line) for line in raw]
        self._logs.setdefault(digest, deque(maxlen=self._tail)).extend(lines)
        vertex = self._vertexes.get(digest)
        return [LogEvent("\n".join(lines), step=vertex.name if vertex else None)]

    def _failed_vertex(self) -> Vertex | None:
        errored = [self._vertexes[d] for d in self._errored]
        real = [v for v in errored if not _is_cancel(v.error or "")] or errored
        if self.error:
            # The daemon's error repeats the failed vertex's, give or take a prefix.
            for vertex in real:
                if vertex.error and vertex.error in self.error:
                    return vertex
        return real[0] if real else None


class BuildKitBackend:
    """Builds on the daemon's BuildKit. ``client`` is a docker SDK ``APIClient``."""

    name = "buildkit"

    def __init__(self, client: Any, *, tail_lines: int = TAIL_LINES) -> None:
        self.client = client
        self.tail_lines = tail_lines

    def build(self, spec: BuildSpec, progress: Progress, cancel: Cancellation) -> BuildOutput:
        """Build and tag ``spec``; blocking. See ``Backend.build``."""
        if cancel.cancelled:
            raise BuildCancelled(spec.tag)
        build_id = uuid.uuid4().hex
        if isinstance(spec.context, TarStream):
            cancel.on_cancel(spec.context.cancel)  # Ctrl-C stops an upload at once
        try:
            response = self._post(spec, build_id)
        except UploadCancelled:
            raise BuildCancelled(spec.tag) from None
        try:
            cancel.on_cancel(lambda: abort_response(response))
            if response.status_code != 200:
                raise _http_failure(response)
            stream = read_build(
                map(_json, response.iter_lines(chunk_size=None)),
                BuildKitStream(self.tail_lines),
                progress,
                cancel,
                client=self.client,
                tag=spec.tag,
                on_cancelled=lambda _: self._cancel_on_daemon(build_id),
            )
        finally:
            response.close()
        if stream.image_id is None:
            raise no_image_id()
        return BuildOutput(stream.image_id)

    def _post(self, spec: BuildSpec, build_id: str) -> requests.Response:
        client = self.client
        # Registry credentials go through the build's session, not a header.
        headers = {"Content-Type": "application/x-tar"}
        try:
            response: requests.Response = client._post(
                client._url("/build"),
                params=build_params(spec, build_id=build_id),
                data=spec.context,
                headers=headers,
                stream=True,
                # No read timeout: a step may stay silent for longer than any bound.
                timeout=(client.timeout, None),
            )
        except requests.ConnectionError as err:
            raise unreachable(daemon_address(client), err) from None
        return response

    def _cancel_on_daemon(self, build_id: str) -> None:
        """Belt and braces: the closed connection already stops the build."""
        client = self.client
        # Best effort: the build is already being torn down.
        with contextlib.suppress(requests.RequestException, OSError):
            client._post(client._url("/build/cancel"), params={"id": build_id}, timeout=5).close()


def build_params(spec: BuildSpec, *, build_id: str | None = None) -> dict[str, Any]:
    """The query of ``POST /build?version=2`` for ``spec``."""
    params: dict[str, Any] = {
        "version": "2",
        "t": spec.tag,
        "dockerfile": spec.dockerfile,
        "rm": "1",
        "forcerm": "1",
    }
    if build_id:
        params["buildid"] = build_id
    if spec.session:
        params["session"] = spec.session
    if spec.target:
        params["target"] = spec.target
    if spec.build_args:
        params["buildargs"] = json.dumps(dict(spec.build_args))
    if spec.labels:
        params["labels"] = json.dumps(dict(spec.labels))
    if spec.platform:
        params["platform"] = spec.platform
    if spec.network:
        params["networkmode"] = spec.network
    if spec.extra_hosts:
        params["extrahosts"] = [f"{host}:{ip}" for host, ip in spec.extra_hosts.items()]
    if spec.shm_size:
        params["shmsize"] = str(spec.shm_size)
    if spec.no_cache:
        params["nocache"] = "1"
    if spec.pull:
        params["pull"] = "1"
    if spec.cache_from:
        params["cachefrom"] = json.dumps(list(spec.cache_from))
    return params


# -- helpers -----------------------------------------------------------------------


def _json(raw: bytes) -> Mapping[str, Any] | None:
    if not raw.strip():
        return None
    try:
        message = json.loads(raw)
    except ValueError:
        return None  # not a message (a proxy's noise): nothing to act on
    return message if isinstance(message, Mapping) else None


def _http_failure(response: requests.Response) -> BuildFailed:
    """The daemon refused the request before building (bad platform, bad options...)."""
    try:
        text = str(response.json().get("message") or "")
    except ValueError:
        text = response.text.strip()
    message = text or f"the Docker daemon answered {response.status_code} {response.reason}"
    return refused(message, hint=_hint(message))


def _clean(raw: bytes) -> str:
    # A carriage return redraws the line on a terminal: keep what would be seen last.
    text = raw.decode("utf-8", errors="replace").rstrip("\r")
    if "\r" in text:
        text = next((part for part in reversed(text.split("\r")) if part), "")
    return text


def _is_cancel(error: str) -> bool:
    return error.strip().lower().endswith(_CANCELLED)


def _hint(message: str) -> str | None:
    if "failed to compute cache key" in message and "not found" in message:
        return "the file is not in the build context, or .dockerignore leaves it out"
    if "credential helper" in message:
        return HELPER_HINT
    if "pull access denied" in message or "no such host" in message:
        return "the base image is neither on the daemon nor in a registry it can reach"
    return None
