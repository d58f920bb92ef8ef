"""The runner on a fake daemon, on trio's virtual clock: exact start times and orders."""

from __future__ import annotations

import itertools
import os
import signal
from pathlib import Path

import pytest
import trio

from bakery.core.errors import ConfigError
from bakery.core.status import Status
from bakery.engine.backend import BuildFailed
from bakery.engine.events import NodeFinished, NodeStarted, TargetFinished
from tests.core.test_scheduler import WALK
from tests.engine.fake import Harness, harness

# The walkthrough's shape, as the scheduler tests plan it; base copies the context.
WALKTHROUGH = WALK

TOML = """\
[target.client]
target = "client"
tags = ["app-client:latest"]

[target.server]
target = "server"
tags = ["app-server:latest", "app-server:1"]
"""

FILES = {"Dockerfile": WALKTHROUGH, "bake.toml": TOML, "common.txt": "x\n"}
SECONDS = {"base": 2.0, "build-client": 3.0, "build-server": 1.0, "client": 0.5, "server": 0.5}
BUILDERS = ["buildkit", "classic"]


def make(
    tmp_path: Path, builder: str, files: dict[str, str] | None = None, *names: str, **fake: object
) -> Harness:
    return harness(
        tmp_path,
        files or FILES,
        *names,
        builder=builder,
        bases={"busybox": "sha256:busybox"},
        **fake,
    )


def statuses(h: Harness, result_nodes: dict[str, object]) -> dict[str, str]:
    return {
        h.plan.nodes[n].stage.display_name: r.status.value  # type: ignore[attr-defined]
        for n, r in result_nodes.items()
    }


@pytest.mark.parametrize("builder", BUILDERS)
async def test_walkthrough_base_once_then_both_builds_together(
    tmp_path: Path, builder: str, autojump_clock: trio.abc.Clock
) -> None:
    h = make(tmp_path, builder, seconds=SECONDS)
    t0 = trio.current_time()
    result = await h.runner(jobs=4).run()
    assert result.ok
    runs = {r.stage: (r.start - t0, r.end - t0) for r in h.builder.runs}  # type: ignore[operator]
    assert [r.stage for r in h.builder.runs].count("base") == 1
    assert runs["base"] == (0, 2)
    # build-client and build-server start together, as soon as base is done.
    assert runs["build-client"][0] == runs["build-server"][0] == 2
    assert runs["client"] == (5, 5.5)
    assert runs["server"] == (3, 3.5)
    assert result.finished - result.started == 5.5
    assert h.images.tags["app-server:1"] == h.images.tags["app-server:latest"]
    assert result.targets["client"].status is Status.BUILT
    assert result.targets["server"].tags == ("app-server:latest", "app-server:1")


async def test_classic_jobs_one_runs_one_build_at_a_time(
    tmp_path: Path, autojump_clock: trio.abc.Clock
) -> None:
    h = make(tmp_path, "classic", seconds=SECONDS)
    t0 = trio.current_time()
    result = await h.runner(jobs=1).run()
    assert result.ok
    spans = sorted((r.start - t0, r.end - t0) for r in h.builder.runs)  # type: ignore[operator]
    for (_, end), (start, _) in itertools.pairwise(spans):
        assert start >= end
    assert result.finished - result.started == sum(SECONDS.values())
    # In plan order: the first target's chain, then the second's.
    order = [r.stage for r in h.builder.runs]
    assert order == ["base", "build-client", "client", "build-server", "server"]


async def test_classic_jobs_two(tmp_path: Path, autojump_clock: trio.abc.Clock) -> None:
    h = make(tmp_path, "classic", seconds=SECONDS)
    t0 = trio.current_time()
    await h.runner(jobs=2).run()
    runs = {r.stage: r.start - t0 for r in h.builder.runs}
    # base; both builds at 2; server's image at 3 (build-server done); client at 5.
    assert runs == {"base": 0, "build-client": 2, "build-server": 2, "server": 3, "client": 5}


async def test_buildkit_jobs_one_sends_one_target_at_a_time(
    tmp_path: Path, autojump_clock: trio.abc.Clock
) -> None:
    h = make(tmp_path, "buildkit", seconds=SECONDS)
    t0 = trio.current_time()
    await h.runner(jobs=1).run()
    starts = [start - t0 for start, _ in h.builder.builds]
    assert starts == [0, 5.5]  # client (base, build-client, client), then server
    assert [r.stage for r in h.builder.runs].count("base") == 1


