"""The classic backend: the daemon's legacy builder, as the docker SDK's ``build()`` speaks it.

The builder streams text: ``Step 2/3 : RUN make`` starts a step, ``---> Using
cache`` marks it cached, ``---> Running in <id>`` names the container it runs
in, and everything else a step prints is its output. ``ClassicStream`` reads
that text without I/O; the backend around it posts and cancels, and reads with
``bakery.engine.stream``.

What the daemon (Docker 20.10) sends when a ``RUN`` fails: the step's output,
``Removing intermediate container <id>``, then ``{"errorDetail": {"code": 3,
"message": "The command '/bin/sh -c exit 3' returned a non-zero code: 3"}}``.
A Dockerfile that does not parse is refused with HTTP 400 and ``dockerfile parse
error line 2: unknown instruction: FOO`` before any step runs.

On cancel the connection is shut down, which makes the daemon kill and remove
the step's container; the backend waits until the containers it saw are gone
(removing them itself if the daemon has not), so that none is left behind.
"""

from __future__ import annotations

import contextlib
import io
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import docker.credentials.errors
import docker.errors
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
from bakery.engine.stream import no_image_id, parse_error_line, read_build
from bakery.engine.tar_stream import TarStream, UploadCancelled

__all__ = ["TAIL_LINES", "ClassicBackend", "ClassicStream"]

TAIL_LINES = 20
# How long, after a cancel, a step's container may take to appear on the daemon.
_SETTLE = 0.5

_STEP = re.compile(r"^Step \d+/\d+ : ")
_RUNNING_IN = re.compile(r"^ ---> Running in ([0-9a-f]{12,64})\s*$")
_IMAGE = re.compile(r"^ ---> ([0-9a-f]{12,64})\s*$")
_NON_ZERO = re.compile(r"returned a non-zero code: (\d+)")
# The builder's own bookkeeping, not output of a step.
_CHATTER = re.compile(r"^( ---> |Removing intermediate container |Successfully (built|tagged) )")
_BUILDER = re.compile(
    r"^( ---> |Removing intermediate container |Successfully (built|tagged) |Step \d+/\d+ : )"
)
# The classic builder paints a step's stderr red: "\x1b[91m...\x1b[0m".
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


