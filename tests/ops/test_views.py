"""Views: Slice, Gather and Reshape outputs read where their input lies (passes/views.py).

One model holds every way a view can go wrong: several views of one value read
after the value itself, a view of a view, an in-place op over the last view,
a graph output that is a view, a reshape whose shape is computed at run time, and
slices that are not contiguous (and so must still copy). Compared with ONNX
Runtime at tolerance 1e-5 (float32 products and activations).
"""

from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper

from ..helpers import assert_matches_onnxruntime, make_model

pytestmark = pytest.mark.cargo


def test_views_match_onnxruntime() -> None:
    rng = np.random.default_rng(11)
    f = lambda *s: rng.standard_normal(s).astype(np.float32)  # noqa: E731
    i64 = lambda *v: np.array(v, np.int64)  # noqa: E731
    nodes = [
        helper.make_node("MatMul", ["x", "w"], ["g"], name="gates"),  # [1, 36]
        # A Split into three contiguous parts (a GRU's gates), then two slices that overlap them.
        helper.make_node("Split", ["g", "parts"], ["z", "r", "h"], name="split", axis=1),
        helper.make_node("Slice", ["g", "s12", "s30", "ax1"], ["mid"], name="overlap"),
        helper.make_node("Slice", ["mid", "s0", "s12", "ax1"], ["mid_head"], name="view_of_view"),
        # `g` itself is read between its views, by an op that could run in place, and its
        # views after that and after other values are computed: nothing may overwrite them.
        helper.make_node("Sigmoid", ["g"], ["gs"], name="sig_g"),
        helper.make_node("ReduceSum", ["gs", "ax1"], ["total"], name="total", keepdims=1),
        helper.make_node("Mul", ["x2", "x2"], ["sq"], name="square"),
        helper.make_node("Sigmoid", ["sq"], ["sqs"], name="sig_sq"),
        helper.make_node("Mul", ["z", "sqs"], ["zs"], name="mul_z"),
        helper.make_node("Mul", ["r", "mid_head"], ["rm"], name="mul_r"),
        # The last reader of h's memory may overwrite it in place.
        helper.make_node("Tanh", ["h"], ["ht"], name="tanh_h"),
        helper.make_node("Add", ["zs", "rm"], ["a"], name="add"),
        helper.make_node("Add", ["a", "ht"], ["y"], name="sum"),
        # Gather of one time step out of [T, 1, F]; a negative index counts from the end.
        helper.make_node("Relu", ["seq"], ["seq_r"], name="relu_seq"),
        helper.make_node("Gather", ["seq_r", "last"], ["step"], name="gather_last", axis=0),
        helper.make_node("Gather", ["seq_r", "one"], ["step1"], name="gather_one", axis=0),
        helper.make_node("Sub", ["step", "step1"], ["d"], name="diff"),
        # Not contiguous: a middle-axis range, and a gather along the last axis. Both still copy.
        helper.make_node("Slice", ["seq_r", "s1", "s3", "ax2"], ["cols"], name="strided"),
        helper.make_node("Gather", ["seq_r", "one"], ["col"], name="gather_col", axis=2),
        # A graph output that is a view (of a reshape, itself a view), its shape read at run time.
        helper.make_node("Reshape", ["seq_r", "flat"], ["seq_flat"], name="flatten"),
        helper.make_node("Slice", ["seq_flat", "s12", "s30", "ax1"], ["tail"], name="tail"),
    ]
    weights = {"w": f(8, 36), "parts": i64(12, 12, 12), "s0": i64(0), "s1": i64(1), "s3": i64(3),
               "s12": i64(12), "s30": i64(30), "ax1": i64(1), "ax2": i64(2), "last": np.array(-1, np.int64),
               "one": np.array(1, np.int64)}
    feeds = {"x": f(1, 8), "x2": f(1, 12), "seq": f(4, 1, 5), "flat": i64(1, -1)}
    model = make_model(nodes, feeds, ["y", "total", "d", "cols", "col", "tail"], weights)
    # A shape read at run time: the model declares what it gives, as exporters do.
    model.graph.value_info.append(helper.make_tensor_value_info("seq_flat", TensorProto.FLOAT, [1, 20]))
    source = assert_matches_onnxruntime(model, feeds, tolerance=1e-5)
    for name in ["split/slice0", "split/slice1", "split/slice2", "overlap", "view_of_view", "gather_last",
                 "gather_one", "flatten", "tail"]:
        assert f'"{name}": its output is read where its input lies' in source, name
    assert source.count("ops::slice_into(") == 1 and source.count("ops::gather_into(") == 1
    assert "ops::check_reshape(" in source  # the run-time shape is still checked
    assert source.count("ops::unary_flat_inplace(") == 2  # sigmoid over sq, tanh over h: the last readers
