"""The report as text: the table, the summary and the failures, rendered into
a 100-column console without colours and compared line by line (trailing
spaces, which rich pads tables with, are dropped)."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from bakery.core.plan import Plan
from bakery.engine.events import RunResult, Status
from bakery.report.summary import (
    ImageSizes,
    critical_path,
    human_seconds,
    human_size,
    render_report,
    summarize,
)
from tests.report.scenarios import SCENARIOS, T0, cold, ids, keep_going, make, nodes


def render(plan: Plan, result: RunResult, facts: ImageSizes) -> str:
    console = Console(
        file=(out := io.StringIO()), width=100, force_terminal=False, color_system=None
    )
    render_report(console, plan, result, facts)
    return "\n".join(line.rstrip() for line in out.getvalue().splitlines()) + "\n"


COLD = """\
target  tags                                   size  change  layers   time  status
──────────────────────────────────────────────────────────────────────────────────
client  buildme-client:latest                5.3 MB     new       2  31.0s  built
        localhost:5000/buildme-client:1.2.3
server  buildme-server:latest                7.1 MB     new       2  46.5s  built
docs    buildme-docs:latest                  1.2 kB     new       1   1.5s  built
stages         6 built, 0 cached, of 6
shared         base: 2 targets (client, server), built in 20.0s
time           wall 1m08s, work 1m39s, parallelism 1.45
critical path  base -> build-server -> server -> docs (1m08s)
builder        classic
"""

NOOP = """\
target  tags                                   size     change  layers  time  status
────────────────────────────────────────────────────────────────────────────────────
client  buildme-client:latest                5.3 MB  unchanged       2  0.0s  cached
        localhost:5000/buildme-client:1.2.3
server  buildme-server:latest                7.1 MB  unchanged       2  0.0s  cached
docs    buildme-docs:latest                  1.2 kB  unchanged       1  0.0s  cached
stages         0 built, 6 cached, of 6
shared         base: 2 targets (client, server), cached
time           wall 0.1s, work 0.1s, parallelism 1.00
critical path  base -> build-server -> server -> docs (0.1s)
builder        buildkit
"""

KEEP_GOING = """\
target  tags                                   size     change  layers   time  status
────────────────────────────────────────────────────────────────────────────────────────────────────
client  buildme-client:latest                5.3 MB  +122.0 kB       2  31.0s  built
        localhost:5000/buildme-client:1.2.3
server  buildme-server:latest                     -          -       -  12.5s  failed at
                                                                               server/build-server
docs    buildme-docs:latest                       -          -       -      -  not started
                                                                               (server/server did
                                                                               not build)
stages         3 built, 0 cached, 1 failed, 2 not started, of 6
shared         base: 2 targets (client, server), built in 20.0s
time           wall 51.3s, work 1m04s, parallelism 1.24
critical path  base -> build-client -> client (51.0s)
builder        classic

✗ server: stage build-server failed at Dockerfile:11, exit code 1
  RUN go build -o /bin/server ./cmd/server
  The command '/bin/sh -c go build -o /bin/server ./cmd/server' returned a non-zero code: 1
  last lines of its log:
    # example.com/buildme/cmd/server
    cmd/server/main.go:9:2: undefined: serve
"""

INTERRUPTED = """\
target  tags                                 size  change  layers  time  status
──────────────────────────────────────────────────────────────────────────────────────────────────
client  buildme-client:latest                   -       -       -  7.0s  cancelled (interrupted)
        localhost:5000/buildme-client:1.2.3
server  buildme-server:latest                   -       -       -  7.0s  cancelled (interrupted)
docs    buildme-docs:latest                     -       -       -     -  not started (interrupted)
stages         1 built, 0 cached, 2 cancelled, 3 not started, of 6
shared         base: 2 targets (client, server), built in 20.0s
time           wall 27.1s, work 34.0s, parallelism 1.25
critical path  base -> build-server (27.0s)
builder        classic
interrupted: builds were stopped
"""


@pytest.mark.parametrize(
    ("scenario", "expected"),
    [
        ("cold", COLD),
        ("noop", NOOP),
        ("keep-going", KEEP_GOING),
        ("interrupted", INTERRUPTED),
    ],
    ids=["cold", "noop", "keep-going", "interrupted"],
)
def test_report_text(scenario: str, expected: str) -> None:
    assert render(*SCENARIOS[scenario]()) == expected


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_time_is_never_counted_twice(scenario: str) -> None:
    """The targets' own times and the shared stages' times add up to the work."""
    summary = summarize(*SCENARIOS[scenario]())
    shared = sum(n.seconds for n in summary.nodes if n.shared)
    own = sum(t.seconds or 0.0 for t in summary.targets)
    assert own + shared == pytest.approx(summary.work)


def test_a_shared_stage_is_credited_to_no_target() -> None:
    plan, result, facts = cold()
    base = ids(plan)["base"]
    summary = summarize(plan, result, facts)
    assert [n.id for n in summary.nodes if n.shared] == [base]
    # client: build-client 30 s + client 1 s; base's 20 s belongs to neither.
    assert summary.targets[0].seconds == pytest.approx(31.0)


def test_cached_stages_make_a_cached_target_never_a_built_one() -> None:
    summary = summarize(*SCENARIOS["noop"]())
    assert {t.status for t in summary.targets} == {Status.CACHED}
    assert summary.count(Status.BUILT) == 0


def test_critical_path_follows_what_each_stage_waited_for() -> None:
    plan, result, _ = cold()
    by = ids(plan)
    path, length = critical_path(plan, result)
    # docs waits for server through depends-on; server for build-server; that for base.
    assert path == (by["base"], by["build-server"], by["server"], by["docs"])
    assert length == pytest.approx(68.0)


def test_critical_path_of_a_run_where_nothing_ran_is_empty() -> None:
    plan = make()
    never = (Status.NOT_STARTED, None, None, "interrupted")
    result = RunResult(
        nodes=nodes(plan, dict.fromkeys(ids(plan), never)),
        targets={},
        started=T0,
        finished=T0,
        interrupted=True,
    )
    assert critical_path(plan, result) == ((), 0.0)


@pytest.mark.parametrize(
    ("size", "text"),
    [
        (None, "-"),
        (0, "0 B"),
        (999, "999 B"),
        (1000, "1.0 kB"),
        (5_312_000, "5.3 MB"),
        (2_500_000_000, "2.5 GB"),
    ],
    ids=["unknown", "zero", "bytes", "kB", "MB", "GB"],
)
def test_human_size(size: int | None, text: str) -> None:
    assert human_size(size) == text


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0.0, "0.0s"),
        (2.14, "2.1s"),
        (59.94, "59.9s"),
        (59.96, "1m00s"),
        (185, "3m05s"),
        (3725, "1h02m"),
    ],
    ids=["zero", "seconds", "under-a-minute", "rounds-up", "minutes", "hours"],
)
def test_human_seconds(seconds: float, text: str) -> None:
    assert human_seconds(seconds) == text


def test_size_change_against_what_the_first_tag_pointed_to() -> None:
    summary = summarize(*keep_going())
    client = summary.targets[0]
    assert (client.size, client.previous_size) == (5_312_000, 5_190_000)
