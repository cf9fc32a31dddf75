"""`onnx2rs bench` runs every engine in its own process and reports comparable numbers.

Only the shape of the report is tested: latency and memory are measured by benchmarks
(docs/performance.md), never asserted in tests."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from onnx2rs.bench import bench, write_chart

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.cargo


def test_bench_reports_every_engine(tmp_path: Path) -> None:
    report = bench(ROOT / "tests" / "models" / "mlp.onnx", runs=20)
    engines = [m.engine for m in report.measurements]
    assert engines[:3] == ["onnx2rs (native)", "onnxruntime (1 thread)", "onnxruntime (default threads)"]
    for m in report.measurements:
        assert m.peak_rss_mb > 0, m
        if m.runs:
            assert 0 < m.median_us <= m.p90_us, m
    assert report.ratio("onnxruntime (1 thread)") == 1.0
    data = json.loads(report.to_json())
    assert data["machine"] and data["ratios_vs_onnxruntime_1_thread"]["onnx2rs (native)"] > 0
    if write_chart(report, tmp_path / "chart.png"):
        assert (tmp_path / "chart.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.tf
def test_bench_times_tensorflow_given_the_keras_model(tmp_path: Path) -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    keras = pytest.importorskip("tensorflow").keras
    inp = keras.Input(shape=(8,), name="x")
    model = keras.Model(inp, keras.layers.Dense(4, activation="relu")(inp))
    model(np.zeros((1, 8), np.float32))
    model.save(tmp_path / "tiny.keras")
    report = bench(tmp_path / "tiny.keras", keras=tmp_path / "tiny.keras", runs=20)
    modes = {m.engine for m in report.measurements}
    assert {"tensorflow (predict)", "tensorflow (__call__)", "tensorflow (tf.function)"} <= modes