class ClassicStream:
    """Interprets the decoded JSON messages of one classic build. Pure: no I/O."""

    def __init__(self, tail: int = TAIL_LINES) -> None:
        self.image_id: str | None = None
        self.error: str | None = None
        self.error_code: int | None = None
        self.containers: list[str] = []
        self.image: str | None = None  # the last " ---> <id>": what the next step starts from
        self._step_container = False
        self.step: str | None = None
        self._step_done = True
        self._text = ""
        self._log: deque[str] = deque(maxlen=tail)

    def feed(self, message: Mapping[str, Any]) -> list[ProgressEvent]:
        """Take one decoded JSON message; return the progress it makes."""
        if "errorDetail" in message or "error" in message:
            detail = message.get("errorDetail") or {}
            if isinstance(detail, Mapping):
                code = detail.get("code")
                self.error_code = code if isinstance(code, int) and code else None
                text = detail.get("message")
            else:
                text = None
            self.error = str(text or message.get("error") or "the build failed")
            return []
        aux = message.get("aux")
        if isinstance(aux, Mapping) and aux.get("ID"):
            self.image_id = str(aux["ID"])
            return []
        stream = message.get("stream")
        if not isinstance(stream, str):
            return []
        events: list[ProgressEvent] = []
        if self._text and _BUILDER.match(stream):
            # The builder writes its own lines whole, right after a step's output,
            # which may end without a newline ("printf x; exit 3").
            rest, self._text = self._text, ""
            events.extend(self._lines([rest]))
        *lines, self._text = (self._text + stream).split("\n")
        events.extend(self._lines(lines))
        return events

    def finish(self) -> list[ProgressEvent]:
        """What is held back as a partial line, and the last step's end."""
        rest, self._text = self._text, ""
        events = self._lines([rest]) if rest else []
        if self.error is None:
            events.extend(self._end_step())
        return events

    def failure(self) -> BuildFailed | None:
        """The build's failure, if the daemon reported one (call after ``finish``)."""
        if self.error is None:
            return None
        match = _NON_ZERO.search(self.error)
        exit_status = int(match.group(1)) if match else self.error_code
        return BuildFailed(
            self.error,
            step=self.step,
            line=parse_error_line(self.error),
            exit_status=exit_status,
            log_tail=tuple(self._log),
        )

    def _lines(self, lines: list[str]) -> list[ProgressEvent]:
        events: list[ProgressEvent] = []
        output: list[str] = []
        for raw in lines:
            line = _clean(raw)
            if _STEP.match(line):
                if output:
                    events.append(LogEvent("\n".join(output), step=self.step))
                    output = []
                events.extend(self._end_step())
                self.step, self._step_done = line.strip(), False
                self._step_container = False
                self._log.clear()
                events.append(StepEvent(self.step, started=True))
            elif line.strip() == "---> Using cache" and self.step:
                self._step_done = True
                events.append(StepEvent(self.step, started=True, completed=True, cached=True))
            elif _CHATTER.match(line):
                running = _RUNNING_IN.match(line)
                if running:
                    self.containers.append(running.group(1))
                    self._step_container = True
                image = _IMAGE.match(line)
                if image:
                    self.image = image.group(1)
            elif line or output:
                output.append(line)
                self._log.append(line)
        if output:
            events.append(LogEvent("\n".join(output), step=self.step))
        return events

    def step_container_unseen(self) -> bool:
        """Whether the running step may have a container not named yet: every step
        but ``FROM`` runs in one, announced as ``---> Running in <id>``."""
        if self.step is None or self._step_done or self._step_container:
            return False
        return _STEP.sub("", self.step).split(" ", 1)[0].upper() != "FROM"

    def _end_step(self) -> list[ProgressEvent]:
        if self.step is None or self._step_done:
            return []
        self._step_done = True
        return [StepEvent(self.step, started=True, completed=True)]


