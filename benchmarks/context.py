"""Bytes sent to the daemon for a big context that .dockerignore mostly excludes.

A 200 MB context of which 190 MB (``ignored/``) is excluded by .dockerignore.
20 targets share a base stage that copies ``shared/`` (5 MB); each target's own
stage copies its folder under ``apps/`` (256 KB) and runs one step. A relay in
front of the daemon's socket counts every byte clients send. In the same run,
on the same daemon, each from a cold cache (a fresh nonce in the base stage):

  bakery-buildkit   bakery build all --builder buildkit (and again with --jobs 20)
  bakery-classic    bakery build all --builder classic
  (a)               docker build --target per target, in sequence (the docker
                    CLI here is the legacy builder: it sends the whole filtered
                    context each time)
  (b)               BuildKit per-target builds through the API, all at once,
                    each with the filtered context as a tar

    .venv/bin/python benchmarks/context.py [--targets 20] [--rounds 1]

Writes its figures to docs/benchmarks.md and removes the images it made.
Needs a running daemon on a unix socket and the bakery-busybox image
(scripts/busybox-image).
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import uuid
from pathlib import Path

import docker

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.common import (
    ROOT,
    bakery_build,
    buildkit_together,
    docker_cli,
    own_images,
    timed,
)
from benchmarks.report import write_section
from tests.engine.dockerutil import SocketMeter

MB = 1 << 20
IGNORED_FILES, IGNORED_SIZE = 19, 10 * MB
SHARED_FILES, SHARED_SIZE = 5, MB
APP_SIZE = 256 * 1024


def fixture(folder: Path, prefix: str, count: int) -> list[str]:
    names = [f"app{i:02d}" for i in range(count)]
    for i in range(IGNORED_FILES):
        _random_file(folder / "ignored" / f"blob{i:02d}.bin", IGNORED_SIZE)
    for i in range(SHARED_FILES):
        _random_file(folder / "shared" / f"lib{i}.bin", SHARED_SIZE)
    stages = [
        ("FROM bakery-busybox:latest AS base\nCOPY shared/ /shared/\nRUN echo NONCE > /nonce\n")
    ]
    toml = []
    for name in names:
        _random_file(folder / "apps" / name / "data.bin", APP_SIZE)
        stages.append(
            f"FROM base AS {name}\nCOPY apps/{name}/ /app/\n"
            "RUN wc -c /app/data.bin /shared/lib0.bin > /sizes\n"
        )
        toml.append(f'[target.{name}]\ntarget = "{name}"\ntags = ["{prefix}-{name}"]\n')
    (folder / "Dockerfile.in").write_text("\n".join(stages))
    (folder / "bake.toml").write_text("\n".join(toml))
    (folder / ".dockerignore").write_text("ignored/\n.bakery/\nbake.toml\nDockerfile.in\n")
    return names


def _random_file(path: Path, size: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(os.urandom(size))


def cold(folder: Path) -> None:
    """A fresh nonce in the base stage: nothing of the last build applies."""
    text = (folder / "Dockerfile.in").read_text()
    (folder / "Dockerfile").write_text(text.replace("NONCE", uuid.uuid4().hex))


def filtered_tar(folder: Path) -> bytes:
    """The context as `docker build` sends it: .dockerignore applied."""
    excluded = {"ignored", ".bakery", "bake.toml", "Dockerfile.in"}
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for path in sorted(folder.iterdir()):
            if path.name not in excluded:
                tar.add(path, arcname=path.name)
    return buf.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--targets", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    client = docker.from_env(timeout=900)
    cpus = client.info()["NCPU"]
    subprocess.run([str(ROOT / "scripts" / "busybox-image")], check=True, capture_output=True)
    prefix = f"bakery-bench-{uuid.uuid4().hex[:6]}"
    keys = ("bakery-buildkit", "bakery-buildkit-j", "bakery-classic", "a", "b")
    wall: dict[str, list[float]] = {k: [] for k in keys}
    sent: dict[str, list[int]] = {k: [] for k in keys}
    requests: dict[str, list[int]] = {k: [] for k in keys}
    with own_images(client, prefix), tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "project"
        names = fixture(folder, prefix, args.targets)
        total = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
        included = len(filtered_tar(folder))
        with SocketMeter(Path(tmp)) as meter:
            env = {"DOCKER_HOST": meter.url}
            api = docker.APIClient(base_url=meter.url, timeout=900)
            runs = {
                "bakery-buildkit": lambda: bakery_build(folder, "buildkit", prefix, env),
                "bakery-buildkit-j": lambda: bakery_build(
                    folder, "buildkit", prefix, env, jobs=len(names)
                ),
                "bakery-classic": lambda: bakery_build(folder, "classic", prefix, env),
                "a": lambda: [docker_cli(folder, prefix, n, env) for n in names],
                "b": lambda: buildkit_together(api, filtered_tar(folder), prefix, names),
            }
            for _ in range(args.rounds):
                for key, run in runs.items():
                    cold(folder)
                    meter.reset()
                    wall[key].append(timed(run))
                    sent[key].append(meter.sent)
                    requests[key].append(meter.builds)
            api.close()

    # What the stages read: the base reads shared/, each target's stage its app.
    reads = SHARED_FILES * SHARED_SIZE + args.targets * APP_SIZE
    n = args.targets
    names_of = {
        "bakery-buildkit": f"bakery build all --builder buildkit (--jobs {cpus}: the default)",
        "bakery-buildkit-j": f"bakery build all --builder buildkit --jobs {n}",
        "bakery-classic": "bakery build all --builder classic",
        "a": f"(a) docker build --target, x{n} in sequence (legacy builder)",
        "b": f"(b) BuildKit per-target builds through the API, x{n} at once",
    }
    ignored, shared = IGNORED_FILES * IGNORED_SIZE / MB, SHARED_FILES * SHARED_SIZE / MB
    rows = [
        (
            f"A {total / MB:.0f} MB context; .dockerignore excludes {ignored:.0f} MB of it, "
            f"leaving {included / MB:.1f} MB (the tar `docker build` sends). {n} "
            f"targets share a base stage that copies `shared/` ({shared:.0f} MB); "
            f"each target's own stage copies its `apps/` folder ({APP_SIZE // 1024} KB) "
            f"and runs one step. The stages that read the context read {reads / MB:.1f} MB in "
            "all. Bytes are everything the client sent to the daemon's socket (counted by a "
            f"relay), cold caches, median of {args.rounds} round(s)."
        ),
        "",
        "| how | bytes sent | vs what the stages read | build requests | wall time |",
        "|---|---|---|---|---|",
    ]
    for key, label in names_of.items():
        b = statistics.median(sent[key])
        rows.append(
            f"| {label} | {b / MB:.1f} MB | {b / reads:.2f}x | "
            f"{statistics.median(requests[key]):.0f} | "
            f"{statistics.median(wall[key]):.2f} s |"
        )
    rows += [
        "",
        (
            "Aim: bakery sends the included files no more than once per stage that copies "
            "from the context. bakery sends each build only the files its stages read; on "
            "BuildKit the shared base, which reads 1 MiB or more, is built once on its own "
            f"({n + 1} build requests), so `shared/` travels once instead of once per "
            "target. The bytes beyond what the stages read are tar headers, the "
            "Dockerfiles and the API requests."
        ),
        "",
        "Raw runs: "
        + "; ".join(
            f"{k} "
            + ", ".join(
                f"{s / MB:.1f} MB in {w:.2f} s" for s, w in zip(sent[k], wall[k], strict=True)
            )
            for k in keys
        ),
    ]
    text = "\n".join(rows)
    print(text)
    write_section("Context upload of a mostly ignored context (benchmarks/context.py)", text)


if __name__ == "__main__":
    main()
