"""A .keras file with a Lambda layer: refused with a pointer to --trust-code, then built with it
and checked against Keras (atol = rtol = 1e-5) through ONNX Runtime, without cargo."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from onnx2rs import CompileOptions
from onnx2rs.build import lower_model
from onnx2rs.errors import ModelError
from onnx2rs.reference import run_onnxruntime

pytestmark = pytest.mark.tf


def test_a_lambda_layer_needs_trust_code_and_then_matches_keras(tmp_path: Path) -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    keras = pytest.importorskip("keras")
    inputs = keras.Input((6,))
    hidden = keras.layers.Dense(4)(inputs)
    outputs = keras.layers.Lambda(lambda t: t * 2.0 + 1.0)(hidden)
    model = keras.Model(inputs, outputs)
    path = tmp_path / "lambda.keras"
    model.save(path)

    with pytest.raises(ModelError, match="--trust-code"):
        lower_model(path, CompileOptions())
    onnx_model, graph, _ = lower_model(path, CompileOptions(trust_code=True))
    x = np.random.default_rng(0).standard_normal((1, 6)).astype(np.float32)
    (ours,) = run_onnxruntime(onnx_model, {graph.inputs[0]: x})
    np.testing.assert_allclose(ours, np.asarray(model(x)), rtol=1e-5, atol=1e-5)
