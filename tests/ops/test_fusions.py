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
        # MatMul + Add, then GELU as torch writes it: one Gemm with a Gelu epilogue, its
        # weight stored as the runtime's panels (64 columns: two whole panels)
        helper.make_node("MatMul", ["flat", "ff_w"], ["ff"], name="ff"),
        helper.make_node("Add", ["ff", "ff_b"], ["ffb"], name="ff_bias"),
        helper.make_node("Div", ["ffb", "root2"], ["ffs"], name="gelu_scale"),
        helper.make_node("Erf", ["ffs"], ["erf"], name="gelu_erf"),
        helper.make_node("Add", ["erf", "one"], ["erf1"], name="gelu_shift"),
        helper.make_node("Mul", ["ffb", "erf1"], ["ffm"], name="gelu_mul"),
        helper.make_node("Mul", ["ffm", "half"], ["g"], name="gelu_half"),
        # A MatMul with no bias over a 3-D A, its weight as panels too
        helper.make_node("Reshape", ["flat", "rows"], ["rows3"], name="to_rows"),
        helper.make_node("MatMul", ["rows3", "proj_w"], ["u"], name="proj"),
    ]
    weights = {"w": f(4, 2, 3, 3), "s": f(4), "b": f(4), "m": f(4), "v": rng.uniform(0.5, 2, 4).astype(np.float32),
               "zero": np.array(0.0, np.float32), "six": np.array(6.0, np.float32),
               "dense_w": f(64, 5), "dense_b": f(5), "head_w": f(3, 64),
               "ff_w": f(64, 64) * 0.2, "ff_b": f(64), "root2": np.float32(np.sqrt(2.0)),
               "one": np.float32(1.0), "half": np.float32(0.5),
               "rows": np.array([1, 2, 32], np.int64), "proj_w": f(32, 96)}
    feeds = {"x": f(1, 2, 4, 4) * 3}
    model = make_model(nodes, feeds, ["y", "z", "g", "u"], weights)
    source = assert_matches_onnxruntime(model, feeds, tolerance=1e-5)
    assert "ops::Unary::Clip" in source and "ops::Unary::Sigmoid" in source
    assert "ops::Unary::Tanh" in source and "ops::Unary::Gelu { tanh: false }" in source
    assert "ops::Unary::Erf" not in source
    assert source.count("ops::gemm_prepacked_into(") == 1 and "ops::PackedB<" in source
    assert source.count("ops::matmul_prepacked_into(") == 1
    for gone in ("batch_norm", "clip_", "unary_", "matmul_into", "add_"):
        assert f"ops::{gone}" not in source, gone


def test_per_channel_affine_ops_after_conv_fold_into_it() -> None:
    """tf2onnx's Conv1D: Conv -> Squeeze -> bias Add, BatchNormalization as Mul/Add -> Relu.
    Per-channel constants fold into the Conv (through the Squeeze); one per position cannot."""
    rng = np.random.default_rng(5)
    f = lambda *s: rng.standard_normal(s).astype(np.float32)  # noqa: E731
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"], name="conv", pads=[0, 1, 0, 1]),
        helper.make_node("Squeeze", ["c", "axis2"], ["sq"], name="squeeze"),
        helper.make_node("Add", ["sq", "bias"], ["a"], name="bias_add"),
        helper.make_node("Mul", ["scale", "a"], ["m"], name="bn_mul"),
        helper.make_node("Sub", ["m", "shift"], ["s"], name="bn_sub"),
        helper.make_node("Div", ["s", "div"], ["d"], name="div"),
        helper.make_node("Relu", ["d"], ["r"], name="relu"),
        helper.make_node("Add", ["r", "per_position"], ["y"], name="position_add"),
    ]
    weights = {"w": f(4, 3, 1, 3), "axis2": np.array([2], np.int64), "bias": f(4, 1), "scale": f(1, 4, 1),
               "shift": f(4, 1), "div": rng.uniform(0.5, 2, (4, 1)).astype(np.float32), "per_position": f(8)}
    feeds = {"x": f(1, 3, 1, 8)}
    model = make_model(nodes, feeds, ["y"], weights)
    source = assert_matches_onnxruntime(model, feeds, tolerance=1e-5)
    assert "ops::Unary::Relu" in source  # fused through the Squeeze
    for gone in ("mul_", "sub_", "div_", "relu"):
        assert f"ops::{gone}" not in source, gone
    assert source.count("ops::add_") == 1  # only the per-position Add is left (in place)


