"""Building on three daemons: the main one and two of the test's own, each in a
network namespace of its own, sharing one registry (on a Unix socket, reached
as the same loopback address from every namespace)."""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import docker
import pytest

from tests.engine.dockerutil import bakery, write_tree
from tests.netns import NetnsDaemon, netns_daemon, shared_registry

pytestmark = pytest.mark.docker


@dataclass
class Lab:
    registry: str
    daemons: dict[str, str]  # name -> DOCKER_HOST
    extra: list[NetnsDaemon]


@pytest.fixture
def lab(client: docker.DockerClient, busybox_image: str, tmp_path: Path) -> Iterator[Lab]:
    folder = tmp_path / "lab"
    folder.mkdir()
    with (
        shared_registry(folder) as (registry, sock),
        netns_daemon() as one,
        netns_daemon() as two,
    ):
        for daemon in (one, two):
            daemon.load(busybox_image)
            daemon.relay(registry, sock)
        daemons = {"main": "unix:///var/run/docker.sock", "one": one.host, "two": two.host}
        yield Lab(registry, daemons, [one, two])


SIX = """\
FROM bakery-busybox:latest AS base
RUN echo {nonce} > /nonce && head -c 16 /dev/urandom | od -An -tx1 > /random
""" + "".join(f"FROM base AS t{i}\nRUN echo {i} > /mine\n" for i in range(6))


def project(tmp_path: Path, lab: Lab, prefix: str, *, cache: bool) -> None:
    toml = "".join(
        f'[builders.{name}]\nhost = "{host}"\njobs = 1\n' for name, host in lab.daemons.items()
    )
    if cache:
        toml += f'[cache]\nrepo = "{lab.registry}/{prefix}-cache"\n'
    toml += "".join(f'[target.t{i}]\ntarget = "t{i}"\ntags = ["{prefix}-t{i}"]\n' for i in range(6))
    write_tree(tmp_path, {"Dockerfile": SIX.format(nonce=uuid.uuid4().hex), "bake.toml": toml})


def read(host: str, image: str, path: str) -> bytes:
    with contextlib.closing(docker.DockerClient(base_url=host, timeout=120)) as c:
        return bytes(c.containers.run(image, ["cat", path], remove=True))


def build(tmp_path: Path, *args: str) -> dict[str, object]:
    run = bakery(tmp_path, "build", "--report", "json", *args)
    assert run.returncode == 0, run.stdout + run.stderr
    doc: dict[str, object] = json.loads(run.stdout)
    return doc


@pytest.mark.parametrize("builder", ["buildkit", "classic"])
def test_six_targets_on_three_daemons_share_base_once_through_the_cache(
    lab: Lab, prefix: str, tmp_path: Path, builder: str
) -> None:
    project(tmp_path, lab, prefix, cache=True)
    doc = build(tmp_path, "--builder", builder)
    targets = {t["name"]: t for t in doc["targets"]}  # type: ignore[attr-defined]
    placed = {name: t["daemon"] for name, t in targets.items()}
    assert set(placed.values()) == {"main", "one", "two"}, placed
    for name, t in targets.items():
        host = lab.daemons[t["daemon"]]
        with contextlib.closing(docker.DockerClient(base_url=host)) as c:
            assert c.images.get(f"{prefix}-{name}").id == t["image_id"]
    # Built once in all: every image holds the same random bytes.
    randoms = {read(lab.daemons[placed[n]], f"{prefix}-{n}", "/random") for n in targets}
    assert len(randoms) == 1
    (base,) = [n for n in doc["nodes"] if n["stage"] == "base"]  # type: ignore[attr-defined]
    assert base["status"] == "built"
    assert sorted(base["daemons"]) == ["main", "one", "two"]
    # The main daemon holds nothing placed elsewhere: no target, no stage image.
    main = docker.from_env()
    for name, daemon in placed.items():
        if daemon != "main":
            with pytest.raises(docker.errors.ImageNotFound):
                main.images.get(f"{prefix}-{name}")
    stage_tags = {t for i in main.images.list() for t in i.tags if t.startswith(f"{prefix}-stages")}
    for node in doc["nodes"]:  # type: ignore[attr-defined]
        on_main = any(t.endswith(f":{node['id']}") for t in stage_tags)
        assert on_main == ("main" in node["daemons"]), (node["stage"], node["daemons"])
    main.close()


