"""Snapshots of the generated Rust: codegen changes show up in review.

One small model per kind of generated code: dense layers with a view, a convolutional net
(fused epilogue and pool, workspace), a recurrent cell, a dynamic batch, a run-time If, and
the Python bindings. A missing snapshot fails the test; regenerate them all with
`UPDATE_SNAPSHOTS=1 pytest tests/codegen`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from onnx2rs import CompileOptions, compile_model

from ..helpers import IR_VERSION, make_model

SNAPSHOTS = Path(__file__).parent / "snapshots"
# The snapshots are the crate as users get it, with its vendored runtime.
pytestmark = pytest.mark.usefixtures("vendored_runtime")


def _rng() -> np.random.Generator:
    return np.random.default_rng(0)


def small_model() -> onnx.ModelProto:
    rng = _rng()
    nodes = [
        helper.make_node("Gemm", ["x", "w", "b"], ["h"], name="dense/Gemm", transB=1),
        helper.make_node("Relu", ["h"], ["r"], name="relu"),
        # A view: no code, the softmax reads (and overwrites) the first two of `r`'s values.
        helper.make_node("Slice", ["r", "lo", "hi", "axis"], ["r2"], name="first_two"),
        helper.make_node("Softmax", ["r2"], ["probs"], name='head"; evil()\n// ünï'),
    ]
    weights = {"w": rng.standard_normal((3, 4)).astype(np.float32), "b": np.ones(3, np.float32),
               "lo": np.array([0]), "hi": np.array([2]), "axis": np.array([1])}
    return make_model(nodes, {"x": np.zeros((1, 4), np.float32)}, ["probs"], weights, name="small")


def conv_model() -> onnx.ModelProto:
    """Conv + BatchNorm + Relu + MaxPool (fused into one call), a residual Add, a classifier."""
    rng = _rng()
    f = lambda *s: rng.standard_normal(s).astype(np.float32)  # noqa: E731
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], name="stem", pads=[1, 1, 1, 1]),
        helper.make_node("BatchNormalization", ["c1", "g", "beta", "mean", "var"], ["n1"], name="bn"),
        helper.make_node("Relu", ["n1"], ["r1"], name="relu"),
        helper.make_node("MaxPool", ["r1"], ["p1"], name="pool", kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Conv", ["p1", "w2"], ["c2"], name="block", pads=[1, 1, 1, 1]),
        helper.make_node("Add", ["c2", "p1"], ["s"], name="residual"),
        helper.make_node("GlobalAveragePool", ["s"], ["g1"], name="gap"),
        helper.make_node("Flatten", ["g1"], ["flat"], name="flatten"),
        helper.make_node("Gemm", ["flat", "wd", "bd"], ["logits"], name="classifier", transB=1),
    ]
    weights = {"w1": f(4, 3, 3, 3), "b1": f(4), "g": f(4) ** 2 + 0.5, "beta": f(4), "mean": f(4),
               "var": f(4) ** 2 + 0.5, "w2": f(4, 4, 3, 3), "wd": f(2, 4), "bd": f(2)}
    return make_model(nodes, {"x": np.zeros((1, 3, 8, 8), np.float32)}, ["logits"], weights, name="conv")


def recurrent_model() -> onnx.ModelProto:
    """An LSTM over 3 steps whose last hidden state feeds a Sigmoid."""
    rng = _rng()
    f = lambda *s: rng.standard_normal(s).astype(np.float32)  # noqa: E731
    nodes = [
        helper.make_node("LSTM", ["x", "W", "R", "B"], ["", "h"], name="lstm", hidden_size=5),
        helper.make_node("Sigmoid", ["h"], ["y"], name="gate"),
    ]
    weights = {"W": f(1, 20, 4), "R": f(1, 20, 5), "B": f(1, 40)}
    return make_model(nodes, {"x": np.zeros((3, 1, 4), np.float32)}, ["y"], weights, name="recurrent")


def dynamic_batch_model() -> onnx.ModelProto:
    """MatMul + Add + Tanh over a symbolic batch `N`: any batch size, one sample at a time."""
    rng = _rng()
    nodes = [
        helper.make_node("MatMul", ["x", "w"], ["m"], name="dense"),
        helper.make_node("Add", ["m", "b"], ["a"], name="bias"),
        helper.make_node("Tanh", ["a"], ["y"], name="tanh"),
    ]
    graph = helper.make_graph(
        nodes, "dynamic_batch", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 3])],
        [onnx.numpy_helper.from_array(rng.standard_normal((4, 3)).astype(np.float32), "w"),
         onnx.numpy_helper.from_array(rng.standard_normal(3).astype(np.float32), "b")])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=IR_VERSION)


def if_model() -> onnx.ModelProto:
    """y = relu(x)·2 if `cond` else -x·3, with `cond` a graph input: both branches are compiled
    and the generated code chooses per call."""
    def branch(name: str, op: str, scale: float) -> onnx.GraphProto:
        return helper.make_graph(
            [helper.make_node(op, ["x"], [f"{name}_t"]), helper.make_node("Mul", [f"{name}_t", f"{name}_k"], ["y"])],
            name, [], [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])],
            [onnx.numpy_helper.from_array(np.array(scale, np.float32), f"{name}_k")])

    node = helper.make_node("If", ["cond"], ["y"], name="choose", then_branch=branch("then", "Relu", 2.0),
                            else_branch=branch("else", "Neg", 3.0))
    graph = helper.make_graph(
        [node], "if_model",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3]),
         helper.make_tensor_value_info("cond", TensorProto.BOOL, [])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=IR_VERSION)


MODEL_FILES = ["src/model.rs", "src/lib.rs"]
# Each case: the model, the options it is built with, and the generated files pinned.
CASES: dict[str, tuple[Callable[[], onnx.ModelProto], CompileOptions, list[str]]] = {
    "small": (small_model, CompileOptions(), [*MODEL_FILES, "Cargo.toml"]),
    "conv": (conv_model, CompileOptions(), MODEL_FILES),
    "recurrent": (recurrent_model, CompileOptions(), MODEL_FILES),
    "dynamic_batch": (dynamic_batch_model, CompileOptions(), MODEL_FILES),
    "if": (if_model, CompileOptions(), MODEL_FILES),
    "python": (small_model, CompileOptions(python=True), ["python/src/lib.rs", "python/Cargo.toml", "pyproject.toml"]),
}


@pytest.mark.parametrize("case", CASES)
def test_generated_sources_match_snapshots(case: str, tmp_path: Path) -> None:
    build, options, files = CASES[case]
    out = compile_model(build(), tmp_path / case, options).out_dir
    for rel in files:
        actual = (out / rel).read_text()
        snapshot = SNAPSHOTS / case / (rel.replace("/", "__") + ".snap")
        if os.environ.get("UPDATE_SNAPSHOTS"):
            snapshot.parent.mkdir(exist_ok=True)
            snapshot.write_text(actual)
        assert snapshot.exists(), f"no snapshot {snapshot.relative_to(SNAPSHOTS)}; create it with UPDATE_SNAPSHOTS=1"
        assert actual == snapshot.read_text(), f"{case}: {rel} changed; rerun with UPDATE_SNAPSHOTS=1 if intended"


def test_every_snapshot_is_checked() -> None:
    """A snapshot left behind by a renamed case would pin nothing: every file has its case."""
    expected = {SNAPSHOTS / case / (rel.replace("/", "__") + ".snap") for case, (_, _, files) in CASES.items()
                for rel in files}
    found = set(SNAPSHOTS.rglob("*.snap"))
    assert found, "no snapshots at all"
    assert found == expected, f"unexpected {sorted(found - expected)}, missing {sorted(expected - found)}"


@pytest.mark.parametrize("case", ["small", "conv", "if"])
def test_generation_is_deterministic(case: str, tmp_path: Path) -> None:
    build, options, _ = CASES[case]
    a = compile_model(build(), tmp_path / "a", options).out_dir
    b = compile_model(build(), tmp_path / "b", options).out_dir
    for rel in ["src/model.rs", "src/lib.rs", "weights.safetensors"]:
        assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel
