"""Runs made by hand for the report tests: the plan of a small project (the
walkthrough's client and server, and a ``docs`` target that depends on
``server``), and the ``RunResult`` a runner would return, with fixed times."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from bakery.core.plan import Plan, make_plan
from bakery.engine.backend import BuildFailed
from bakery.engine.events import NodeResult, RunResult, Status, TargetResult
from bakery.report.summary import ImageSize, ImageSizes
from tests.core.test_plan import SEED, planner, project

# The walkthrough's Dockerfile, with a docs stage in place of the unused one.
DOCKERFILE = SEED.split("FROM base AS unused")[0] + "FROM scratch AS docs\nCOPY README.md /\n"

BAKE_TOML = """\
[target.client]
target = "client"
tags = ["buildme-client:latest", "localhost:5000/buildme-client:1.2.3"]

[target.server]
target = "server"
tags = ["buildme-server:latest"]

[target.docs]
target = "docs"
tags = ["buildme-docs:latest"]
depends-on = ["server"]
"""

T0 = 5000.0  # the runner's clock has an arbitrary origin; the report counts from the run's start

# Image IDs: the new ones, and what the tags pointed to before.
CLIENT, SERVER, DOCS = "sha256:c1" + "0" * 62, "sha256:5e" + "0" * 62, "sha256:d0" + "0" * 62
OLD_CLIENT = "sha256:0c" + "1" * 62

FACTS = ImageSizes(
    images={
        CLIENT: ImageSize(size=5_312_000, layers=2),
        SERVER: ImageSize(size=7_104_512, layers=2),
        DOCS: ImageSize(size=1_234, layers=1),
        OLD_CLIENT: ImageSize(size=5_190_000, layers=2),
    }
)


def make() -> Plan:
    proj = project(BAKE_TOML)
    return make_plan(
        proj.targets, proj.select(["client", "server", "docs"]), planner({"Dockerfile": DOCKERFILE})
    )


def ids(plan: Plan) -> dict[str, str]:
    """Stage name -> node id."""
    return {n.stage.display_name: n.id for n in plan.nodes.values()}


def nodes(
    plan: Plan,
    rows: Mapping[str, tuple[Status, float | None, float | None, str | None]],
    errors: Mapping[str, BuildFailed] | None = None,
) -> dict[str, NodeResult]:
    """Node results from (status, start, end, reason) by stage name; times from T0."""
    by_stage = ids(plan)
    out = {}
    for stage, (status, start, end, reason) in rows.items():
        node_id = by_stage[stage]
        out[node_id] = NodeResult(
            node_id,
            status,
            None if start is None else T0 + start,
            None if end is None else T0 + end,
            image_id=None,
            error=(errors or {}).get(stage),
            reason=reason,
        )
    return out


def cold() -> tuple[Plan, RunResult, ImageSizes]:
    """Nothing built before: every stage runs, build-client and build-server side by side."""
    plan = make()
    b = Status.BUILT
    result = RunResult(
        nodes=nodes(
            plan,
            {
                "base": (b, 0.0, 20.0, None),
                "build-client": (b, 20.0, 50.0, None),
                "build-server": (b, 20.0, 65.0, None),
                "client": (b, 50.0, 51.0, None),
                "server": (b, 65.0, 66.5, None),
                "docs": (b, 66.5, 68.0, None),
            },
        ),
        targets={
            "client": TargetResult(
                "client",
                b,
                CLIENT,
                plan.targets["client"].target.tags,
                previous=dict.fromkeys(plan.targets["client"].target.tags),
            ),
            "server": TargetResult(
                "server",
                b,
                SERVER,
                ("buildme-server:latest",),
                previous={"buildme-server:latest": None},
            ),
            "docs": TargetResult(
                "docs", b, DOCS, ("buildme-docs:latest",), previous={"buildme-docs:latest": None}
            ),
        },
        started=T0,
        finished=T0 + 68.2,
        backend="classic",
    )
    return plan, result, FACTS


def noop() -> tuple[Plan, RunResult, ImageSizes]:
    """The same sources again: every stage comes from cache, every tag stays."""
    plan = make()
    c = Status.CACHED  # the runner reports a target cached when all its stages are
    result = RunResult(
        nodes=nodes(
            plan,
            {
                "base": (c, 0.01, 0.02, None),
                "build-client": (c, 0.02, 0.03, None),
                "build-server": (c, 0.02, 0.04, None),
                "client": (c, 0.03, 0.05, None),
                "server": (c, 0.04, 0.06, None),
                "docs": (c, 0.06, 0.08, None),
            },
        ),
        targets={
            "client": TargetResult(
                "client",
                c,
                CLIENT,
                plan.targets["client"].target.tags,
                previous=dict.fromkeys(plan.targets["client"].target.tags, CLIENT),
            ),
            "server": TargetResult(
                "server",
                c,
                SERVER,
                ("buildme-server:latest",),
                previous={"buildme-server:latest": SERVER},
            ),
            "docs": TargetResult(
                "docs", c, DOCS, ("buildme-docs:latest",), previous={"buildme-docs:latest": DOCS}
            ),
        },
        started=T0,
        finished=T0 + 0.1,
        backend="buildkit",
    )
    return plan, result, FACTS


SERVER_ERROR = BuildFailed(
    "The command '/bin/sh -c go build -o /bin/server ./cmd/server' returned a non-zero code: 1",
    step="RUN go build -o /bin/server ./cmd/server",
    line=11,
    exit_status=1,
    log_tail=("# example.com/buildme/cmd/server", "cmd/server/main.go:9:2: undefined: serve"),
    where="Dockerfile:11",
)


def keep_going() -> tuple[Plan, RunResult, ImageSizes]:
    """``--keep-going``: build-server fails; client is built; docs (after server) never starts."""
    plan = make()
    b, f, n = Status.BUILT, Status.FAILED, Status.NOT_STARTED
    result = RunResult(
        nodes=nodes(
            plan,
            {
                "base": (b, 0.0, 20.0, None),
                "build-client": (b, 20.0, 50.0, None),
                "build-server": (f, 20.0, 32.5, None),
                "client": (b, 50.0, 51.0, None),
                "server": (n, None, None, "server/build-server did not build"),
                "docs": (n, None, None, "server/server did not build"),
            },
            errors={"build-server": SERVER_ERROR},
        ),
        targets={
            "client": TargetResult(
                "client",
                b,
                CLIENT,
                plan.targets["client"].target.tags,
                previous={
                    t: OLD_CLIENT if t.endswith(":latest") else None
                    for t in plan.targets["client"].target.tags
                },
            ),
            "server": TargetResult(
                "server",
                f,
                previous={"buildme-server:latest": SERVER},
                reason="server/build-server failed",
            ),
            "docs": TargetResult(
                "docs",
                n,
                previous={"buildme-docs:latest": None},
                reason="server/server did not build",
            ),
        },
        started=T0,
        finished=T0 + 51.3,
        backend="classic",
    )
    return plan, result, FACTS


def interrupted() -> tuple[Plan, RunResult, ImageSizes]:
    """Ctrl-C while build-client and build-server run."""
    plan = make()
    b, x, n = Status.BUILT, Status.CANCELLED, Status.NOT_STARTED
    result = RunResult(
        nodes=nodes(
            plan,
            {
                "base": (b, 0.0, 20.0, None),
                "build-client": (x, 20.0, 27.0, "interrupted"),
                "build-server": (x, 20.0, 27.0, "interrupted"),
                "client": (n, None, None, "interrupted"),
                "server": (n, None, None, "interrupted"),
                "docs": (n, None, None, "interrupted"),
            },
        ),
        targets={
            name: TargetResult(
                name, n, previous=dict.fromkeys(planned.target.tags), reason="interrupted"
            )
            for name, planned in make().targets.items()
        },
        started=T0,
        finished=T0 + 27.1,
        interrupted=True,
        backend="classic",
    )
    return plan, result, FACTS


SCENARIOS: dict[str, Callable[[], tuple[Plan, RunResult, ImageSizes]]] = {
    "cold": cold,
    "noop": noop,
    "keep-going": keep_going,
    "interrupted": interrupted,
}