def test_without_a_cache_each_daemon_builds_base_itself(
    lab: Lab, prefix: str, tmp_path: Path
) -> None:
    project(tmp_path, lab, prefix, cache=False)
    doc = build(tmp_path)
    placed = {t["name"]: t["daemon"] for t in doc["targets"]}  # type: ignore[attr-defined]
    by_daemon: dict[str, set[bytes]] = {}
    for name, daemon in placed.items():
        by_daemon.setdefault(daemon, set()).add(
            read(lab.daemons[daemon], f"{prefix}-{name}", "/random")
        )
    # Once per daemon: the same bytes on one daemon, others on the next.
    assert all(len(v) == 1 for v in by_daemon.values())
    assert len({next(iter(v)) for v in by_daemon.values()}) == len(by_daemon) == 3


def test_a_daemon_that_does_not_answer_is_named_and_left_out(
    client: docker.DockerClient, prefix: str, tmp_path: Path
) -> None:
    write_tree(
        tmp_path,
        {
            "Dockerfile": SIX.format(nonce=uuid.uuid4().hex),
            "bake.toml": '[builders.main]\nhost = "unix:///var/run/docker.sock"\n'
            '[builders.gone]\nhost = "unix:///nonexistent/docker.sock"\n'
            + "".join(
                f'[target.t{i}]\ntarget = "t{i}"\ntags = ["{prefix}-t{i}"]\n' for i in (0, 1)
            ),
        },
    )
    run = bakery(tmp_path, "build", "--report", "json")
    assert run.returncode == 0, run.stderr
    assert "warning: builder gone: cannot reach the Docker daemon at unix:///nonexistent" in (
        run.stderr
    )
    doc = json.loads(run.stdout)
    assert {t["daemon"] for t in doc["targets"]} == {"main"}


@pytest.mark.parametrize("keep_going", [False, True], ids=["fail-fast", "keep-going"])
def test_a_daemon_killed_mid_build(
    client: docker.DockerClient, busybox_image: str, prefix: str, tmp_path: Path, keep_going: bool
) -> None:
    import subprocess
    import sys
    import time

    nonce = uuid.uuid4().hex
    with netns_daemon() as victim:
        victim.load(busybox_image)
        write_tree(
            tmp_path,
            {
                "Dockerfile": "FROM bakery-busybox:latest AS slow\n"
                f"RUN echo {nonce} started && sleep 5\n"
                "FROM bakery-busybox:latest AS quick\nRUN echo quick\n",
                # The victim first: the first (largest) target goes to it.
                "bake.toml": f'[builders.victim]\nhost = "{victim.host}"\n'
                '[builders.main]\nhost = "unix:///var/run/docker.sock"\n'
                f'[target.slow]\ntarget = "slow"\ntags = ["{prefix}-slow"]\n'
                f'[target.quick]\ntarget = "quick"\ntags = ["{prefix}-quick"]\n',
            },
        )
        args = ["--keep-going"] if keep_going else []
        with subprocess.Popen(
            [sys.executable, "-m", "bakery", "build", "--progress", "plain", *args],
            cwd=tmp_path,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        ) as proc:
            assert proc.stderr is not None
            seen = []
            deadline = time.monotonic() + 60
            for line in proc.stderr:
                seen.append(line)
                if f"{nonce} started" in line or time.monotonic() > deadline:
                    break
            assert any(f"{nonce} started" in s for s in seen), "".join(seen)
            victim.stop()
            out, err = proc.communicate(timeout=120)
    text = "".join(seen) + err + out
    assert "Traceback" not in text
    assert f"lost the connection to the Docker daemon at {victim.host}" in text
    assert "target" in out  # the report came
    if keep_going:
        assert proc.returncode == 0, text
        assert "warning: builder victim was lost" in text
        assert client.images.get(f"{prefix}-slow")  # built on main instead
    else:
        assert proc.returncode == 1, text


def test_push_goes_from_the_daemon_that_built_each_target(
    lab: Lab, prefix: str, tmp_path: Path
) -> None:
    import urllib.request

    toml = "".join(
        f'[builders.{name}]\nhost = "{host}"\njobs = 1\n' for name, host in lab.daemons.items()
    )
    toml += "".join(
        f'[target.t{i}]\ntarget = "t{i}"\ntags = ["{lab.registry}/{prefix}-t{i}:1"]\n'
        for i in range(3)
    )
    write_tree(tmp_path, {"Dockerfile": SIX.format(nonce=uuid.uuid4().hex), "bake.toml": toml})
    doc = build(tmp_path, "--push")
    placed = {t["name"]: t["daemon"] for t in doc["targets"]}  # type: ignore[attr-defined]
    assert len(set(placed.values())) == 3, placed
    for t in doc["targets"]:  # type: ignore[attr-defined]
        assert [p["tag"] for p in t["pushed"]] == [f"{lab.registry}/{prefix}-{t['name']}:1"]
        url = f"http://{lab.registry}/v2/{prefix}-{t['name']}/tags/list"
        with urllib.request.urlopen(url, timeout=10) as answer:
            assert json.load(answer)["tags"] == ["1"]
