"""The read loop both backends share, driven by recorded messages: no daemon."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import docker
import docker.errors
import pytest
import requests

from bakery.engine.backend import (
    BuildCancelled,
    BuildFailed,
    Cancellation,
    DaemonUnreachable,
    LogEvent,
    ProgressEvent,
    StepEvent,
)
from bakery.engine.classic import ClassicStream
from bakery.engine.stream import parse_error_line, read_build, refused
from tests.engine.test_backends import CLASSIC_FAILURE

STEP = "Step 1/1 : RUN make"
BUILT: list[object] = [
    {"stream": f"{STEP}\n"},
    b"not a message",
    None,
    {"stream": " ---> Running in 26e58beb1a5f\n"},
    {"stream": "made"},  # no newline: held back until the end
    {"aux": {"ID": "sha256:0123456789ab"}},
]


@pytest.fixture
def client() -> Iterator[Any]:
    """A client for a daemon that is not there; it is never asked anything."""
    api = docker.APIClient(base_url="unix:///nowhere.sock", version="1.41")
    yield api
    api.close()


def _never(stream: ClassicStream) -> None:
    raise AssertionError("not cancelled")


def test_messages_are_fed_and_their_progress_passed_on(client: Any) -> None:
    events: list[ProgressEvent] = []
    stream = read_build(
        BUILT,
        ClassicStream(),
        events.append,
        Cancellation(),
        client=client,
        tag="x:latest",
        on_cancelled=_never,
    )
    assert stream.image_id == "sha256:0123456789ab"
    assert events == [
        StepEvent(STEP, started=True),
        LogEvent("made", step=STEP),
        StepEvent(STEP, started=True, completed=True),
    ]


def test_the_daemon_s_failure_is_raised(client: Any) -> None:
    with pytest.raises(BuildFailed) as caught:
        read_build(
            CLASSIC_FAILURE,
            ClassicStream(),
            lambda event: None,
            Cancellation(),
            client=client,
            tag="x:latest",
            on_cancelled=_never,
        )
    assert caught.value.exit_status == 3
    assert caught.value.log_tail == ("on stderr", "before-fail")


def _breaking(error: BaseException, cancel: Cancellation | None = None) -> Iterator[object]:
    yield {"stream": f"{STEP}\n"}
    if cancel is not None:
        cancel.cancel()
    raise error


def test_a_broken_connection_names_the_daemon(client: Any) -> None:
    with pytest.raises(
        DaemonUnreachable,
        match=r"lost the connection to the Docker daemon "
        r"at unix:///nowhere\.sock during the build",
    ) as caught:
        read_build(
            _breaking(requests.ConnectionError("reset")),
            ClassicStream(),
            lambda event: None,
            Cancellation(),
            client=client,
            tag="x:latest",
            on_cancelled=_never,
        )
    assert caught.value.hint == "is the daemon still running?"


def test_a_refused_request_is_a_failed_build_with_its_line(client: Any) -> None:
    error = docker.errors.APIError(
        "400 Client Error", explanation="dockerfile parse error line 2: unknown instruction: FOO"
    )
    with pytest.raises(BuildFailed, match="unknown instruction: FOO") as caught:
        read_build(
            _breaking(error),
            ClassicStream(),
            lambda event: None,
            Cancellation(),
            client=client,
            tag="x:latest",
            on_cancelled=_never,
        )
    assert caught.value.line == 2


@pytest.mark.parametrize(
    "error",
    [requests.ConnectionError("shut down"), docker.errors.APIError("500 Server Error")],
    ids=["broken", "refused"],
)
def test_a_cancel_stops_reading_and_hides_what_broke(client: Any, error: Exception) -> None:
    cancel = Cancellation()
    swept: list[ClassicStream] = []
    stream = ClassicStream()
    with pytest.raises(BuildCancelled, match="x:latest"):
        read_build(
            _breaking(error, cancel),
            stream,
            lambda event: None,
            cancel,
            client=client,
            tag="x:latest",
            on_cancelled=swept.append,
        )
    assert swept == [stream]


def test_a_cancel_between_messages_reads_no_further(client: Any) -> None:
    cancel = Cancellation()
    events: list[ProgressEvent] = []

    def progress(event: ProgressEvent) -> None:
        events.append(event)
        cancel.cancel()

    with pytest.raises(BuildCancelled):
        read_build(
            BUILT,
            ClassicStream(),
            progress,
            cancel,
            client=client,
            tag="x:latest",
            on_cancelled=lambda stream: None,
        )
    assert events == [StepEvent(STEP, started=True)]


@pytest.mark.parametrize(
    ("message", "line"),
    [
        ("dockerfile parse error line 2: unknown instruction: FOO", 2),
        ("Dockerfile parse error on line 12: FROM requires one argument", 12),
        ("failed to solve: pull access denied", None),
    ],
    ids=["classic", "buildkit", "none"],
)
def test_refused_keeps_the_line_and_the_hint(message: str, line: int | None) -> None:
    assert parse_error_line(message) == line
    failure = refused(message, hint="a hint")
    assert (failure.message, failure.line, failure.hint) == (message, line, "a hint")
