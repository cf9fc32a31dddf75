"""Open dims (P11): a model built once runs at every size it accepts, against ONNX Runtime.

The model leaves its batch, height and width open (`dim_param`s). It is built at one size; the
crate's own tests then run one session at that size and at two more (twice each, larger then
smaller), count allocations at each, and its CLI runs at a size of its own. Sizes the model
cannot take are refused with one error line, as ONNX Runtime refuses them.
"""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime
import pytest
from onnx import TensorProto, helper, numpy_helper

from onnx2rs import CompileOptions, compile_model, toolchain
from onnx2rs.errors import ToolchainError
from onnx2rs.reference import run_onnxruntime
from onnx2rs.tools.verify import run_cli

from ..helpers import IR_VERSION, assert_crate_tests_pass, scratch_dir

pytestmark = pytest.mark.cargo
TOLERANCE = 1e-4
PROBE = [1, 3, 16, 20]
# Larger in every open dim, then smaller: memory grows once, then is reused.
MORE = [[3, 3, 33, 24], [2, 3, 9, 13]]


def _cnn() -> onnx.ModelProto:
    """Conv (padded) + ReLU + MaxPool, a strided Conv with a Swish, a global pool and a product;
    the Swish's output, whose every dim is open, is a second output."""
    rng = np.random.default_rng(0)
    weights = {"w": rng.standard_normal((8, 3, 3, 3)), "b": rng.standard_normal(8),
               "w2": rng.standard_normal((8, 8, 3, 3)) / 8, "fc": rng.standard_normal((8, 5))}
    nodes = [
        helper.make_node("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c"], ["r"]),
        helper.make_node("MaxPool", ["r"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Conv", ["p", "w2"], ["c2"], strides=[2, 2]),
        helper.make_node("Sigmoid", ["c2"], ["s"]),
        helper.make_node("Mul", ["c2", "s"], ["m"]),
        helper.make_node("GlobalAveragePool", ["m"], ["g"]),
        helper.make_node("Flatten", ["g"], ["f"]),
        helper.make_node("MatMul", ["f", "fc"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes, "cnn", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, "H", "W"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 5]),
         helper.make_tensor_value_info("m", TensorProto.FLOAT, ["N", 8, "h2", "w2"])],
        [numpy_helper.from_array(v.astype(np.float32), k) for k, v in weights.items()])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=IR_VERSION)


def _reference(model: onnx.ModelProto, shape: list[int], seed: int) -> tuple[dict, list]:
    feeds = {"x": np.random.default_rng(seed).standard_normal(shape).astype(np.float32)}
    return feeds, run_onnxruntime(model, feeds)


def test_one_build_runs_at_every_size() -> None:
    model = _cnn()
    with scratch_dir() as workdir:
        options = CompileOptions(name="open_cnn", input_shapes={"x": PROBE}, dynamic={},
                                 reference=_reference(model, PROBE, 0),
                                 more_references=[_reference(model, s, i + 1) for i, s in enumerate(MORE)])
        result = compile_model(model, workdir / "crate", options)
        source = (result.out_dir / "src" / "model.rs").read_text()
        assert "pub(crate) struct Sizes" in source and "z.at0" in source  # offsets computed per call
        assert_crate_tests_pass(result.out_dir, open_dims=True)
        toolchain.cargo(["clippy", "--all-targets", "--quiet", "--", "-D", "warnings"], result.out_dir)
        toolchain.cargo(["fmt", "--check"], result.out_dir)

        binary = toolchain.build_binary(result.out_dir, result.crate, profile="dev")
        feeds, theirs = _reference(model, [4, 3, 40, 6], 9)  # a size no test above used
        ours = run_cli(binary, [feeds["x"]], 2, workdir)
        assert [a.shape for a in ours] == [b.shape for b in theirs]
        for a, b in zip(ours, theirs, strict=True):
            np.testing.assert_allclose(a, b, rtol=TOLERANCE, atol=TOLERANCE)

        # 1x1 pools to 0x0, which the strided 3x3 Conv cannot read: ONNX Runtime refuses it too.
        tiny = {"x": np.zeros([1, 3, 1, 1], np.float32)}
        session = onnxruntime.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
        with pytest.raises(Exception):  # noqa: B017, PT011 - ONNX Runtime's error types are not public
            session.run(None, tiny)
        with pytest.raises(ToolchainError, match="too small for the model"):
            run_cli(binary, [tiny["x"]], 2, workdir)
        with pytest.raises(ToolchainError, match=r"must have 3 on axis 1"):
            run_cli(binary, [np.zeros([1, 4, 16, 20], np.float32)], 2, workdir)


def test_slices_of_open_axes_clamp_as_onnx_says() -> None:
    """Slices whose sliced axes are open: the bounds clamp at run time (min/max of the dims, as
    numpy's rules say), with a step, matching ONNX Runtime at every size. (ONNX Runtime's
    symbolic inference gives a negative step no expression: such a build is refused by value.)"""
    big = np.iinfo(np.int64).max
    weights = {"s": [1, 0], "e": [-1, big], "a": [2, 3], "t": [1, 2]}
    graph = helper.make_graph(
        [helper.make_node("Slice", ["x", "s", "e", "a", "t"], ["y"])], "slices",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, "H", "W"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 3, "h2", "w2"])],
        [numpy_helper.from_array(np.array(v, np.int64), k) for k, v in weights.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=IR_VERSION)
    with scratch_dir() as workdir:
        result = compile_model(model, workdir / "crate", CompileOptions(
            name="open_slices", input_shapes={"x": [1, 3, 6, 7]}, dynamic={},
            reference=_reference(model, [1, 3, 6, 7], 0),
            more_references=[_reference(model, s, 1) for s in ([2, 3, 3, 1], [1, 3, 10, 4])]))
        assert "ops::SliceRanges::read" not in (result.out_dir / "src" / "model.rs").read_text()
        assert_crate_tests_pass(result.out_dir, open_dims=True)
