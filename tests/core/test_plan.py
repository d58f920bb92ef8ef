"""The stage graph and the plan, driven by tables of Dockerfiles and bake files."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from bakery.core.config import Project, SourceFile, Target, load_project
from bakery.core.dockerfile import parse_dockerfile
from bakery.core.errors import BakeryError
from bakery.core.plan import Plan, make_plan
from bakery.core.stages import Platform, StageGraph, read_stages

SEED = """\
FROM golang:1.21-alpine AS base
WORKDIR /src
COPY go.mod go.sum .
RUN go mod download
COPY . .

FROM base AS build-client
RUN go build -o /bin/client ./cmd/client

FROM base AS build-server
RUN go build -o /bin/server ./cmd/server

FROM scratch AS client
COPY --from=build-client /bin/client /bin/
ENTRYPOINT [ "/bin/client" ]

FROM scratch AS server
COPY --from=build-server /bin/server /bin/
ENTRYPOINT [ "/bin/server" ]

FROM base AS unused
RUN exit 3
"""

SEED_TOML = """\
[target.client]
target = "client"
tags = ["buildme-client"]

[target.server]
inherits = ["client"]
target = "server"
tags = ["buildme-server"]
"""


def project(toml: str) -> Project:
    return load_project(
        [SourceFile(path="bake.toml", text=toml, base_dir="/p")], env={}, cli_vars={}, builtins={}
    )


def planner(files: Mapping[str, str]):  # type: ignore[no-untyped-def]
    """A stage-graph loader over in-memory Dockerfiles keyed by file name."""

    def load(target: Target) -> StageGraph:
        name = target.dockerfile.rsplit("/", 1)[-1]
        text = target.dockerfile_inline if target.dockerfile_inline is not None else files[name]
        return read_stages(
            parse_dockerfile(text, name=name),
            build_args=target.args,
            platform=Platform(build="linux/amd64", target=target.platform),
            contexts=tuple(target.contexts),
        )

    return load


def plan_of(toml: str, files: Mapping[str, str], names: list[str]) -> Plan:
    proj = project(toml)
    return make_plan(proj.targets, proj.select(names), planner(files))


def stages_by_target(plan: Plan) -> dict[str, list[str]]:
    return {
        name: [plan.nodes[n].stage.display_name for n in t.nodes]
        for name, t in plan.targets.items()
    }


def test_seed_plans_base_once_shared_by_both() -> None:
    plan = plan_of(SEED_TOML, {"Dockerfile": SEED}, ["client", "server"])
    names = [n.stage.display_name for n in plan.nodes.values()]
    assert sorted(names) == ["base", "build-client", "build-server", "client", "server"]
    (shared,) = plan.shared()
    assert shared.stage.display_name == "base"
    assert shared.targets == {"client", "server"}
    assert plan.waves()[0] == [shared.id]
    assert stages_by_target(plan) == {
        "client": ["base", "build-client", "client"],
        "server": ["base", "build-server", "server"],
    }
    assert plan.external_images() == ("golang:1.21-alpine",)


def test_one_target_needs_only_its_stages() -> None:
    plan = plan_of(SEED_TOML, {"Dockerfile": SEED}, ["client"])
    assert stages_by_target(plan) == {"client": ["base", "build-client", "client"]}
    assert plan.shared() == []


DOCKERFILES = {
    "arg-before-from": (
        "ARG BASE=alpine\nARG TAG=3.19\nFROM ${BASE}:$TAG AS a\nFROM a\n",
        {},
        None,
        ["a", "1"],
        ["alpine:3.19"],
    ),
    "arg-overridden": (
        "ARG BASE=alpine\nFROM ${BASE} AS a\nFROM a\n",
        {"BASE": "debian"},
        None,
        ["a", "1"],
        ["debian"],
    ),
    "copy-from-index": (
        ("FROM alpine\nRUN true\nFROM scratch\nCOPY --from=0 /x /x\n"),
        {},
        None,
        ["0", "1"],
        ["alpine"],
    ),
    "mixed-case-names": (
        "FROM alpine AS Builder\nFROM BUILDER AS Final\nCOPY --from=builder /a /a\n",
        {},
        "final",
        ["Builder", "Final"],
        ["alpine"],
    ),
    "run-mount-from": (
        (
            "FROM alpine AS src\nFROM alpine AS other\nFROM busybox\n"
            "RUN --mount=type=bind,from=src,source=/a,target=/b cat /b\n"
        ),
        {},
        None,
        ["src", "2"],
        ["busybox", "alpine"],
    ),
    "copy-from-image": (
        "FROM scratch\nCOPY --from=alpine:3 /bin/sh /sh\n",
        {},
        None,
        ["0"],
        ["alpine:3"],
    ),
    "platform-args": (
        (
            "FROM --platform=$BUILDPLATFORM alpine AS tools\n"
            "FROM scratch AS bin-linux\nFROM scratch AS bin-darwin\n"
            "FROM bin-$TARGETOS AS bin\nCOPY --from=tools /x /x\n"
        ),
        {},
        "bin",
        ["tools", "bin-linux", "bin"],
        ["alpine"],
    ),
    "global-arg-default-uses-earlier": (
        "ARG V=1\nARG W=${V}.2\nFROM img:$W\n",
        {},
        None,
        ["0"],
        ["img:1.2"],
    ),
    "unused-stages-left-out": (
        "FROM alpine AS a\nFROM alpine AS b\nRUN exit 3\nFROM a AS c\n",
        {},
        "c",
        ["a", "c"],
        ["alpine"],
    ),
}


@pytest.mark.parametrize(
    ("text", "args", "stage", "needed", "images"),
    list(DOCKERFILES.values()),
    ids=list(DOCKERFILES),
)
def test_stage_graph(
    text: str, args: dict[str, str], stage: str | None, needed: list[str], images: list[str]
) -> None:
    graph = read_stages(
        parse_dockerfile(text), build_args=args, platform=Platform(build="linux/amd64")
    )
    chosen = graph.stage(stage)
    stages = graph.needed(chosen)
    assert [s.display_name for s in stages] == needed
    assert sorted(graph.externals(stages)) == sorted(images)


ERRORS = {
    "missing-stage": (
        "FROM alpine AS build\nFROM build AS final\n",
        "finall",
        'stage "finall" is not in Dockerfile; did you mean "final"?',
    ),
    "duplicate-name": (
        "FROM alpine AS a\nFROM alpine AS A\n",
        None,
        'duplicate stage name "A"',
    ),
    "copy-from-missing-index": (
        "FROM alpine\nCOPY --from=3 /a /a\n",
        None,
        "--from=3: there is no stage 3",
    ),
    "no-from": ("ARG X=1\n", None, "no FROM instruction"),
    "instruction-before-from": ("RUN true\nFROM alpine\n", None, "RUN before the first FROM"),
    "empty-base": ("ARG BASE\nFROM $BASE\n", None, "the base of stage 0 is empty"),
    "stage-reads-itself": (
        "FROM alpine AS a\nCOPY --from=a /x /x\n",
        None,
        'stage "a" reads from itself',
    ),
}


@pytest.mark.parametrize(("text", "stage", "message"), list(ERRORS.values()), ids=list(ERRORS))
def test_stage_errors(text: str, stage: str | None, message: str) -> None:
    def plan() -> None:
        read_stages(parse_dockerfile(text), platform=Platform()).stage(stage)

    with pytest.raises(BakeryError) as info:
        plan()
    assert message in info.value.message
    assert info.value.exit_code == 2


def test_effective_args_decide_sharing() -> None:
    text = "FROM alpine AS base\nRUN true\nFROM base AS app\nARG MODE\nRUN echo $MODE\n"
    toml = """\
