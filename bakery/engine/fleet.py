"""A run on several daemons: one runner each, over its part of the plan.

The placement (``bakery.core.placement``) gives each daemon its targets; each
daemon's runner builds its part as a one-daemon run would, and the nodes that
cross daemons go through the registry cache (``bakery.engine.exchange``).
A failure on one daemon stops the others, unless ``keep_going``; a signal
stops them all. The results are merged into one ``RunResult`` over the whole
plan, with the daemon of every node and target.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, replace

import trio

from bakery.core.placement import Placement
from bakery.core.plan import Plan
from bakery.core.status import Status
from bakery.engine.events import NodeResult, RunResult, TargetResult
from bakery.engine.exchange import Exchange
from bakery.engine.runner import Runner
from bakery.engine.signals import stop_on_signal

__all__ = ["Member", "run_fleet"]

# Which of a node's results across daemons the merged one is.
_RANK = {
    Status.FAILED: 0,
    Status.BUILT: 1,
    Status.PULLED: 2,
    Status.CACHED: 3,
    Status.CANCELLED: 4,
    Status.NOT_STARTED: 5,
}


@dataclass
class Member:
    name: str
    plan: Plan  # the part of the plan placed on this daemon
    runner: Runner


async def run_fleet(
    plan: Plan,
    placement: Placement,
    members: list[Member],
    exchange: Exchange,
    *,
    keep_going: bool,
    handle_signals: bool = False,
) -> RunResult:
    results: dict[str, RunResult] = {}

    async def one(member: Member) -> None:
        results[member.name] = await member.runner.run()
        # What this daemon was to build for others and did not: say so, so that
        # the others stop waiting (and build it themselves).
        for node_id in placement.pushed_from(member.name):
            if not exchange.settled(node_id):
                got = results[member.name].nodes.get(node_id)
                why = got.reason or got.status.value if got else "not built"
                exchange.failed(node_id, f"{plan.nodes[node_id].label} on {member.name}: {why}")

    for member in members:

        def on_failure(node_id: str, failed: Member = member) -> None:
            stop_others(members, failed, node_id, keep_going)

        member.runner.share = replace(member.runner.share, on_failure=on_failure)
    async with trio.open_nursery() as outer:
        if handle_signals:
            outer.start_soon(stop_on_signal, functools.partial(_interrupt, members))
        async with trio.open_nursery() as nursery:
            for member in members:
                nursery.start_soon(one, member)
        outer.cancel_scope.cancel()
    return merge(plan, placement, results)


def stop_others(members: list[Member], failed: Member, node_id: str, keep_going: bool) -> None:
    """A node failed on ``failed``: without ``keep_going`` nothing more starts anywhere."""
    if keep_going:
        return
    label = failed.plan.nodes[node_id].label
    for member in members:
        if member is not failed:
            member.runner.halt(f"stopped after {label} failed on {failed.name}")


def _interrupt(members: list[Member], number: int) -> None:
    for member in members:
        member.runner.interrupt(number)


def merge(plan: Plan, placement: Placement, results: Mapping[str, RunResult]) -> RunResult:
    """One result over the whole plan: each node's most telling result (a failure,
    else where it was built), with every daemon it ran on; each target from the
    daemon it was placed on."""
    nodes: dict[str, NodeResult] = {}
    daemons: dict[str, tuple[str, ...]] = {}
    for node_id in plan.nodes:
        found = [(name, r.nodes[node_id]) for name, r in results.items() if node_id in r.nodes]
        if not found:
            nodes[node_id] = NodeResult(node_id, Status.NOT_STARTED, reason="not placed")
            continue
        found.sort(key=lambda item: _RANK.get(item[1].status, 9))
        nodes[node_id] = found[0][1]
        ran = (Status.BUILT, Status.PULLED, Status.CACHED, Status.FAILED, Status.CANCELLED)
        daemons[node_id] = tuple(name for name, r in found if r.status in ran)
    targets: dict[str, TargetResult] = {}
    for name in plan.targets:
        where = placement.targets.get(name)
        result = results.get(where or "")
        if result is not None and name in result.targets:
            targets[name] = result.targets[name]
        else:
            targets[name] = TargetResult(name, Status.NOT_STARTED, reason="not placed")
    runs = list(results.values())
    signals = [r.signal for r in runs if r.signal is not None]
    first = runs[0] if runs else None
    merged = RunResult(
        nodes=nodes,
        targets=targets,
        started=min((r.started for r in runs), default=0.0),
        finished=max((r.finished for r in runs), default=0.0),
        interrupted=any(r.interrupted for r in runs),
        signal=signals[0] if signals else None,
        backend=first.backend if first else "",
    )
    return replace(merged, daemons=daemons, placement=dict(placement.targets))


def lost(members: list[Member]) -> dict[str, str]:
    """The daemons that went away during the run, with how."""
    return {m.name: m.runner.lost for m in members if m.runner.lost}


def with_retry(first: RunResult, second: RunResult) -> RunResult:
    """``first`` with what a second run (of the targets a lost daemon left) made:
    its targets and nodes win where they ended better."""
    good = (Status.BUILT, Status.CACHED, Status.PULLED)
    # Each run has a clock of its own: the second's times go on after the first's.
    offset = first.finished - second.started

    def shifted(r: NodeResult) -> NodeResult:
        return replace(
            r,
            started=None if r.started is None else r.started + offset,
            finished=None if r.finished is None else r.finished + offset,
        )

    nodes = dict(first.nodes)
    daemons = {k: tuple(v) for k, v in first.daemons.items()}
    for node_id, r in second.nodes.items():
        old = nodes.get(node_id)
        if old is None or (old.status not in good and r.status is not Status.NOT_STARTED):
            nodes[node_id] = shifted(r)
        daemons[node_id] = tuple(
            dict.fromkeys((*daemons.get(node_id, ()), *second.daemons.get(node_id, ())))
        )
    targets = dict(first.targets)
    targets.update(second.targets)
    return replace(
        first,
        nodes=nodes,
        targets=targets,
        finished=second.finished + offset,
        interrupted=first.interrupted or second.interrupted,
        signal=first.signal if first.signal is not None else second.signal,
        daemons=daemons,
        placement={**first.placement, **second.placement},
    )
