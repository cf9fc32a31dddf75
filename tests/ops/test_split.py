"""Split (decomposed into Slices) compiled and compared with ONNX Runtime, in both opset forms."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

from ..helpers import assert_matches_onnxruntime, make_model

pytestmark = pytest.mark.cargo


@pytest.mark.parametrize("opset", [11, 18])
def test_split_matches_onnxruntime(opset: int) -> None:
    x = np.random.default_rng(2).standard_normal((2, 7, 3)).astype(np.float32)
    if opset >= 13:
        node = helper.make_node("Split", ["x", "sizes"], ["a", "b", "c"], axis=1)
        weights = {"sizes": np.array([2, 4, 1], np.int64)}
    else:
        node = helper.make_node("Split", ["x"], ["a", "b", "c"], axis=1, split=[2, 4, 1])
        weights = {}
    relu = helper.make_node("Relu", ["b"], ["b_relu"])  # the pieces feed on like any value
    model = make_model([node, relu], {"x": x}, ["a", "b_relu", "c"], weights, opset=opset)
    source = assert_matches_onnxruntime(model, {"x": x}, tolerance=0.0)
    assert source.count("ops::slice_into(") == 3


@pytest.mark.parametrize(("op", "attrs"), [("DepthToSpace", {"mode": "DCR"}), ("DepthToSpace", {"mode": "CRD"}),
                                           ("SpaceToDepth", {})])
def test_space_depth_match_onnxruntime(op: str, attrs: dict) -> None:
    shape = (1, 8, 2, 3) if op == "DepthToSpace" else (1, 2, 4, 6)
    x = np.random.default_rng(3).standard_normal(shape).astype(np.float32)
    model = make_model([helper.make_node(op, ["x"], ["y"], blocksize=2, **attrs)], {"x": x}, ["y"])
    source = assert_matches_onnxruntime(model, {"x": x}, tolerance=0.0)
    assert "ops::transpose_into(" in source
