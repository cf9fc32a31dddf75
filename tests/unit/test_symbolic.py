"""Symbolic shapes (frontend/symbolic.py) against ONNX shape inference and ONNX Runtime at sizes."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import helper, numpy_helper

from onnx2rs.errors import ModelError
from onnx2rs.frontend.symbolic import identifier, open_dims, symbolic_shapes
from onnx2rs.reference import run_onnxruntime

from ..helpers import IR_VERSION, onnx_shapes


def _model(shape_arithmetic: bool = True) -> onnx.ModelProto:
    """A CNN-shaped graph over x[N, 3, H, W] whose every shape depends on the open dims: strided
    and ceil-mode arithmetic, a transposed convolution, a resize, and a Reshape whose target is
    computed from Shape at run time (or, without `shape_arithmetic`, the constant [0, 0, -1])."""
    rng = np.random.default_rng(0)
    f32 = onnx.TensorProto.FLOAT
    weights = {
        "w1": rng.standard_normal((8, 3, 3, 3), np.float32),
        "w2": rng.standard_normal((8, 4, 2, 2), np.float32),
        "w3": rng.standard_normal((4, 5), np.float32),
        "scales": np.array([1, 1, 2, 2], np.float32),
        "idx": np.array([0, 1], np.int64),
        "keep_two": np.array([0, 0, -1], np.int64),
        "minus_one": np.array([-1], np.int64),
        "starts": np.array([1], np.int64),
        "ends": np.array([-1], np.int64),
        "axes": np.array([2], np.int64),
    }
    nodes = [
        helper.make_node("Conv", ["x", "w1"], ["c1"], strides=[2, 2], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"]),
        helper.make_node("MaxPool", ["r1"], ["p1"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1],
                         ceil_mode=1),
        helper.make_node("ConvTranspose", ["p1", "w2"], ["t1"], strides=[2, 2], output_padding=[1, 0]),
        helper.make_node("Resize", ["t1", "", "scales"], ["u1"], mode="nearest"),
        *([helper.make_node("Shape", ["u1"], ["s1"]),
           helper.make_node("Gather", ["s1", "idx"], ["nc"]),
           helper.make_node("Concat", ["nc", "minus_one"], ["target"], axis=0),
           helper.make_node("Reshape", ["u1", "target"], ["flat"])] if shape_arithmetic
          else [helper.make_node("Reshape", ["u1", "keep_two"], ["flat"])]),
        helper.make_node("Transpose", ["flat"], ["tokens"], perm=[0, 2, 1]),
        helper.make_node("MatMul", ["tokens", "w3"], ["y"]),
        helper.make_node("Slice", ["x", "starts", "ends", "axes"], ["inner"]),
    ]
    graph = helper.make_graph(
        nodes, "symbolic", [helper.make_tensor_value_info("x", f32, ["batch", 3, "height", "width"])],
        [helper.make_tensor_value_info("y", f32, [None] * 3), helper.make_tensor_value_info("inner", f32, [None] * 4)],
        [numpy_helper.from_array(v, k) for k, v in weights.items()],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=IR_VERSION)


SIZES = [(1, 32, 32), (2, 33, 47), (3, 64, 17), (1, 2, 3)]


@pytest.mark.parametrize(("n", "h", "w"), SIZES)
def test_every_shape_matches_onnx_inference_and_onnxruntime(n: int, h: int, w: int) -> None:
    model = _model()
    sym = symbolic_shapes(model, open_dims(model))
    assert sym.unknown() == []
    at = sym.at({"batch": n, "height": h, "width": w})
    reference = onnx_shapes(model, {"x": [n, 3, h, w]})
    produced = [o for node in model.graph.node for o in node.output]
    assert set(produced) <= set(reference)  # the reference knows every value here
    assert {v: at[v] for v in produced} == {v: reference[v] for v in produced}
    x = np.random.default_rng(1).standard_normal((n, 3, h, w)).astype(np.float32)
    names = [o.name for o in model.graph.output]
    outputs = run_onnxruntime(model, {"x": x})
    assert [at[k] for k in names] == [v.shape for v in outputs]


def test_sizes_below_what_the_expressions_assume_are_refused() -> None:
    model = _model()
    sym = symbolic_shapes(model, open_dims(model))
    # ONNX clamps the slice 1:-1 of a 1-row input to 0 rows; the expression H - 2 says -1.
    assert onnx_shapes(model, {"x": [1, 3, 1, 4]})["inner"] == (1, 3, 0, 4)
    with pytest.raises(ModelError, match="too small for the model: 'inner'"):
        sym.at({"batch": 1, "height": 1, "width": 4})
    with pytest.raises(ModelError, match="no size for the open dim"):
        sym.at({"batch": 1, "height": 8})


def test_open_dims_are_named_as_identifiers_and_shared_by_label() -> None:
    f32 = onnx.TensorProto.FLOAT
    graph = helper.make_graph(
        [helper.make_node("Add", ["a", "b"], ["c"])], "labels",
        [helper.make_tensor_value_info("a", f32, ["p2o.Dim.0", "?"]),
         helper.make_tensor_value_info("b", f32, ["p2o.Dim.0", 4])],
        [helper.make_tensor_value_info("c", f32, None)],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=IR_VERSION)
    dims = open_dims(model)
    assert dims.inputs == {"a": ("p2o_dim_0", "a_1"), "b": ("p2o_dim_0", 4)}
    assert dims.labels == {"p2o_dim_0": "p2o.Dim.0", "a_1": "a_1"}
    sym = symbolic_shapes(model, dims)
    # The Add holds only where a's second dim is b's 4: a constraint, and c's shape.
    assert sym.constraints == {"a_1": 4}
    assert sym.at({"p2o_dim_0": 5, "a_1": 4})["c"] == (5, 4)
    with pytest.raises(ModelError, match="requires a_1 = 4"):
        sym.at({"p2o_dim_0": 5, "a_1": 3})
    assert identifier("9lives", {"d_9lives"}) == "d_9lives_2"


def test_dynamic_names_pins_and_refusals() -> None:
    model = _model()
    dims = open_dims(model, {"x": [1, 3, "H", "W"]})
    assert dims.inputs == {"x": (1, 3, "H", "W")} and dims.names == ["H", "W"]
    sym = symbolic_shapes(model, dims)
    assert sym.at({"H": 40, "W": 24})["y"] == onnx_shapes(model, {"x": [1, 3, 40, 24]})["y"]
    for bad, message in [({"x": [1, 3, "H"]}, "rank 4, not 3"), ({"x": [1, 3, "H-1", "W"]}, "neither a number"),
                         ({"z": [1]}, "names no model input")]:
        with pytest.raises(ModelError, match=message):
            open_dims(model, bad)


def test_shape_arithmetic_feeding_data_ops_becomes_expressions() -> None:
    """ConstantOfShape and Expand read a shape computed at run time: through the passes and
    the plan with it as expressions, its dtype kept, each step's shape ONNX Runtime's."""
    import sympy

    from onnx2rs import CompileOptions
    from onnx2rs.tools.analyze import analyze

    f32 = onnx.TensorProto.FLOAT
    nodes = [helper.make_node("Shape", ["x"], ["s"]),
             helper.make_node("ConstantOfShape", ["s"], ["ones"],
                              value=numpy_helper.from_array(np.array([1.0], np.float32))),
             helper.make_node("Add", ["x", "ones"], ["y"]),
             helper.make_node("Expand", ["b", "s"], ["z"]),
             helper.make_node("Mul", ["y", "z"], ["out"])]
    graph = helper.make_graph(nodes, "shaped", [helper.make_tensor_value_info("x", f32, ["N", "L"])],
                              [helper.make_tensor_value_info("out", f32, ["N", "L"])],
                              [numpy_helper.from_array(np.array([2.0], np.float32), "b")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=IR_VERSION)
    a = analyze(model, CompileOptions(input_shapes={"x": [2, 5]}), {"x": ["N", "L"]})
    assert a.dynamic_note == "" and "Shape" not in {s.op for s in a.steps}
    n_, l_ = sympy.Symbol("N", integer=True, positive=True), sympy.Symbol("L", integer=True, positive=True)
    (out,) = run_onnxruntime(model, {"x": np.ones((3, 7), np.float32)})
    (last,) = [s for s in a.steps if s.output == "out"]
    assert tuple(int(sympy.sympify(d, locals={"N": n_, "L": l_}).subs({n_: 3, l_: 7})) for d in last.dims) == out.shape
