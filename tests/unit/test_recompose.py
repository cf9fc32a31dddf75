"""Hard-swish, hard-sigmoid and SiLU chains become one op, and the model still matches ONNX Runtime."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from onnx2rs import CompileOptions
from onnx2rs.build import lower_model
from onnx2rs.reference import evaluate_node, run_onnxruntime

from ..helpers import IR_VERSION


def _model(kind: str) -> onnx.ModelProto:
    """A Conv, then hard-swish written out as exporters do; hard-sigmoid straight on the
    input (after a Conv, onnxsim would fold the `+ 3` into its bias)."""
    consts = {"three": 3.0, "zero": 0.0, "six": 6.0, "sixth": 1.0 / 6.0}
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("Add", ["c", "three"], ["shifted"]),
             helper.make_node("Clip", ["shifted", "zero", "six"], ["relu6"])]
    if kind == "silu":
        nodes[1:] = [helper.make_node("Sigmoid", ["c"], ["gate"]), helper.make_node("Mul", ["gate", "c"], ["y"])]
    elif kind == "swish_mul_first":
        nodes += [helper.make_node("Mul", ["c", "relu6"], ["prod"]), helper.make_node("Div", ["prod", "six"], ["y"])]
    elif kind == "swish_divide_first":
        nodes += [helper.make_node("Mul", ["relu6", "sixth"], ["gate"]), helper.make_node("Mul", ["gate", "c"], ["y"])]
    else:
        nodes[:2] = [helper.make_node("Identity", ["x"], ["c"]), helper.make_node("Add", ["c", "three"], ["shifted"])]
        nodes += [helper.make_node("Div", ["relu6", "six"], ["y"])]
    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array(np.array(v, np.float32), k) for k, v in consts.items()]
    inits.append(numpy_helper.from_array(rng.standard_normal((4, 3, 3, 3)).astype(np.float32), "w"))
    channels = 3 if kind == "sigmoid" else 4
    graph = helper.make_graph(nodes, kind, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, channels, 8, 8])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=IR_VERSION)


@pytest.mark.parametrize("kind, op", [("swish_mul_first", "HardSwish"), ("swish_divide_first", "HardSwish"),
                                      ("sigmoid", "HardSigmoid"), ("silu", "Swish")])
def test_chain_becomes_the_conv_epilogue_with_the_same_values(kind: str, op: str) -> None:
    model = _model(kind)
    _, graph, _ = lower_model(model, CompileOptions())
    x = np.random.default_rng(1).standard_normal((1, 3, 8, 8)).astype(np.float32) * 4
    (expected,) = run_onnxruntime(model, {"x": x})
    (node,) = graph.nodes
    if kind == "sigmoid":
        assert node.op_type == op
        c, attrs = x, node.attrs
    else:
        assert node.op_type == "Conv" and node.activation is not None and node.activation[0] == op
        conv_only = onnx.ModelProto()
        conv_only.CopyFrom(model)
        del conv_only.graph.node[1:]
        conv_only.graph.output[0].name = "c"
        (c,) = run_onnxruntime(conv_only, {"x": x})
        attrs = node.activation[1]
    # The recomposed op, run by the ONNX reference on its input, gives ONNX Runtime's result
    # of the whole chain (atol 1e-6: the chain rounds after each of its steps).
    unary = type(node)(node.name, op, ["c"], ["y"], dict(attrs))
    (ours,) = evaluate_node(unary, [c], 24 if op == "Swish" else 17)  # Swish is an opset-24 op
    np.testing.assert_allclose(ours, expected, atol=1e-6, rtol=1e-6)


def test_a_chain_whose_middle_value_is_read_elsewhere_stays() -> None:
    model = _model("swish_mul_first")
    model.graph.output.append(helper.make_tensor_value_info("relu6", TensorProto.FLOAT, [1, 4, 8, 8]))
    _, graph, _ = lower_model(model, CompileOptions())
    assert "HardSwish" not in {n.op_type for n in graph.nodes}
    assert {"Clip", "Mul", "Div"} <= {n.op_type for n in graph.nodes} | {
        n.activation[0] for n in graph.nodes if n.activation}


def _gelu_model(kind: str) -> onnx.ModelProto:
    """A MatMul + Add (a Gemm after fusion), then GELU written out as torch (`half_last`),
    Hugging Face (`half_first`) or others spell it; `broken` divides by 2, not √2."""
    root2 = np.float32(np.sqrt(2.0))
    consts = {"root2": root2, "inv_root2": np.float32(1 / np.sqrt(2.0)), "one": 1.0, "half": 0.5, "two": 2.0}
    scale = (helper.make_node("Mul", ["inv_root2", "h"], ["scaled"]) if kind == "times_inverse"
             else helper.make_node("Div", ["h", "two" if kind == "broken" else "root2"], ["scaled"]))
    node = helper.make_node
    nodes = [node("MatMul", ["x", "w"], ["mm"]), node("Add", ["mm", "b"], ["h"]), scale,
             node("Erf", ["scaled"], ["e"]), node("Add", ["one", "e"], ["sum"])]
    if kind == "half_first":
        nodes += [node("Mul", ["h", "half"], ["hh"]), node("Mul", ["hh", "sum"], ["y"])]
    elif kind == "half_of_sum":
        nodes += [node("Mul", ["sum", "half"], ["gate"]), node("Mul", ["h", "gate"], ["y"])]
    else:
        nodes += [node("Mul", ["sum", "h"], ["prod"]), node("Mul", ["prod", "half"], ["y"])]
    rng = np.random.default_rng(2)
    inits = [numpy_helper.from_array(np.array(v, np.float32), k) for k, v in consts.items()]
    inits += [numpy_helper.from_array(rng.standard_normal((16, 24)).astype(np.float32), "w"),
              numpy_helper.from_array(rng.standard_normal(24).astype(np.float32), "b")]
    graph = helper.make_graph(nodes, kind, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [5, 16])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [5, 24])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=IR_VERSION)


@pytest.mark.parametrize("kind", ["half_last", "half_first", "half_of_sum", "times_inverse"])
def test_gelu_chain_becomes_the_gemm_epilogue_with_the_same_values(kind: str) -> None:
    model = _gelu_model(kind)
    _, graph, _ = lower_model(model, CompileOptions())
    (node,) = graph.nodes
    assert node.op_type == "Gemm" and node.activation == ("Gelu", {})
    x = np.random.default_rng(3).standard_normal((5, 16)).astype(np.float32)
    (expected,) = run_onnxruntime(model, {"x": x})
    gemm_only = onnx.ModelProto()
    gemm_only.CopyFrom(model)
    del gemm_only.graph.node[2:]
    gemm_only.graph.output[0].name = "h"
    (h,) = run_onnxruntime(gemm_only, {"x": x})
    assert np.abs(h).max() > 2 and np.abs(h).min() < 0.5  # both branches of erf's approximation
    # ONNX's Gelu (opset 20) on the Gemm's output gives ONNX Runtime's result of the whole
    # chain (the chain rounds after each of its five steps). The ONNX reference has no Gelu.
    gelu = helper.make_graph([helper.make_node("Gelu", ["h"], ["y"])], "gelu",
                             [helper.make_tensor_value_info("h", TensorProto.FLOAT, [5, 24])],
                             [helper.make_tensor_value_info("y", TensorProto.FLOAT, [5, 24])])
    gelu_model = helper.make_model(gelu, opset_imports=[helper.make_opsetid("", 20)], ir_version=IR_VERSION)
    (ours,) = run_onnxruntime(gelu_model, {"h": h})
    np.testing.assert_allclose(ours, expected, atol=1e-6, rtol=1e-6)


@pytest.mark.parametrize("change", ["broken", "erf_read_elsewhere"])
def test_a_gelu_chain_that_differs_stays(change: str) -> None:
    model = _gelu_model("broken" if change == "broken" else "half_last")
    if change == "erf_read_elsewhere":
        model.graph.output.append(helper.make_tensor_value_info("e", TensorProto.FLOAT, [5, 24]))
    _, graph, _ = lower_model(model, CompileOptions())
    assert "Erf" in {n.op_type for n in graph.nodes}
    assert all(n.activation is None or n.activation[0] != "Gelu" for n in graph.nodes)
    assert "Gelu" not in {n.op_type for n in graph.nodes}
