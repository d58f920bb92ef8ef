import pytest

from bakery.core.graph import GraphCycle, find_cycle, reachable, topological_order, waves


@pytest.mark.parametrize(
    ("graph", "cycle"),
    [
        ({"a": ["b"], "b": []}, None),
        ({"a": ["a"]}, ("a", "a")),
        ({"a": ["b"], "b": ["a"]}, ("a", "b", "a")),
        ({"x": [], "a": ["b"], "b": ["c"], "c": ["a"]}, ("a", "b", "c", "a")),
        ({"a": ["b", "c"], "b": ["d"], "c": ["d"], "d": []}, None),
    ],
    ids=["acyclic", "self-loop", "two", "three-after-other", "diamond"],
)
def test_find_cycle(graph: dict[str, list[str]], cycle: tuple[str, ...] | None) -> None:
    assert find_cycle(graph) == cycle


def test_topological_order_puts_needs_first() -> None:
    graph = {
        "client": ["build-client"],
        "build-client": ["base"],
        "base": [],
        "server": ["build-server"],
        "build-server": ["base"],
    }
    order = topological_order(graph)
    for node, needs in graph.items():
        for need in needs:
            assert order.index(need) < order.index(node)
    assert sorted(order) == sorted(graph)


def test_topological_order_raises_with_cycle() -> None:
    with pytest.raises(GraphCycle) as info:
        topological_order({"a": ["b"], "b": ["a"]})
    assert str(info.value) == "a -> b -> a"


def test_deep_chain_has_no_recursion_limit() -> None:
    graph = {i: [i + 1] for i in range(5000)} | {5000: []}
    assert topological_order(graph)[0] == 5000
    assert find_cycle(graph) is None


def test_reachable_and_waves() -> None:
    graph = {"a": ["b", "c"], "b": ["d"], "c": ["d"], "d": [], "unused": ["d"]}
    assert reachable(graph, ["b"]) == {"b", "d"}
    assert waves(graph) == [["d"], ["b", "c", "unused"], ["a"]]