def test_residual_adds_fuse_into_the_conv_before_it() -> None:
    """ResNet's `relu(conv(h) + x)`: the Add (and a ReLU after it) become the Conv's epilogue.
    The Conv writes over a residual nothing reads later; a residual read later, or the
    caller's input, is copied into its output first. Each path of the kernel is met."""
    rng = np.random.default_rng(6)
    # Scaled so that values stay near 1 through five layers and a product.
    f = lambda *s: (0.3 * rng.standard_normal(s)).astype(np.float32)  # noqa: E731
    nodes = [
        helper.make_node("Conv", ["x", "stem_w", "stem_b"], ["a"], name="stem", pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["a"], ["ar"], name="stem_relu"),
        # A bottleneck: 3x3, then 1x1 (its input read in place) adding `ar` (on side 1)
        # and a ReLU, in place over `ar`.
        helper.make_node("Conv", ["ar", "inner_w"], ["h"], name="inner", pads=[1, 1, 1, 1]),
        helper.make_node("Conv", ["h", "pw_w"], ["b"], name="pointwise"),
        helper.make_node("Add", ["ar", "b"], ["s1"], name="add1"),
        helper.make_node("Relu", ["s1"], ["r1"], name="relu1"),
        # A downsampling block: the Conv on side 0 runs before the shortcut that it adds,
        # so it moves after it.
        helper.make_node("Conv", ["r1", "main_w", "main_b"], ["c"], name="main", pads=[1, 1, 1, 1], strides=[2, 2]),
        helper.make_node("Conv", ["r1", "short_w"], ["d"], name="shortcut", strides=[2, 2]),
        helper.make_node("Add", ["c", "d"], ["s2"], name="add2"),
        # A depthwise Conv whose residual `s2` is read again afterwards: copied, not overwritten.
        helper.make_node("Conv", ["s2", "dw_w"], ["e"], name="depthwise", pads=[1, 1, 1, 1], group=6),
        helper.make_node("Add", ["e", "s2"], ["s3"], name="add3"),
        helper.make_node("Mul", ["s3", "s2"], ["y"], name="mul"),
        # The caller's input as the residual: copied.
        helper.make_node("Conv", ["x", "same_w"], ["g"], name="same", pads=[1, 1, 1, 1]),
        helper.make_node("Add", ["g", "x"], ["z"], name="add4"),
    ]
    weights = {"stem_w": f(6, 3, 3, 3), "stem_b": f(6), "inner_w": f(4, 6, 3, 3), "pw_w": f(6, 4, 1, 1),
               "main_w": f(6, 6, 3, 3), "main_b": f(6), "short_w": f(6, 6, 1, 1), "dw_w": f(6, 1, 3, 3),
               "same_w": f(3, 3, 3, 3)}
    feeds = {"x": 3 * f(1, 3, 10, 9)}
    model = make_model(nodes, feeds, ["y", "z"], weights)
    source = assert_matches_onnxruntime(model, feeds, tolerance=1e-5)
    assert source.count("accumulate: true") == 4
    assert source.count("ops::expand_into") == 2  # the copies of `s2` and `x`
    assert "Binary::Add" not in source and "ops::add_" not in source
    assert "ops::relu" not in source and source.count("ops::Unary::Relu") == 2


