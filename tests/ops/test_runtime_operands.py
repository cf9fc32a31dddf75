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
from onnx2rs.tools.verify import graph_output_dtypes, run_cli

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


def _model() -> onnx.ModelProto:
    """Every case side by side on the same `x`, each with its own operands and output."""
    nodes, inputs, outputs = [], [helper.make_tensor_value_info("x", TensorProto.FLOAT, X.shape)], []
    for case, (op, operands, attrs, out_shape, _) in CASES.items():
        names = [f"{case}_{n}" for n in operands]
        nodes.append(helper.make_node(op, ["x", *names], [case], **attrs))
        inputs += [helper.make_tensor_value_info(n, TensorProto.INT64, v.shape)
                   for n, v in zip(names, operands.values(), strict=True)]
        outputs.append(helper.make_tensor_value_info(case, TensorProto.FLOAT, out_shape))
    graph = helper.make_graph(nodes, "operands", inputs, outputs)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)], ir_version=IR_VERSION)


def _feeds(disagreeing: str | None = None) -> dict[str, np.ndarray]:
    """Every case's operands; those of case `disagreeing` swapped for ones that give another shape."""
    feeds = {"x": X}
    for case, (_, operands, _, _, bad) in CASES.items():
        values = {**operands, **bad} if case == disagreeing else operands
        feeds.update({f"{case}_{n}": v for n, v in values.items()})
    return feeds


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple:
    model, feeds = _model(), _feeds()
    expected = run_onnxruntime(model, feeds)
    tmp = tmp_path_factory.mktemp("operands")
    result = compile_model(model, tmp / "crate", CompileOptions(name="operands", reference=(feeds, expected)))
    return toolchain.build_binary(result.out_dir, result.crate, profile="dev"), result.graph, expected, tmp


def test_run_time_operands_match_onnxruntime(built: tuple) -> None:
    binary, graph, expected, tmp = built
    feeds = _feeds()
    ours = run_cli(binary, [feeds[n] for n in graph.inputs], len(CASES), tmp, graph_output_dtypes(graph))
    for case, a, b in zip(CASES, ours, expected, strict=True):
        np.testing.assert_array_equal(a, b, err_msg=case)


@pytest.mark.parametrize("case", CASES)
def test_an_operand_that_disagrees_with_the_compiled_shapes_is_an_error(built: tuple, case: str) -> None:
    binary, graph, _, tmp = built
    feeds = _feeds(disagreeing=case)
    with pytest.raises(ToolchainError, match="does not turn|gives|disagree"):
        run_cli(binary, [feeds[n] for n in graph.inputs], len(CASES), tmp)


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
        result = compile_model(model, tmp / "crate", CompileOptions(name="split_sizes", reference=(feeds, expected)))
        assert not any(n.op_type == "Split" for n in result.graph.nodes)
        binary = toolchain.build_binary(result.out_dir, result.crate, profile="dev")
        ours = run_cli(binary, [X, sizes], 2, tmp)
        for a, b in zip(ours, expected, strict=True):
            np.testing.assert_array_equal(a, b)
        with pytest.raises(ToolchainError, match="gives"):
            run_cli(binary, [X, np.array([2, 2], np.int64)], 2, tmp)
