"""The IR invariant checker catches each kind of broken graph, and names the pass."""

from __future__ import annotations

import pytest

from onnx2rs.dtypes import F32
from onnx2rs.invariants import InvariantError, check_graph
from onnx2rs.ir import Graph, Node, Value
from onnx2rs.passes import run_passes


def g(nodes: list[Node], outputs: list[str]) -> Graph:
    values = {v: Value(v, F32, (2,)) for n in nodes for v in n.outputs}
    return Graph("g", nodes, values, {}, ["x"], outputs, opset=17)


def test_a_valid_graph_passes() -> None:
    check_graph(g([Node("a", "Relu", ["x"], ["y"])], ["y"]))


@pytest.mark.parametrize(("nodes", "outputs", "message"), [
    ([Node("a", "Relu", ["z"], ["y"])], ["y"], "before anything defines it"),
    ([Node("a", "Relu", ["x"], ["y"]), Node("b", "Tanh", ["x"], ["y"])], ["y"], "defined twice"),
    ([Node("a", "Relu", ["x"], ["y"]), Node("a", "Tanh", ["y"], ["z"])], ["z"], "two nodes"),
    ([Node("a", "Relu", ["x"], ["y"])], ["nope"], "graph output"),
])
def test_broken_graphs_are_caught(nodes: list[Node], outputs: list[str], message: str) -> None:
    with pytest.raises(InvariantError, match=message):
        check_graph(g(nodes, outputs))


def test_the_manager_names_the_pass_that_broke_it() -> None:
    def vandal(graph: Graph) -> bool:
        graph.nodes[0].inputs = ["missing"]
        return True

    with pytest.raises(InvariantError, match="after pass vandal"):
        run_passes(g([Node("a", "Relu", ["x"], ["y"])], ["y"]), [vandal], check=check_graph)
