"""Cold `bakery build all` on the walkthrough's shape, against plain Docker.

A walkthrough-shaped Dockerfile (base; build-client and build-server FROM base;
client and server FROM scratch copying from them) whose RUN steps sleep.
Every measurement starts cold: each gets a Dockerfile with a fresh nonce, so
no builder cache applies. In the same run, on the same daemon:

  bakery-buildkit   bakery build all --builder buildkit
  bakery-classic    bakery build all --builder classic
  (a)               docker build --target client, then --target server (the
                    docker CLI here is the legacy builder)
  (b)               BuildKit per-target builds of both targets sent at the same
                    time (BuildKit merges their shared steps: the practical floor)

    .venv/bin/python benchmarks/seed_cold.py [--sleep 2] [--rounds 3]

Writes its figures to docs/benchmarks.md. Needs a running daemon and the
bakery-busybox image (scripts/busybox-image).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable
from pathlib import Path

import docker

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import contextlib

from benchmarks.report import write_section

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = """\
FROM bakery-busybox:latest AS base
WORKDIR /src
COPY app.txt .
RUN echo {nonce} > /nonce && sleep {sleep}

FROM base AS build-client
RUN echo client > /client && sleep {sleep}

FROM base AS build-server
RUN echo server > /server && sleep {sleep}

FROM scratch AS client
COPY --from=build-client /client /client