@pytest.mark.parametrize("builder", BUILDERS)
async def test_a_failing_shared_stage_stops_the_run(
    tmp_path: Path, builder: str, autojump_clock: trio.abc.Clock
) -> None:
    h = make(tmp_path, builder, seconds=SECONDS, fail={"base": 2})
    result = await h.runner().run()
    assert not result.ok
    assert statuses(h, dict(result.nodes)) == {
        "base": "failed",
        "build-client": "not started",
        "build-server": "not started",
        "client": "not started",
        "server": "not started",
    }
    base = next(n for n in h.plan.nodes.values() if n.stage.name == "base")
    error = result.nodes[base.id].error
    assert error is not None
    assert error.where is not None
    assert error.where.endswith("/Dockerfile:3")
    assert error.step == "RUN make deps"
    assert result.targets["client"].status is Status.FAILED
    assert result.targets["client"].reason == "shared/base failed"
    failures = [e for e in h.events if isinstance(e, NodeFinished) and e.status is Status.FAILED]
    assert len(failures) == 1
    assert "app-client:latest" not in h.images.tags


@pytest.mark.parametrize("builder", BUILDERS)
async def test_fail_fast_cancels_what_runs(
    tmp_path: Path, builder: str, autojump_clock: trio.abc.Clock
) -> None:
    h = make(tmp_path, builder, seconds=SECONDS, fail={"build-server": 1})
    t0 = trio.current_time()
    result = await h.runner().run()
    client = {r.stage: r for r in h.builder.runs}["build-client"]
    assert client.outcome == "cancelled"
    assert client.end == t0 + 3  # stopped when server failed
    status = statuses(h, dict(result.nodes))
    assert status["build-server"] == "failed"
    assert status["build-client"] == "cancelled"
    reason = {h.plan.nodes[n].stage.display_name: r.reason for n, r in result.nodes.items()}
    assert reason["build-client"] == "stopped after server/build-server failed"
    assert result.targets["client"].status is Status.NOT_STARTED
    assert result.targets["server"].status is Status.FAILED


@pytest.mark.parametrize("builder", BUILDERS)
async def test_keep_going_finishes_what_does_not_need_the_failure(
    tmp_path: Path, builder: str, autojump_clock: trio.abc.Clock
) -> None:
    h = make(tmp_path, builder, seconds=SECONDS, fail={"build-server": 1})
    result = await h.runner(keep_going=True).run()
    assert result.targets["client"].status is Status.BUILT
    assert result.targets["server"].status is Status.FAILED
    assert "app-client:latest" in h.images.tags
    assert "app-server:latest" not in h.images.tags
    assert statuses(h, dict(result.nodes))["server"] == "not started"


DEPENDS = """\
[target.migrate]
dockerfile = "migrate.Dockerfile"
tags = ["migrate"]

[target.app]
target = "client"
depends-on = ["migrate"]
tags = ["app"]

[target.other]
target = "server"
tags = ["other"]
"""


@pytest.mark.parametrize("builder", BUILDERS)
async def test_depends_on_waits_for_the_tag(
    tmp_path: Path, builder: str, autojump_clock: trio.abc.Clock
) -> None:
    files = {**FILES, "bake.toml": DEPENDS, "migrate.Dockerfile": "FROM busybox\nRUN migrate\n"}
    h = make(tmp_path, builder, files, "app", "other", seconds={**SECONDS, "0": 4.0})
    t0 = trio.current_time()
    result = await h.runner().run()
    assert result.ok
    assert set(result.targets) == {"app", "other", "migrate"}
    runs = {r.stage: r.start - t0 for r in h.builder.runs}
    assert runs["0"] == 0  # migrate's one stage
    # app's whole chain waits for migrate; other starts at once.
    assert runs["base"] == 0
    assert runs["build-server"] == 2
    tagged = [
        e.at
        for e in h.events
        if isinstance(e, NodeFinished)
        and h.plan.nodes.get(e.node)
        and h.plan.nodes[e.node].stage.display_name == "0"
    ]
    assert tagged == [t0 + 4]
    assert runs["build-client"] >= 4


