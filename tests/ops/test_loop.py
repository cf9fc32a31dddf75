"""Loops with a build-time trip count are unrolled on load, and then match ONNX Runtime."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from onnx2rs import CompileOptions, UnsupportedError
from onnx2rs.build import lower_model

from ..helpers import IR_VERSION, assert_matches_onnxruntime

pytestmark = pytest.mark.cargo


def _loop_model(trips: int | None, stop_after: int) -> onnx.ModelProto:
    """state <- tanh(state @ w + x[i]) for each step i; scan out each state; the condition
    turns false after step `stop_after`; `trips` None makes the trip count a graph input."""
    body = helper.make_graph(
        [
            helper.make_node("Gather", ["x", "i"], ["x_i"], axis=0),
            helper.make_node("MatMul", ["state_in", "w"], ["mixed"]),
            helper.make_node("Add", ["mixed", "x_i"], ["pre"]),
            helper.make_node("Tanh", ["pre"], ["state_out"]),
            helper.make_node("Identity", ["state_out"], ["scan"]),
            helper.make_node("Less", ["i", "limit"], ["cond_out"]),
        ],
        "body",
        [helper.make_tensor_value_info("i", TensorProto.INT64, []),
         helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
         helper.make_tensor_value_info("state_in", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
         helper.make_tensor_value_info("state_out", TensorProto.FLOAT, [1, 4]),
         helper.make_tensor_value_info("scan", TensorProto.FLOAT, [1, 4])],
        [onnx.numpy_helper.from_array(np.array(stop_after, np.int64), "limit")],
    )
    rng = np.random.default_rng(0)
    inits = [onnx.numpy_helper.from_array(rng.standard_normal((4, 4)).astype(np.float32) * 0.5, "w"),
             onnx.numpy_helper.from_array(np.zeros((1, 4), np.float32), "h0")]
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, [6, 1, 4])]
    if trips is None:
        inputs.append(helper.make_tensor_value_info("trips", TensorProto.INT64, []))
    else:
        inits.append(onnx.numpy_helper.from_array(np.array(trips, np.int64), "trips"))
    steps = min(trips or 6, stop_after + 1)  # the condition read after step i decides step i + 1
    loop = helper.make_node("Loop", ["trips", "", "h0"], ["h_final", "states"], body=body)
    graph = helper.make_graph([loop], "loop", inputs,
                              [helper.make_tensor_value_info("h_final", TensorProto.FLOAT, [1, 4]),
                               helper.make_tensor_value_info("states", TensorProto.FLOAT, [steps, 1, 4])],
                              inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=IR_VERSION)


@pytest.mark.parametrize(("trips", "stop_after"), [(5, 10), (6, 2)], ids=["all_steps", "condition_stops_it"])
def test_static_loop_is_unrolled_and_matches_onnxruntime(trips: int, stop_after: int) -> None:
    model = _loop_model(trips, stop_after)
    x = np.random.default_rng(1).standard_normal((6, 1, 4)).astype(np.float32)
    _, graph, _ = lower_model(model, CompileOptions())
    assert "Loop" not in {n.op_type for n in graph.nodes}
    assert_matches_onnxruntime(model, {"x": x}, tolerance=1e-6)


def test_loop_with_a_run_time_trip_count_is_refused_by_name() -> None:
    with pytest.raises(UnsupportedError, match="Loop"):
        lower_model(_loop_model(None, 10), CompileOptions(input_shapes={"trips": []}))
