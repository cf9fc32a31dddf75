"""`onnx2rs bench` runs every engine in its own process and reports comparable numbers.

Only the shape of the report is tested: latency and memory are measured by benchmarks
(docs/performance.md, scripts/bench_models.py), never asserted in tests."""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

import numpy as np
import pytest

from onnx2rs.bench import bench, write_chart

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.cargo
HAVE_TF = importlib.util.find_spec("tensorflow") is not None


def _tiny_keras(path: Path) -> Path:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from tensorflow import keras

    inp = keras.Input(shape=(8,), name="x")
    model = keras.Model(inp, keras.layers.Dense(4, activation="relu")(inp))
    model(np.zeros((1, 8), np.float32))
    model.save(path)
    return path


def test_bench_reports_every_engine(tmp_path: Path) -> None:
    # With TensorFlow installed (make test installs it), the Keras source model is timed too.
    keras = _tiny_keras(tmp_path / "tiny.keras") if HAVE_TF else None
    report = bench(keras or ROOT / "tests" / "models" / "mlp.onnx", keras=keras, runs=20)
    engines = [m.engine for m in report.measurements]
    assert engines[:3] == ["onnx2rs (native)", "onnxruntime (1 thread)", "onnxruntime (default threads)"]
    if keras:
        assert {"tensorflow (predict)", "tensorflow (__call__)", "tensorflow (tf.function)"} <= set(engines)
    for m in report.measurements:
        assert m.peak_rss_mb > 0, m
        if m.runs:
            assert 0 < m.median_us <= m.p90_us, m
    assert report.ratio("onnxruntime (1 thread)") == 1.0
    data = json.loads(report.to_json())
    assert data["machine"] and data["ratios_vs_onnxruntime_1_thread"]["onnx2rs (native)"] > 0
    if write_chart(report, tmp_path / "chart.png"):
        assert (tmp_path / "chart.png").read_bytes()[:4] == b"\x89PNG"
