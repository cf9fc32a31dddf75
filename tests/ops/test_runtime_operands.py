"""Shape operands computed at run time (Reshape's shape, Unsqueeze's axes, Expand, Tile,
Slice, Pad): the model declares its output shapes, the generated code reads the operand,
checks it against them and moves the data. Compared with ONNX Runtime (tolerance 0: these
ops only move values); an operand that disagrees with the compiled shapes is an error."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from onnx2rs import CompileOptions, compile_model, toolchain
from onnx2rs.errors import ToolchainError
from onnx2rs.reference import run_onnxruntime
from onnx2rs.verify import graph_output_dtypes, run_cli

from ..helpers import IR_VERSION, scratch_dir

rng = np.random.default_rng(5)
X = rng.standard_normal((2, 3, 4)).astype(np.float32)

# op, extra inputs (name -> value), attributes, declared output shape, a disagreeing operand set
CASES = {
    "reshape": ("Reshape", {"shape": np.array([0, -1], np.int64)}, {}, (2, 12),
                {"shape": np.array([4, -1], np.int64)}),
    "unsqueeze": ("Unsqueeze", {"axes": np.array([-1, 1], np.int64)}, {}, (2, 1, 3, 4, 1),
                  {"axes": np.array([0, 1], np.int64)}),
    "expand": ("Expand", {"shape": np.array([2, 1, 1, 1], np.int64)}, {}, (2, 2, 3, 4),
               {"shape": np.array([3, 1, 1, 1], np.int64)}),
    "tile": ("Tile", {"repeats": np.array([1, 2, 1], np.int64)}, {}, (2, 6, 4),
             {"repeats": np.array([2, 1, 1], np.int64)}),
    "slice": ("Slice", {"starts": np.array([-1, 0], np.int64), "ends": np.array([-4, 9], np.int64),
                        "axes": np.array([2, 1], np.int64), "steps": np.array([-1, 2], np.int64)}, {}, (2, 2, 3),
              {"starts": np.array([0, 0], np.int64), "ends": np.array([9, 9], np.int64),
               "axes": np.array([2, 1], np.int64), "steps": np.array([1, 1], np.int64)}),
    "pad_reflect": ("Pad", {"pads": np.array([0, 1, 2, 0, 1, 1], np.int64)}, {"mode": "reflect"}, (2, 5, 7),
                    {"pads": np.array([0, 1, 2, 0, 1, 2], np.int64)}),
}


def _model(op: str, operands: dict[str, np.ndarray], attrs: dict, out_shape: tuple) -> onnx.ModelProto:
    names = ["x", *operands]
    graph = helper.make_graph(
        [helper.make_node(op, names, ["y"], **attrs)], op,
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, X.shape),
         *(helper.make_tensor_value_info(n, TensorProto.INT64, v.shape) for n, v in operands.items())],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, out_shape)],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)], ir_version=IR_VERSION)


@pytest.mark.parametrize("case", CASES)
def test_run_time_operand_matches_onnxruntime_and_is_checked(case: str) -> None:
    op, operands, attrs, out_shape, disagreeing = CASES[case]
    model = _model(op, operands, attrs, out_shape)
    feeds = {"x": X, **operands}
    (expected,) = run_onnxruntime(model, feeds)
    with scratch_dir() as tmp:
        result = compile_model(model, tmp / "crate", CompileOptions(name=case, reference=(feeds, [expected])))
        binary = toolchain.build_binary(result.out_dir, result.crate)
        inputs = [feeds[n] for n in result.graph.inputs]
        (ours,) = run_cli(binary, inputs, 1, tmp, graph_output_dtypes(result.graph))
        np.testing.assert_array_equal(ours, expected)
        bad = {**feeds, **disagreeing}
        with pytest.raises(ToolchainError, match="does not turn|gives|disagree"):
            run_cli(binary, [bad[n] for n in result.graph.inputs], 1, tmp)


def test_split_by_run_time_sizes() -> None:
    # decompose turns it into CumSums and checked Slices.
    sizes = np.array([1, 3], np.int64)
    graph = helper.make_graph(
        [helper.make_node("Split", ["x", "split"], ["a", "b"], axis=2)], "split",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, X.shape),
         helper.make_tensor_value_info("split", TensorProto.INT64, sizes.shape)],
        [helper.make_tensor_value_info("a", TensorProto.FLOAT, (2, 3, 1)),
         helper.make_tensor_value_info("b", TensorProto.FLOAT, (2, 3, 3))],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)], ir_version=IR_VERSION)
    feeds = {"x": X, "split": sizes}
    expected = run_onnxruntime(model, feeds)
    with scratch_dir() as tmp:
        result = compile_model(model, tmp / "crate", CompileOptions(name="split", reference=(feeds, expected)))
        assert not any(n.op_type == "Split" for n in result.graph.nodes)
        binary = toolchain.build_binary(result.out_dir, result.crate)
        ours = run_cli(binary, [X, sizes], 2, tmp)
        for a, b in zip(ours, expected, strict=True):
            np.testing.assert_array_equal(a, b)
        with pytest.raises(ToolchainError, match="gives"):
            run_cli(binary, [X, np.array([2, 2], np.int64)], 2, tmp)
