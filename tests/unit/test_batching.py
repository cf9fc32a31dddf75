"""The dynamic-batch analysis: per-sample runs are allowed only when no op mixes samples."""

from __future__ import annotations

import numpy as np
from onnx import helper

from onnx2rs import CompileOptions
from onnx2rs.build import lower_model
from onnx2rs.passes.batching import separable

from ..helpers import make_model


def _graphs(nodes, shape: tuple[int, ...], weights: dict | None = None, outputs=("y",)):
    graphs = []
    for batch in (2, 3):
        x = np.zeros((batch, *shape), np.float32)
        _, graph, _ = lower_model(make_model(nodes, {"x": x}, list(outputs), weights), CompileOptions())
        graphs.append(graph)
    return graphs


def test_per_sample_ops_are_separable() -> None:
    w = {"w": np.ones((4, 3), np.float32)}
    nodes = [helper.make_node("MatMul", ["x", "w"], ["h"]), helper.make_node("Softmax", ["h"], ["y"], axis=-1)]
    assert separable(*_graphs(nodes, (4,), w)) is None


def test_time_major_transposes_are_separable() -> None:
    nodes = [helper.make_node("Transpose", ["x"], ["t"], perm=[1, 0, 2]), helper.make_node("Relu", ["t"], ["r"]),
             helper.make_node("Transpose", ["r"], ["y"], perm=[1, 0, 2])]
    assert separable(*_graphs(nodes, (5, 3))) is None


def test_softmax_over_the_batch_mixes_samples() -> None:
    nodes = [helper.make_node("Softmax", ["x"], ["y"], axis=0)]
    assert "Softmax" in separable(*_graphs(nodes, (3,)))


def test_reshape_that_interleaves_samples_mixes_them() -> None:
    # [batch, 5, 3] -> [5, batch, 3] -> [5 * batch, 3]: rows alternate between samples.
    nodes = [helper.make_node("Transpose", ["x"], ["t"], perm=[1, 0, 2]),
             helper.make_node("Reshape", ["t", "shape"], ["f"]),
             helper.make_node("Relu", ["f"], ["y"])]
    graphs = _graphs(nodes, (5, 3), {"shape": np.array([-1, 3], np.int64)})
    assert separable(*graphs) is not None


def test_reduction_over_the_batch_mixes_samples() -> None:
    nodes = [helper.make_node("ReduceSum", ["x", "axes"], ["s"], keepdims=1),
             helper.make_node("Sub", ["x", "s"], ["y"])]
    assert "ReduceSum" in separable(*_graphs(nodes, (3,), {"axes": np.array([0], np.int64)}))
