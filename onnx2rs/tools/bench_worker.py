"""One engine of `onnx2rs bench`, in its own process: `python bench_worker.py ENGINE ...`.

Run as a plain script, so that the process holds only what the engine needs (not the
compiler). Prints one JSON line: median and p90 latency in microseconds and the peak RSS
in MB of the process that ran the engine (for `native`, of the crate's own benchmark).
Peak RSS is `VmHWM` (Linux): unlike `ru_maxrss` it does not count a forked parent's pages.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Callable

WARMUP_S = 0.3
MIN_RUNS = 5
MAX_RUNS = 100_000


def budget_s() -> float:
    """Seconds of timing per engine when no number of runs is given (`onnx2rs bench`'s
    `--seconds`, passed down as ONNX2RS_BENCH_SECONDS)."""
    return float(os.environ.get("ONNX2RS_BENCH_SECONDS", "3"))


def more(done: int, runs: int, start: float, budget: float) -> bool:
    """Whether to time another call: `runs` of them if given, else until `budget` seconds
    from `start` have passed (at least MIN_RUNS, at most MAX_RUNS)."""
    if runs:
        return done < runs
    return done < MIN_RUNS or (done < MAX_RUNS and time.perf_counter() - start < budget)


def timed(call: Callable[[], object], runs: int) -> dict:
    """Warm up for WARMUP_S, then time `runs` calls; with `runs` 0, as many as fit in
    `budget_s()` (at least MIN_RUNS), as the crate's own bench does."""
    start, calls = time.perf_counter(), 0
    while time.perf_counter() - start < WARMUP_S or not calls:
        call()
        calls += 1
    times: list[float] = []
    start = time.perf_counter()
    while more(len(times), runs, start, budget_s()):
        t = time.perf_counter()
        call()
        times.append((time.perf_counter() - t) * 1e6)
    times.sort()
    return {"median_us": times[len(times) // 2], "p90_us": times[len(times) * 9 // 10], "runs": len(times)}


def kib_to_mb(kib: float) -> float:
    """KiB (what Linux reports a resident set in) as MB of 10^6 bytes, the unit weights are
    given in, so that "peak RSS <= weights + 4 MB" compares like with like."""
    return kib * 1024 / 1e6


def peak_rss_mb() -> float:
    """This process's peak resident set in MB: VmHWM, or ru_maxrss where /proc is missing."""
    try:
        for line in open("/proc/self/status").read().splitlines():  # noqa: SIM115 - read at once
            if line.startswith("VmHWM:"):
                return kib_to_mb(int(line.split()[1]))
    except OSError:
        pass
    return kib_to_mb(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def native(executable: str) -> dict:
    """The crate's latency bench prints its own timings and peak RSS."""
    result = subprocess.run([executable], capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"{executable} failed: {result.stderr}")
    numbers = json.loads(result.stdout.strip().splitlines()[-1])
    return {"median_us": numbers["median_us"], "p90_us": numbers["p90_us"], "runs": numbers["iterations"],
            "peak_rss_mb": kib_to_mb(numbers["peak_rss_kb"]), "load_us": numbers["load_us"],
            **{k: numbers[k] for k in ("median_us_batch32", "p90_us_batch32") if k in numbers}}


def _ort_session(model: str, threads: int):
    """An ONNX Runtime session on the CPU provider; `threads` 0 keeps its default pool."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.log_severity_level = 3
    return ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])


def onnxruntime(model: str, feeds: str, threads: int, runs: int) -> dict:
    """ONNX Runtime's CPU provider; `threads` 0 keeps its default pool."""
    import numpy as np

    session = _ort_session(model, threads)
    inputs = dict(np.load(feeds))
    return {**timed(lambda: session.run(None, inputs), runs), "peak_rss_mb": peak_rss_mb()}


# numpy's dtype names as tract spells them in a fact ("1,3,224,224,f32").
TRACT_DTYPES = {"float32": "f32", "float64": "f64", "float16": "f16", "int64": "i64", "int32": "i32",
                "int8": "i8", "uint8": "u8", "bool": "bool"}


def tract_engine(model: str, feeds: str, runs: int) -> dict:
    """tract (its Python bindings, PyPI `tract` 0.23), planned for the feeds' shapes and types."""
    import numpy as np
    import tract

    inputs = list(np.load(feeds).values())
    loaded = tract.onnx().load(model)
    for i, x in enumerate(inputs):
        dtype = TRACT_DTYPES.get(x.dtype.name, x.dtype.name)
        loaded.set_input_fact(i, f"{','.join(map(str, x.shape))},{dtype}" if x.ndim else dtype)
    # `into_model` types and declutters the model; `into_runnable` plans it for these shapes.
    runnable = loaded.into_model().into_runnable()
    return {**timed(lambda: runnable.run(inputs), runs), "peak_rss_mb": peak_rss_mb()}


def python_module(module: str, feeds: str, runs: int) -> dict:
    """The generated Python module (`onnx2rs build --python`): `Model().run` on a dict of arrays."""
    import importlib

    import numpy as np

    model = importlib.import_module(module).Model()
    inputs = dict(np.load(feeds))
    return {**timed(lambda: model.run(inputs), runs), "peak_rss_mb": peak_rss_mb()}


def _npy_feeds(pairs: list[str]) -> dict:
    """`NAME=PATH` pairs as a dict of arrays, each read straight from its `.npy` file."""
    import numpy as np

    return {name: np.load(path) for name, path in (pair.split("=", 1) for pair in pairs)}


def module_one_call(module: str, pairs: list[str]) -> dict:
    """The peak RSS of a process that imports numpy and the generated module, reads the
    inputs from `.npy` files and makes one call: what using the model costs, with no harness."""
    import importlib

    if not importlib.import_module(module).Model().run(_npy_feeds(pairs)):
        raise SystemExit("the module returned no outputs")
    return {"peak_rss_mb": peak_rss_mb()}


def onnxruntime_one_call(model: str, threads: int, pairs: list[str]) -> dict:
    """`module_one_call` for ONNX Runtime: one session, one call."""
    if not _ort_session(model, threads).run(None, _npy_feeds(pairs)):
        raise SystemExit("ONNX Runtime returned no outputs")
    return {"peak_rss_mb": peak_rss_mb()}


def interleaved(module: str, model: str, feeds: str, runs: int) -> dict:
    """The generated Python module and ONNX Runtime (1 thread) in one process, one call of each
    in turn (which goes first alternates), so that both see the machine in the same state:
    the medians of each and the median of the per-pair ratios (module / ONNX Runtime)."""
    import importlib

    import numpy as np

    crate = importlib.import_module(module).Model()
    session = _ort_session(model, 1)
    inputs = dict(np.load(feeds))
    calls = (lambda: crate.run(inputs), lambda: session.run(None, inputs))
    start = time.perf_counter()
    while time.perf_counter() - start < 2 * WARMUP_S:
        for call in calls:
            call()
    pairs: list[list[float]] = []
    start = time.perf_counter()
    while more(len(pairs), runs, start, 2 * budget_s()):
        i = len(pairs)
        spent = [0.0, 0.0]
        for engine in ((0, 1) if i % 2 == 0 else (1, 0)):
            t = time.perf_counter()
            calls[engine]()
            spent[engine] = (time.perf_counter() - t) * 1e6
        pairs.append(spent)
    median = lambda values: sorted(values)[len(values) // 2]  # noqa: E731
    return {"module_median_us": median([a for a, _ in pairs]), "ort_median_us": median([b for _, b in pairs]),
            "ratio": median([a / b for a, b in pairs]), "runs": len(pairs)}


def keras(path: str, feeds: str, runs: int) -> dict:
    """TensorFlow's three ways to call a Keras model, in one process."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import numpy as np
    import tensorflow as tf

    model = tf.keras.models.load_model(path, compile=False)
    arrays = list(np.load(feeds).values())
    x = arrays[0] if len(arrays) == 1 else arrays
    fast = tf.function(model)
    results = {
        "predict": timed(lambda: model.predict(x, verbose=0), max(runs // 10, 20) if runs else 0),
        "__call__": timed(lambda: model(x, training=False), runs),
        "tf.function": timed(lambda: fast(x), runs),
    }
    rss = peak_rss_mb()
    return {mode: {**numbers, "peak_rss_mb": rss} for mode, numbers in results.items()}


def gemm_peak() -> dict:
    """The machine's single-core float32 GEMM rate: numpy's BLAS on one thread (set by the
    parent through OPENBLAS_NUM_THREADS and friends), best shape of a few, median of 15."""
    import numpy as np

    best = 0.0
    for n in (256, 384, 512):
        a, b = np.ones((n, n), np.float32), np.ones((n, n), np.float32)
        out = np.empty((n, n), np.float32)
        reps = max(1, int(2e8 / (2 * n**3)))
        samples = []
        for _ in range(15):
            start = time.perf_counter()
            for _ in range(reps):
                np.matmul(a, b, out=out)
            samples.append((time.perf_counter() - start) / reps)
        best = max(best, 2 * n**3 / sorted(samples)[len(samples) // 2] / 1e9)
    return {"gflops": best}


def baseline() -> dict:
    """The peak RSS of a Python process that has imported numpy, and nothing else."""
    import numpy  # noqa: F401

    return {"peak_rss_mb": peak_rss_mb()}


def main(argv: list[str]) -> None:
    engine, args = argv[0], argv[1:]
    if engine == "native":
        out = native(args[0])
    elif engine == "onnxruntime":
        out = onnxruntime(args[0], args[1], int(args[2]), int(args[3]))
    elif engine == "tract":
        out = tract_engine(args[0], args[1], int(args[2]))
    elif engine == "python_module":
        out = python_module(args[0], args[1], int(args[2]))
    elif engine == "module_one_call":
        out = module_one_call(args[0], args[1:])
    elif engine == "onnxruntime_one_call":
        out = onnxruntime_one_call(args[0], int(args[1]), args[2:])
    elif engine == "interleaved":
        out = interleaved(args[0], args[1], args[2], int(args[3]))
    elif engine == "keras":
        out = keras(args[0], args[1], int(args[2]))
    elif engine == "baseline":
        out = baseline()
    elif engine == "gemm_peak":
        out = gemm_peak()
    else:
        raise SystemExit(f"unknown engine {engine!r}")
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1:])
