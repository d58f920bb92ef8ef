"""12 targets whose stages sleep, built on one daemon and on three, side by side.

Each target has a stage of its own that sleeps (``RUN sleep S``) on a shared
base; every daemon runs ``--jobs J`` builds at once. On one daemon the 12
sleeps go J at a time; on three daemons (the main one and two in network
namespaces of their own, as the tests make them) 3·J at a time. Sleeping
stages use no CPU, so this measures what placing work on several daemons
gains when the daemons are separate machines, not what one machine's cores
allow. Each run starts cold (a nonce in the base).

    .venv/bin/python benchmarks/daemons.py [--sleep 2] [--jobs 2] [--rounds 3]

Writes its figures to docs/benchmarks.md and removes what it made (the extra
daemons, their data, the images on the main daemon). Needs root, a running
daemon and the bakery-busybox image (scripts/busybox-image).
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import docker

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.common import ROOT, own_images, timed
from benchmarks.report import write_section
from tests.netns import netns_daemon

TARGETS = 12


def fixture(folder: Path, prefix: str, hosts: dict[str, str], sleep: float, jobs: int) -> None:
    stages = [f"FROM bakery-busybox:latest AS base\nRUN echo {uuid.uuid4().hex} > /nonce\n"]
    toml = [f'[builders.{name}]\nhost = "{host}"\njobs = {jobs}\n' for name, host in hosts.items()]
    for i in range(TARGETS):
        stages.append(f"FROM base AS t{i}\nRUN sleep {sleep} && echo {i} > /out\n")
        toml.append(f'[target.t{i}]\ntarget = "t{i}"\ntags = ["{prefix}-t{i}"]\n')
    (folder / "Dockerfile").write_text("\n".join(stages))
    (folder / "bake.toml").write_text("\n".join(toml))


def build(folder: Path) -> None:
    subprocess.run(
        [
            str(ROOT / ".venv" / "bin" / "bakery"),
            "build",
            "--progress",
            "quiet",
            "--report",
            "none",
        ],
        cwd=folder,
        check=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sleep", type=float, default=2.0)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    main_host = "unix:///var/run/docker.sock"
    walls: dict[str, list[float]] = {"1 daemon": [], "3 daemons": []}
    client = docker.from_env()
    with contextlib.ExitStack() as stack:
        extra = [stack.enter_context(netns_daemon()) for _ in range(2)]
        for daemon in extra:
            daemon.load("bakery-busybox:latest")
        setups = {
            "1 daemon": {"main": main_host},
            "3 daemons": {"main": main_host, **{f"d{i}": d.host for i, d in enumerate(extra)}},
        }
        for _ in range(args.rounds):
            for label, hosts in setups.items():
                prefix = f"bench-daemons-{uuid.uuid4().hex[:8]}"
                with tempfile.TemporaryDirectory() as tmp, own_images(client, prefix):
                    folder = Path(tmp)
                    fixture(folder, prefix, hosts, args.sleep, args.jobs)
                    walls[label].append(timed(lambda folder=folder: build(folder)))
    floor = TARGETS / args.jobs * args.sleep
    rows = "\n".join(
        f"| {label} | {statistics.median(v):.2f} s | {min(v):.2f}–{max(v):.2f} s |"
        for label, v in walls.items()
    )
    one, three = (statistics.median(walls[k]) for k in ("1 daemon", "3 daemons"))
    text = f"""
{TARGETS} targets on a shared base, each with a stage that sleeps {args.sleep:g} s;
`jobs = {args.jobs}` on every daemon; BuildKit; {args.rounds} rounds, each cold.
The sleeps alone take {floor:.1f} s on one daemon ({TARGETS} ÷ {args.jobs} × {args.sleep:g} s)
and {floor / 3:.1f} s on three.

| how | wall (median) | range |
|---|---|---|
{rows}

Three daemons: {one / three:.2f}× faster than one. The rest of each wall time,
{one - floor:.1f} s on one daemon and {three - floor / 3:.1f} s on three, is the fixed cost of the
builds (sending each, BuildKit's solve, exporting and tagging the images) and the
shared base, built on each daemon when there is no `[cache] repo`. The two extra
daemons run on the same machine as the first, in network namespaces of their
own: the sleeps do not compete for its 2 cores, the fixed costs do, so separate
machines would do at least as well.
"""
    write_section("Several daemons (benchmarks/daemons.py)", text)
    client.close()


if __name__ == "__main__":
    main()
