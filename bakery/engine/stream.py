"""Reading a build's messages off the daemon: the one loop both backends share.

A backend posts its build its own way and hands over the daemon's decoded JSON
messages with the pure reader of them (``BuildKitStream`` or ``ClassicStream``).
``read_build`` feeds each message to the reader and forwards the progress it
makes, stops at a cancel, and turns a broken connection into
``DaemonUnreachable`` and a refused request into ``BuildFailed``. What a backend
must do after a cancel (BuildKit's cancel on the daemon, the classic builder's
sweep of containers) it passes in.

Blocking, as ``Backend.build`` is; it never prints.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol, TypeVar

import docker.errors
import requests
import urllib3.exceptions

from bakery.engine.backend import (
    BuildCancelled,
    BuildFailed,
    Cancellation,
    DaemonUnreachable,
    Progress,
    ProgressEvent,
)
from bakery.engine.connection import daemon_address

__all__ = ["BuildStream", "no_image_id", "parse_error_line", "read_build", "refused"]

_PARSE_LINE = re.compile(r"dockerfile parse error (?:on )?line (\d+)", re.IGNORECASE)


class BuildStream(Protocol):
    """A pure reader of one build's messages, as ``BuildKitStream`` and ``ClassicStream``."""

    def feed(self, message: Mapping[str, Any]) -> list[ProgressEvent]:
        """Take one decoded JSON message; return the progress it makes."""
        ...

    def finish(self) -> list[ProgressEvent]:
        """The progress still held back at the end of the stream."""
        ...

    def failure(self) -> BuildFailed | None:
        """The build's failure, if the daemon reported one (after ``finish``)."""
        ...


StreamT = TypeVar("StreamT", bound=BuildStream)


def read_build(
    messages: Iterable[object],
    stream: StreamT,
    progress: Progress,
    cancel: Cancellation,
    *,
    client: Any,
    tag: str,
    on_cancelled: Callable[[StreamT], None],
) -> StreamT:
    """Feed ``messages`` (what is not a mapping is skipped) to ``stream`` and pass
    its progress on, to the end or to a cancel; return ``stream`` of a build that
    succeeded. Raises the daemon's ``BuildFailed``, ``DaemonUnreachable`` when the
    connection to ``client``'s daemon breaks, and, after ``on_cancelled(stream)``,
    ``BuildCancelled(tag)``. The caller closes the response."""
    try:
        for message in messages:
            if cancel.cancelled:
                break
            if isinstance(message, Mapping):
                for event in stream.feed(message):
                    progress(event)
    except docker.errors.APIError as err:
        # The SDK raises a refused request (HTTP 4xx/5xx) when first read.
        if not cancel.cancelled:
            raise refused(str(err.explanation or err)) from None
    except (
        requests.RequestException,
        urllib3.exceptions.HTTPError,
        OSError,
        docker.errors.StreamParseError,
    ) as err:
        # A cancel shuts the socket down: what breaks then is expected.
        if not cancel.cancelled:
            raise DaemonUnreachable(
                f"lost the connection to the Docker daemon at "
                f"{daemon_address(client)} during the build ({err})",
                hint="is the daemon still running?",
            ) from None
    if cancel.cancelled:
        on_cancelled(stream)
        raise BuildCancelled(tag)
    for event in stream.finish():
        progress(event)
    failure = stream.failure()
    if failure is not None:
        raise failure
    return stream


def refused(message: str, *, hint: str | None = None) -> BuildFailed:
    """The daemon refused the build before it ran (a bad option, a Dockerfile it
    cannot parse): ``message`` is its answer."""
    return BuildFailed(message, line=parse_error_line(message), hint=hint)


def no_image_id() -> BuildFailed:
    """A build that ended without naming the image it made."""
    return BuildFailed(
        "the Docker daemon ended the build without an image ID", hint="see the daemon's log"
    )


def parse_error_line(message: str) -> int | None:
    """The Dockerfile line of a daemon's ``dockerfile parse error line N: ...``."""
    match = _PARSE_LINE.search(message)
    return int(match.group(1)) if match else None
