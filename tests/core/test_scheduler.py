"""The schedule as a state machine: fed what happened, it says what may start."""

from __future__ import annotations

from bakery.core.builds import Build, BuildKind, buildkit_builds, classic_builds
from bakery.core.plan import Plan
from bakery.core.scheduler import Action, Do, Scheduler
from bakery.core.status import Status
from tests.core.test_plan import plan_of

WALK = """\
FROM busybox AS base
COPY . /src
RUN make deps

FROM base AS build-client
RUN make client

FROM base AS build-server
RUN make server

FROM busybox AS client
COPY --from=build-client /c /c

FROM busybox AS server
COPY --from=build-server /s /s
"""

TOML = """\
[target.client]
target = "client"
[target.server]
target = "server"
"""

DEPENDS = (
    TOML
    + """\
[target.after]
target = "build-server"
depends-on = ["client"]
"""
)


def walk(toml: str = TOML, *names: str) -> Plan:
    return plan_of(toml, {"Dockerfile": WALK}, list(names) or ["client", "server"])


def node(plan: Plan, stage: str) -> str:
    return next(n.id for n in plan.nodes.values() if n.stage.display_name == stage)


def stages(plan: Plan, actions: list[Action]) -> list[tuple[str, str]]:
    return [(a.do.value, plan.nodes[a.build.top].stage.display_name) for a in actions]


def finish(s: Scheduler, action: Action, status: Status = Status.BUILT) -> None:
    """The engine's part: every node of the build reported, then the build's end."""
    for n in action.build.nodes:
        s.node_finished(n, status)
    if status in (Status.BUILT, Status.CACHED):
        for t in action.build.targets:
            s.target_succeeded(t)
    s.build_ended(action.build.id)


def test_classic_starts_each_node_when_what_it_reads_is_built() -> None:
    plan = walk()
    s = Scheduler(plan, classic_builds(plan), jobs=4)
    first = s.next()
    assert stages(plan, first) == [("build", "base")]
    assert s.next() == []  # nothing new until base is done
    finish(s, first[0])
    second = s.next()
    assert stages(plan, second) == [("build", "build-client"), ("build", "build-server")]
    for action in second:
        finish(s, action)
    third = s.next()
    assert sorted(stages(plan, third)) == [("build", "client"), ("build", "server")]
    for action in third:
        finish(s, action)
    assert s.done
    assert s.next() == []
    assert s.target_outcome("client").status is Status.BUILT


def test_jobs_bound_what_runs_at_once_and_reuse_takes_no_slot() -> None:
    plan = walk()
    reused = node(plan, "build-server")
    s = Scheduler(plan, classic_builds(plan), jobs=1, reusable={reused})
    finish(s, s.next()[0])
    ready = s.next()
    # build-client takes the one slot; build-server is reused beside it.
    assert stages(plan, ready) == [("build", "build-client"), ("reuse", "build-server")]
    assert ready[1].nodes == (reused,)
    finish(s, ready[1], Status.CACHED)
    assert stages(plan, s.next()) == []  # server's image waits for the slot
    finish(s, ready[0])
    assert sorted(stages(plan, s.next())) == [("build", "client")]


def test_a_failure_stops_everything_without_keep_going() -> None:
    plan = walk()
    s = Scheduler(plan, classic_builds(plan))
    base = s.next()[0]
    assert not s.stopping
    s.node_finished(base.build.top, Status.FAILED)
    s.node_finished(base.build.top, Status.BUILT)  # the first report counts
    s.build_ended(base.build.id)
    assert s.stopping
    assert s.next() == []
    assert s.stop_reason() == "stopped after shared/base failed"
    assert s.unreported() == [n for n in plan.nodes if n != base.build.top]
    assert s.target_outcome("client") == s.target_outcome("client")
    assert s.target_outcome("client").status is Status.FAILED
    assert s.target_outcome("client").reason == "shared/base failed"


def test_keep_going_skips_what_waits_for_the_failure_with_its_reason() -> None:
    plan = walk()
    s = Scheduler(plan, classic_builds(plan), keep_going=True)
    finish(s, s.next()[0])
    client, server = s.next()
    finish(s, client, Status.FAILED)
    assert not s.stopping
    skipped = s.next()
    assert stages(plan, skipped) == [("skip", "client")]
    assert skipped[0].reason == "client/build-client did not build"
    assert s.outcome(node(plan, "client")).status is Status.NOT_STARTED
    finish(s, server)
    assert stages(plan, s.next()) == [("build", "server")]


def test_interrupt_stops_and_says_so() -> None:
    plan = walk()
    s = Scheduler(plan, classic_builds(plan))
    s.next()
    s.interrupt()
    assert s.stopping
    assert s.next() == []
    assert s.stop_reason() == "interrupted"
    assert s.outcome(node(plan, "client")).reason == "interrupted"
    assert s.target_outcome("server").reason == "interrupted"


def test_a_stop_with_no_failure_known_names_a_build() -> None:
    plan = walk()
    s = Scheduler(plan, classic_builds(plan))
    assert s.stop_reason() == "stopped after a build failed"
    assert not s.done


