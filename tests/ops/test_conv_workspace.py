"""The runtime sizes each convolution's workspace (`ops::conv_shapes`): generated code asks it
in `Scratch::new`, so the compiler holds no copy of the kernel's layout rules, and a model
whose convolutions need no workspace at all still builds."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

from ..helpers import assert_matches_onnxruntime, make_model

pytestmark = pytest.mark.cargo


def test_a_lone_pointwise_conv_builds_without_workspace() -> None:
    """A 1x1 Conv reads its input as it lies: the runtime asks for no workspace (this once
    generated a reference to a workspace that did not exist)."""
    rng = np.random.default_rng(5)
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], name="pointwise"),
             helper.make_node("Relu", ["c"], ["y"], name="relu")]
    weights = {"w": rng.standard_normal((6, 4, 1, 1)).astype(np.float32),
               "b": rng.standard_normal(6).astype(np.float32)}
    feeds = {"x": rng.standard_normal((1, 4, 9, 7)).astype(np.float32)}
    source = assert_matches_onnxruntime(make_model(nodes, feeds, ["y"], weights), feeds, tolerance=1e-5)
    assert "ops::conv_shapes(" in source and "fn workspace_len()" in source


def test_every_conv_workspace_is_the_runtimes_answer() -> None:
    """Convolutions of different layouts (shifted rows, unfolded, packed blocks) share one
    workspace sized by the largest of the runtime's answers, each asked once."""
    rng = np.random.default_rng(6)
    f = lambda *s: (0.5 * rng.standard_normal(s)).astype(np.float32)  # noqa: E731
    nodes = [
        helper.make_node("Conv", ["x", "w1"], ["c1"], name="shifted", pads=[1, 1, 1, 1]),
        helper.make_node("Conv", ["c1", "w2"], ["c2"], name="nine_phases", strides=[3, 3]),
        helper.make_node("Conv", ["seq", "w3"], ["y2"], name="packed", pads=[1, 1]),
        helper.make_node("Conv", ["c2", "w4"], ["y1"], name="shifted_again", pads=[1, 1, 1, 1]),
    ]
    weights = {"w1": f(8, 3, 3, 3), "w2": f(6, 8, 3, 3), "w3": f(5, 64, 3), "w4": f(4, 6, 3, 3)}
    feeds = {"x": f(1, 3, 31, 29), "seq": f(1, 64, 1100)}
    source = assert_matches_onnxruntime(make_model(nodes, feeds, ["y1", "y2"], weights), feeds, tolerance=1e-4)
    sizes = source[source.index("fn workspace_len()"):]
    assert sizes.count("ops::conv_shapes(") == 4 and ".max()" in sizes
