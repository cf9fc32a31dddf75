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


def _scan_model(reverse: int, out_axis: int) -> onnx.ModelProto:
    """A running sum over axis 1 of x [2, 5, 3] (state [2, 3]), also scanning out each
    step's state times a weight: Scan with a non-zero input axis, a direction and an output axis."""
    body = helper.make_graph(
        [helper.make_node("Add", ["acc_in", "x_t"], ["acc_out"]),
         helper.make_node("Mul", ["acc_out", "w"], ["y_t"])],
        "body",
        [helper.make_tensor_value_info("acc_in", TensorProto.FLOAT, [2, 3]),
         helper.make_tensor_value_info("x_t", TensorProto.FLOAT, [2, 3])],
        [helper.make_tensor_value_info("acc_out", TensorProto.FLOAT, [2, 3]),
         helper.make_tensor_value_info("y_t", TensorProto.FLOAT, [2, 3])],
    )
    scan = helper.make_node("Scan", ["acc", "x"], ["final", "ys"], body=body, num_scan_inputs=1,
                            scan_input_axes=[1], scan_input_directions=[reverse], scan_output_axes=[out_axis])
    out_shape = [5, 2, 3] if out_axis == 0 else [2, 3, 5]
    graph = helper.make_graph(
        [scan], "scan",
        [helper.make_tensor_value_info("acc", TensorProto.FLOAT, [2, 3]),
         helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 5, 3])],
        [helper.make_tensor_value_info("final", TensorProto.FLOAT, [2, 3]),
         helper.make_tensor_value_info("ys", TensorProto.FLOAT, out_shape)],
        [onnx.numpy_helper.from_array(np.array([1.0, -2.0, 0.5], np.float32), "w")],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 16)], ir_version=IR_VERSION)


@pytest.mark.parametrize("reverse, out_axis", [(0, 0), (1, -1)], ids=["forward", "reverse-last-axis"])
def test_scan_with_static_length_is_unrolled_and_matches_onnxruntime(reverse: int, out_axis: int) -> None:
    model = _scan_model(reverse, out_axis)
    _, graph, _ = lower_model(model, CompileOptions())
    assert "Scan" not in {n.op_type for n in graph.nodes}
    rng = np.random.default_rng(5)
    feeds = {"acc": rng.standard_normal((2, 3)).astype(np.float32),
             "x": rng.standard_normal((2, 5, 3)).astype(np.float32)}
    assert_matches_onnxruntime(model, feeds, tolerance=1e-6)
