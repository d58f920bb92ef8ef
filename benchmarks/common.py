"""What the benchmark scripts share: running bakery and plain Docker, timing,
and removing exactly the images a run made."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import docker

ROOT = Path(__file__).resolve().parents[1]


def bakery_build(
    folder: Path,
    builder: str,
    prefix: str,
    env: Mapping[str, str] | None = None,
    jobs: int | None = None,
) -> None:
    """``bakery build all`` in ``folder``, its stage images under ``PREFIX-stages``."""
    more = ["--jobs", str(jobs)] if jobs else []
    subprocess.run(
        [
            str(ROOT / ".venv" / "bin" / "bakery"),
            "build",
            "all",
            "--builder",
            builder,
            "--progress",
            "quiet",
            "--report",
            "none",
            *more,
        ],
        cwd=folder,
        check=True,
        capture_output=True,
        env={**os.environ, "BAKERY_STAGE_REPO": f"{prefix}-stages", **(env or {})},
    )


def docker_cli(
    folder: Path, prefix: str, target: str, env: Mapping[str, str] | None = None
) -> None:
    """``docker build --target`` with the docker CLI here (its legacy builder)."""
    subprocess.run(
        ["docker", "build", "-q", "--target", target, "-t", f"{prefix}-plain-{target}", "."],
        cwd=folder,
        check=True,
        capture_output=True,
        env={**os.environ, "DOCKER_BUILDKIT": "0", **(env or {})},
    )


def buildkit_api(api: docker.APIClient, body: bytes, prefix: str, target: str) -> None:
    """One BuildKit build of ``target`` through the API (``POST /build?version=2``),
    the context ``body`` as a tar: what a client without a session sends."""
    params = {"t": f"{prefix}-bk-{target}", "target": target, "version": "2"}
    url = api._url("/build") + "?" + urllib.parse.urlencode(params)
    with api._post(
        url, data=body, headers={"Content-Type": "application/x-tar"}, stream=True
    ) as resp:
        for raw in resp.iter_lines():
            if raw and "error" in json.loads(raw):
                raise RuntimeError(raw.decode())


def buildkit_together(api: docker.APIClient, body: bytes, prefix: str, targets: list[str]) -> None:
    """``buildkit_api`` for every target at the same time, one thread each."""
    errors: list[BaseException] = []

    def one(target: str) -> None:
        try:
            buildkit_api(api, body, prefix, target)
        except BaseException as err:
            errors.append(err)

    threads = [threading.Thread(target=one, args=(t,)) for t in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


@contextlib.contextmanager
def own_images(client: docker.DockerClient, prefix: str) -> Iterator[None]:
    """Remove, at the end, every tag starting with ``prefix`` (bakery's stage
    tags included, under ``PREFIX-stages``) and the untagged images that appeared
    meanwhile (what the legacy builder leaves for stages a target did not need)."""
    dangling_before = {i["Id"] for i in client.api.images(filters={"dangling": True})}
    try:
        yield
    finally:
        for image in client.api.images():
            for ref in image.get("RepoTags") or []:
                if ref.startswith(prefix):
                    with contextlib.suppress(docker.errors.APIError):
                        client.images.remove(ref)
        for image in client.api.images(filters={"dangling": True}):
            if image["Id"] not in dangling_before:
                with contextlib.suppress(docker.errors.APIError):
                    client.images.remove(image["Id"])
