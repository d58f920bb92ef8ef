"""Both build backends against the real daemon: build, fail, cancel, no daemon.

Every test builds FROM the busybox image and labels what it makes with its own
unique name, which the ``owned`` fixture removes afterwards.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import docker
import docker.utils
import pytest

from bakery.core.errors import ConfigError
from bakery.engine.backend import (
    Backend,
    BuildCancelled,
    BuildFailed,
    BuildOutput,
    BuildSpec,
    Cancellation,
    DaemonUnreachable,
    LogEvent,
    ProgressEvent,
    StepEvent,
)
from bakery.engine.buildkit import BuildKitBackend
from bakery.engine.classic import ClassicBackend, ClassicStream
from bakery.engine.daemon import buildkit_supported, pick_backend
from tests.engine.conftest import TEST_LABEL, make_context

BACKENDS: dict[str, Callable[[Any], Backend]] = {
    "buildkit": BuildKitBackend,
    "classic": ClassicBackend,
}


@pytest.fixture(params=sorted(BACKENDS))
def backend(request: pytest.FixtureRequest, api: Any) -> Backend:
    return BACKENDS[request.param](api)


class Recorder:
    """A progress callback that keeps the events and can act on one."""

    def __init__(self, when: Callable[[ProgressEvent], bool] | None = None) -> None:
        self.events: list[ProgressEvent] = []
        self.when = when
        self.seen = threading.Event()

    def __call__(self, event: ProgressEvent) -> None:
        self.events.append(event)
        if self.when is not None and self.when(event):
            self.seen.set()

    @property
    def log(self) -> str:
        return "\n".join(e.text for e in self.events if isinstance(e, LogEvent))

    def steps(self) -> list[StepEvent]:
        return [e for e in self.events if isinstance(e, StepEvent)]


def dockerfile(name: str, *lines: str, base: str = "bakery-busybox:latest") -> str:
    return "\n".join([f"FROM {base}", f"LABEL {TEST_LABEL}={name}", *lines, ""])


def build(
    backend: Backend,
    spec: BuildSpec,
    progress: Recorder | None = None,
    cancel: Cancellation | None = None,
) -> BuildOutput:
    return backend.build(spec, progress or Recorder(), cancel or Cancellation())


# -- building ----------------------------------------------------------------------


@pytest.mark.docker
def test_builds_and_tags_an_image(backend: Backend, api: Any, owned: str) -> None:
    context = make_context(
        {
            "Dockerfile": dockerfile(
                owned,
                "ARG GREETING=unset",
                "COPY hello.txt /hello.txt",
                # The name keeps BuildKit from reusing another run's cache.
                f'RUN echo "greeting is $GREETING" {owned} && cat /hello.txt > /copy',
            ),
            "hello.txt": "hi from the context\n",
        }
    )
    tag = f"{owned}:latest"
    progress = Recorder()
    output = build(
        backend,
        BuildSpec(
            context, tag, build_args={"GREETING": "howdy"}, labels={"dev.bakery.extra": "yes"}
        ),
        progress,
    )

    assert output.image_id.startswith("sha256:")
    image = api.inspect_image(tag)
    assert image["Id"] == output.image_id
    assert tag in image["RepoTags"]
    assert image["Config"]["Labels"][TEST_LABEL] == owned
    assert image["Config"]["Labels"]["dev.bakery.extra"] == "yes"
    assert "greeting is howdy" in progress.log, progress.events
    run = [s for s in progress.steps() if "RUN echo" in s.name]
    assert run, progress.steps()
    assert run[-1].completed
    assert run[-1].error is None


@pytest.mark.docker
def test_a_target_stage_and_a_named_dockerfile(backend: Backend, api: Any, owned: str) -> None:
    text = "\n".join(
        [
            "FROM bakery-busybox:latest AS first",
            f"LABEL {TEST_LABEL}={owned}",
            "RUN echo first > /stage",
            "FROM bakery-busybox:latest AS second",
            "RUN exit 9",
            "",
        ]
    )
    context = make_context({"build/My.Dockerfile": text})
    output = build(
        backend,
        BuildSpec(context, f"{owned}:first", dockerfile="build/My.Dockerfile", target="first"),
    )
    assert api.inspect_image(f"{owned}:first")["Id"] == output.image_id


@pytest.mark.docker
def test_a_failing_run_reports_step_exit_status_and_log_tail(
    backend: Backend, api: Any, owned: str
) -> None:
    context = make_context(
        {
            "Dockerfile": dockerfile(
                owned,
                f"RUN for i in $(seq 30); do echo out $i; done; echo last-words-{owned}; exit 3",
            )
        }
    )
    progress = Recorder()
    with pytest.raises(BuildFailed) as caught:
        build(backend, BuildSpec(context, f"{owned}:broken"), progress)

    err = caught.value
    assert err.exit_status == 3
    assert err.step is not None
    assert "RUN for i in $(seq 30)" in err.step
    assert err.log_tail[-1] == f"last-words-{owned}"
    assert err.log_tail[-2] == "out 30"
    assert len(err.log_tail) == 20
    assert "exit code: 3" in err.message or "non-zero code: 3" in err.message
    with pytest.raises(docker.errors.ImageNotFound):
        api.inspect_image(f"{owned}:broken")
    # The step's failure shows in the progress too.
    assert any(s.error for s in progress.steps()) or backend.name == "classic"


@pytest.mark.docker
def test_a_parse_error_names_the_line(backend: Backend, owned: str) -> None:
    context = make_context({"Dockerfile": dockerfile(owned, "BOGUS instruction")})
    with pytest.raises(BuildFailed, match="unknown instruction") as caught:
        build(backend, BuildSpec(context, f"{owned}:bogus"))
    assert caught.value.line == 3


@pytest.mark.docker
def test_a_missing_file_fails_at_the_copy(backend: Backend, owned: str) -> None:
    context = make_context({"Dockerfile": dockerfile(owned, "COPY missing.txt /")})
    with pytest.raises(BuildFailed) as caught:
        build(backend, BuildSpec(context, f"{owned}:missing"))
    assert caught.value.step is not None
    assert "COPY missing.txt" in caught.value.step
    assert caught.value.exit_status is None


# -- cancelling --------------------------------------------------------------------


def run_in_thread(fn: Callable[[], object]) -> tuple[threading.Thread, list[BaseException]]:
    errors: list[BaseException] = []

    def target() -> None:
        try:
            fn()
        except BaseException as err:  # handed to the test thread
            errors.append(err)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread, errors


def processes_with(marker: str) -> list[str]:
    """Command lines of local processes that mention ``marker`` (empty when the
    daemon's processes are not visible from here, e.g. a remote daemon)."""
    found = []
    for pid in os.listdir("/proc") if os.path.isdir("/proc") else ():
        if pid.isdigit():
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
            except OSError:
                continue
            if marker.encode() in cmdline:
                found.append(cmdline.decode(errors="replace"))
    return found


def wait_until(check: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@pytest.mark.docker
def test_cancel_during_a_run_stops_it_quickly_and_leaves_nothing(
    backend: Backend, owned: str, containers_with: Callable[[str], list[dict[str, Any]]]
) -> None:
    marker = f"{owned}-running"
    context = make_context(
        {"Dockerfile": dockerfile(owned, f"RUN echo {marker}; sleep 30; echo never-{owned}")}
    )
    progress = Recorder(when=lambda e: isinstance(e, LogEvent) and marker in e.text)
    cancel = Cancellation()
    thread, errors = run_in_thread(
        lambda: build(backend, BuildSpec(context, f"{owned}:cancelled"), progress, cancel)
    )

    assert progress.seen.wait(60), f"the RUN step never started: {progress.events}"
    cancelled_at = time.monotonic()
    cancel.cancel()
    thread.join(30)
    took = time.monotonic() - cancelled_at

    assert not thread.is_alive()
    assert len(errors) == 1
    assert isinstance(errors[0], BuildCancelled), errors
    assert took < 5, f"cancel took {took:.1f}s"
    assert containers_with(owned) == []
    assert wait_until(lambda: not processes_with(marker), 5), processes_with(marker)
    assert f"never-{owned}" not in progress.log


@pytest.mark.docker
def test_cancel_as_a_step_starts_leaves_no_container(
    backend: Backend, owned: str, containers_with: Callable[[str], list[dict[str, Any]]]
) -> None:
    """Cancelled from the progress callback the moment the RUN step is announced,
    before the classic builder has named the step's container."""
    context = make_context({"Dockerfile": dockerfile(owned, f"RUN sleep 30 # {owned}")})
    cancel = Cancellation()

    def progress(event: ProgressEvent) -> None:
        if isinstance(event, StepEvent) and "RUN sleep 30" in event.name and event.started:
            cancel.cancel()

    started = time.monotonic()
    with pytest.raises(BuildCancelled):
        backend.build(BuildSpec(context, f"{owned}:cancelled"), progress, cancel)
    assert time.monotonic() - started < 10
    assert containers_with(owned) == []


@pytest.mark.docker
def test_cancelled_before_it_starts(backend: Backend, owned: str) -> None:
    cancel = Cancellation()
    cancel.cancel()
    context = make_context({"Dockerfile": dockerfile(owned, "RUN true")})
    with pytest.raises(BuildCancelled):
        build(backend, BuildSpec(context, f"{owned}:never"), cancel=cancel)


# -- without a daemon, and picking a backend --------------------------------------


@pytest.mark.parametrize("name", sorted(BACKENDS))
def test_a_backend_without_its_daemon(name: str, no_daemon: str) -> None:
    # A client made without asking the daemon anything (version given), as one
    # whose daemon went away after connect().
    client = docker.APIClient(version="1.41", **docker.utils.kwargs_from_env())
    backend = BACKENDS[name](client)
    context = make_context({"Dockerfile": "FROM bakery-busybox:latest\n"})
    with pytest.raises(DaemonUnreachable, match=no_daemon):
        build(backend, BuildSpec(context, "bakery-test-nowhere:latest"))


@pytest.mark.docker
def test_picking_a_backend(api: Any) -> None:
    assert pick_backend(api, "classic").name == "classic"
    assert buildkit_supported(api)  # any Linux daemon since 18.09
    assert pick_backend(api, "auto").name == "buildkit"
    assert pick_backend(api, "buildkit").name == "buildkit"
    with pytest.raises(ConfigError, match='did you mean "buildkit"'):
        pick_backend(api, "buildkt")


# -- the classic builder's text, without a daemon ----------------------------------


# As Docker 20.10.24 sent it for `RUN echo before-fail && exit 3`.
CLASSIC_FAILURE: list[dict[str, Any]] = [
    {"stream": "Step 1/2 : FROM bakery-busybox:latest"},
    {"stream": "\n"},
    {"stream": " ---> 9aa334f5bde7\n"},
    {"stream": "Step 2/2 : RUN echo before-fail && exit 3"},
    {"stream": "\n"},
    {"stream": " ---> Running in 26e58beb1a5f\n"},
    {"stream": "\x1b[91mon stderr\n\x1b[0m"},
    {"stream": "before-fail"},
    {"stream": "Removing intermediate container 26e58beb1a5f\n"},
    {
        "errorDetail": {
            "code": 3,
            "message": "The command '/bin/sh -c echo before-fail && exit 3'"
            " returned a non-zero code: 3",
        },
        "error": "The command '/bin/sh -c echo before-fail && exit 3' returned a non-zero code: 3",
    },
]


def test_classic_stream_reads_steps_output_and_failure() -> None:
    stream = ClassicStream()
    events = [e for m in CLASSIC_FAILURE for e in stream.feed(m)] + stream.finish()
    assert events == [
        StepEvent("Step 1/2 : FROM bakery-busybox:latest", started=True),
        StepEvent("Step 1/2 : FROM bakery-busybox:latest", started=True, completed=True),
        StepEvent("Step 2/2 : RUN echo before-fail && exit 3", started=True),
        LogEvent("on stderr", step="Step 2/2 : RUN echo before-fail && exit 3"),
        LogEvent("before-fail", step="Step 2/2 : RUN echo before-fail && exit 3"),
    ]
    assert stream.containers == ["26e58beb1a5f"]
    failure = stream.failure()
    assert failure is not None
    assert failure.step == "Step 2/2 : RUN echo before-fail && exit 3"
    assert failure.exit_status == 3
    assert failure.log_tail == ("on stderr", "before-fail")


def test_classic_stream_reads_cache_hits_and_the_image_id() -> None:
    stream = ClassicStream()
    messages: list[dict[str, Any]] = [
        {"stream": "Step 1/2 : FROM x\n"},
        {"stream": " ---> 9aa334f5bde7\n"},
        {"stream": "Step 2/2 : RUN make\n"},
        {"stream": " ---> Using cache\n"},
        {"stream": " ---> 0123456789ab\n"},
        {"aux": {"ID": "sha256:0123456789ab"}},
        {"stream": "Successfully built 0123456789ab\n"},
        {"stream": "Successfully tagged x:latest\n"},
    ]
    events = [e for m in messages for e in stream.feed(m)] + stream.finish()
    assert events[-1] == StepEvent("Step 2/2 : RUN make", started=True, completed=True, cached=True)
    assert not [e for e in events if isinstance(e, LogEvent)]
    assert stream.image_id == "sha256:0123456789ab"
    assert stream.image == "0123456789ab"
    assert stream.failure() is None
