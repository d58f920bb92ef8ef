"""How nodes are grouped into daemon builds, and which shared stages may be split off."""

from __future__ import annotations

from collections.abc import Iterable

from bakery.core.builds import after_split, build_nodes, buildkit_builds, split_candidates
from bakery.core.plan import Plan
from tests.core.test_plan import plan_of
from tests.core.test_scheduler import DEPENDS, TOML, WALK, node, walk


def names(plan: Plan, ids: Iterable[str]) -> list[str]:
    return [plan.nodes[n].stage.display_name for n in ids]


def test_a_shared_stage_reading_the_context_is_a_candidate() -> None:
    plan = walk()
    base = node(plan, "base")
    reads = {base, node(plan, "build-client")}
    assert split_candidates(plan, reads, no_cache_everywhere=False) == {base: ("client", "server")}
    # Not without the cache, nor when it reads nothing of the context.
    assert split_candidates(plan, reads, no_cache_everywhere=True) == {}
    assert split_candidates(plan, set(), no_cache_everywhere=False) == {}
    assert names(plan, after_split(plan, base, ("client", "server"))) == [
        "build-client",
        "client",
        "build-server",
        "server",
    ]


def test_no_candidate_for_labels_platforms_or_an_unnamed_stage() -> None:
    # Two targets whose image is the shared stage, with labels of their own.
    labelled = walk(
        '[target.one]\ntarget = "base"\nlabels = { a = "b" }\n'
        '[target.two]\ntarget = "base"\nlabels = { a = "b" }\n',
        "one",
        "two",
    )
    assert split_candidates(labelled, {node(labelled, "base")}, no_cache_everywhere=False) == {}
    # A stage on the build platform, shared by targets of two platforms.
    platforms = plan_of(
        TOML.replace('target = "server"\n', 'target = "server"\nplatform = "linux/arm64"\n'),
        {
            "Dockerfile": WALK.replace(
                "FROM busybox AS base", "FROM --platform=$BUILDPLATFORM busybox AS base"
            )
        },
        ["client", "server"],
    )
    assert len(platforms.shared()) == 1
    assert split_candidates(platforms, set(platforms.nodes), no_cache_everywhere=False) == {}
    unnamed = plan_of(
        TOML,
        {
            "Dockerfile": (
                "FROM busybox\nCOPY . /src\nFROM busybox AS client\nCOPY --from=0 /src /c\n"
                "FROM busybox AS server\nCOPY --from=0 /src /s\n"
            )
        },
        ["client", "server"],
    )
    assert len(unnamed.shared()) == 1
    assert split_candidates(unnamed, set(unnamed.nodes), no_cache_everywhere=False) == {}
    no_cache = walk(TOML.replace('target = "client"\n', 'target = "client"\nno-cache = true\n'))
    assert split_candidates(no_cache, set(no_cache.nodes), no_cache_everywhere=False) == {}


def test_a_split_waits_for_what_all_its_targets_need() -> None:
    plan = walk(
        DEPENDS.replace('target = "build-server"', 'target = "server"').replace(
            '[target.server]\ntarget = "server"\n', ""
        ),
        "after",
        "client",
    )
    base = node(plan, "base")
    builds = buildkit_builds(plan, {base: ("after", "client")}, no_cache_everywhere=False)
    split = builds[0]
    assert split.after == ()  # client needs nothing; after needs client: nothing in common
    after = build_nodes(plan, plan.targets["after"].node, {base})
    assert names(plan, after) == ["build-server", "server"]
    both = walk(
        DEPENDS.replace(
            '[target.client]\ntarget = "client"\n',
            '[target.client]\ntarget = "client"\ndepends-on = ["server"]\n',
        ).replace('depends-on = ["client"]', 'depends-on = ["client", "server"]'),
        "client",
        "after",
    )
    base = node(both, "base")
    split = buildkit_builds(both, {base: ("after", "client")}, no_cache_everywhere=False)[0]
    assert split.after == ("target:server",)
