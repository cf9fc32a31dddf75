"""Benchmark the Keras test models with `onnx2rs bench` and write docs/performance.md.

Run with the `[tf]` extra installed, on an otherwise idle machine:

    python scripts/bench_models.py [--runs 300] [--only charcnn,mlp]

Each model is built (seeded weights) by scripts/make_models.py, saved as .keras, then
compiled from that file and measured against ONNX Runtime and TensorFlow in one run.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from onnx2rs.errors import ToolchainError  # noqa: E402
from onnx2rs.tools.bench import BenchResult, bench  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
MODELS = ["charcnn", "mlp", "conv2d_image", "mobilenet_style", "transformer_encoder", "word_bilstm", "stacked_gru"]


def _make_models():
    spec = importlib.util.spec_from_file_location("make_models", ROOT / "scripts" / "make_models.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["make_models"] = module
    spec.loader.exec_module(module)
    return module


def _row(name: str, r: BenchResult) -> str:
    by = {m.engine: m for m in r.measurements}
    native, ort1 = by["onnx2rs (native)"], by["onnxruntime (1 thread)"]
    threaded = by.get("onnx2rs (threads)")
    ortn, tf = by["onnxruntime (default threads)"], by.get("tensorflow (tf.function)")
    cells = [
        name, f"{native.median_us:.1f}", f"{ort1.median_us:.1f}", f"{r.ratio(native.engine):.2f}",
        f"{ortn.median_us:.1f}", f"{tf.median_us:.0f}" if tf else "", f"{tf.median_us / native.median_us:.0f}x"
        if tf else "", f"{native.peak_rss_mb:.1f}", f"{ort1.peak_rss_mb:.0f}", f"{tf.peak_rss_mb:.0f}" if tf else "",
        f"{r.weights_mb:.2f}", f"{r.flops / 1e6:.2f}", f"{r.gflops(native.engine):.1f}" if r.flops else "",
        f"{r.gflops(ort1.engine):.1f}" if r.flops else "",
        f"{native.batch32_median_us:.0f}" if native.batch32_median_us else "",
        f"{ort1.batch32_median_us:.0f}" if ort1.batch32_median_us else "",
        f"{r.ratio_batch32(native.engine):.2f}" if r.ratio_batch32(native.engine) else "",
        f"{threaded.batch32_median_us:.0f}" if threaded and threaded.batch32_median_us else "",
        f"{ortn.batch32_median_us:.0f}" if ortn.batch32_median_us else "",
        f"{r.load_us:.0f}", f"{r.alternated_ratio:.2f}" if r.alternated_ratio else "",
    ]
    return "| " + " | ".join(cells) + " |"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--only", default=",".join(MODELS))
    parser.add_argument("--json", type=Path, default=None, help="also write every result as JSON")
    parser.add_argument("--rounds", type=int, default=5,
                        help="alternated rounds of the crate and ONNX Runtime (1 thread) per model")
    parser.add_argument("--interleaved", action="store_true",
                        help="also time the Python module against ONNX Runtime call after call (needs PyPI)")
    args = parser.parse_args()
    make_models = _make_models()
    rows, results = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.only.split(","):
            make_models.keras.utils.set_random_seed(3)
            model = getattr(make_models, name)()
            make_models.randomise_stats(model, make_models.np.random.default_rng(3))
            path = Path(tmp) / f"{name}.keras"
            model.save(path)
            print(f"benchmarking {name}", file=sys.stderr)
            try:
                result = bench(path, keras=path, runs=args.runs, rounds=args.rounds, interleaved=args.interleaved)
            except ToolchainError as e:  # a model TensorFlow cannot reload by itself (custom functions)
                print(f"  {name}: TensorFlow not timed ({str(e)[-120:]})", file=sys.stderr)
                result = bench(path, runs=args.runs, rounds=args.rounds, interleaved=args.interleaved)
            results[name] = json.loads(result.to_json())
            rows.append(_row(name, result))
            if result.interleaved:
                module_us, ort_us, ratio = result.interleaved
                print(f"  {name} interleaved: module {module_us:.1f} µs, ONNX Runtime {ort_us:.1f} µs, "
                      f"ratio {ratio:.2f}", file=sys.stderr)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    print(f"Machine: {result.machine}; batch {result.batch}; {args.runs} timed calls per engine after a 0.3 s warm-up; "
          f"single-core GEMM peak (numpy's BLAS, 1 thread): {result.gemm_peak_gflops:.0f} GFLOP/s.\n")
    print("| model | onnx2rs µs | ORT 1 thread µs | onnx2rs / ORT | ORT default threads µs | TF tf.function µs "
          "| TF / onnx2rs | onnx2rs RSS MB | ORT RSS MB | TF RSS MB | weights MB | MFLOP | onnx2rs GFLOP/s "
          "| ORT GFLOP/s | onnx2rs batch 32 µs | ORT batch 32 µs | onnx2rs / ORT, batch 32 "
          "| onnx2rs threads, batch 32 µs | ORT default threads, batch 32 µs | load µs "
          f"| onnx2rs / ORT, {args.rounds} alternated rounds (median) |")
    print("| --- | " + " | ".join(["---:"] * 20) + " |")
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
