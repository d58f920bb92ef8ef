"""Directed graphs as plain mappings: topological order, reachability, cycles.

Used for stages, plan nodes, target inheritance, ``depends-on`` and groups. A
graph is ``Mapping[node, Iterable[node]]`` from a node to what it needs. Order
is deterministic: among nodes that are ready together, the one listed first in
the mapping comes first.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Iterator, Mapping, Sequence
from typing import TypeVar

N = TypeVar("N", bound=Hashable)


class GraphCycle(Exception):
    """The graph has a cycle; ``cycle`` lists it closed, e.g. ``(a, b, a)``."""

    def __init__(self, cycle: Sequence[object]):
        super().__init__(" -> ".join(str(n) for n in cycle))
        self.cycle = tuple(cycle)


def find_cycle(graph: Mapping[N, Iterable[N]]) -> tuple[N, ...] | None:
    """A cycle in ``graph`` (closed: first node repeated at the end), or None."""
    WHITE, GREY, BLACK = 0, 1, 2  # noqa: N806 - the classic colouring names
    colour: dict[N, int] = {}
    for root in graph:
        if colour.get(root, WHITE) != WHITE:
            continue
        # Iterative DFS: the stage graphs of real Dockerfiles are shallow, but
        # plans over thousands of targets must not hit the recursion limit.
        path: list[N] = [root]
        iters = [iter(graph.get(root, ()))]
        colour[root] = GREY
        while iters:
            child = next(iters[-1], None)
            if child is None:
                colour[path.pop()] = BLACK
                iters.pop()
                continue
            state = colour.get(child, WHITE)
            if state == GREY:
                return (*path[path.index(child) :], child)
            if state == WHITE:
                colour[child] = GREY
                path.append(child)
                iters.append(iter(graph.get(child, ())))
    return None


def topological_order(graph: Mapping[N, Iterable[N]]) -> list[N]:
    """Every node after what it needs. Raises GraphCycle."""
    cycle = find_cycle(graph)
    if cycle is not None:
        raise GraphCycle(cycle)
    done: set[N] = set()
    order: list[N] = []
    for root in graph:
        if root in done:
            continue
        stack: list[tuple[N, Iterator[N]]] = [(root, iter(graph.get(root, ())))]
        done.add(root)
        while stack:
            node, children = stack[-1]
            for child in children:
                if child not in done:
                    done.add(child)
                    stack.append((child, iter(graph.get(child, ()))))
                    break
            else:
                stack.pop()
                order.append(node)
    return order


def reachable(graph: Mapping[N, Iterable[N]], roots: Iterable[N]) -> set[N]:
    """The roots and every node they need, directly or not."""
    seen: set[N] = set()
    todo = list(roots)
    while todo:
        node = todo.pop()
        if node in seen:
            continue
        seen.add(node)
        todo.extend(graph.get(node, ()))
    return seen


def waves(graph: Mapping[N, Iterable[N]]) -> list[list[N]]:
    """Nodes grouped by depth: wave k needs only nodes of waves < k. Raises GraphCycle."""
    depth: dict[N, int] = {}
    for node in topological_order(graph):
        depth[node] = 1 + max((depth[d] for d in graph.get(node, ())), default=-1)
    out: list[list[N]] = [[] for _ in range(1 + max(depth.values(), default=-1))]
    for node in graph:
        out[depth[node]].append(node)
    return out