@pytest.mark.parametrize("builder", BUILDERS)
async def test_a_failed_dependency_skips_the_dependent_with_its_reason(
    tmp_path: Path, builder: str, autojump_clock: trio.abc.Clock
) -> None:
    files = {**FILES, "bake.toml": DEPENDS, "migrate.Dockerfile": "FROM busybox\nRUN migrate\n"}
    h = make(tmp_path, builder, files, "app", seconds={"0": 1.0}, fail={"0": 1})
    result = await h.runner(keep_going=True).run()
    assert result.targets["migrate"].status is Status.FAILED
    assert result.targets["app"].status is Status.NOT_STARTED
    reasons = {h.plan.nodes[n].stage.display_name: r.reason for n, r in result.nodes.items()}
    expected = (
        "target migrate did not build" if builder == "buildkit" else "migrate/0 did not build"
    )
    assert reasons["base"] == expected
    assert not [r for r in h.builder.runs if r.stage == "client"]


CONTEXTS = """\
[target.base]
dockerfile = "base.Dockerfile"
tags = ["base"]

[target.app]
dockerfile = "app.Dockerfile"
contexts = { baseapp = "target:base" }
tags = ["app"]
"""


@pytest.mark.parametrize("builder", BUILDERS)
async def test_a_target_context_builds_from_the_other_targets_image(
    tmp_path: Path, builder: str, autojump_clock: trio.abc.Clock
) -> None:
    files = {
        "bake.toml": CONTEXTS,
        "base.Dockerfile": "FROM busybox AS b\nRUN base\n",
        "app.Dockerfile": "FROM baseapp AS a\nRUN app\n",
    }
    h = make(tmp_path, builder, files, "app", seconds={"b": 2.0, "a": 1.0})
    t0 = trio.current_time()
    result = await h.runner().run()
    assert result.ok
    runs = {r.stage: (r.start - t0, (r.end or 0) - t0) for r in h.builder.runs}
    assert runs == {"b": (0, 2), "a": (2, 3)}
    base_node = h.plan.targets["base"].node
    app_build = next(tag for _, tag in h.builder.builds if tag.endswith(h.plan.targets["app"].node))
    assert app_build
    assert (
        result.targets["base"].image_id == h.images.tags[f"bakery-stage:{base_node}"]
        or result.targets["base"].image_id is not None
    )


@pytest.mark.parametrize("builder", BUILDERS)
async def test_a_second_run_reuses_every_node_without_a_build(
    tmp_path: Path, builder: str, autojump_clock: trio.abc.Clock
) -> None:
    h = make(tmp_path, builder, seconds=SECONDS)
    first = await h.runner().run()
    assert first.ok
    calls = len(h.builder.builds)
    h.events.clear()
    second = await h.runner().run()
    assert second.ok
    assert len(h.builder.builds) == calls
    assert {r.status for r in second.nodes.values()} == {Status.CACHED}
    assert {t.status for t in second.targets.values()} == {Status.CACHED}
    assert second.finished - second.started == 0
    for name in ("client", "server"):
        assert second.targets[name].image_id == first.targets[name].image_id


async def test_no_cache_rebuilds_and_sends_every_target_at_once(
    tmp_path: Path, autojump_clock: trio.abc.Clock
) -> None:
    h = make(tmp_path, "buildkit", seconds=SECONDS)
    await h.runner().run()
    before = len(h.builder.builds)
    t0 = trio.current_time()
    result = await h.runner(no_cache=True, jobs=1).run()
    assert result.ok
    assert [s - t0 for s, _ in h.builder.builds[before:]] == [0, 0]


async def test_interrupt_cancels_running_builds(
    tmp_path: Path, autojump_clock: trio.abc.Clock
) -> None:
    h = make(tmp_path, "buildkit", seconds=SECONDS)
    runner = h.runner()

    async def interrupt_at(seconds: float) -> None:
        await trio.sleep(seconds)
        runner.schedule.interrupt()
        assert runner._nursery is not None
        runner._nursery.cancel_scope.cancel()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(interrupt_at, 1.0)
        result = await runner.run()
    assert result.interrupted
    assert not result.ok
    assert statuses(h, dict(result.nodes))["base"] == "cancelled"
    assert {r.reason for r in result.nodes.values()} == {"interrupted"}
    assert not [e for e in h.events if isinstance(e, TargetFinished) and e.image_id]


