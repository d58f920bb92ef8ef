"""The registry cache in a run, on the fake daemon: pushes after builds, pulls
on a daemon that starts empty, and every fault a warning, never a failure."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio

from bakery.core.status import Status
from bakery.engine.labels import KEY_LABEL
from tests.engine.fake import FakeBuilder, FakeCache, FakeImages, Harness
from tests.engine.test_runner import BUILDERS, SECONDS, make


def with_cache(h: Harness, cache: FakeCache | None = None) -> Harness:
    h.cache = cache or FakeCache(h.images)
    return h


def empty_daemon(h: Harness) -> Harness:
    """The same project on a daemon that has only the base image (a fresh CI
    runner), with the same registry cache."""
    images = FakeImages(bases=dict(h.images.bases))
    assert h.cache is not None
    cache = FakeCache(images, store=h.cache.store)
    builder = FakeBuilder(h.plan, images, name=h.builder.name, seconds=SECONDS)
    return Harness(h.plan, builder, images, cache=cache)


@pytest.mark.parametrize("builder", BUILDERS)
async def test_an_empty_daemon_pulls_every_node_and_builds_nothing(
    tmp_path: Path, builder: str, autojump_clock: trio.abc.Clock
) -> None:
    h = with_cache(make(tmp_path, builder, seconds=SECONDS))
    first = await h.runner().run()
    assert first.ok
    assert h.cache is not None
    # What was built went to the cache: every node on classic, each build's
    # image on BuildKit (the targets': the shared base is inside both).
    expected = len(h.plan.nodes) if builder == "classic" else len(h.plan.targets)
    assert len(h.cache.pushed) == expected
    assert h.warnings == []

    fresh = empty_daemon(h)
    second = await fresh.runner().run()
    assert second.ok
    assert fresh.builder.builds == []  # nothing sent to the daemon
    assert {r.status for r in second.nodes.values()} == {Status.PULLED}
    assert {t.status for t in second.targets.values()} == {Status.CACHED}
    for name in ("client", "server"):
        assert second.targets[name].image_id == first.targets[name].image_id
        assert (
            fresh.images.tags[h.plan.targets[name].target.tags[0]] == first.targets[name].image_id
        )
    pulled = [r for r in second.nodes.values() if r.pulled_bytes]
    assert all(r.image_id for r in pulled)
    # The cache's own tags are not left on the daemon.
    assert not [t for t in fresh.images.tags if t.startswith(h.cache.repo)]
    assert fresh.cache is not None
    assert fresh.cache.pushed == []  # nothing new to push


async def test_an_image_without_its_key_is_not_used(
    tmp_path: Path, autojump_clock: trio.abc.Clock
) -> None:
    h = with_cache(make(tmp_path, "classic", seconds=SECONDS))
    assert (await h.runner().run()).ok
    fresh = empty_daemon(h)
    assert fresh.cache is not None
    fresh.cache.mislabelled = set(fresh.cache.store)
    result = await fresh.runner().run()
    assert result.ok
    assert {r.status for r in result.nodes.values()} == {Status.BUILT}
    assert any("does not carry the stage key" in w for w in fresh.warnings)
    for image_id, labels in fresh.images.labels.items():
        if labels.get(KEY_LABEL) == "someone-else":
            assert image_id not in {t.image_id for t in result.targets.values()}


async def test_a_cache_that_does_not_answer_is_one_warning(
    tmp_path: Path, autojump_clock: trio.abc.Clock
) -> None:
    h = with_cache(make(tmp_path, "classic", seconds=SECONDS))
    assert h.cache is not None
    h.cache.down = True
    result = await h.runner().run()
    assert result.ok
    assert {r.status for r in result.nodes.values()} == {Status.BUILT}
    assert len(h.warnings) == 1
    assert "cannot ask the cache 127.0.0.1:5000/cache" in h.warnings[0]


async def test_a_push_that_fails_is_a_warning_not_a_failure(
    tmp_path: Path, autojump_clock: trio.abc.Clock
) -> None:
    h = with_cache(make(tmp_path, "buildkit", seconds=SECONDS))
    assert h.cache is not None
    h.cache.refuse_pushes = True
    result = await h.runner().run()
    assert result.ok
    assert {t.status for t in result.targets.values()} == {Status.BUILT}
    assert h.warnings
    assert all("cannot push to the cache" in w and "denied" in w for w in h.warnings)


async def test_no_cache_asks_nothing_and_builds(
    tmp_path: Path, autojump_clock: trio.abc.Clock
) -> None:
    h = with_cache(make(tmp_path, "buildkit", seconds=SECONDS))
    assert (await h.runner().run()).ok
    fresh = empty_daemon(h)
    result = await fresh.runner(no_cache=True).run()
    assert result.ok
    assert fresh.cache is not None
    assert fresh.cache.asked == []
    assert Status.PULLED not in {r.status for r in result.nodes.values()}


async def test_a_warm_daemon_fills_an_empty_cache(
    tmp_path: Path, autojump_clock: trio.abc.Clock
) -> None:
    h = make(tmp_path, "classic", seconds=SECONDS)
    assert (await h.runner().run()).ok  # no cache yet
    with_cache(h)
    assert h.cache is not None
    result = await h.runner().run()
    assert {r.status for r in result.nodes.values()} == {Status.CACHED}
    assert len(h.cache.pushed) == len(h.plan.nodes)
