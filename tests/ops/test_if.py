"""Ifs whose condition is known once shapes are fixed are inlined on load, then match ONNX Runtime."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from onnx2rs import CompileOptions, UnsupportedError
from onnx2rs.build import lower_model

from ..helpers import IR_VERSION, assert_matches_onnxruntime

pytestmark = pytest.mark.cargo

X = np.random.default_rng(2).standard_normal((3, 4)).astype(np.float32)


def _branch(name: str, op: str) -> onnx.GraphProto:
    """A branch reading the outer `x` (as exporters' branches do), with its own weight."""
    return helper.make_graph(
        [helper.make_node(op, ["x"], [f"{name}_t"]), helper.make_node("Mul", [f"{name}_t", "scale"], ["y"])],
        name, [], [helper.make_tensor_value_info("y", TensorProto.FLOAT, [3, 4])],
        [onnx.numpy_helper.from_array(np.array(2.0 if op == "Relu" else 3.0, np.float32), "scale")],
    )


def _if_model(rows_at_least: int | None) -> onnx.ModelProto:
    """y = 2·relu(x) if x has at least `rows_at_least` rows, else 3·(-x): a shape check as
    torch exports them. None makes the condition a graph input."""
    nodes = [helper.make_node("If", ["cond"], ["y"], then_branch=_branch("then", "Relu"),
                              else_branch=_branch("else", "Neg"))]
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(X.shape))]
    inits = []
    if rows_at_least is None:
        inputs.append(helper.make_tensor_value_info("cond", TensorProto.BOOL, []))
    else:
        nodes[:0] = [helper.make_node("Shape", ["x"], ["shape"]),
                     helper.make_node("Gather", ["shape", "zero"], ["rows"], axis=0),
                     helper.make_node("GreaterOrEqual", ["rows", "limit"], ["cond"])]
        inits = [onnx.numpy_helper.from_array(np.array(0, np.int64), "zero"),
                 onnx.numpy_helper.from_array(np.array(rows_at_least, np.int64), "limit")]
    graph = helper.make_graph(nodes, "if", inputs, [helper.make_tensor_value_info("y", TensorProto.FLOAT, [3, 4])],
                              inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=IR_VERSION)


@pytest.mark.parametrize("rows_at_least", [2, 5], ids=["then", "else"])
def test_if_on_a_shape_check_is_inlined_and_matches_onnxruntime(rows_at_least: int) -> None:
    model = _if_model(rows_at_least)
    _, graph, _ = lower_model(model, CompileOptions())
    assert "If" not in {n.op_type for n in graph.nodes}
    assert_matches_onnxruntime(model, {"x": X}, tolerance=1e-6)


def test_if_on_a_run_time_condition_is_refused_by_name() -> None:
    with pytest.raises(UnsupportedError, match="If"):
        lower_model(_if_model(None), CompileOptions())
