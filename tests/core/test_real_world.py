"""`bakery plan` on the multi-stage Dockerfiles of buildx, moby and BuildKit.

Read in place from shared/conformance/real-world (see its NOTICE.md). Every
stage of every file is planned as a target; a few targets have their stage
sets written out by hand from reading the files.
"""

from __future__ import annotations

import pytest

from bakery.core.dockerfile import parse_dockerfile
from bakery.core.stages import Platform, SourceKind, StageGraph, read_stages
from tests.conformance import CONFORMANCE, require

REAL_WORLD = CONFORMANCE / "real-world"
PROJECTS = {"buildx": 33, "moby": 59, "buildkit": 49}


def graph_of(project: str) -> StageGraph:
    require(REAL_WORLD if REAL_WORLD.is_dir() else None, REAL_WORLD)
    path = REAL_WORLD / project / "Dockerfile"
    assert path.is_file(), f"conformance data missing: {path}"
    return read_stages(
        parse_dockerfile(path.read_text(), name=f"{project}/Dockerfile"),
        platform=Platform(build="linux/amd64"),
    )


@pytest.mark.parametrize(("project", "count"), PROJECTS.items(), ids=list(PROJECTS))
def test_every_stage_plans(project: str, count: int) -> None:
    graph = graph_of(project)
    assert len(graph.stages) == count
    for stage in graph.stages:
        needed = graph.needed(stage)
        indices = {s.index for s in needed}
        assert needed[-1] is stage
        # Closed: every stage a needed stage reads from is needed, and comes before it.
        for s in needed:
            for src in s.sources:
                if src.kind is SourceKind.STAGE:
                    assert src.stage in indices
                    assert [x.index for x in needed].index(src.stage) < [
                        x.index for x in needed
                    ].index(s.index)
        # Minimal: every needed stage but the target is read by another needed stage.
        read = {src.stage for s in needed for src in s.sources if src.stage is not None}
        assert indices - {stage.index} <= read


EXPECTED = {
    ("buildx", "binaries"): (
        {
            "xx",
            "golatest",
            "gobase",
            "buildx-version",
            "buildx-build",
            "binaries-unix",
            "binaries-linux",
            "binaries",
        },
        {"tonistiigi/xx:1.9.0", "golang:1.26-alpine3.23"},
    ),
    ("buildx", "test-coverage"): (
        {"xx", "golatest", "gobase", "test", "test-coverage"},
        {"tonistiigi/xx:1.9.0", "golang:1.26-alpine3.23"},
    ),
    ("buildx", "release"): (
        {
            "xx",
            "golatest",
            "gobase",
            "buildx-version",
            "buildx-build",
            "binaries-unix",
            "binaries-linux",
            "binaries",
            "releaser",
            "release",
        },
        {"tonistiigi/xx:1.9.0", "golang:1.26-alpine3.23", "alpine:3.23"},
    ),
    ("buildx", "shell"): (
        {
            "xx",
            "golatest",
            "gobase",
            "buildx-version",
            "buildx-build",
            "binaries-unix",
            "binaries-linux",
            "binaries",
            "dockerd-release",
            "shell",
        },
        {"tonistiigi/xx:1.9.0", "golang:1.26-alpine3.23", "alpine:3.23", "docker:29.6"},
    ),
}


@pytest.mark.parametrize(
    ("project", "stage"), list(EXPECTED), ids=[f"{p}:{s}" for p, s in EXPECTED]
)
def test_hand_checked_targets(project: str, stage: str) -> None:
    graph = graph_of(project)
    needed = graph.needed(graph.stage(stage))
    stages, images = EXPECTED[project, stage]
    assert {s.display_name for s in needed} == stages
    assert set(graph.externals(needed)) == images


def test_global_arg_built_from_another() -> None:
    graph = graph_of("buildx")
    # ARG DOCKER_CLI_VERSION=${DOCKER_VERSION}, DOCKER_VERSION=29.6
    assert graph.stage("docker-cli").base.ref == "dockereng/cli-bin:29.6"


def test_target_os_picks_the_stage() -> None:
    require(REAL_WORLD if REAL_WORLD.is_dir() else None, REAL_WORLD)
    graph = read_stages(
        parse_dockerfile((REAL_WORLD / "buildx" / "Dockerfile").read_text()),
        platform=Platform(build="linux/amd64", target="windows/amd64"),
    )
    names = {s.display_name for s in graph.needed(graph.stage("binaries"))}
    assert "binaries-windows" in names
    assert "binaries-linux" not in names
