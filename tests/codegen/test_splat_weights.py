"""Large weights whose elements are all equal are built at load time, not stored."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

from ..helpers import assert_matches_onnxruntime, make_model

pytestmark = pytest.mark.cargo


def test_splat_weight_is_built_at_load_and_matches_onnxruntime() -> None:
    x = np.random.default_rng(0).standard_normal((2, 100)).astype(np.float32)
    weights = {"fill": np.full((2, 100), 0.5, np.float32), "small": np.full((2, 1), -1.0, np.float32)}
    nodes = [helper.make_node("Add", ["x", "fill"], ["a"]), helper.make_node("Mul", ["a", "small"], ["y"])]
    source = assert_matches_onnxruntime(make_model(nodes, {"x": x}, ["y"], weights), {"x": x}, tolerance=0.0)
    assert "w_fill: ArrayD::from_elem(IxDyn(&[2, 100]), 0.5_f32)" in source
    assert 'w.tensor_in_place("w_small"' in source  # below the size worth the special case
