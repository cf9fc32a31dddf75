"""The guard analysis of flattened Ifs (passes/guards.py), on hand-built graphs: no cargo."""

from __future__ import annotations

import numpy as np

from onnx2rs.dtypes import BOOL, F32
from onnx2rs.ir import IR_DOMAIN, Graph, Node, Value
from onnx2rs.passes.guards import guards


def _graph(nodes: list[Node], initializers: dict | None = None) -> Graph:
    values = {v: Value(v, F32, (2,)) for n in nodes for v in n.outputs}
    values |= {"x": Value("x", F32, (2,)), "c": Value("c", BOOL, ()), "d": Value("d", BOOL, ())}
    return Graph("g", nodes, values, initializers or {}, ["x", "c", "d"], [nodes[-1].outputs[0]], 17)


def _phi(name: str, cond: str, then: str, otherwise: str, out: str) -> Node:
    return Node(name, "Phi", [cond, then, otherwise], [out], {}, IR_DOMAIN)


def test_each_branch_runs_only_under_its_condition() -> None:
    graph = _graph([Node("t", "Relu", ["x"], ["a"]), Node("e", "Neg", ["x"], ["b"]),
                    _phi("p", "c", "a", "b", "y")])
    found = guards(graph)
    assert found == {"t": frozenset({frozenset({("c", True)})}), "e": frozenset({frozenset({("c", False)})})}


def test_a_value_both_branches_read_runs_always() -> None:
    """What a common-subexpression merge of the two branches leaves: one node for both."""
    graph = _graph([Node("shared", "Relu", ["x"], ["s"]), Node("t", "Neg", ["s"], ["a"]),
                    Node("e", "Abs", ["s"], ["b"]), _phi("p", "c", "a", "b", "y")])
    found = guards(graph)
    assert "shared" not in found and set(found) == {"t", "e"}


def test_nested_conditions_combine_and_a_later_condition_is_dropped() -> None:
    graph = _graph([Node("t", "Relu", ["x"], ["a"]), Node("e", "Neg", ["x"], ["b"]),
                    Node("cond", "Not", ["d"], ["late"]),
                    _phi("inner", "late", "a", "b", "ab"), Node("o", "Abs", ["x"], ["o1"]),
                    _phi("outer", "c", "ab", "o1", "y")])
    graph.values["late"] = Value("late", BOOL, ())
    found = guards(graph)
    # `late` is computed after t and e: they keep only the outer condition.
    assert found["t"] == found["e"] == frozenset({frozenset({("c", True)})})
    assert found["inner"] == frozenset({frozenset({("c", True)})})
    assert found["o"] == frozenset({frozenset({("c", False)})})


def test_a_weight_condition_is_decided_at_build_time() -> None:
    graph = _graph([Node("t", "Relu", ["x"], ["a"]), Node("e", "Neg", ["x"], ["b"]),
                    _phi("p", "k", "a", "b", "y")], {"k": np.array(True)})
    assert guards(graph) == {"e": frozenset()}
