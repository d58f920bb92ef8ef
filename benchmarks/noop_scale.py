"""A no-op `bakery build all` of 100 targets, against cached `docker build --target`.

100 targets share one base stage (FROM bakery-busybox); each copies a file of
its own and runs one step. bakery builds them all once, then the same sources
are built again: every stage key matches an image on the daemon, so the second
run makes no build call at all. Against that, plain Docker with a warm cache:
`docker build --target` per target (the docker CLI's legacy builder) and
BuildKit per-target builds through the API, run one after the other as a
Makefile would. Those are timed on a sample of targets (every tenth) and
extrapolated to 100, after one warm-up build of each.

    .venv/bin/python benchmarks/noop_scale.py [--targets 100] [--sample 10] [--rounds 3]

Writes its figures to docs/benchmarks.md and removes every image it made.
Needs a running daemon and the bakery-busybox image (scripts/busybox-image).
"""

from __future__ import annotations

import argparse
import io
import statistics
import subprocess
import sys
import tarfile
import tempfile
import uuid
from pathlib import Path

import docker

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.common import ROOT, bakery_build, buildkit_api, docker_cli, own_images, timed
from benchmarks.report import write_section

BUILDERS = ("buildkit", "classic")


def fixture(folder: Path, prefix: str, count: int) -> list[str]:
    names = [f"t{i:03d}" for i in range(count)]
    stages = [f"FROM bakery-busybox:latest AS base\nRUN echo {uuid.uuid4().hex} > /nonce\n"]
    toml = []
    for name in names:
        stages.append(
            f"FROM base AS {name}\nCOPY {name}.txt /app/\nRUN cat /app/{name}.txt > /out\n"
        )
        toml.append(f'[target.{name}]\ntarget = "{name}"\ntags = ["{prefix}-{name}"]\n')
        (folder / f"{name}.txt").write_text(f"{name}\n")
    (folder / "Dockerfile").write_text("\n".join(stages))
    (folder / "bake.toml").write_text("\n".join(toml))
    (folder / ".dockerignore").write_text(".bakery/\nbake.toml\n")
    return names


def context_tar(folder: Path) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for path in sorted(folder.iterdir()):
            if path.is_file() and path.name != "bake.toml":
                tar.add(path, arcname=path.name)
    return buf.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--targets", type=int, default=100)
    parser.add_argument("--sample", type=int, default=10, help="targets timed for plain Docker")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    client = docker.from_env(timeout=600)
    api = docker.APIClient(timeout=600)
    subprocess.run([str(ROOT / "scripts" / "busybox-image")], check=True, capture_output=True)
    prefix = f"bakery-bench-{uuid.uuid4().hex[:6]}"
    cold: dict[str, float] = {}
    noop: dict[str, list[float]] = {b: [] for b in BUILDERS}
    plain: dict[str, list[float]] = {"cli": [], "buildkit": []}
    with own_images(client, prefix), tempfile.TemporaryDirectory() as tmp:
        for builder in BUILDERS:
            folder = Path(tmp) / builder
            folder.mkdir()
            names = fixture(folder, prefix, args.targets)
            cold[builder] = timed(lambda f=folder, b=builder: bakery_build(f, b, prefix))
            for _ in range(args.rounds):
                noop[builder].append(timed(lambda f=folder, b=builder: bakery_build(f, b, prefix)))
        folder = Path(tmp) / "buildkit"
        step = max(1, len(names) // args.sample)
        sample = names[::step][: args.sample]
        body = context_tar(folder)
        for target in sample:  # warm the caches of both builders
            docker_cli(folder, prefix, target)
            buildkit_api(api, body, prefix, target)
        scale = len(names) / len(sample)
        for _ in range(args.rounds):
            plain["cli"].append(
                scale * sum(timed(lambda t=t: docker_cli(folder, prefix, t)) for t in sample)
            )
            plain["buildkit"].append(
                scale * sum(timed(lambda t=t: buildkit_api(api, body, prefix, t)) for t in sample)
            )
    api.close()

    n = args.targets
    med = {f"bakery-{b}": statistics.median(v) for b, v in noop.items()}
    med.update({f"plain-{k}": statistics.median(v) for k, v in plain.items()})
    rows = [
        (
            f"{n} targets sharing one base stage (FROM bakery-busybox), each copying a file "
            f"of its own and running one step: {n + 1} stages. bakery builds them once, then "
            f"`bakery build all` runs again on unchanged sources (median of {args.rounds}, "
            "bakery's Python start-up included). Plain Docker runs with a warm cache, one "
            f"target after another; it is timed on {len(sample)} of the {n} targets and "
            "extrapolated."
        ),
        "",
        "| how | wall time for all targets |",
        "|---|---|",
        f"| no-op `bakery build all --builder buildkit` | {med['bakery-buildkit']:.2f} s |",
        f"| no-op `bakery build all --builder classic` | {med['bakery-classic']:.2f} s |",
        (
            f"| cached `docker build --target`, legacy builder (x{n}, extrapolated) | "
            f"{med['plain-cli']:.2f} s |"
        ),
        (
            f"| cached BuildKit build `--target` through the API (x{n}, extrapolated) | "
            f"{med['plain-buildkit']:.2f} s |"
        ),
        "",
        (
            "Aim: a no-op build under 2 s. A no-op run makes no build call: it reads the "
            "context once (file digests come from `.bakery/context-digests.json`), inspects "
            "the base image once, lists the images labelled `dev.bakery.key` once, and tags. "
            f"First (cold) builds of the same {n} targets: "
            + ", ".join(f"{b} {cold[b]:.1f} s" for b in BUILDERS)
            + "."
        ),
        "",
        "Raw runs (s): "
        + "; ".join(
            [f"bakery-{b} " + ", ".join(f"{x:.2f}" for x in v) for b, v in noop.items()]
            + [f"plain-{k} " + ", ".join(f"{x:.2f}" for x in v) for k, v in plain.items()]
        ),
    ]
    text = "\n".join(rows)
    print(text)
    write_section("No-op build of 100 targets (benchmarks/noop_scale.py)", text)


if __name__ == "__main__":
    main()
