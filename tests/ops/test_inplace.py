"""Chains of in-place ops: the generated code overwrites buffers and still matches ONNX Runtime."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

from ..helpers import assert_matches_onnxruntime, make_model

pytestmark = pytest.mark.cargo


def test_in_place_chain_matches_onnxruntime() -> None:
    rng = np.random.default_rng(9)
    f = lambda *s: rng.standard_normal(s).astype(np.float32)  # noqa: E731
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c0"], name="conv", pads=[1, 1]),
        # Adding a run-time input broadcast over the output keeps Conv's epilogue and
        # residual fusions away from the chain under test.
        helper.make_node("Add", ["c0", "x2"], ["c"], name="add"),
        helper.make_node("Relu", ["c"], ["r"], name="relu"),
        helper.make_node("BatchNormalization", ["r", "s", "b", "m", "v"], ["bn"], name="bn"),
        helper.make_node("Clip", ["bn", "lo", "hi"], ["cl"], name="clip"),
        helper.make_node("Sigmoid", ["cl"], ["sg"], name="sigmoid"),
        helper.make_node("Tanh", ["sg"], ["t"], name="tanh"),
        helper.make_node("Softmax", ["t"], ["y"], name="softmax", axis=1),
        # a diamond: both readers of `d`, only the last may reuse it
        helper.make_node("Less", ["x", "zero"], ["d"], name="less"),
        helper.make_node("Not", ["d"], ["n1"], name="not_first"),
        helper.make_node("Not", ["d"], ["n2"], name="not_last"),
        helper.make_node("Where", ["n1", "x", "zero"], ["z1"], name="where1"),
        helper.make_node("Where", ["n2", "z1", "x"], ["z"], name="where2"),
    ]
    weights = {"w": f(4, 3, 3), "s": f(4), "b": f(4), "m": f(4), "v": rng.uniform(0.5, 1.5, 4).astype(np.float32),
               "lo": np.array(-0.5, np.float32), "hi": np.array(0.8, np.float32),
               "zero": np.array(0.0, np.float32)}
    feeds = {"x": f(1, 3, 10), "x2": f(1, 1, 10)}
    model = make_model(nodes, feeds, ["y", "z"], weights)
    source = assert_matches_onnxruntime(model, feeds, tolerance=1e-5)
    for fn in ["batch_norm_inplace", "relu_inplace", "clip_inplace", "unary_flat_inplace", "softmax_inplace",
               "not_inplace"]:
        assert f"ops::{fn}(" in source, fn
    assert source.count("ops::not_inplace(") == 1  # the first reader of `d` must allocate


def test_binary_ops_in_place_match_onnxruntime() -> None:
    """Add, Sub, Mul, Div and PRelu over their first operand, with the second equal in
    shape, a scalar, repeated, one value per channel, and broadcast any other way."""
    rng = np.random.default_rng(4)
    f = lambda *s: rng.standard_normal(s).astype(np.float32)  # noqa: E731
    nodes = [
        helper.make_node("Add", ["x", "x2"], ["a"], name="first"),  # reads only the caller's inputs
        helper.make_node("Sub", ["a", "scalar"], ["b"], name="sub_scalar"),
        helper.make_node("Mul", ["b", "row"], ["c"], name="mul_row"),
        helper.make_node("Div", ["c", "channel"], ["d"], name="div_channel"),
        helper.make_node("PRelu", ["d", "slope"], ["e"], name="prelu_channel"),
        helper.make_node("Add", ["e", "column"], ["g"], name="add_column"),  # [3, 1]: neither
        helper.make_node("Sub", ["g", "x2"], ["h"], name="sub_same_shape"),
        helper.make_node("Div", ["h", "positive"], ["y"], name="div_run_time"),
        # Integers, truncating.
        helper.make_node("Add", ["i", "i2"], ["ia"], name="int_first"),
        helper.make_node("Div", ["ia", "int_row"], ["iy"], name="int_div"),
    ]
    weights = {"scalar": np.array(0.5, np.float32), "row": f(5), "channel": rng.uniform(0.5, 1.5, (1, 4, 1, 1))
               .astype(np.float32), "slope": f(4, 1, 1), "column": f(3, 1),
               "int_row": np.array([3, -1, -2, 5, 7], np.int32)}
    feeds = {"x": f(1, 4, 3, 5), "x2": f(1, 4, 3, 5), "positive": rng.uniform(0.5, 1.5, (1, 4, 3, 5))
             .astype(np.float32), "i": rng.integers(-50, 50, (2, 5)).astype(np.int32),
             "i2": rng.integers(-50, 50, (2, 5)).astype(np.int32)}
    model = make_model(nodes, feeds, ["y", "iy"], weights)
    source = assert_matches_onnxruntime(model, feeds, tolerance=1e-5)
    for fn, count in [("add_inplace", 1), ("sub_inplace", 2), ("mul_inplace", 1), ("div_inplace", 3),
                      ("prelu_inplace", 1), ("add_into", 2)]:
        assert source.count(f"ops::{fn}(") == count, fn


def test_same_shape_arena_operands_take_the_flat_form() -> None:
    """Element-wise ops whose operands all have the output's shape and lie in the arena run
    on plain slices (`binary_flat_into`, `binary_flat_inplace`, `unary_flat_inplace`)."""
    rng = np.random.default_rng(6)
    f = lambda *s: rng.standard_normal(s).astype(np.float32)  # noqa: E731
    nodes = [
        helper.make_node("Sigmoid", ["x"], ["a"], name="sigmoid"),  # in (0, 1): a safe divisor
        helper.make_node("Tanh", ["x2"], ["t"], name="tanh"),
        helper.make_node("Sub", ["a", "t"], ["s"], name="sub"),  # both read later: into
        helper.make_node("Mul", ["s", "t"], ["m"], name="mul"),  # over s
        helper.make_node("Div", ["m", "a"], ["d"], name="div"),
        helper.make_node("PRelu", ["d", "t"], ["p"], name="prelu"),
        helper.make_node("Add", ["t", "p"], ["q"], name="add"),  # over t, its last reader
        helper.make_node("Exp", ["q"], ["e"], name="exp"),
        helper.make_node("Add", ["e", "a"], ["y"], name="add_last"),
    ]
    feeds = {"x": f(2, 3, 5), "x2": f(2, 3, 5)}
    source = assert_matches_onnxruntime(make_model(nodes, feeds, ["y"]), feeds, tolerance=1e-5)
    assert source.count("ops::binary_flat_into(") == 1
    for op in ["Mul", "Div", "PRelu"]:
        assert f"ops::Binary::{op})" in source, op
    assert source.count("ops::binary_flat_inplace(") == 5
    assert source.count("ops::unary_flat_inplace(") == 1
