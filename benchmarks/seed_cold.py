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
import statistics
import subprocess
import sys
import tarfile
import tempfile
import uuid
from pathlib import Path

import docker

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.common import ROOT, bakery_build, buildkit_together, docker_cli, own_images, timed
from benchmarks.report import write_section

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
    return (
        f'[target.client]\ntarget = "client"\ntags = ["{prefix}-client"]\n'
        f'[target.server]\ntarget = "server"\ntags = ["{prefix}-server"]\n'
    )


def fixture(root: Path, prefix: str, sleep: float) -> Path:
    folder = root / uuid.uuid4().hex[:8]
    folder.mkdir()
    (folder / "Dockerfile").write_text(DOCKERFILE.format(nonce=uuid.uuid4().hex, sleep=sleep))
    (folder / "app.txt").write_text("app\n")
    (folder / "bake.toml").write_text(bake_toml(prefix))
    return folder


def context_tar(folder: Path) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for name in ("Dockerfile", "app.txt"):
            tar.add(folder / name, arcname=name)
    return buf.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sleep", type=float, default=2.0, help="seconds each RUN sleeps")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    client = docker.from_env(timeout=600)
    api = docker.APIClient(timeout=600)
    subprocess.run([str(ROOT / "scripts" / "busybox-image")], check=True, capture_output=True)
    prefix = f"bakery-bench-{uuid.uuid4().hex[:6]}"
    runs: dict[str, list[float]] = {k: [] for k in ("bakery-buildkit", "bakery-classic", "a", "b")}
    noop: dict[str, list[float]] = {k: [] for k in ("bakery-buildkit", "bakery-classic", "a")}
    targets = ["client", "server"]

    def sequence(f: Path) -> None:
        for target in targets:
            docker_cli(f, prefix, target)

    with own_images(client, prefix), tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for _ in range(args.rounds):
            # Interleaved, so that drift of the machine hits every contender alike.
            # Each cold run is followed by the same command again: nothing changed.
            for builder in ("buildkit", "classic"):
                f = fixture(root, prefix, args.sleep)
                runs[f"bakery-{builder}"].append(
                    timed(lambda f=f, b=builder: bakery_build(f, b, prefix))
                )
                noop[f"bakery-{builder}"].append(
                    timed(lambda f=f, b=builder: bakery_build(f, b, prefix))
                )
            f = fixture(root, prefix, args.sleep)
            runs["a"].append(timed(lambda f=f: sequence(f)))
            noop["a"].append(timed(lambda f=f: sequence(f)))
            f = fixture(root, prefix, args.sleep)
            runs["b"].append(
                timed(lambda f=f: buildkit_together(api, context_tar(f), prefix, targets))
            )
    api.close()

    med = {k: statistics.median(v) for k, v in runs.items()}
    rows = [
        (
            f"Walkthrough-shaped fixture, each RUN sleeps {args.sleep:g} s (critical path "
            f"{2 * args.sleep:g} s of sleep; (a) also sleeps in build-server, which the classic "
            f"builder runs for --target client). Median of {args.rounds} cold runs each, "
            "interleaved."
        ),
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
        rows.append(
            f"| {label} | {med[key]:.2f} s | {med['a'] / med[key]:.2f}x faster | "
            f"{(med[key] / med['b'] - 1) * 100:+.0f}% |"
        )
    ceiling = med["a"] / med["b"]
    rows += [
        "",
        (
            "Aim: within 10% of (b), and at least 1.5x faster than (a), with either backend. "
            f"On this fixture (b) itself is {ceiling:.2f}x faster than (a): the sleeps alone "
            f"give (a) {3 * args.sleep:g} s against {2 * args.sleep:g} s, a ceiling of 1.5x "
            "before any overhead. The classic builder commits a container for every "
            "instruction (0.3-0.5 s each here), so a classic build cannot come near "
            "BuildKit's times; bakery's classic figure is its own critical path of per-stage "
            "builds. bakery's start-up (Python, the docker SDK, trio) is part of its time."
        ),
        "",
        "The same commands again right after, nothing changed (a no-op; aim: under 1 s):",
        "",
        "| how | wall time |",
        "|---|---|",
        *(
            f"| {label} | {statistics.median(noop[key]):.2f} s |"
            for key, label in (
                ("bakery-buildkit", "bakery build all --builder buildkit"),
                ("bakery-classic", "bakery build all --builder classic"),
                ("a", "docker build --target client, then server (cached)"),
            )
        ),
        "",
        "Raw runs (s): "
        + "; ".join(f"{k} " + ", ".join(f"{x:.2f}" for x in v) for k, v in runs.items())
        + "; no-op "
        + "; ".join(f"{k} " + ", ".join(f"{x:.2f}" for x in v) for k, v in noop.items()),
    ]
    text = "\n".join(rows)
    print(text)
    write_section("Cold build of the walkthrough (benchmarks/seed_cold.py)", text)


if __name__ == "__main__":
    main()
