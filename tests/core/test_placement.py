"""Placing targets on several daemons."""

from __future__ import annotations

from bakery.core.placement import place
from tests.core.test_plan import plan_of

WALK = """\
FROM alpine AS base
RUN make deps
FROM base AS build-client
RUN make client
FROM base AS build-server
RUN make server
FROM scratch AS client
COPY --from=build-client /c /c
FROM scratch AS server
COPY --from=build-server /s /s
"""
TOML = '[target.client]\ntarget = "client"\n[target.server]\ntarget = "server"\n'


def stage_of(plan, node_id: str) -> str:  # type: ignore[no-untyped-def]
    return str(plan.nodes[node_id].stage.display_name)


def test_two_targets_on_two_daemons_share_base_through_the_cache() -> None:
    plan = plan_of(TOML, {"Dockerfile": WALK}, ["client", "server"])
    placement = place(plan, [("a", 2), ("b", 2)], through_cache=True)
    assert placement.targets == {"client": "a", "server": "b"}
    base = next(n for n in plan.nodes if stage_of(plan, n) == "base")
    assert placement.runs[base] == ("a", "b")
    assert placement.built_on(base) == ("a",)  # once in all
    assert placement.pulled_on("b") == {base: "a"}
    assert placement.pushed_from("a") == {base}
    assert placement.pulled_on("a") == {}


def test_without_a_cache_a_shared_stage_is_built_on_each_daemon() -> None:
    plan = plan_of(TOML, {"Dockerfile": WALK}, ["client", "server"])
    placement = place(plan, [("a", 2), ("b", 2)], through_cache=False)
    base = next(n for n in plan.nodes if stage_of(plan, n) == "base")
    assert placement.built_on(base) == ("a", "b")
    assert placement.pulled_on("b") == {}


def test_one_daemon_takes_everything() -> None:
    plan = plan_of(TOML, {"Dockerfile": WALK}, ["client", "server"])
    placement = place(plan, [("only", 4)], through_cache=True)
    assert set(placement.targets.values()) == {"only"}
    assert placement.pulled_on("only") == {}


def six_targets() -> str:
    return "".join(
        f'[target.t{i}]\ndockerfile-inline = "FROM alpine\\nRUN echo {i}\\nRUN echo {i}-2"\n'
        for i in range(6)
    )


def test_work_is_spread_by_jobs() -> None:
    plan = plan_of(six_targets(), {}, [f"t{i}" for i in range(6)])
    even = place(plan, [("a", 1), ("b", 1), ("c", 1)], through_cache=True)
    assert sorted(even.targets.values()) == ["a", "a", "b", "b", "c", "c"]
    # A daemon with twice the jobs takes twice the work.
    uneven = place(plan, [("big", 2), ("small", 1)], through_cache=True)
    assert list(uneven.targets.values()).count("big") == 4


def test_linked_targets_share_a_daemon() -> None:
    toml = (
        six_targets()
        + '[target.t6]\ndockerfile-inline = "FROM tool\\nRUN x"\n'
        + 'contexts = { tool = "target:t0" }\n'
        + '[target.t7]\ndockerfile-inline = "FROM alpine"\ndepends-on = ["t1"]\n'
    )
    names = [f"t{i}" for i in range(8)]
    plan = plan_of(toml, {}, names)
    placement = place(plan, [("a", 1), ("b", 1), ("c", 1)], through_cache=True)
    assert placement.targets["t6"] == placement.targets["t0"]
    assert placement.targets["t7"] == placement.targets["t1"]
