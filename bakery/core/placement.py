"""Placing a plan on several daemons: which daemon builds each target.

Each target's chain of stages runs on one daemon, and targets that are linked
(``depends-on``, a ``target:`` context) go together, since one needs the
other's image there. Targets are spread to balance the work: each group of
linked targets, largest first, goes to the daemon where it adds the least
work for that daemon's ``jobs``, counting only the stages it would build
there anew.

A stage that targets on several daemons need is built **once in all** when
the registry cache carries it: its *home* daemon builds and pushes it, the
others pull it. Without a cache it is built once **on each** daemon that
needs it. Pure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bakery.core.plan import Plan

__all__ = ["Placement", "place"]


@dataclass(frozen=True)
class Placement:
    daemons: tuple[str, ...]  # in the order given
    targets: Mapping[str, str]  # target -> daemon
    runs: Mapping[str, tuple[str, ...]]  # node -> daemons whose targets need it
    home: Mapping[str, str]  # node -> the daemon that builds it (through the cache)
    through_cache: bool

    def targets_on(self, daemon: str) -> tuple[str, ...]:
        return tuple(t for t, d in self.targets.items() if d == daemon)

    def pulled_on(self, daemon: str) -> dict[str, str]:
        """The nodes ``daemon`` pulls from the cache, each with the daemon that builds it."""
        if not self.through_cache:
            return {}
        return {
            n: self.home[n]
            for n, ds in self.runs.items()
            if daemon in ds and self.home[n] != daemon
        }

    def pushed_from(self, daemon: str) -> set[str]:
        """The nodes ``daemon`` builds that other daemons pull."""
        if not self.through_cache:
            return set()
        return {n for n, ds in self.runs.items() if self.home[n] == daemon and len(ds) > 1}

    def built_on(self, node_id: str) -> tuple[str, ...]:
        """Where the node is built: its home through the cache, else every daemon that needs it."""
        if self.through_cache:
            return (self.home[node_id],)
        return self.runs[node_id]


def place(plan: Plan, daemons: Sequence[tuple[str, int]], *, through_cache: bool) -> Placement:
    """``daemons``: (name, jobs) each, at least one."""
    names = tuple(name for name, _ in daemons)
    jobs = {name: max(1, n) for name, n in daemons}
    load = dict.fromkeys(names, 0)
    on: dict[str, set[str]] = {name: set() for name in names}
    home: dict[str, str] = {}
    targets: dict[str, str] = {}
    for unit in _units(plan):
        nodes = {n for t in unit for n in plan.targets[t].nodes}

        def added(daemon: str, nodes: set[str] = nodes) -> int:
            built = home.keys() if through_cache else on[daemon]
            return len(nodes - set(built) - on[daemon])

        best = min(names, key=lambda d: ((load[d] + added(d)) / jobs[d], names.index(d)))
        load[best] += added(best)
        for node_id in sorted(nodes - on[best]):
            home.setdefault(node_id, best)
        on[best] |= nodes
        for name in unit:
            targets[name] = best
    runs = {
        n: tuple(d for d in names if n in on[d])
        for n in plan.nodes
        if any(n in on[d] for d in names)
    }
    ordered = {t: targets[t] for t in plan.targets if t in targets}
    return Placement(names, ordered, runs, home, through_cache)


def _units(plan: Plan) -> list[tuple[str, ...]]:
    """Groups of targets that must share a daemon, largest first (then in plan order)."""
    parent = {name: name for name in plan.targets}

    def root(name: str) -> str:
        while parent[name] != name:
            parent[name] = parent[parent[name]]
            name = parent[name]
        return name

    def join(a: str, b: str) -> None:
        if a in parent and b in parent:
            parent[root(a)] = root(b)

    for name, planned in plan.targets.items():
        for other in planned.after:
            join(name, other)
        for node_id in planned.nodes:
            for other in plan.nodes[node_id].context_targets.values():
                join(name, other)
    groups: dict[str, list[str]] = {}
    for name in plan.targets:
        groups.setdefault(root(name), []).append(name)
    order = list(plan.targets)

    def size(unit: list[str]) -> tuple[int, int]:
        nodes = {n for t in unit for n in plan.targets[t].nodes}
        return (-len(nodes), order.index(unit[0]))

    return [tuple(g) for g in sorted(groups.values(), key=size)]