async def test_a_cached_stage_is_reported_cached(
    tmp_path: Path, autojump_clock: trio.abc.Clock
) -> None:
    h = make(tmp_path, "classic", cached={"base", "build-client", "client"})
    result = await h.runner().run()
    status = statuses(h, dict(result.nodes))
    assert status["base"] == status["client"] == "cached"
    assert status["server"] == "built"
    assert result.targets["client"].status is Status.CACHED
    assert result.targets["server"].status is Status.BUILT
    started = [e for e in h.events if isinstance(e, NodeStarted)]
    assert len(started) == 5


@pytest.mark.parametrize("builder", BUILDERS)
async def test_a_shared_stage_reading_much_of_the_context_is_sent_once(
    tmp_path: Path, builder: str, autojump_clock: trio.abc.Clock
) -> None:
    (tmp_path / "deps").mkdir()
    (tmp_path / "deps" / "blob.bin").write_bytes(b"\0" * (1 << 20))
    text = WALKTHROUGH.replace("COPY . /src", "COPY deps/ /deps/\nCOPY . /src")
    files = {**FILES, "Dockerfile": text}
    h = make(tmp_path, builder, files, seconds=SECONDS)
    result = await h.runner().run()
    assert result.ok
    tags = [tag for _, tag in h.builder.builds]
    base = next(n for n in h.plan.nodes.values() if n.stage.name == "base")
    # On BuildKit the shared stage is a build of its own, first; then the targets.
    expected = 3 if builder == "buildkit" else 5
    assert len(tags) == expected
    assert tags[0].endswith(base.id)
    assert [r.stage for r in h.builder.runs].count("base") == 1
    runs = {r.stage: r.start for r in h.builder.runs}
    assert runs["build-client"] == runs["build-server"] == runs["base"] + 2


async def test_a_shared_stage_copying_the_whole_context_after_is_not_split(
    tmp_path: Path, autojump_clock: trio.abc.Clock
) -> None:
    (tmp_path / "deps").mkdir()
    (tmp_path / "deps" / "blob.bin").write_bytes(b"\0" * (1 << 20))
    text = WALKTHROUGH.replace("COPY . /src", "COPY deps/ /deps/\nCOPY . /src")
    text = text.replace("RUN make client", "COPY . /all\nRUN make client")
    h = make(tmp_path, "buildkit", {**FILES, "Dockerfile": text})
    assert (await h.runner().run()).ok
    assert len(h.builder.builds) == 2


async def test_a_folder_context_becomes_an_image_first(
    tmp_path: Path, autojump_clock: trio.abc.Clock
) -> None:
    files = {
        "bake.toml": '[target.app]\ncontexts = { assets = "assets" }\ntags = ["app"]\n',
        "Dockerfile": "FROM busybox AS app\nCOPY --from=assets /a.txt /a.txt\n",
        "assets/a.txt": "a\n",
    }
    h = make(tmp_path, "buildkit", files, "app")
    result = await h.runner().run()
    assert result.ok
    assert [tag.rpartition(":")[2].split("-")[0] for _, tag in h.builder.builds] == [
        "context",
        h.plan.targets["app"].node,
    ]


async def test_type_local_output_exports_the_image(
    tmp_path: Path, autojump_clock: trio.abc.Clock
) -> None:
    toml = TOML.replace(
        'tags = ["app-client:latest"]',
        'tags = ["app-client:latest"]\noutput = "type=local,dest=out"',
    )
    h = make(tmp_path, "buildkit", {**FILES, "bake.toml": toml}, "client")
    result = await h.runner().run()
    assert h.images.exported == {result.targets["client"].image_id: tmp_path / "out"}


async def test_a_file_where_the_output_folder_goes_fails_before_building(
    tmp_path: Path, autojump_clock: trio.abc.Clock
) -> None:
    toml = TOML.replace(
        'tags = ["app-client:latest"]',
        'tags = ["app-client:latest"]\noutput = "type=local,dest=out"',
    )
    h = make(tmp_path, "buildkit", {**FILES, "bake.toml": toml, "out": "a file\n"}, "client")
    with pytest.raises(ConfigError, match="exists and is not a folder"):
        await h.runner().run()
    assert h.builder.builds == []


