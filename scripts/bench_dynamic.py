"""What open dims cost: one model built static and built with its dims open, timed at one size.

    python scripts/bench_dynamic.py [--rounds 5] [--only det,rec,sequence]

Each crate's `cargo bench` (benches/latency.rs: the median of many `Session::run` calls on its
reference input) runs in turn, `--rounds` times, and the median of the per-round ratios
(open / static) is printed: P11 asks for at most 1.05 at batch 1. The open build is made at
the same size (its probe), so both time the same input. Run it on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

from onnx2rs import CompileOptions, compile_model, toolchain

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fetch_real_models import fetch_all  # noqa: E402

# name: (package, file, --dynamic, the size both are built and timed at)
MODELS = {
    "det": ("rapidocr-onnxruntime", "ch_PP-OCRv4_det_infer.onnx", {"x": ["N", 3, "H", "W"]}, [1, 3, 640, 640]),
    "rec": ("rapidocr-onnxruntime", "ch_PP-OCRv4_rec_infer.onnx", {"x": ["N", 3, 48, "W"]}, [1, 3, 48, 320]),
    "sequence": ("silero-vad", "silero_vad_16k_sequence.onnx", {"input": ["S", 576]}, [7, 576]),
}


def _median_us(crate: Path) -> float:
    out = toolchain.cargo(["bench", "--quiet", "--bench", "latency"], crate)
    return float(json.loads(out.strip().splitlines()[-1])["median_us"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--only", default=",".join(MODELS))
    args = parser.parse_args()
    folders = fetch_all()
    print("| model | size | static ms | open dims ms | open / static (median of rounds) |")
    print("| --- | --- | ---: | ---: | ---: |")
    for name in args.only.split(","):
        package, file, dynamic, size = MODELS[name]
        path = folders[package] / file
        (first,) = dynamic
        with tempfile.TemporaryDirectory() as tmp:
            static = compile_model(path, Path(tmp) / "static", CompileOptions(name="fixed", input_shapes={first: size}))
            open_ = compile_model(path, Path(tmp) / "open", CompileOptions(
                name="open", input_shapes={first: size}, dynamic=dynamic))
            times: dict[str, list[float]] = {"static": [], "open": []}
            for _ in range(args.rounds):
                times["static"].append(_median_us(static.out_dir))
                times["open"].append(_median_us(open_.out_dir))
        ratio = statistics.median(o / s for o, s in zip(times["open"], times["static"], strict=True))
        print(f"| {name} | {'x'.join(map(str, size))} | {statistics.median(times['static']) / 1e3:.2f} | "
              f"{statistics.median(times['open']) / 1e3:.2f} | {ratio:.3f} |", flush=True)


if __name__ == "__main__":
    main()