[target.a]
target = "app"
args = { MODE = "a", UNUSED = "1" }
[target.b]
target = "app"
args = { MODE = "b", UNUSED = "2" }
[target.c]
target = "app"
args = { MODE = "a" }
"""
    plan = plan_of(toml, {"Dockerfile": text}, ["a", "b", "c"])
    by_stage: dict[str, list[frozenset[str]]] = {}
    for node in plan.nodes.values():
        by_stage.setdefault(node.stage.display_name, []).append(node.targets)
    # base declares no ARG: the args do not split it. app declares MODE: a and c agree.
    assert by_stage["base"] == [frozenset({"a", "b", "c"})]
    assert sorted(by_stage["app"], key=len) == [frozenset({"b"}), frozenset({"a", "c"})]


def test_platform_splits_nodes() -> None:
    toml = """\
[target.amd]
platform = "linux/amd64"
[target.arm]
platform = "linux/arm64"
"""
    text = "FROM --platform=$BUILDPLATFORM alpine AS tools\nFROM alpine\nCOPY --from=tools /a /a\n"
    plan = plan_of(toml, {"Dockerfile": text}, ["amd", "arm"])
    names = sorted(n.stage.display_name for n in plan.nodes.values())
    # tools runs on the build platform for both, so it is shared; the last stage is not.
    assert names == ["1", "1", "tools"]
    assert [n.stage.display_name for n in plan.shared()] == ["tools"]


@pytest.mark.parametrize("arg", ["TARGETARCH", "TARGETPLATFORM", "TARGETOS", "TARGETVARIANT"])
def test_a_stage_reading_the_target_platform_is_not_shared_across_platforms(arg: str) -> None:
    # Cross-compiling: the stage runs on the build platform but builds for the
    # target's, so each target platform gets its own.
    toml = """\
