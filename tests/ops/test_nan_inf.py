"""NaN and ±Inf pass through as ONNX Runtime passes them: compiled and compared (NaN equals NaN).

The exception is max pooling: ONNX does not say, and ONNX Runtime's MaxPool keeps or drops a
NaN depending on where it sits in the window (its GlobalMaxPool drops it, its ReduceMax keeps
it). onnx2rs propagates NaN in every max, as ReduceMax, numpy and PyTorch do; for MaxPool the
reference is numpy's max over each window."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

from ..helpers import compile_and_run, make_model, scratch_dir

pytestmark = pytest.mark.cargo


def test_nan_and_inf_flow_like_onnxruntime() -> None:
    x = np.array([[[[np.nan, 1.0, -np.inf, 2.0], [np.inf, -1.0, 0.0, np.nan],
                    [3.0, np.inf, -np.inf, 0.5], [-0.0, 4.0, np.nan, -2.0]]]], np.float32)
    w = np.linspace(-1, 1, 16, dtype=np.float32).reshape(16, 1)
    nodes = [
        helper.make_node("Relu", ["x"], ["relu"]),
        helper.make_node("Sigmoid", ["x"], ["sigmoid"]),
        helper.make_node("MaxPool", ["x"], ["pool"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Flatten", ["x"], ["flat"]),
        helper.make_node("MatMul", ["flat", "w"], ["dense"]),
        helper.make_node("Softmax", ["flat"], ["softmax"]),
        helper.make_node("ReduceMax", ["x"], ["rmax"], keepdims=1),
        helper.make_node("Exp", ["x"], ["exp"]),
        helper.make_node("Abs", ["x"], ["abs"]),
        helper.make_node("Log", ["abs"], ["log"]),
        helper.make_node("Conv", ["x", "k"], ["conv"], pads=[1, 1, 1, 1]),
    ]
    outputs = ["relu", "sigmoid", "pool", "dense", "softmax", "rmax", "exp", "log", "conv"]
    weights = {"w": w, "k": np.full((1, 1, 3, 3), 0.5, np.float32)}
    model = make_model(nodes, {"x": x}, outputs, weights)
    with scratch_dir() as workdir:
        ours, theirs = compile_and_run(model, {"x": x}, workdir)
    for name, a, b in zip(outputs, ours, theirs, strict=True):
        if name == "pool":  # numpy: the max of each 2x2 window, NaN if the window has one
            b = x.reshape(1, 1, 2, 2, 2, 2).max(axis=(3, 5))
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6, err_msg=name)
