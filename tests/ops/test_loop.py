"""Loops with a build-time trip count are unrolled on load, and then match ONNX Runtime."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from onnx2rs import CompileOptions, compile_model, toolchain
from onnx2rs.build import lower_model
from onnx2rs.reference import run_onnxruntime
from onnx2rs.tools.verify import run_cli

from ..helpers import IR_VERSION, assert_matches_onnxruntime, scratch_dir

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


def _value(name: str, dtype: int, shape: list[int]) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, dtype, shape)


def _runtime_loops_model() -> onnx.ModelProto:
    """Two loops that run a number of times known only per call.

    `rnn`: at most `trips` steps of h <- tanh(h @ w + relu(x) + 2·relu(x)) and acc <- acc + i,
    while acc < limit. Its body reads the outer intermediate relu(x) first (a node that could
    run in place over it must not: the next step reads it again) and computes 2·relu(x),
    which depends on nothing the loop changes.
    `fib`: while `go` and then i < k: (a, b, keep) <- (b, a + b, keep), a swap through the
    carried values, and one passed through unchanged.
    """
    f, i64, b = TensorProto.FLOAT, TensorProto.INT64, TensorProto.BOOL
    rnn = helper.make_graph(
        [helper.make_node("MatMul", ["h_in", "w"], ["hw"]),
         helper.make_node("Add", ["xr", "hw"], ["pre"]),
         helper.make_node("Mul", ["xr", "two"], ["xr2"]),
         helper.make_node("Add", ["pre", "xr2"], ["pre2"]),
         helper.make_node("Tanh", ["pre2"], ["h_out"]),
         helper.make_node("Cast", ["i"], ["fi"], to=f),
         helper.make_node("Add", ["acc_in", "fi"], ["acc_out"]),
         helper.make_node("Squeeze", ["acc_out"], ["total"]),
         helper.make_node("Less", ["total", "limit"], ["c_out"])],
        "rnn", [_value("i", i64, []), _value("c", b, []), _value("h_in", f, [1, 4]), _value("acc_in", f, [1])],
        [_value("c_out", b, []), _value("h_out", f, [1, 4]), _value("acc_out", f, [1])],
        [onnx.numpy_helper.from_array(np.array(2.0, np.float32), "two")])
    fib = helper.make_graph(
        [helper.make_node("Add", ["a_in", "b_in"], ["sum"]),
         helper.make_node("Less", ["j", "k"], ["more"])],
        "fib", [_value("j", i64, []), _value("c2", b, []), _value("a_in", f, [2]), _value("b_in", f, [2]),
                _value("keep_in", f, [3])],
        [_value("more", b, []), _value("b_in", f, [2]), _value("sum", f, [2]), _value("keep_in", f, [3])])
    rng = np.random.default_rng(0)
    inits = [onnx.numpy_helper.from_array(rng.standard_normal((4, 4)).astype(np.float32) * 0.5, "w"),
             onnx.numpy_helper.from_array(np.zeros((1, 4), np.float32), "h0"),
             onnx.numpy_helper.from_array(np.zeros(1, np.float32), "acc0"),
             onnx.numpy_helper.from_array(np.array([1.0, 0.5], np.float32), "a0"),
             onnx.numpy_helper.from_array(np.array([1.0, 2.0], np.float32), "b0")]
    graph = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["xr"]),
         helper.make_node("Loop", ["trips", "", "h0", "acc0"], ["h", "acc"], body=rnn),
         helper.make_node("Relu", ["keep0"], ["keep_r"]),
         helper.make_node("Loop", ["", "go", "a0", "b0", "keep_r"], ["a", "b", "keep"], body=fib)],
        "loops",
        [_value("x", f, [1, 4]), _value("trips", i64, []), _value("limit", f, []), _value("go", b, []),
         _value("k", i64, []), _value("keep0", f, [3])],
        [_value("h", f, [1, 4]), _value("acc", f, [1]), _value("a", f, [2]), _value("b", f, [2]),
         _value("keep", f, [3])],
        inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=IR_VERSION)


def test_loops_run_as_many_times_as_each_call_says() -> None:
    """One crate, called with trip counts and conditions that stop each loop at step 0, in the
    middle and at its trip count, against ONNX Runtime (atol = rtol = 1e-6)."""
    model = _runtime_loops_model()
    _, graph, _ = lower_model(model, CompileOptions())
    assert "Loop" not in {n.op_type for n in graph.nodes}
    assert len(graph.loops()) == 2
    begin, end = graph.loops()[0]
    assert "Mul" not in {n.op_type for n in graph.nodes[begin:end]}, "2·relu(x) runs once, before the loop"
    rng = np.random.default_rng(3)
    calls = [(trips, limit, go, k) for trips, limit, go, k in
             [(0, 9.0, False, 3), (3, 9.0, True, 4), (7, 0.5, True, 0), (50, 9.0, True, 9), (-1, 9.0, True, 1)]]
    with scratch_dir() as workdir:
        def feeds(trips, limit, go, k):
            return {"x": rng.standard_normal((1, 4)).astype(np.float32), "trips": np.array(trips, np.int64),
                    "limit": np.array(limit, np.float32), "go": np.array(go), "k": np.array(k, np.int64),
                    "keep0": rng.standard_normal(3).astype(np.float32)}
        first = feeds(*calls[1])
        result = compile_model(model, workdir / "crate", CompileOptions(
            name="loops", reference=(first, run_onnxruntime(model, first))))
        binary = toolchain.build_binary(result.out_dir, result.crate, profile="dev")
        toolchain.cargo(["clippy", "--quiet", "--", "-D", "warnings"], result.out_dir)
        steps = set()
        for call in calls:
            given = feeds(*call)
            theirs = run_onnxruntime(model, given)
            ours = run_cli(binary, [given[n] for n in result.graph.inputs], len(theirs), workdir)
            for o, t in zip(ours, theirs, strict=True):
                np.testing.assert_allclose(o, t, rtol=1e-6, atol=1e-6)
            steps.add(float(theirs[1][0]))  # acc = 0 + 1 + ... + (steps - 1)
        assert len(steps) >= 3, f"the calls must stop the loop after different numbers of steps: {steps}"


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
