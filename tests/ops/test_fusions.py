"""Fused Conv/Gemm epilogues and folded BatchNormalization, compiled and compared with ONNX Runtime."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

from ..helpers import assert_matches_onnxruntime, make_model

pytestmark = pytest.mark.cargo


def test_fusions_match_onnxruntime() -> None:
    rng = np.random.default_rng(4)
    f = lambda *s: rng.standard_normal(s).astype(np.float32)  # noqa: E731
    nodes = [
        # Conv -> BatchNormalization -> Clip(0, 6): one Conv with folded weights and a ReLU6 epilogue
        helper.make_node("Conv", ["x", "w"], ["c"], name="conv", pads=[1, 1, 1, 1]),
        helper.make_node("BatchNormalization", ["c", "s", "b", "m", "v"], ["bn"], name="bn"),
        helper.make_node("Clip", ["bn", "zero", "six"], ["r6"], name="relu6"),
        helper.make_node("Flatten", ["r6"], ["flat"], name="flatten"),
        # MatMul + Add -> Gemm, then Sigmoid into its epilogue
        helper.make_node("MatMul", ["flat", "dense_w"], ["mm"], name="dense"),
        helper.make_node("Add", ["mm", "dense_b"], ["logits"], name="bias"),
        helper.make_node("Sigmoid", ["logits"], ["y"], name="sigmoid"),
        # Gemm -> Tanh on a second head
        helper.make_node("Gemm", ["flat", "head_w"], ["h"], name="head", transB=1),
        helper.make_node("Tanh", ["h"], ["z"], name="tanh"),
    ]
    weights = {"w": f(4, 2, 3, 3), "s": f(4), "b": f(4), "m": f(4), "v": rng.uniform(0.5, 2, 4).astype(np.float32),
               "zero": np.array(0.0, np.float32), "six": np.array(6.0, np.float32),
               "dense_w": f(64, 5), "dense_b": f(5), "head_w": f(3, 64)}
    feeds = {"x": f(1, 2, 4, 4) * 3}
    model = make_model(nodes, feeds, ["y", "z"], weights)
    source = assert_matches_onnxruntime(model, feeds, tolerance=1e-5)
    assert "ops::Unary::Clip" in source and "ops::Unary::Sigmoid" in source
    assert "ops::Unary::Tanh" in source
    for gone in ("batch_norm", "clip_", "unary_", "matmul_", "add_into"):
        assert f"ops::{gone}" not in source, gone
