"""Every opset from 13 to the newest that onnx ships loads, and compiles to the same code.

Exporters stamp whatever opset they target; onnx 1.23 also writes IR version 14, which
ONNX Runtime 1.31 refuses (onnx2rs lowers it only in the copy it hands to ONNX Runtime).
"""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import helper

from onnx2rs import CompileOptions, compile_model
from onnx2rs.reference import ONNX_EVALUATOR, ONNXRUNTIME, ort_compatible
from onnx2rs.tools.verify import verify

from ..helpers import assert_matches_onnxruntime, scratch_dir

OLDEST = 13
NEWEST = onnx.defs.onnx_opset_version()
rng = np.random.default_rng(13)
X = rng.standard_normal((2, 12)).astype(np.float32)
W = rng.standard_normal((12, 8)).astype(np.float32)
B = rng.standard_normal(8).astype(np.float32)


def mlp(opset: int) -> onnx.ModelProto:
    """MatMul, Add, Relu, Reshape and Softmax: ops whose schemas changed between opsets 13
    and the newest. Saved as onnx writes by default (its newest IR version)."""
    nodes = [
        helper.make_node("MatMul", ["x", "w"], ["mm"]),
        helper.make_node("Add", ["mm", "b"], ["h"]),
        helper.make_node("Relu", ["h"], ["r"]),
        helper.make_node("Reshape", ["r", "shape"], ["r2"]),
        helper.make_node("Softmax", ["r2"], ["y"], axis=-1),
    ]
    graph = helper.make_graph(
        nodes, "mlp",
        [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, X.shape)],
        [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, (4, 4))],
        [onnx.numpy_helper.from_array(a, n) for n, a in
         (("w", W), ("b", B), ("shape", np.array([4, 4], np.int64)))],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def generated_source(model: onnx.ModelProto) -> str:
    with scratch_dir() as tmp:
        result = compile_model(model, tmp / "crate", CompileOptions(name="opsets"))
        return (result.out_dir / "src" / "model.rs").read_text()


def test_newest_onnx_writes_an_ir_version_onnxruntime_refuses() -> None:
    # The premise of this file: if onnx stops doing this, the IR lowering can go.
    assert mlp(NEWEST).ir_version > 13


def test_every_opset_compiles_to_the_same_code() -> None:
    oldest = generated_source(mlp(OLDEST))
    for opset in range(OLDEST + 1, NEWEST + 1):
        assert generated_source(mlp(opset)) == oldest, f"opset {opset}"


def test_oldest_opset_matches_onnxruntime() -> None:
    assert_matches_onnxruntime(mlp(OLDEST), {"x": X}, tolerance=1e-5)


def _onnxruntime_takes(model: onnx.ModelProto) -> bool:
    """Whether the installed ONNX Runtime opens `model` (1.31 refuses opsets 27 and 28 as
    "under development"; 1.32 takes 28)."""
    import onnxruntime as ort

    try:
        ort.InferenceSession(ort_compatible(model).SerializeToString(), providers=["CPUExecutionProvider"])
    except Exception as err:  # onnxruntime's own Fail type lives in a private module
        assert "under development" in str(err), err
        return False
    return True


@pytest.mark.parametrize("opset", [NEWEST])
def test_newest_opset_matches_the_reference_it_names(opset: int) -> None:
    # Where the installed ONNX Runtime refuses the opset, onnx's own evaluator is the
    # reference, and `verify` says which one it compared with.
    model = mlp(opset)
    result = verify(model, CompileOptions(name="opsets"), atol=1e-5)
    assert result.reference == (ONNXRUNTIME if _onnxruntime_takes(model) else ONNX_EVALUATOR)
    assert result.ok, result.mismatches
