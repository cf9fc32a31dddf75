"""`onnx2rs bench` runs every engine in its own process and reports comparable numbers.

Only the shape of the report is tested: latency and memory are measured by benchmarks
(docs/performance.md, scripts/bench_models.py), never asserted in tests."""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest

from onnx2rs.tools.bench import bench, write_chart

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
    report = bench(keras or ROOT / "tests" / "models" / "mlp.onnx", keras=keras, runs=20, rounds=3)
    engines = [m.engine for m in report.measurements]
    assert engines[:4] == ["onnx2rs (native)", "onnx2rs (threads)", "onnxruntime (1 thread)",
                           "onnxruntime (default threads)"]
    if keras:
        assert {"tensorflow (predict)", "tensorflow (__call__)", "tensorflow (tf.function)"} <= set(engines)
    for m in report.measurements:
        assert m.peak_rss_mb > 0, m
        if m.runs:
            assert 0 < m.median_us <= m.p90_us, m
    # --runs 20: exactly 20 timed calls per engine, ours and the workers' alike.
    assert [m.runs for m in report.measurements[:4]] == [20] * 4
    assert report.ratio("onnxruntime (1 thread)") == 1.0
    # One call in a fresh process each: the CLI (linked statically too, on Linux), ONNX Runtime, numpy.
    one = report.one_call_rss_mb
    assert {"onnx2rs CLI", "onnxruntime (1 thread)", "python -c 'import numpy'"} <= set(one), one
    assert ("onnx2rs CLI (static)" in one) == (sys.platform == "linux"), one
    assert all(mb > 0 for mb in one.values()), one
    # The budget is the crate's own memory: weights, the planned arena, inputs and outputs, 4 MB.
    assert report.arena_mb > 0 and report.io_mb > 0
    budget = report.weights_mb + report.arena_mb + report.io_mb + 4
    assert [(e, b) for e, _, b in report.rss_budgets()][0] == ("onnx2rs CLI", budget)
    assert report.flops > 0 and report.gemm_peak_gflops > 0 and report.gflops("onnx2rs (native)") > 0
    assert report.load_us > 0
    if keras:  # converted with a symbolic batch: batch 32 is timed for the crate and ONNX Runtime
        assert report.ratio_batch32("onnx2rs (native)") > 0 and report.ratio_batch32("onnx2rs (threads)") > 0
    assert len(report.rounds) == 3 and all(a > 0 and b > 0 for a, b in report.rounds)
    assert min(a / b for a, b in report.rounds) <= report.alternated_ratio <= max(a / b for a, b in report.rounds)
    data = json.loads(report.to_json())
    assert data["alternated_ratio_vs_onnxruntime_1_thread"] == report.alternated_ratio
    assert [b["engine"] for b in data["rss_budgets_mb"]] == [e for e, _, _ in report.rss_budgets()]
    assert data["machine"] and data["ratios_vs_onnxruntime_1_thread"]["onnx2rs (native)"] > 0
    if write_chart(report, tmp_path / "chart.png"):
        assert (tmp_path / "chart.png").read_bytes()[:4] == b"\x89PNG"


def test_model_flops_counts_every_multiply_add() -> None:
    """Against a brute-force count: one multiply-add per (output, tap) pair that reads the input
    or padding, for a strided, grouped Conv; m*k*n for a Gemm."""
    from onnx import helper

    from onnx2rs.build import CompileOptions, lower_model
    from onnx2rs.tools.bench import model_flops

    from .helpers import make_model

    x = np.zeros((2, 4, 7, 6), np.float32)
    w = np.ones((6, 2, 3, 2), np.float32)  # 6 filters, groups of 2 channels, 3x2 kernel
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], group=2, strides=[2, 1], pads=[1, 0, 1, 0]),
             helper.make_node("Flatten", ["c"], ["f"]),
             helper.make_node("Gemm", ["f", "g"], ["y"], transB=1)]
    _, graph, _ = lower_model(make_model(nodes, {"x": x}, ["y"], {"w": w, "g": np.ones((5, 120), np.float32)}),
                              CompileOptions())
    oh, ow = (7 + 2 - 3) // 2 + 1, 6 - 2 + 1
    conv_macs = sum(1 for _n in range(2) for _m in range(6) for _y in range(oh) for _x in range(ow)
                    for _c in range(2) for _ky in range(3) for _kx in range(2))
    gemm_macs = sum(1 for _b in range(2) for _o in range(5) for _i in range(6 * oh * ow))
    assert model_flops(graph) == 2 * (conv_macs + gemm_macs)


def test_bench_interleaves_the_python_module_with_onnxruntime() -> None:
    """`interleaved`: the module and ONNX Runtime timed call after call in one process (the
    module built by pip in a fresh venv, ONNX Runtime installed beside it)."""
    report = bench(ROOT / "tests" / "models" / "mlp.onnx", runs=20, threads=False, interleaved=True)
    assert "onnx2rs (Python module)" in [m.engine for m in report.measurements]
    # A Python process using the module, against one that only imports numpy (the same venv).
    one = report.one_call_rss_mb
    module, numpy = one["onnx2rs Python module"], one["python -c 'import numpy'"]
    assert module > numpy > 0
    own = report.weights_mb + report.arena_mb + report.io_mb + 4
    assert ("onnx2rs Python module", module, numpy + own) in report.rss_budgets()
    assert report.interleaved is not None
    module_us, ort_us, ratio = report.interleaved
    assert module_us > 0 and ort_us > 0 and ratio > 0
    assert json.loads(report.to_json())["interleaved_ratio_vs_onnxruntime_1_thread"] == ratio


def test_bench_times_for_a_budget_and_no_batch_it_was_not_asked_for(tmp_path: Path) -> None:
    """Without --runs each engine is timed for --seconds (so a large model finishes in minutes),
    and a batch the user fixed with --input-shape is the only one timed (batch 32 where the
    batch was left open: test_bench_reports_every_engine)."""
    from onnx import helper

    from onnx2rs.build import CompileOptions

    from .helpers import make_model

    x = np.zeros((1, 16), np.float32)
    model = make_model([helper.make_node("Relu", ["x"], ["y"])], {"x": x}, ["y"])
    model.graph.input[0].type.tensor_type.shape.dim[0].dim_param = "batch"
    model.graph.output[0].type.tensor_type.shape.dim[0].dim_param = "batch"
    path = tmp_path / "relu.onnx"
    path.write_bytes(model.SerializeToString())
    fixed = bench(path, CompileOptions(input_shapes={"x": [1, 16]}), threads=False, seconds=0.2)
    ours, ort = fixed.measurements[0], fixed.measurements[1]
    assert ours.engine == "onnx2rs (native)" and ort.engine == "onnxruntime (1 thread)"
    # A call takes microseconds: 0.2 s of timing is far more than the 5-call minimum.
    assert ours.runs > 50 and ort.runs > 50, (ours, ort)
    assert all(m.batch32_median_us is None for m in fixed.measurements), fixed.measurements