def test_a_target_is_cached_when_every_node_it_needs_is() -> None:
    plan = walk()
    s = Scheduler(plan, classic_builds(plan))
    for n in plan.targets["client"].nodes:
        s.node_finished(n, Status.CACHED)
    assert s.target_succeeded("client") is Status.CACHED
    assert s.target_outcome("client").status is Status.CACHED
    s.node_finished(node(plan, "build-server"), Status.BUILT)
    assert s.target_succeeded("server") is Status.BUILT


def test_buildkit_sends_each_target_whole_and_depends_on_waits_for_the_tag() -> None:
    plan = walk(DEPENDS, "client", "server", "after")
    s = Scheduler(plan, buildkit_builds(plan, {}, no_cache_everywhere=False))
    ready = s.next()
    assert [a.build.id for a in ready] == ["target:client", "target:server"]
    assert [plan.nodes[n].stage.display_name for n in ready[0].build.nodes] == [
        "base",
        "build-client",
        "client",
    ]
    finish(s, ready[1])
    assert s.next() == []  # after waits for client's tag
    finish(s, ready[0])
    (after,) = s.next()
    assert after.build.id == "target:after"
    assert after.do is Do.BUILD


def test_buildkit_skips_a_target_whose_dependency_failed() -> None:
    plan = walk(DEPENDS, "client", "after")
    s = Scheduler(plan, buildkit_builds(plan, {}, no_cache_everywhere=False), keep_going=True)
    (client,) = s.next()
    s.node_finished(client.build.top, Status.FAILED)
    s.build_ended(client.build.id)
    (skip,) = s.next()
    assert skip.do is Do.SKIP
    assert skip.reason == "target client did not build"
    # Only the stages no other build runs are the skipped target's to report.
    assert [plan.nodes[n].stage.display_name for n in skip.nodes] == ["build-server"]
    assert s.done


def test_buildkit_reuse_of_a_target_reports_its_whole_build_cached() -> None:
    plan = walk()
    top = plan.targets["client"].node
    s = Scheduler(plan, buildkit_builds(plan, {}, no_cache_everywhere=True), jobs=1, reusable={top})
    ready = s.next()
    # Without the cache every target goes at once, whatever --jobs says.
    assert [a.do for a in ready] == [Do.REUSE, Do.BUILD]
    assert ready[0].nodes == plan.targets["client"].nodes


def split_plan() -> tuple[Plan, list[Build]]:
    plan = walk()
    base = node(plan, "base")
    return plan, buildkit_builds(plan, {base: ("client", "server")}, no_cache_everywhere=False)


def test_a_split_stage_goes_first_and_the_targets_start_from_its_image() -> None:
    plan, builds = split_plan()
    split = builds[0]
    assert split.kind is BuildKind.SPLIT
    assert split.users == ("client", "server")
    s = Scheduler(plan, builds)
    assert [a.build.id for a in s.next()] == [split.id]
    finish(s, Action(Do.BUILD, split))
    targets = s.next()
    assert [a.build.id for a in targets] == ["target:client", "target:server"]
    assert [plan.nodes[n].stage.display_name for n in targets[0].build.nodes] == [
        "build-client",
        "client",
    ]


def test_a_split_reused_or_needed_by_no_build() -> None:
    plan, builds = split_plan()
    split = builds[0]
    s = Scheduler(plan, builds, reusable={split.top})
    (reuse,) = s.next()
    assert reuse.do is Do.REUSE
    assert reuse.nodes == (split.top,)
    finals = {plan.targets[t].node for t in plan.targets}
    s = Scheduler(plan, builds, reusable=finals)
    (nothing,) = s.next()
    assert nothing.do is Do.NOTHING
    assert nothing.nodes == (split.top,)


def test_a_failed_split_skips_its_targets() -> None:
    plan, builds = split_plan()
    s = Scheduler(plan, builds, keep_going=True)
    (split,) = s.next()
    s.node_finished(split.build.top, Status.FAILED)
    s.build_ended(split.build.id)
    skips = s.next()
    assert {a.reason for a in skips} == {"shared/base did not build"}
    assert {a.do for a in skips} == {Do.SKIP}


def test_a_target_that_is_the_split_takes_its_image() -> None:
    plan = plan_of(
        TOML + '[target.base]\ntarget = "base"\n',
        {"Dockerfile": WALK},
        ["client", "server", "base"],
    )
    base = node(plan, "base")
    builds = buildkit_builds(plan, {base: ("base", "client", "server")}, no_cache_everywhere=False)
    s = Scheduler(plan, builds)
    finish(s, s.next()[0])
    take = [a for a in s.next() if a.build.id == "target:base"]
    assert take
    assert take[0].do is Do.TAKE


def run_with_failure(plan: Plan, failing: str) -> set[str]:
    """Drive the whole schedule with ``keep_going``, ``failing`` failing: the nodes
    that did not start."""
    s = Scheduler(plan, classic_builds(plan), keep_going=True)
    while not s.done:
        for action in s.next():
            if action.do is Do.BUILD:
                finish(s, action, Status.FAILED if action.build.top == failing else Status.BUILT)
    return {n for n in plan.nodes if s.outcome(n).status is Status.NOT_STARTED}


def test_a_failure_stops_only_what_waits_for_it() -> None:
    plan = walk()
    by_name = {n.stage.display_name: n.id for n in plan.nodes.values()}
    assert run_with_failure(plan, by_name["build-client"]) == {by_name["client"]}
    assert run_with_failure(plan, by_name["base"]) == set(by_name.values()) - {by_name["base"]}