[target.amd]
platform = "linux/amd64"
[target.arm]
platform = "linux/arm64"
[target.arm2]
platform = "linux/arm64"
"""
    text = (
        f"FROM --platform=$BUILDPLATFORM alpine AS build\nARG {arg}\n"
        f"RUN make ${arg}\nFROM alpine\nCOPY --from=build /a /a\n"
    )
    plan = plan_of(toml, {"Dockerfile": text}, ["amd", "arm", "arm2"])
    builds = [n for n in plan.nodes.values() if n.stage.display_name == "build"]
    assert sorted(sorted(n.targets) for n in builds) == [["amd"], ["arm", "arm2"]]


def test_a_stage_reading_only_the_build_platform_is_shared() -> None:
    toml = '[target.amd]\nplatform = "linux/amd64"\n[target.arm]\nplatform = "linux/arm64"\n'
    text = (
        "FROM --platform=$BUILDPLATFORM alpine AS build\nARG BUILDARCH\n"
        "RUN echo $BUILDARCH\nFROM alpine\nCOPY --from=build /a /a\n"
    )
    plan = plan_of(toml, {"Dockerfile": text}, ["amd", "arm"])
    assert [n.stage.display_name for n in plan.shared()] == ["build"]


def test_target_context_is_a_cross_target_edge() -> None:
    toml = """\
[target.base]
dockerfile = "base.Dockerfile"
[target.app]
contexts = { baseapp = "target:base" }
"""
    files = {"base.Dockerfile": "FROM alpine\nRUN true\n", "Dockerfile": "FROM baseapp\nRUN true\n"}
    plan = plan_of(toml, files, ["app"])
    assert list(plan.targets) == ["app", "base"]
    assert not plan.targets["base"].requested
    app = plan.nodes[plan.targets["app"].node]
    assert app.needs == (plan.targets["base"].node,)
    assert plan.external_images() == ("alpine",)


def test_depends_on_orders_without_sharing() -> None:
    toml = """\
[target.migrate]
target = "base"
[target.app]
target = "app"
depends-on = ["migrate"]
"""
    text = "FROM alpine AS base\nRUN true\nFROM alpine AS app\nRUN true\n"
    plan = plan_of(toml, {"Dockerfile": text}, ["app"])
    app = plan.targets["app"].node
    assert plan.waits_for(app) == (plan.targets["migrate"].node,)
    assert plan.nodes[app].needs == ()


def test_unknown_target_stage_is_a_config_error_naming_the_target() -> None:
    toml = '[target.client]\ntarget = "clinet"\n'
    with pytest.raises(BakeryError) as info:
        plan_of(toml, {"Dockerfile": SEED}, ["client"])
    assert info.value.message == ('stage "clinet" is not in Dockerfile; did you mean "client"?')
    assert info.value.where == "target.client"
    assert info.value.exit_code == 2


def test_an_empty_image_name_is_not_an_external_image() -> None:
    text = "FROM busybox AS a\nARG UNSET\nCOPY --from=$UNSET . .\n"
    plan = plan_of('[target.a]\ntarget = "a"\n', {"Dockerfile": text}, ["a"])
    assert plan.external_images() == ("busybox",)
