"""The live view and the plain lines, fed events by hand, with a clock the test moves."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from bakery.engine.backend import BuildFailed, LogEvent, StepEvent
from bakery.engine.events import (
    NodeFinished,
    NodeProgress,
    NodeStarted,
    Status,
    TargetFinished,
)
from bakery.report.progress import (
    LiveProgress,
    PlainProgress,
    last_line,
    make_progress,
)
from tests.report.scenarios import ids, make


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def live(width: int = 80) -> tuple[LiveProgress, Clock, io.StringIO, dict[str, str]]:
    plan = make()
    clock = Clock()
    out = io.StringIO()
    console = Console(file=out, width=width, force_terminal=False, color_system=None)
    return LiveProgress(plan, console, clock=clock), clock, out, ids(plan)


def shown(progress: LiveProgress, width: int = 80) -> list[str]:
    return [line.plain for line in progress.lines(width)]


def test_one_line_per_running_stage_with_its_time_and_latest_line() -> None:
    progress, clock, out, by = live()
    progress(NodeStarted(by["base"], at=7.0))
    progress(NodeProgress(by["base"], StepEvent("[base 4/5] RUN go mod download", started=True)))
    clock.now += 1.5
    assert shown(progress) == [
        "⠴ shared/base            1.5s  [base 4/5] RUN go mod download",
        "0/6 stages done, 1 running, 1.5s",
    ]
    progress(NodeProgress(by["base"], LogEvent("go: downloading a\ngo: downloading b\n")))
    progress(NodeStarted(by["build-client"], at=8.0))
    clock.now += 1.0
    assert shown(progress) == [
        "⠴ shared/base            2.5s  go: downloading b",
        "⠴ client/build-client    1.0s",
        "0/6 stages done, 2 running, 2.5s",
    ]
    assert out.getvalue() == ""


def test_a_long_line_is_cut_to_the_width() -> None:
    progress, _, _, by = live()
    progress(NodeStarted(by["base"], at=0.0))
    progress(NodeProgress(by["base"], LogEvent("x" * 200)))
    lines = shown(progress, width=50)
    assert lines[0] == "⠋ shared/base            0.0s  " + "x" * 18 + "…"
    assert all(len(line) <= 50 for line in lines)


def test_finished_stages_fold_into_one_line_each() -> None:
    progress, clock, out, by = live()
    progress(NodeStarted(by["base"], at=10.0))
    progress(NodeFinished(by["base"], Status.BUILT, at=12.25))
    progress(NodeFinished(by["build-client"], Status.CACHED, at=12.5))
    progress(NodeStarted(by["build-server"], at=12.5))
    err = BuildFailed("boom", exit_status=3)
    progress(NodeFinished(by["build-server"], Status.FAILED, at=14.0, error=err))
    progress(NodeStarted(by["client"], at=12.5))
    progress(
        NodeFinished(
            by["client"],
            Status.CANCELLED,
            at=14.0,
            reason="stopped after server/build-server failed",
        )
    )
    progress(NodeFinished(by["docs"], Status.NOT_STARTED, at=14.0, reason="interrupted"))
    progress(TargetFinished("client", Status.BUILT, tags=("buildme-client:latest",)))
    assert out.getvalue() == (
        "✓ shared/base            2.2s\n"
        "✓ client/build-client  cached\n"
        "✗ server/build-server    1.5s  failed, exit code 3\n"
        "✗ client/client          1.5s  stopped after server/build-server failed\n"
        "→ client tagged buildme-client:latest\n"
    )
    clock.now += 3
    assert shown(progress) == ["5/6 stages done, 0 running, 3.0s"]


def test_a_buildkit_stage_folds_when_its_last_step_ends() -> None:
    """BuildKit reports a stage when the whole target's build ends; its steps say sooner."""
    progress, clock, out, by = live()
    base = by["base"]
    progress(
        NodeProgress(
            base,
            StepEvent(
                "[base 1/5] FROM docker.io/library/golang:1.21-alpine", started=True, completed=True
            ),
        )
    )
    progress(NodeStarted(base, at=3.0))
    for n, step in enumerate(
        ["WORKDIR /src", "COPY go.mod go.sum .", "RUN go mod download"], start=2
    ):
        progress(
            NodeProgress(base, StepEvent(f"[base {n}/5] {step}", started=True, completed=True))
        )
    assert out.getvalue() == ""
    clock.now += 4.0
    progress(NodeProgress(base, StepEvent("[base 5/5] COPY . .", started=True, completed=True)))
    assert out.getvalue() == "✓ shared/base            4.0s\n"
    assert shown(progress)[0].startswith("1/6 stages done, 0 running")
    # The engine's own word comes later, and is not shown twice.
    progress(NodeFinished(base, Status.BUILT, at=7.0))
    assert out.getvalue() == "✓ shared/base            4.0s\n"