FROM scratch AS server
COPY --from=build-server /server /server
"""


def bake_toml(prefix: str) -> str:
    return (f'[target.client]\ntarget = "client"\ntags = ["{prefix}-client"]\n'
            f'[target.server]\ntarget = "server"\ntags = ["{prefix}-server"]\n')


def fixture(root: Path, prefix: str, sleep: float) -> Path:
    folder = root / uuid.uuid4().hex[:8]
    folder.mkdir()
    (folder / "Dockerfile").write_text(DOCKERFILE.format(nonce=uuid.uuid4().hex, sleep=sleep))
    (folder / "app.txt").write_text("app\n")
    (folder / "bake.toml").write_text(bake_toml(prefix))
    return folder


def bakery(folder: Path, builder: str) -> None:
    subprocess.run([str(ROOT / ".venv" / "bin" / "bakery"), "build", "all", "--builder",
                    builder, "--progress", "quiet"],
                   cwd=folder, check=True, capture_output=True)


def docker_sequence(folder: Path, prefix: str) -> None:
    for target in ("client", "server"):
        subprocess.run(["docker", "build", "-q", "--target", target, "-t",
                        f"{prefix}-plain-{target}", "."], cwd=folder, check=True,
                       capture_output=True, env={**os.environ, "DOCKER_BUILDKIT": "0"})


def context_tar(folder: Path) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for name in ("Dockerfile", "app.txt"):
            tar.add(folder / name, arcname=name)
    return buf.getvalue()


def buildkit_together(client: docker.DockerClient, folder: Path, prefix: str) -> None:
    body = context_tar(folder)
    errors: list[str] = []

    def one(target: str) -> None:
        api = docker.APIClient(timeout=600)
        params = {"t": f"{prefix}-bk-{target}", "target": target, "version": "2"}
        url = api._url("/build") + "?" + urllib.parse.urlencode(params)
        with api._post(url, data=body, headers={"Content-Type": "application/x-tar"},
                       stream=True) as resp:
            for raw in resp.iter_lines():
                if raw and "error" in json.loads(raw):
                    errors.append(raw.decode())
        api.close()

    threads = [threading.Thread(target=one, args=(t,)) for t in ("client", "server")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise RuntimeError(errors[0])


def timed(fn: Callable[[], None]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sleep", type=float, default=2.0, help="seconds each RUN sleeps")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    client = docker.from_env(timeout=600)
    subprocess.run([str(ROOT / "scripts" / "busybox-image")], check=True, capture_output=True)
    prefix = f"bakery-bench-{uuid.uuid4().hex[:6]}"
    # bakery's stage images go to a repository of this run's own.
    os.environ["BAKERY_STAGE_REPO"] = f"{prefix}-stages"
    dangling_before = {i["Id"] for i in client.api.images(filters={"dangling": True})}
    runs: dict[str, list[float]] = {k: [] for k in
                                    ("bakery-buildkit", "bakery-classic", "a", "b")}
    noop: dict[str, list[float]] = {k: [] for k in ("bakery-buildkit", "bakery-classic", "a")}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            for _ in range(args.rounds):
                # Interleaved, so that drift of the machine hits every contender alike.
                # Each cold run is followed by the same command again: nothing changed.
                f = fixture(root, prefix, args.sleep)
                runs["bakery-buildkit"].append(timed(lambda f=f: bakery(f, "buildkit")))
                noop["bakery-buildkit"].append(timed(lambda f=f: bakery(f, "buildkit")))
                f = fixture(root, prefix, args.sleep)
                runs["bakery-classic"].append(timed(lambda f=f: bakery(f, "classic")))
                noop["bakery-classic"].append(timed(lambda f=f: bakery(f, "classic")))
                f = fixture(root, prefix, args.sleep)
                runs["a"].append(timed(lambda f=f: docker_sequence(f, prefix)))
                noop["a"].append(timed(lambda f=f: docker_sequence(f, prefix)))
                f = fixture(root, prefix, args.sleep)
                runs["b"].append(timed(lambda f=f: buildkit_together(client, f, prefix)))
    finally:
        # This run's tags (and with them the untagged layers only they held).
        for image in client.api.images():
            for ref in image.get("RepoTags") or []:
                if ref.startswith(prefix):
                    with contextlib.suppress(docker.errors.APIError):
                        client.images.remove(ref)
        # The legacy builder's leftovers: stages it built for a --target that does
        # not need them (build-server for client) stay as untagged images.
        for image in client.api.images(filters={"dangling": True}):
            if image["Id"] not in dangling_before:
                with contextlib.suppress(docker.errors.APIError):
                    client.images.remove(image["Id"])

    med = {k: statistics.median(v) for k, v in runs.items()}
    rows = [
        (f"Walkthrough-shaped fixture, each RUN sleeps {args.sleep:g} s (critical path "
        f"{2 * args.sleep:g} s of sleep; (a) also sleeps in build-server, which the classic "
        f"builder runs for --target client). Median of {args.rounds} cold runs each, "
        "interleaved."),
        "",
        "| how | wall time | vs (a) | vs (b) |",
        "|---|---|---|---|",
    ]
    names = {
        "bakery-buildkit": "bakery build all --builder buildkit",
        "bakery-classic": "bakery build all --builder classic",
        "a": "(a) docker build --target, per target in sequence (legacy builder)",
        "b": "(b) BuildKit per-target builds sent at the same time",
    }
    for key, label in names.items():
        rows.append(f"| {label} | {med[key]:.2f} s | {med['a'] / med[key]:.2f}x faster | "
                    f"{(med[key] / med['b'] - 1) * 100:+.0f}% |")
    ceiling = med["a"] / med["b"]
    rows += [
        "",
        ("Aim: within 10% of (b), and at least 1.5x faster than (a), with either backend. "
        f"On this fixture (b) itself is {ceiling:.2f}x faster than (a): the sleeps alone "
        f"give (a) {3 * args.sleep:g} s against {2 * args.sleep:g} s, a ceiling of 1.5x "
        "before any overhead. The classic builder commits a container for every "
        "instruction (0.3-0.5 s each here), so a classic build cannot come near "
        "BuildKit's times; bakery's classic figure is its own critical path of per-stage "
        "builds. bakery's start-up (Python, the docker SDK, trio) is part of its time."),
        "",
        "The same commands again right after, nothing changed (a no-op; aim: under 1 s):",
        "",
        "| how | wall time |",
        "|---|---|",
        *(f"| {label} | {statistics.median(noop[key]):.2f} s |" for key, label in (
            ("bakery-buildkit", "bakery build all --builder buildkit"),
            ("bakery-classic", "bakery build all --builder classic"),
            ("a", "docker build --target client, then server (cached)"))),
        "",
        "Raw runs (s): " + "; ".join(
            f"{k} " + ", ".join(f"{x:.2f}" for x in v) for k, v in runs.items())
        + "; no-op " + "; ".join(
            f"{k} " + ", ".join(f"{x:.2f}" for x in v) for k, v in noop.items()),
    ]
    text = "\n".join(rows)
    print(text)
    write_section("Cold build of the walkthrough (benchmarks/seed_cold.py)", text)


if __name__ == "__main__":
    main()
