"""Benchmark the real workloads (scripts/real_workloads.py) and print docs/performance.md's table.

    python scripts/bench_real.py [--only NAME,...] [--rounds 3] [--json out.json]

Needs the [bench] extra (torch, torchvision, tract). Every model is compiled, then timed with
`onnx2rs bench` against ONNX Runtime (1 and default threads) and tract in one run; batch 32
where the model's batch is symbolic. Run it on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
from pathlib import Path

from onnx2rs import CompileOptions
from onnx2rs.tools.bench import BenchResult, bench

sys.path.insert(0, str(Path(__file__).resolve().parent))
from real_workloads import WORKLOADS  # noqa: E402

HEADER = ("| model | MFLOP | onnx2rs ms | ORT 1 thread ms | onnx2rs / ORT | ORT default threads ms | tract ms "
          "| tract / ORT | onnx2rs threads ms | onnx2rs / ORT, batch 32 | onnx2rs RSS MB | ORT RSS MB "
          "| alternated rounds (median) |")


def _ms(us: float | None) -> str:
    return f"{us / 1e3:.2f}" if us else ""


def _row(name: str, r: BenchResult) -> tuple[str, float | None]:
    by = {m.engine: m for m in r.measurements}
    ours, ort1, ortn = by["onnx2rs (native)"], by["onnxruntime (1 thread)"], by["onnxruntime (default threads)"]
    tract, threads = by.get("tract"), by.get("onnx2rs (threads)")
    tract_ms = _ms(tract.median_us) if tract else ("refused" if "tract" in r.skipped else "")
    ratio = r.alternated_ratio or r.ratio(ours.engine)
    cells = [name, f"{r.flops / 1e6:.0f}", _ms(ours.median_us), _ms(ort1.median_us), f"{r.ratio(ours.engine):.2f}",
             _ms(ortn.median_us), tract_ms,
             f"{r.ratio('tract'):.2f}" if tract else "", _ms(threads.median_us) if threads else "",
             f"{r.ratio_batch32(ours.engine):.2f}" if r.ratio_batch32(ours.engine) else "",
             f"{ours.peak_rss_mb:.1f}", f"{ort1.peak_rss_mb:.0f}",
             f"{r.alternated_ratio:.2f}" if r.alternated_ratio else ""]
    return "| " + " | ".join(cells) + " |", ratio


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(w.name for w in WORKLOADS))
    parser.add_argument("--runs", type=int, default=50, help="timed calls per engine")
    parser.add_argument("--rounds", type=int, default=3, help="alternated rounds of onnx2rs and ORT (1 thread)")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    chosen = args.only.split(",")
    rows, ratios, results, machine = [], [], {}, ""
    with tempfile.TemporaryDirectory() as tmp:
        for w in WORKLOADS:
            if w.name not in chosen:
                continue
            print(f"benchmarking {w.name}", file=sys.stderr)
            path = w.make(Path(tmp))
            result = bench(path, CompileOptions(input_shapes=w.input_shapes, name=w.name), runs=args.runs,
                           rounds=args.rounds, batch32=True)
            row, ratio = _row(w.name, result)
            rows.append(row)
            ratios.append(ratio)
            results[w.name] = json.loads(result.to_json())
            machine = result.machine
            print(row, file=sys.stderr)
            if args.json:  # after every model, so that a long run keeps what it measured
                args.json.write_text(json.dumps(results, indent=2))
    print(f"Machine: {machine}; batch 1 unless stated; {args.runs} timed calls per engine after a 0.3 s warm-up "
          f"(the crate's own bench: 200); ratios below 1 mean onnx2rs is faster.\n")
    print(HEADER)
    print("| --- | " + " | ".join(["---:"] * 12) + " |")
    print("\n".join(rows))
    if ratios:
        print(f"\nGeometric mean of onnx2rs / ORT (1 thread): {math.exp(sum(map(math.log, ratios)) / len(ratios)):.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
