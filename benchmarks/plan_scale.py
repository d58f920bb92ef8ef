"""Planning at scale: 1,000 targets over 100 generated Dockerfiles of 5 stages.

Measures what `bakery plan` does before any build: read and parse the
Dockerfiles, resolve the bake file, build the stage graphs and the plan. The
plain alternative has no planner at all, so the comparison is with parsing
alone (the floor any tool pays). Writes its figures to docs/benchmarks.md.

    .venv/bin/python benchmarks/plan_scale.py
"""

from __future__ import annotations

import resource
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bakery.core.dockerfile import parse_dockerfile
from bakery.core.plan import make_plan
from bakery.project import DockerfileCache, load
from benchmarks.report import write_section

DOCKERFILES = 100
TARGETS = 1000

DOCKERFILE = """\
ARG BASE=alpine:3.19
FROM ${{BASE}} AS base
WORKDIR /src
COPY go.mod go.sum ./
RUN echo {n} && go mod download
COPY . .

FROM base AS build-client
ARG VERSION
RUN go build -ldflags "-X main.v=$VERSION" -o /bin/client ./cmd/client

FROM base AS build-server
ARG VERSION
RUN go build -ldflags "-X main.v=$VERSION" -o /bin/server ./cmd/server

FROM scratch AS client
COPY --from=build-client /bin/client /bin/
ENTRYPOINT ["/bin/client"]

FROM scratch AS server
COPY --from=build-server /bin/server /bin/
ENTRYPOINT ["/bin/server"]
"""


def generate(root: Path) -> None:
    lines = ['[variables]\nVERSION = "dev"\n']
    for d in range(DOCKERFILES):
        folder = root / f"svc{d}"
        folder.mkdir()
        (folder / "Dockerfile").write_text(DOCKERFILE.format(n=d))
    for t in range(TARGETS):
        d = t % DOCKERFILES
        stage = ("client", "server")[t // DOCKERFILES % 2]
        lines.append(
            f'[target.t{t}]\ncontext = "svc{d}"\ntarget = "{stage}"\n'
            f'tags = ["example/t{t}:${{VERSION}}"]\n'
            f'args = {{ VERSION = "${{VERSION}}", FLAVOUR = "{t // (2 * DOCKERFILES)}" }}\n'
        )
    (root / "bake.toml").write_text("\n".join(lines))


def plan_all(root: Path) -> tuple[int, int]:
    project = load([], cwd=root, cli_vars={}, sets=[], env={})
    plan = make_plan(project.targets, project.select(["all"]), DockerfileCache().graph)
    return len(plan.nodes), len(plan.shared())


def measure(root: Path) -> tuple[float, float, int, int]:
    """Time one run, then trace the memory of another (tracing slows the run)."""
    start = time.perf_counter()
    nodes, shared = plan_all(root)
    seconds = time.perf_counter() - start
    tracemalloc.start()
    plan_all(root)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return seconds, peak / 1e6, nodes, shared


def parse_only(root: Path) -> float:
    start = time.perf_counter()
    for d in range(DOCKERFILES):
        parse_dockerfile((root / f"svc{d}" / "Dockerfile").read_text())
    return time.perf_counter() - start


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        generate(root)
        runs = [measure(root) for _ in range(3)]
        best = min(runs)
        parse = min(parse_only(root) for _ in range(3))
    seconds, peak, nodes, shared = best
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    rows = [
        "| what | time | peak memory |",
        "|---|---|---|",
        (
            f"| bakery: load bake.toml, parse, plan {TARGETS} targets | {seconds:.3f} s | "
            f"{peak:.0f} MB |"
        ),
        f"| floor: parse the {DOCKERFILES} Dockerfiles alone | {parse:.3f} s | - |",
        f"| whole benchmark process, peak resident memory | - | {rss:.0f} MB |",
        "",
        (
            f"The plan has {nodes} stage builds, {shared} of them shared. Aim: under 1 s and "
            "200 MB. Best of 3 runs; peak memory is Python allocations (tracemalloc), "
            "traced in a separate run so that tracing does not slow the timed one."
        ),
    ]
    print("\n".join(rows))
    write_section("Planning at scale (benchmarks/plan_scale.py)", "\n".join(rows))
    if seconds >= 1.0 or rss >= 200:
        raise SystemExit(f"over budget: {seconds:.2f} s, {peak:.0f} MB")


if __name__ == "__main__":
    main()