async def test_pull_refreshes_bases_first_and_a_failed_pull_builds_nothing(
    tmp_path: Path, autojump_clock: trio.abc.Clock
) -> None:
    h = make(tmp_path, "classic")
    assert (await h.runner(pull=True).run()).ok
    assert h.images.pulls == ["busybox"]
    h.images.unpullable.add("busybox")
    with pytest.raises(BuildFailed, match=r"cannot pull busybox: the registry docker\.io") as err:
        await h.runner(pull=True).run()
    assert err.value.where == "target.client"


async def test_buildkit_needs_a_named_stage_and_contexts_must_exist(
    tmp_path: Path, autojump_clock: trio.abc.Clock
) -> None:
    files = {
        "bake.toml": (
            '[target.a]\ntarget = "0"\n[target.b]\ncontext = "nowhere"\n'
            f'dockerfile = "{tmp_path}/Dockerfile"\n'
        ),
        "Dockerfile": "FROM busybox\nRUN a\nFROM busybox AS last\nRUN b\n",
    }
    h = make(tmp_path, "buildkit", files, "a")
    with pytest.raises(ConfigError, match="stage 0 has no name"):
        await h.runner().run()
    h = make(tmp_path, "buildkit", files, "b")
    with pytest.raises(ConfigError, match=r"context: folder .*nowhere does not exist"):
        await h.runner().run()


async def test_a_failed_export_is_one_error_naming_the_target(
    tmp_path: Path, autojump_clock: trio.abc.Clock
) -> None:
    toml = TOML.replace(
        'tags = ["app-client:latest"]',
        'tags = ["app-client:latest"]\noutput = "type=local,dest=out"',
    )
    h = make(tmp_path, "classic", {**FILES, "bake.toml": toml}, "client")

    def refuse(image_id: str, dest: Path) -> None:
        raise PermissionError("permission denied")

    h.images.export = refuse  # type: ignore[method-assign]
    with pytest.raises(BaseExceptionGroup) as group:
        await h.runner().run()
    leaves: list[BaseException] = []
    todo: list[BaseException] = [group.value]
    while todo:
        item = todo.pop()
        if isinstance(item, BaseExceptionGroup):
            todo.extend(item.exceptions)
        else:
            leaves.append(item)
    (error,) = leaves
    assert isinstance(error, BuildFailed)
    assert error.where == "target.client"
    assert "app-client:latest" in h.images.tags  # tagged first, as before


@pytest.mark.parametrize("number", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
async def test_a_stop_signal_is_an_interrupt_not_a_crash(
    tmp_path: Path, number: signal.Signals, autojump_clock: trio.abc.Clock
) -> None:
    h = make(tmp_path, "classic", seconds=SECONDS)
    runner = h.runner()

    async def signal_at(seconds: float) -> None:
        await trio.sleep(seconds)
        os.kill(os.getpid(), number)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(signal_at, 1.0)
        result = await runner.run(handle_signals=True)
    assert result.interrupted
    assert result.signal == number
    assert statuses(h, dict(result.nodes))["base"] == "cancelled"
    base = next(r for r in h.builder.runs if r.stage == "base")
    assert base.outcome == "cancelled"
    assert base.end == base.start + 1  # stopped at once on the daemon


async def test_an_output_folder_below_a_file_fails_before_building(
    tmp_path: Path, autojump_clock: trio.abc.Clock
) -> None:
    toml = TOML.replace(
        'tags = ["app-client:latest"]',
        'tags = ["app-client:latest"]\noutput = "type=local,dest=out/files"',
    )
    h = make(tmp_path, "buildkit", {**FILES, "bake.toml": toml, "out": "a file\n"}, "client")
    with pytest.raises(ConfigError, match="out exists and is not a folder"):
        await h.runner().run()
    assert h.builder.builds == []
    assert "app-client:latest" not in h.images.tags


async def test_network_host_needs_the_entitlement(
    tmp_path: Path, autojump_clock: trio.abc.Clock
) -> None:
    toml = TOML.replace(
        'tags = ["app-client:latest"]', 'tags = ["app-client:latest"]\nnetwork = "host"'
    )
    h = make(tmp_path, "buildkit", {**FILES, "bake.toml": toml}, "client")
    with pytest.raises(ConfigError, match=r"needs the network\.host entitlement") as info:
        await h.runner().run()
    assert info.value.where == "target.client"
    assert info.value.hint is not None
    assert "--allow network.host" in info.value.hint
    assert h.builder.builds == []
    assert (await h.runner(allow=frozenset({"network.host"})).run()).ok
