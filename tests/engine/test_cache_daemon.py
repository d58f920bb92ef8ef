"""The registry cache on a CI runner that starts empty: a daemon of the test's
own (in a network namespace of its own), with a registry beside it."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.engine.dockerutil import bakery, write_tree
from tests.netns import NetnsDaemon, netns_daemon
from tests.report.walkthrough import files

pytestmark = pytest.mark.docker
BUILDERS = ["classic", "buildkit"]


@pytest.fixture
def runner_daemon(busybox_image: str) -> Iterator[NetnsDaemon]:
    with netns_daemon() as daemon:
        daemon.load(busybox_image)
        yield daemon


def report(tmp_path: Path, daemon: NetnsDaemon, builder: str) -> dict[str, object]:
    run = bakery(
        tmp_path,
        "build",
        "--builder",
        builder,
        "--report",
        "json",
        env={"DOCKER_HOST": daemon.host},
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "warning" not in run.stderr, run.stderr
    doc: dict[str, object] = json.loads(run.stdout)
    return doc


@pytest.mark.parametrize("builder", BUILDERS)
def test_an_empty_runner_pulls_every_stage_and_builds_none(
    runner_daemon: NetnsDaemon, tmp_path: Path, builder: str
) -> None:
    registry = runner_daemon.registry()
    project = files("walk", sleep=0.2, part=0.1)
    project["bake.toml"] += f'\n[cache]\nrepo = "{registry}/walk-cache"\n'
    write_tree(tmp_path, project)
    first = report(tmp_path, runner_daemon, builder)
    assert first["stage_counts"]["built"] == 5  # type: ignore[index]
    images = {t["name"]: t["image_id"] for t in first["targets"]}  # type: ignore[attr-defined]

    # The runner starts again empty: every image bakery made, and the builder cache, gone.
    with contextlib.closing(runner_daemon.client()) as client:
        for image in client.images.list():
            for tag in image.tags:
                if tag != "bakery-busybox:latest":
                    client.images.remove(tag)
        client.images.prune(filters={"dangling": True})
        client.api.prune_builds()
        assert [i.tags for i in client.images.list()] == [["bakery-busybox:latest"]]

    second = report(tmp_path, runner_daemon, builder)
    counts = second["stage_counts"]
    assert (counts["built"], counts["pulled"]) == (0, 5), counts  # type: ignore[index]
    assert {t["name"]: t["image_id"] for t in second["targets"]} == images  # type: ignore[attr-defined]
    pulled = [n for n in second["nodes"] if n["pulled_bytes"]]  # type: ignore[attr-defined]
    assert pulled
    with contextlib.closing(runner_daemon.client()) as client:
        for name in ("client", "server"):
            assert client.images.get(f"walk-{name}:latest").id == images[name]
        # The cache's tags are not left on the daemon.
        assert not [t for i in client.images.list() for t in i.tags if t.startswith(registry)]