class ClassicBackend:
    """Builds with the daemon's classic builder. ``client`` is a docker SDK ``APIClient``."""

    name = "classic"

    def __init__(
        self, client: Any, *, tail_lines: int = TAIL_LINES, cleanup_timeout: float = 15.0
    ) -> None:
        self.client = client
        self.tail_lines = tail_lines
        self.cleanup_timeout = cleanup_timeout

    def build(self, spec: BuildSpec, progress: Progress, cancel: Cancellation) -> BuildOutput:
        """Build and tag ``spec``; blocking. See ``Backend.build``."""
        if cancel.cancelled:
            raise BuildCancelled(spec.tag)
        since = time.time()
        if isinstance(spec.context, TarStream):
            cancel.on_cancel(spec.context.cancel)  # Ctrl-C stops an upload at once
        try:
            messages, response = self._start(spec)
        except UploadCancelled:
            raise BuildCancelled(spec.tag) from None
        try:
            if response is not None:
                cancel.on_cancel(lambda: abort_response(response))
            stream = read_build(
                messages,
                ClassicStream(self.tail_lines),
                progress,
                cancel,
                client=self.client,
                tag=spec.tag,
                on_cancelled=lambda s: self._remove_containers(self._containers_of(s, since)),
            )
        finally:
            messages.close()
            if response is not None:
                response.close()
        return BuildOutput(self._image_id(stream, spec.tag))

    def _start(self, spec: BuildSpec) -> tuple[Any, requests.Response | None]:
        """Post the build through the SDK; return its message stream and HTTP response."""
        client = self.client
        with _responses(client) as seen:
            try:
                messages = client.build(
                    fileobj=(
                        spec.context
                        if isinstance(spec.context, TarStream)
                        else io.BytesIO(spec.context)
                    ),
                    custom_context=True,
                    decode=True,
                    rm=True,
                    forcerm=True,
                    tag=spec.tag,
                    dockerfile=spec.dockerfile,
                    target=spec.target,
                    buildargs=dict(spec.build_args) or None,
                    labels=dict(spec.labels) or None,
                    platform=spec.platform,
                    network_mode=spec.network,
                    extra_hosts=dict(spec.extra_hosts) or None,
                    shmsize=spec.shm_size,
                    nocache=spec.no_cache,
                    pull=spec.pull,
                    cache_from=list(spec.cache_from) or None,
                    # No read timeout: a step may stay silent for longer than any bound.
                    timeout=(client.timeout, None),
                )
            except requests.ConnectionError as err:
                raise unreachable(daemon_address(client), err) from None
            except (docker.credentials.errors.StoreError, docker.errors.DockerException) as err:
                # The SDK asks the credential helpers before it sends the build.
                raise BuildFailed(
                    f"cannot get registry credentials ({err})", hint=HELPER_HINT
                ) from None
        return messages, (seen[-1] if seen else None)

    def _image_id(self, stream: ClassicStream, tag: str) -> str:
        if stream.image_id:
            return stream.image_id
        # Daemons before API 1.30 name the image only as "Successfully built <short id>".
        try:
            return str(self.client.inspect_image(tag)["Id"])
        except docker.errors.APIError:
            raise no_image_id() from None

    def _containers_of(self, stream: ClassicStream, since: float) -> list[str]:
        """The containers a cancelled build made: those it named, and, when it was
        cancelled before naming the running step's, the ones made meanwhile from the
        step's parent image (the name may still have been on its way to us)."""
        found = list(stream.containers)
        if not (stream.image and stream.step_container_unseen()):
            return found
        deadline = time.monotonic() + _SETTLE
        while time.monotonic() < deadline:
            try:
                listed = self.client.containers(all=True, filters={"ancestor": stream.image})
            except (docker.errors.APIError, requests.RequestException):
                break
            for container in listed:
                if (
                    str(container.get("ImageID", ""))
                    .removeprefix("sha256:")
                    .startswith(stream.image)
                    and int(container.get("Created", 0)) >= int(since) - 1
                    and container["Id"] not in found
                ):
                    found.append(str(container["Id"]))
            time.sleep(0.05)
        return found

    def _remove_containers(self, containers: list[str]) -> None:
        """Wait until the containers of a cancelled build are gone; remove stragglers.

        The daemon kills and removes the running step's container when the
        connection closes, but only after our read has ended: returning at once
        would leave it visible for a moment, or for good if the daemon missed it.
        """
        for container in containers:
            if not self._gone_within(container, self.cleanup_timeout / 2):
                # It may fail when the daemon is removing it right now, or is gone itself.
                with contextlib.suppress(docker.errors.APIError, requests.RequestException):
                    self.client.remove_container(container, force=True)
                self._gone_within(container, self.cleanup_timeout / 2)

    def _gone_within(self, container: str, seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        while True:
            try:
                self.client.inspect_container(container)
            except docker.errors.NotFound:
                return True
            except (docker.errors.APIError, requests.RequestException):
                return False
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)


# -- finding the response behind the SDK's build() ---------------------------------

# The SDK's build() returns a generator and keeps the HTTP response to itself;
# cancelling needs it. A session-level response hook (a documented requests
# feature) hands each response to the thread that asked for it.
_local = threading.local()
_hook_lock = threading.Lock()


def _remember(response: requests.Response, *args: Any, **kwargs: Any) -> None:
    seen: list[requests.Response] | None = getattr(_local, "responses", None)
    if seen is not None:
        seen.append(response)


@contextlib.contextmanager
def _responses(client: Any) -> Iterator[list[requests.Response]]:
    """Collect the responses ``client`` receives in this thread meanwhile."""
    with _hook_lock:
        hooks: list[Callable[..., Any]] = client.hooks.setdefault("response", [])
        if _remember not in hooks:
            hooks.append(_remember)
    seen: list[requests.Response] = []
    _local.responses = seen
    try:
        yield seen
    finally:
        _local.responses = None


def _clean(raw: str) -> str:
    # A carriage return redraws the line on a terminal: keep what would be seen last.
    text = _ANSI.sub("", raw).rstrip("\r")
    if "\r" in text:
        text = next((part for part in reversed(text.split("\r")) if part), "")
    return text
