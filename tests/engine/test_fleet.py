"""A run on several (fake) daemons: placement, stages handed over through the
registry cache, a failure on one daemon, on trio's virtual clock."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio

from bakery.core.placement import place
from bakery.core.status import Status
from bakery.engine.exchange import Exchange
from bakery.engine.fleet import Member, run_fleet
from bakery.engine.runner import Runner, RunOptions
from bakery.engine.share import Share
from tests.engine.fake import FakeBuilder, FakeCache, FakeImages, inline, plan_of, write_project
from tests.engine.test_runner import BUILDERS, FILES, SECONDS


class Fleet:
    def __init__(
        self,
        root: Path,
        builder: str,
        *,
        cache: bool,
        fail: dict[str, int] | None = None,
        seconds: dict[str, float] | None = None,
        fail_on: str | None = None,
        bare: str | None = None,
    ) -> None:
        """``fail_on``: only that daemon fails ``fail``'s stages; ``bare``: that
        daemon lacks the base image (so it cannot key the stages on it)."""
        write_project(root, FILES)
        self.plan = plan_of(root, "client", "server")
        self.placement = place(self.plan, [("a", 2), ("b", 2)], through_cache=cache)
        self.exchange = Exchange()
        self.store: dict[str, str] = {}
        self.builders: dict[str, FakeBuilder] = {}
        self.members: list[Member] = []
        self.warnings: list[str] = []
        for name in self.placement.daemons:
            part = plan_of(root, *self.placement.targets_on(name))
            bases = {} if name == bare else {"busybox": ("sha256:busybox", False)}
            images = FakeImages(bases=bases)
            failing = fail if fail_on in (None, name) else None
            fake = FakeBuilder(part, images, name=builder, seconds=seconds or SECONDS, fail=failing)
            self.builders[name] = fake
            share = Share(
                name=name,
                remote=self.placement.pulled_on(name),
                exported=frozenset(self.placement.pushed_from(name)),
                exchange=self.exchange,
            )
            runner = Runner(
                part,
                fake,
                images,
                RunOptions(jobs=2),
                lambda _event: None,
                offload=inline,
                cache=FakeCache(images, store=self.store) if cache else None,
                warn=self.warnings.append,
                share=share,
            )
            self.members.append(Member(name, part, runner))

    async def run(self, *, keep_going: bool = False):  # type: ignore[no-untyped-def]
        return await run_fleet(
            self.plan, self.placement, self.members, self.exchange, keep_going=keep_going
        )

    def stages_run(self, name: str) -> list[str]:
        return [r.stage for r in self.builders[name].runs]


@pytest.mark.parametrize("builder", BUILDERS)
async def test_a_shared_stage_is_built_once_in_all_through_the_cache(
    tmp_path: Path, builder: str, autojump_clock: trio.abc.Clock
) -> None:
    fleet = Fleet(tmp_path, builder, cache=True)
    assert fleet.placement.targets == {"client": "a", "server": "b"}
    result = await fleet.run()
    assert result.ok, result
    assert fleet.warnings == []
    assert fleet.stages_run("a").count("base") == 1
    assert "base" not in fleet.stages_run("b")  # pulled once a had pushed it
    base = next(n for n in fleet.plan.nodes if fleet.plan.nodes[n].stage.display_name == "base")
    assert result.nodes[base].status is Status.BUILT
    assert result.daemons[base] == ("a", "b")
    assert result.placement == {"client": "a", "server": "b"}
    # b started its own stages only after base was in the registry.
    first_on_b = min(r.start for r in fleet.builders["b"].runs)
    assert first_on_b >= SECONDS["base"]


@pytest.mark.parametrize("builder", BUILDERS)
async def test_without_a_cache_each_daemon_builds_what_it_needs(
    tmp_path: Path, builder: str, autojump_clock: trio.abc.Clock
) -> None:
    fleet = Fleet(tmp_path, builder, cache=False)
    result = await fleet.run()
    assert result.ok
    assert fleet.stages_run("a").count("base") == 1
    assert fleet.stages_run("b").count("base") == 1
    # Side by side: both started at once.
    assert min(r.start for r in fleet.builders["b"].runs) == 0


async def test_a_failure_on_one_daemon_stops_the_other(
    tmp_path: Path, autojump_clock: trio.abc.Clock
) -> None:
    slow_server = {**SECONDS, "build-server": 10.0}
    fleet = Fleet(tmp_path, "classic", cache=False, fail={"build-client": 3}, seconds=slow_server)
    result = await fleet.run()
    assert not result.ok
    assert result.targets["client"].status is Status.FAILED
    server = result.targets["server"]
    assert server.status is not Status.BUILT
    assert "failed on a" in (server.reason or "")
    # b's running build was stopped when a's failed (at 2 + 3 s), not left to finish.
    (run,) = [r for r in fleet.builders["b"].runs if r.stage == "build-server"]
    assert (run.outcome, run.end) == ("cancelled", 5.0)


async def test_with_keep_going_the_other_daemon_finishes(
    tmp_path: Path, autojump_clock: trio.abc.Clock
) -> None:
    slow_server = {**SECONDS, "build-server": 10.0}
    fleet = Fleet(tmp_path, "classic", cache=False, fail={"build-client": 3}, seconds=slow_server)
    result = await fleet.run(keep_going=True)
    assert result.targets["server"].status is Status.BUILT
    assert result.targets["client"].status is Status.FAILED


async def test_when_the_home_cannot_build_a_stage_the_others_build_it(
    tmp_path: Path, autojump_clock: trio.abc.Clock
) -> None:
    fleet = Fleet(tmp_path, "classic", cache=True)
    # a builds base, but its push is refused: b waits, hears so, and builds base itself.
    for member in fleet.members:
        cache = member.runner.cache
        assert isinstance(cache, FakeCache)
        cache.refuse_pushes = member.name == "a"
    result = await fleet.run(keep_going=True)
    assert result.ok
    assert "base" in fleet.stages_run("b")  # a could not hand it over
    assert any("building it here instead" in w for w in fleet.warnings)


@pytest.mark.parametrize("builder", BUILDERS)
async def test_a_home_that_cannot_key_a_stage_says_so_at_once(
    tmp_path: Path, builder: str, autojump_clock: trio.abc.Clock
) -> None:
    fleet = Fleet(tmp_path, builder, cache=True, bare="a")
    with trio.fail_after(60):
        result = await fleet.run()
    assert result.ok
    # b did not wait for a: it built base itself, from the start.
    assert "base" in fleet.stages_run("b")
    assert min(r.start for r in fleet.builders["b"].runs) == 0


@pytest.mark.parametrize("builder", BUILDERS)
async def test_with_keep_going_a_stage_its_home_failed_is_built_by_the_others(
    tmp_path: Path, builder: str, autojump_clock: trio.abc.Clock
) -> None:
    fleet = Fleet(tmp_path, builder, cache=True, fail={"base": 3}, fail_on="a")
    with trio.fail_after(60):
        result = await fleet.run(keep_going=True)
    assert result.targets["client"].status is Status.FAILED
    assert result.targets["server"].status is Status.BUILT
    assert "base" in fleet.stages_run("b")
