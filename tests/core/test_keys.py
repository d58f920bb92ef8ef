"""Stage keys, driven by tables: what changes a node's key and what does not."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

import pytest

from bakery.core.keys import WHOLE_CONTEXT, context_reads, node_key
from bakery.core.plan import Plan, make_plan
from bakery.core.stages import Source, SourceKind
from tests.core.test_plan import planner, project

DOCKERFILE = """\
ARG VERSION=1
FROM bakery-busybox:latest AS base
ARG GREETING=hello
COPY common.txt /src/
RUN echo "$GREETING" > /greeting

FROM base AS build-client
COPY client.txt /src/
RUN cp /src/client.txt /client

FROM base AS build-server
COPY server.txt /src/
RUN --mount=type=bind,source=tools,target=/tools cp /src/server.txt /server

FROM bakery-busybox:latest AS server
COPY --from=build-server /server /bin/
"""

TOML = """\
[target.server]
target = "server"
tags = ["{tag}"]
platform = "{platform}"
args = {{ {args} }}
"""

FILES = {"common.txt": "c", "client.txt": "cl", "server.txt": "sv", "tools/run": "t", "README": "r"}
IMAGES = {"bakery-busybox:latest": "sha256:aaaa"}


def _plan(dockerfile: str, *, tag: str, platform: str, args: str) -> Plan:
    proj = project(TOML.format(tag=tag, platform=platform, args=args))
    return make_plan(proj.targets, ["server"], planner({"Dockerfile": dockerfile}))


def _digest(files: Mapping[str, str], read: tuple[str, ...]) -> str:
    """A stand-in for ContextSnapshot.digest_of over in-memory files."""
    chosen = sorted(
        p
        for p in files
        if read == WHOLE_CONTEXT or any(p == s or p.startswith(s.rstrip("/") + "/") for s in read)
    )
    text = "".join(f"{p}\0{files[p]}\n" for p in chosen)
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def keys(
    dockerfile: str = DOCKERFILE,
    *,
    files: Mapping[str, str] = FILES,
    images: Mapping[str, str] = IMAGES,
    args: str = "",
    tag: str = "app:1",
    platform: str = "linux/amd64",
    backend: str = "classic",
) -> dict[str, str | None]:
    """Every node's key by stage name, computed in build order as the runner does."""
    plan = _plan(dockerfile, tag=tag, platform=platform, args=args)
    out: dict[str, str | None] = {}
    by_id: dict[str, str | None] = {}
    for node in plan.nodes.values():
        sources: dict[Source, str | None] = {}
        for src in node.stage.sources:
            if src.kind is SourceKind.STAGE:
                assert src.stage is not None
                sources[src] = by_id[node.sources[src.stage]]
            elif src.kind is SourceKind.IMAGE:
                sources[src] = images.get(src.ref)
        reads = context_reads(node.stage) or ()
        key = node_key(
            node, backend=backend, sources=sources, context={r: _digest(files, r) for r in reads}
        )
        by_id[node.id] = key
        out[node.stage.display_name] = key
    return out


BASE = keys()

# name -> (the keys of a changed input, the stages whose key must change)
CHANGES: dict[str, tuple[dict[str, str | None], set[str]]] = {
    "instruction": (
        keys(DOCKERFILE.replace("cp /src/server.txt /server", "cp -p /src/server.txt /server")),
        {"build-server", "server"},
    ),
    "instruction-in-base": (
        keys(DOCKERFILE.replace('echo "$GREETING"', "echo $GREETING")),
        {"base", "build-server", "server"},
    ),
    "declared-arg": (keys(args='GREETING = "hi"'), {"base", "build-server", "server"}),
    "global-arg-default": (
        keys(DOCKERFILE.replace("VERSION=1", "VERSION=2")),
        {"base", "build-server", "server"},
    ),
    "base-image-id": (
        keys(images={"bakery-busybox:latest": "sha256:bbbb"}),
        {"base", "build-server", "server"},
    ),
    "copied-file": (keys(files={**FILES, "server.txt": "sv2"}), {"build-server", "server"}),
    "file-in-base": (keys(files={**FILES, "common.txt": "c2"}), {"base", "build-server", "server"}),
    "bind-mounted-file": (keys(files={**FILES, "tools/run": "t2"}), {"build-server", "server"}),
    "platform": (keys(platform="linux/arm64"), {"base", "build-server", "server"}),
    "backend": (keys(backend="buildkit"), {"base", "build-server", "server"}),
    "undeclared-arg": (keys(args='OTHER = "x"'), set()),
    "unrelated-file": (keys(files={**FILES, "README": "r2", "client.txt": "cl2"}), set()),
    "new-unrelated-file": (keys(files={**FILES, "notes.txt": "n"}), set()),
    "unused-stage": (
        keys(DOCKERFILE.replace("cp /src/client.txt", "cp -p /src/client.txt")),
        set(),
    ),
    "tags": (keys(tag="app:2"), set()),
}