def test_a_buildkit_stage_whose_steps_all_came_from_cache_folds_as_cached() -> None:
    progress, _, out, by = live()
    node = by["build-client"]
    progress(NodeStarted(node, at=0.0))
    progress(
        NodeProgress(
            node, StepEvent("[build-client 1/1] RUN go build", cached=True, completed=True)
        )
    )
    assert out.getvalue() == "✓ client/build-client  cached\n"


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("one\ntwo\n", "two"),
        ("one\n\n  \n", "one"),
        ("\x1b[32mgreen\x1b[0m", "green"),
        ("10%\r50%\r100%", "100%"),
        ("a\tb\x07", "a    b"),
        ("", ""),
    ],
    ids=["last", "skips-blank", "ansi", "carriage-return", "control", "empty"],
)
def test_last_line(text: str, line: str) -> None:
    assert last_line(text) == line


def test_the_live_view_runs_and_leaves_only_the_folded_lines() -> None:
    plan = make()
    by = ids(plan)
    out = io.StringIO()
    console = Console(file=out, width=80, force_terminal=True, color_system=None)
    with LiveProgress(plan, console, refresh_per_second=50) as progress:
        progress(NodeStarted(by["base"], at=0.0))
        progress(NodeProgress(by["base"], LogEvent("working")))
        progress(NodeFinished(by["base"], Status.BUILT, at=1.0))
    assert "✓ shared/base            1.0s" in out.getvalue()


@pytest.mark.parametrize(
    ("mode", "kind", "quiet"),
    [
        ("auto", PlainProgress, False),  # a StringIO is no terminal
        ("plain", PlainProgress, False),
        ("quiet", PlainProgress, True),
        ("tty", LiveProgress, None),
    ],
)
def test_make_progress(mode: str, kind: type, quiet: bool | None) -> None:
    progress = make_progress(mode, make(), io.StringIO())
    assert isinstance(progress, kind)
    if quiet is not None:
        assert isinstance(progress, PlainProgress)
        assert progress.quiet is quiet


def test_plain_lines_are_prefixed_with_target_and_stage() -> None:
    plan = make()
    by = ids(plan)
    out = io.StringIO()
    progress = PlainProgress(plan, out)
    progress(NodeStarted(by["base"], at=1.0))
    progress(NodeProgress(by["base"], LogEvent("hello\nworld")))
    progress(NodeFinished(by["base"], Status.BUILT, at=3.5))
    assert out.getvalue() == (
        "[shared/base] started (shared by client, server)\n"
        "[shared/base] hello\n"
        "[shared/base] world\n"
        "[shared/base] done in 2.5s\n"
    )


def test_a_stage_folded_at_its_last_step_is_not_folded_again_when_its_build_stops() -> None:
    progress, _, out, by = live()
    node = by["build-client"]
    progress(NodeStarted(node, at=0.0))
    progress(
        NodeProgress(
            node, StepEvent("[build-client 1/1] RUN go build", started=True, completed=True)
        )
    )
    progress(NodeFinished(node, Status.CANCELLED, at=2.0, reason="interrupted"))
    assert out.getvalue() == "✓ client/build-client    0.0s\n"
    progress(NodeFinished(node, Status.FAILED, at=2.0, error=BuildFailed("export failed")))
    assert out.getvalue().splitlines()[-1] == "✗ client/build-client       -  failed"
