"""A lowering that decides on a size cannot hide behind open dims (codegen/probe_check.py)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from onnx import TensorProto, helper

from onnx2rs import CompileOptions, compile_model
from onnx2rs.errors import ModelError
from onnx2rs.ops import REGISTRY, Lowering
from onnx2rs.ops.rust import Int

from ..helpers import IR_VERSION


def _model() -> object:
    graph = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["r"]), helper.make_node("Sigmoid", ["r"], ["y"])], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 6])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 6])])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=IR_VERSION)


def _options() -> CompileOptions:
    x = np.zeros([1, 6], np.float32)
    return CompileOptions(name="m", input_shapes={"x": [1, 6]}, dynamic={}, reference=({"x": x}, [x]))


def test_a_lowering_that_reads_a_size_as_a_number_is_refused(monkeypatch, tmp_path) -> None:
    spec = REGISTRY["Relu"]

    def deciding(ctx: Lowering):
        # A decision no expression can carry: "one row" is True at N = 1 only.
        return ctx.call("relu_into", ctx.arg(0), Int(int(ctx.input(0).shape[0] == 1)), ctx.out())

    monkeypatch.setitem(REGISTRY, "Relu", dataclasses.replace(spec, lower=deciding))
    with pytest.raises(ModelError, match=r"lower differently at different sizes \(Relu"):
        compile_model(_model(), tmp_path / "out", _options())
    assert not (tmp_path / "out").exists()


def test_lowerings_that_pass_sizes_through_are_accepted(tmp_path) -> None:
    result = compile_model(_model(), tmp_path / "out", _options())
    assert "z.n" in (result.out_dir / "src" / "model.rs").read_text()
