"""Pushing to a real registry of the tests' own, on loopback."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import docker
import pytest

from tests.engine.dockerutil import bakery, write_tree

pytestmark = pytest.mark.docker

DOCKERFILE = """\
FROM bakery-busybox:latest AS a
RUN echo a > /a
FROM bakery-busybox:latest AS b
RUN echo b > /b
FROM bakery-busybox:latest AS broken
RUN echo {prefix} && exit 4
"""


def project(tmp_path: Path, prefix: str, registry: str) -> None:
    write_tree(
        tmp_path,
        {
            "Dockerfile": DOCKERFILE.format(prefix=prefix),
            "bake.toml": f"""\
[target.a]
target = "a"
tags = ["{registry}/{prefix}-a:1.0", "{registry}/{prefix}-a:latest"]
[target.b]
target = "b"
tags = ["{registry}/{prefix}-b:1.0"]
[target.untagged]
target = "b"
[target.broken]
target = "broken"
tags = ["{registry}/{prefix}-broken:1.0"]
""",
        },
    )


def manifest_digest(registry: str, repo: str, tag: str) -> str | None:
    request = urllib.request.Request(
        f"http://{registry}/v2/{repo}/manifests/{tag}",
        method="HEAD",
        headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return str(response.headers["Docker-Content-Digest"])
    except urllib.error.HTTPError as err:
        if err.code == 404:
            return None
        raise


def test_push_sends_every_tag_and_prints_the_registrys_digests(
    client: docker.DockerClient,
    prefix: str,
    registry: str,
    tmp_path: Path,
) -> None:
    project(tmp_path, prefix, registry)
    run = bakery(tmp_path, "push", "a")
    assert run.returncode == 1
    assert "target a is not built" in run.stderr
    assert manifest_digest(registry, f"{prefix}-a", "1.0") is None

    assert bakery(tmp_path, "build", "a", "b", "untagged").returncode == 0
    run = bakery(tmp_path, "push", "a", "b", "untagged")
    assert run.returncode == 0, run.stderr
    assert "warning: target untagged has no tags" in run.stderr
    pushed = dict(line.split()[1:] for line in run.stdout.splitlines())
    assert set(pushed) == {
        f"{registry}/{prefix}-a:1.0",
        f"{registry}/{prefix}-a:latest",
        f"{registry}/{prefix}-b:1.0",
    }
    for ref, digest in pushed.items():
        repo, tag = ref.split("/", 1)[1].rsplit(":", 1)
        assert manifest_digest(registry, repo, tag) == digest


def test_build_push_publishes_nothing_when_a_target_fails(
    client: docker.DockerClient,
    prefix: str,
    registry: str,
    tmp_path: Path,
) -> None:
    project(tmp_path, prefix, registry)
    run = bakery(tmp_path, "build", "--push", "--keep-going", "a", "broken")
    assert run.returncode == 1
    assert "not pushing" in run.stderr
    assert manifest_digest(registry, f"{prefix}-a", "1.0") is None

    run = bakery(tmp_path, "build", "--push", "--report", "json", "a", "b")
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    by_name = (
        {t["name"]: t for t in report["targets"]}
        if isinstance(report["targets"], list)
        else report["targets"]
    )
    for name in ("a", "b"):
        pushes = by_name[name]["pushed"]
        assert pushes, by_name[name]
        for push in pushes:
            repo, tag = push["tag"].split("/", 1)[1].rsplit(":", 1)
            assert manifest_digest(registry, repo, tag) == push["digest"]
