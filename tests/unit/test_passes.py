"""Passes on small hand-built IR graphs."""

from __future__ import annotations

import numpy as np
import pytest

from onnx2rs.dtypes import F32
from onnx2rs.errors import ModelError
from onnx2rs.ir import Graph, Node, Value
from onnx2rs.passes.dead_nodes import eliminate_dead_nodes
from onnx2rs.passes.sanitize import sanitize


def graph(nodes: list[Node], outputs: list[str], weights: dict | None = None) -> Graph:
    names = {v for n in nodes for v in n.inputs + n.outputs} | {"x"}
    weights = weights or {}
    values = {v: Value(v, F32, (2,)) for v in names if v not in weights}
    return Graph("g", nodes, values, weights, ["x"], outputs, opset=17)


def test_sanitize_drops_identity_and_dropout_and_rewires() -> None:
    g = graph([
        Node("relu", "Relu", ["x"], ["a"]),
        Node("drop", "Dropout", ["a"], ["b"]),
        Node("id", "Identity", ["b"], ["c"]),
        Node("tanh", "Tanh", ["c"], ["y"]),
    ], ["y"])
    assert sanitize(g)
    assert [n.op_type for n in g.nodes] == ["Relu", "Tanh"]
    assert g.nodes[1].inputs == ["a"]
    assert not sanitize(g)  # nothing left to do


def test_sanitize_keeps_the_output_name() -> None:
    g = graph([Node("relu", "Relu", ["x"], ["a"]), Node("id", "Identity", ["a"], ["y"])], ["y"])
    sanitize(g)
    assert g.outputs == ["y"] and g.nodes[0].outputs == ["y"]


def test_dead_nodes_and_weights_are_removed() -> None:
    w = {"unused_w": np.zeros(2, np.float32)}
    g = graph([
        Node("relu", "Relu", ["x"], ["y"]),
        Node("dead", "Add", ["x", "unused_w"], ["z"]),
        Node("deader", "Tanh", ["z"], ["q"]),
    ], ["y"], w)
    assert eliminate_dead_nodes(g)
    assert [n.name for n in g.nodes] == ["relu"]
    assert g.initializers == {}
    assert not eliminate_dead_nodes(g)


def test_toposort_orders_and_rejects_cycles() -> None:
    g = graph([Node("b", "Tanh", ["a"], ["y"]), Node("a", "Relu", ["x"], ["a"])], ["y"])
    g.toposort()
    assert [n.name for n in g.nodes] == ["a", "b"]
    cyclic = graph([Node("p", "Add", ["x", "q_out"], ["p_out"]), Node("q", "Relu", ["p_out"], ["q_out"])],
                   ["q_out"])
    with pytest.raises(ModelError, match="cycle"):
        cyclic.toposort()


def test_dropout_mask_becomes_all_true_and_training_dropout_stays() -> None:
    g = graph([Node("relu", "Relu", ["x"], ["a"]), Node("drop", "Dropout", ["a"], ["y", "mask"])], ["y", "mask"])
    assert sanitize(g)
    assert [n.op_type for n in g.nodes] == ["Relu"]
    assert g.initializers["mask"].dtype == np.bool_ and g.initializers["mask"].all()
    training = graph([Node("drop", "Dropout", ["x", "ratio", "train"], ["y"])], ["y"],
                     {"ratio": np.float32(0.5), "train": np.bool_(True)})
    assert not sanitize(training)
