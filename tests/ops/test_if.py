"""Ifs: a condition known once shapes are fixed inlines its branch on load; a run-time
condition compiles both branches and chooses per call. Each is checked against ONNX Runtime."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from onnx2rs import CompileOptions, compile_model, toolchain
from onnx2rs.build import lower_model
from onnx2rs.errors import ToolchainError
from onnx2rs.passes.guards import guards
from onnx2rs.reference import run_onnxruntime
from onnx2rs.tools.verify import run_cli

from ..helpers import IR_VERSION, assert_matches_onnxruntime, scratch_dir

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


def _nested_model() -> onnx.ModelProto:
    """y = (a ? (b ? relu(x)·2 : -x·3) : x + x), with the inner If inside the then branch,
    reading both the outer `x` and the then branch's own value `h`."""
    inner = helper.make_node("If", ["b"], ["inner_y"], then_branch=_branch("t", "Relu"),
                             else_branch=_branch("e", "Neg"))
    then = helper.make_graph(
        [inner, helper.make_node("Identity", ["inner_y"], ["then_y"])], "then", [],
        [helper.make_tensor_value_info("then_y", TensorProto.FLOAT, [3, 4])])
    otherwise = helper.make_graph(
        [helper.make_node("Add", ["x", "x"], ["else_y"])], "else", [],
        [helper.make_tensor_value_info("else_y", TensorProto.FLOAT, [3, 4])])
    graph = helper.make_graph(
        [helper.make_node("If", ["a"], ["y"], then_branch=then, else_branch=otherwise)], "nested",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3, 4]),
         helper.make_tensor_value_info("a", TensorProto.BOOL, []),
         helper.make_tensor_value_info("b", TensorProto.BOOL, [])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [3, 4])])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=IR_VERSION)


@pytest.mark.parametrize("model, conditions", [
    (_if_model(None), [{"cond": True}, {"cond": False}]),
    (_nested_model(), [{"a": a, "b": b} for a in (True, False) for b in (True, False)]),
], ids=["flat", "nested"])
def test_if_on_a_run_time_condition_chooses_its_branch_per_call(model: onnx.ModelProto, conditions) -> None:
    """One crate, every combination of conditions, each against ONNX Runtime (atol = rtol = 1e-6)."""
    _, graph, _ = lower_model(model, CompileOptions())
    assert "If" not in {n.op_type for n in graph.nodes}
    assert guards(graph), "some node must run only under a condition"
    with scratch_dir() as workdir:
        first = {"x": X, **{k: np.array(v) for k, v in conditions[0].items()}}
        result = compile_model(model, workdir / "crate", CompileOptions(
            name="branches", reference=(first, run_onnxruntime(model, first))))
        binary = toolchain.build_binary(result.out_dir, result.crate, profile="dev")
        toolchain.cargo(["clippy", "--quiet", "--", "-D", "warnings"], result.out_dir)
        seen = []
        for condition in conditions:
            feeds = {"x": X, **{k: np.array(v) for k, v in condition.items()}}
            (theirs,) = run_onnxruntime(model, feeds)
            (ours,) = run_cli(binary, [feeds[n] for n in result.graph.inputs], 1, workdir)
            np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-6)
            seen.append(theirs.tobytes())
        assert len(set(seen)) == len(conditions) - (len(conditions) == 4), "each branch gives its own result"


def _impossible_else_model() -> onnx.ModelProto:
    """y = cond ? x·2 : MatMul(x, x): the else branch cannot type-check once x is fixed at 3x4
    (ONNX Runtime, which sees a symbolic x, fails only when it runs that branch)."""
    then = helper.make_graph([helper.make_node("Add", ["x", "x"], ["t"])], "then", [],
                             [helper.make_tensor_value_info("t", TensorProto.FLOAT, ["n", "m"])])
    otherwise = helper.make_graph([helper.make_node("MatMul", ["x", "x"], ["e"])], "else", [],
                                  [helper.make_tensor_value_info("e", TensorProto.FLOAT, ["n", "m"])])
    graph = helper.make_graph(
        [helper.make_node("If", ["cond"], ["y"], then_branch=then, else_branch=otherwise)], "impossible",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", "m"]),
         helper.make_tensor_value_info("cond", TensorProto.BOOL, [])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", "m"])])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=IR_VERSION)


def test_a_branch_impossible_at_the_compiled_shapes_is_a_run_time_error() -> None:
    """As in ONNX Runtime: the possible branch matches it, the other is an error, not a panic."""
    model = _impossible_else_model()
    feeds = {"x": X, "cond": np.array(True)}
    with scratch_dir() as workdir:
        result = compile_model(model, workdir / "crate", CompileOptions(
            name="impossible", input_shapes={"x": [3, 4]}, reference=(feeds, run_onnxruntime(model, feeds))))
        binary = toolchain.build_binary(result.out_dir, result.crate, profile="dev")
        (ours,) = run_cli(binary, [feeds[n] for n in result.graph.inputs], 1, workdir)
        np.testing.assert_allclose(ours, run_onnxruntime(model, feeds)[0], rtol=1e-6, atol=1e-6)
        with pytest.raises(ToolchainError, match="else branch of this If cannot run"):
            run_cli(binary, [X, np.array(False)], 1, workdir)