@pytest.mark.parametrize("name", list(CHANGES))
def test_what_changes_a_key(name: str) -> None:
    changed, expected = CHANGES[name]
    assert all(BASE.values()), BASE
    assert {stage for stage in BASE if changed[stage] != BASE[stage]} == expected


def test_keys_are_stable_and_distinct() -> None:
    assert keys() == BASE
    assert len(set(BASE.values())) == len(BASE)


@pytest.mark.parametrize(
    ("name", "dockerfile", "expected"),
    [
        ("missing-base-image", DOCKERFILE, {"base": None, "build-server": None, "server": None}),
        (
            "add-url",
            DOCKERFILE.replace("COPY server.txt /src/", "ADD https://example.com/x /src/"),
            {"build-server": None, "server": None},
        ),
    ],
    ids=lambda v: v if isinstance(v, str) and "\n" not in v else "",
)
def test_no_key_when_an_input_is_unknown(
    name: str,
    dockerfile: str,
    expected: dict[str, None],
) -> None:
    images = {} if name == "missing-base-image" else IMAGES
    got = keys(dockerfile, images=images)
    assert {s: got[s] for s in expected} == expected
    assert all(got[s] for s in got if s not in expected)


@pytest.mark.parametrize(
    ("instruction", "reads"),
    [
        ("COPY a.txt b/ /dst/", (("a.txt", "b/"),)),
        ('COPY ["a b.txt", "/dst/"]', (("a b.txt",),)),
        ('COPY "a.txt" /dst/', (("a.txt",),)),
        ("COPY --chmod=644 a.txt /dst/", (("a.txt",),)),
        ("COPY $SRC /dst/", (WHOLE_CONTEXT,)),
        ("COPY --from=base /x /x", ()),
        ("COPY <<EOF /dst\nhello\nEOF", ()),
        ("ADD a.tar /dst/", (("a.tar",),)),
        ("RUN --mount=type=bind,target=/w ls /w", (WHOLE_CONTEXT,)),
        ("RUN --mount=type=bind,source=src,target=/w ls /w", (("src",),)),
        ("RUN --mount=type=bind,from=base,target=/w ls /w", ()),
        ("RUN --mount=type=cache,target=/c ls /c", ()),
        ("ADD https://example.com/a /a", None),
    ],
    ids=lambda v: v.split("\n")[0] if isinstance(v, str) else None,
)
def test_context_reads(instruction: str, reads: tuple[tuple[str, ...], ...] | None) -> None:
    dockerfile = f"FROM bakery-busybox:latest AS base\nFROM base\n{instruction}\n"
    plan = make_plan(project("[target.t]\n").targets, ["t"], planner({"Dockerfile": dockerfile}))
    stage = list(plan.nodes.values())[-1].stage
    assert context_reads(stage) == reads


def test_an_onbuild_base_reads_the_whole_context() -> None:
    dockerfile = "FROM bakery-busybox:latest\nRUN true\n"
    plan = make_plan(project("[target.t]\n").targets, ["t"], planner({"Dockerfile": dockerfile}))
    stage = list(plan.nodes.values())[-1].stage
    assert context_reads(stage, base_has_onbuild=True) == (WHOLE_CONTEXT,)