def test_max_pools_that_tile_a_conv_output_fuse_into_the_conv() -> None:
    """Conv -> Relu -> MaxPool with window = stride and no padding: the Conv writes the
    pooled output (2x2 over odd sizes, 3x2, a band-by-band input, 1-D behind tf2onnx's
    Squeeze/Unsqueeze; a 1x1 Conv read in place and a stride too large for shifted rows,
    which the runtime pools after the product). Overlapping or padded pools, a pool with
    Indices and a Conv read twice keep their MaxPool."""
    rng = np.random.default_rng(7)
    f = lambda *s: (0.5 * rng.standard_normal(s)).astype(np.float32)  # noqa: E731
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], name="odd", pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
        helper.make_node("MaxPool", ["r1"], ["p1"], name="pool2x2", kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Conv", ["p1", "w2"], ["c2"], name="rect", pads=[1, 1, 1, 1]),
        helper.make_node("MaxPool", ["c2"], ["y1"], name="pool3x2", kernel_shape=[3, 2], strides=[3, 2]),
        # Refused: overlapping and padded (ResNet's stem), after a Conv read twice.
        helper.make_node("Conv", ["x", "w3"], ["c3"], name="twice", pads=[1, 1, 1, 1]),
        helper.make_node("MaxPool", ["c3"], ["p3"], name="overlap", kernel_shape=[3, 3], strides=[2, 2],
                         pads=[1, 1, 1, 1]),
        helper.make_node("MaxPool", ["c3"], ["p3b"], name="second_reader", kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Conv", ["x", "w4"], ["c4"], name="pointwise"),
        helper.make_node("MaxPool", ["c4"], ["p4", "i4"], name="with_indices", kernel_shape=[2, 2], strides=[2, 2]),
        # A large input: the Conv pads a band of rows per chunk, each whole windows.
        helper.make_node("Conv", ["big", "w5", "b5"], ["c5"], name="banded", pads=[2, 2, 2, 2]),
        helper.make_node("Relu", ["c5"], ["r5"], name="relu5"),
        helper.make_node("MaxPool", ["r5"], ["y5"], name="pool_big", kernel_shape=[2, 2], strides=[2, 2]),
        # tf2onnx's Conv1D: a 2-D Conv of height 1, its output squeezed and unsqueezed back.
        helper.make_node("Conv", ["seq", "w6"], ["c6"], name="conv1d", pads=[0, 1, 0, 1]),
        helper.make_node("Squeeze", ["c6", "axis2"], ["s6"], name="squeeze"),
        helper.make_node("Unsqueeze", ["s6", "axis2"], ["u6"], name="unsqueeze"),
        helper.make_node("MaxPool", ["u6"], ["y6"], name="pool1d", kernel_shape=[1, 2], strides=[1, 2]),
        # A true 1-D Conv (rank 3) and pool.
        helper.make_node("Conv", ["seq1", "w7"], ["c7"], name="rank3", pads=[1, 1]),
        helper.make_node("MaxPool", ["c7"], ["y7"], name="pool_rank3", kernel_shape=[3], strides=[3]),
        # Pooled after the product: read in place, and unfolded (nine phase planes).
        helper.make_node("Conv", ["x", "w8", "b8"], ["c8"], name="pointwise_pooled"),
        helper.make_node("Relu", ["c8"], ["r8"], name="relu8"),
        helper.make_node("MaxPool", ["r8"], ["y8"], name="pool_pointwise", kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Conv", ["x", "w9"], ["c9"], name="stride3", strides=[3, 3]),
        helper.make_node("MaxPool", ["c9"], ["y9"], name="pool_stride3", kernel_shape=[2, 2], strides=[2, 2]),
    ]
    weights = {"w1": f(6, 3, 3, 3), "b1": f(6), "w2": f(4, 6, 3, 3), "w3": f(5, 3, 3, 3), "w4": f(4, 3, 1, 1),
               "w5": f(8, 4, 5, 5), "b5": f(8), "w6": f(8, 5, 1, 3), "w7": f(3, 5, 3), "axis2": np.array([2], np.int64),
               "w8": f(4, 3, 1, 1), "b8": f(4), "w9": f(5, 3, 3, 3)}
    feeds = {"x": f(1, 3, 11, 13), "big": f(1, 4, 150, 141), "seq": f(1, 5, 1, 33), "seq1": f(1, 5, 31)}
    outputs = ["y1", "p3", "p3b", "p4", "i4", "y5", "y6", "y7", "y8", "y9"]
    model = make_model(nodes, feeds, outputs, weights)
    source = assert_matches_onnxruntime(model, feeds, tolerance=1e-5)
    source = source[: source.index("fn workspace_len()")]  # the calls, not the sizes asked for
    assert source.count("pool: &[2, 2]") == 4 and source.count("pool: &[3, 2]") == 1
    assert source.count("pool: &[1, 2]") == 1 and source.count("pool: &[3]") == 1
    assert source.count("ops::max_pool") == 3, "the overlapping one, the second reader's and the one with Indices"


def test_mobile_activations_fuse_into_the_conv_before_them() -> None:
    """SiLU as torch exports it (`x · Sigmoid(x)`, recomposed into Swish), HardSwish,
    HardSigmoid and LeakyRelu become Conv epilogues, over a depthwise convolution of 5×5 and
    7×7 planes and a full one, and the model still matches ONNX Runtime."""
    rng = np.random.default_rng(7)
    f = lambda *s: rng.standard_normal(s).astype(np.float32)  # noqa: E731
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"], name="conv", pads=[1, 1, 1, 1]),
        helper.make_node("Sigmoid", ["c"], ["gate"], name="gate"),
        helper.make_node("Mul", ["c", "gate"], ["silu"], name="silu"),
        helper.make_node("Conv", ["silu", "dw"], ["d"], name="depthwise", pads=[2, 2, 2, 2], group=8),
        helper.make_node("HardSwish", ["d"], ["hs"], name="hard_swish"),
        helper.make_node("Conv", ["hs", "dw2"], ["d2"], name="depthwise_strided", pads=[1, 1, 1, 1],
                         strides=[2, 2], group=8),
        helper.make_node("HardSigmoid", ["d2"], ["y"], name="hard_sigmoid", alpha=0.2, beta=0.5),
        helper.make_node("Conv", ["hs", "pw", "pb"], ["p"], name="pointwise"),
        helper.make_node("LeakyRelu", ["p"], ["z"], name="leaky", alpha=0.1),
    ]
    weights = {"w": f(8, 3, 3, 3), "dw": f(8, 1, 5, 5), "dw2": f(8, 1, 3, 3), "pw": f(6, 8, 1, 1), "pb": f(6)}
    feeds = {"x": f(1, 3, 7, 7) * 2}
    model = make_model(nodes, feeds, ["y", "z"], weights)
    source = assert_matches_onnxruntime(model, feeds, tolerance=1e-5)
    for variant in ("Swish", "HardSwish", "HardSigmoid", "LeakyRelu"):
        assert f"ops::Unary::{variant}" in source, variant
    assert "ops::unary_" not in source and "ops::mul_" not in source
