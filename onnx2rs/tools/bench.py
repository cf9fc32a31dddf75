"""`onnx2rs bench`: latency and peak memory of the generated crate against ONNX Runtime
(and TensorFlow, given the Keras source model).

Every engine runs in its own process on the same inputs (the crate's reference inputs),
warms up, then times single calls; it reports the median and 90th percentile and its
process's peak RSS. Ratios only ever compare engines measured in one invocation, on one
machine. A shared VM's speed changes under the benchmark (on the machines of
docs/performance.md it switches between two states every few tens of milliseconds), so a
single pass can catch the engines in different states. With `rounds`, the crate and ONNX
Runtime (1 thread) are also timed in turn, round after round, and the median of the
per-round ratios is reported; with `interleaved`, the crate's Python module and ONNX Runtime
alternate call by call in one process, so every pair of calls sees one state. Timing lives
here and in benchmarks, never in tests.
"""

from __future__ import annotations

import importlib.util
import json
import os
import platform
import subprocess
import sys
import tempfile
import venv
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import onnx

from .. import progress, toolchain
from ..build import CompileOptions, CompileResult, compile_model
from ..errors import ToolchainError
from ..frontend import frameworks as frontends
from ..ir import Graph
from ..ops import lookup
from ..reference import ort_compatible
from .bench_worker import kib_to_mb

# Seconds of timing per engine, after its warm-up, unless a number of runs is given.
SECONDS = 3.0
# The engines of `BenchResult.one_call_rss_mb`.
CLI, CLI_STATIC = "onnx2rs CLI", "onnx2rs CLI (static)"
MODULE, ORT_1, NUMPY = "onnx2rs Python module", "onnxruntime (1 thread)", "python -c 'import numpy'"


@dataclass
class Measurement:
    """One engine's numbers: per-call latency in microseconds and peak RSS in MB."""

    engine: str
    median_us: float
    p90_us: float
    peak_rss_mb: float
    runs: int
    # The same call at batch 32 (the reference input repeated), where the engine was timed so.
    batch32_median_us: float | None = None
    batch32_p90_us: float | None = None


@dataclass
class BenchResult:
    """Every engine measured in one invocation, with the machine it ran on."""

    model: str
    machine: str
    weights_mb: float
    batch: int
    # The planned arena and the inputs and outputs at the compiled shapes: with the weights,
    # what one call of the crate needs.
    arena_mb: float = 0.0
    io_mb: float = 0.0
    measurements: list[Measurement] = field(default_factory=list)
    # Multiply-adds x 2 of the model's Conv, ConvTranspose, Gemm and MatMul nodes, per call.
    flops: int = 0
    # This machine's single-core float32 GEMM rate (numpy's BLAS on one thread), in GFLOP/s.
    gemm_peak_gflops: float = 0.0
    # Median time of the generated crate's Model::new() (weights parsed, checked, copied), in µs.
    load_us: float = 0.0
    # Alternated rounds: (crate µs, ONNX Runtime 1 thread µs), the two timed one after the other.
    rounds: list[tuple[float, float]] = field(default_factory=list)
    # Interleaved in one Python process: the module's median µs, ONNX Runtime's (1 thread), and
    # the median of the per-pair ratios.
    interleaved: tuple[float, float, float] | None = None
    # Peak RSS in MB of a fresh process that makes one call on the reference inputs, with no
    # timing harness: the crate's CLI (as `cargo build --release` links it, and statically),
    # a Python process using its module, ONNX Runtime, and `python -c "import numpy"`.
    one_call_rss_mb: dict[str, float] = field(default_factory=dict)
    # Engines that could not run this model (a comparison, not ours to fail): engine -> why.
    skipped: dict[str, str] = field(default_factory=dict)

    # What a process holds beside the model's own memory (code, stack, the C library).
    RSS_OVERHEAD_MB = 4.0

    def rss_budget_parts(self) -> dict[str, float]:
        """The CLI's peak RSS budget, part by part (MB)."""
        return {"weights": self.weights_mb, "arena": self.arena_mb, "inputs and outputs": self.io_mb,
                "overhead": self.RSS_OVERHEAD_MB}

    def rss_budgets(self) -> list[tuple[str, float, float]]:
        """The memory targets of docs/performance.md, as (what, measured MB, budget MB): the CLI
        within weights + planned arena + inputs and outputs + 4 MB; a Python process using the
        module within the same plus numpy's own."""
        one, budgets = self.one_call_rss_mb, []
        budget = sum(self.rss_budget_parts().values())
        for engine in (CLI, CLI_STATIC):
            if engine in one:
                budgets.append((engine, one[engine], budget))
        if MODULE in one and NUMPY in one:
            budgets.append((MODULE, one[MODULE], one[NUMPY] + budget))
        return budgets

    @property
    def alternated_ratio(self) -> float | None:
        """The median over `rounds` of crate / ONNX Runtime (1 thread); None without rounds."""
        return float(np.median([a / b for a, b in self.rounds])) if self.rounds else None

    def ratio_batch32(self, engine: str, baseline: str = "onnxruntime (1 thread)") -> float | None:
        """`ratio` at batch 32, where both engines were timed at batch 32."""
        by = {m.engine: m for m in self.measurements}
        if by.get(engine) is None or by.get(baseline) is None:
            return None
        a, b = by[engine].batch32_median_us, by[baseline].batch32_median_us
        return a / b if a and b else None

    def gflops(self, engine: str) -> float | None:
        """The arithmetic rate `engine` achieved on the model's matrix work, in GFLOP/s."""
        by = {m.engine: m for m in self.measurements}
        if engine not in by or not by[engine].runs or not self.flops:
            return None
        return self.flops / by[engine].median_us / 1e3

    def ratio(self, engine: str, baseline: str = "onnxruntime (1 thread)") -> float | None:
        """`engine`'s median latency over `baseline`'s (below 1: faster)."""
        by = {m.engine: m for m in self.measurements}
        if engine not in by or baseline not in by:
            return None
        return by[engine].median_us / by[baseline].median_us

    def to_json(self) -> str:
        """The result as JSON, ratios included."""
        data = asdict(self)
        data["ratios_vs_onnxruntime_1_thread"] = {m.engine: self.ratio(m.engine) for m in self.measurements}
        data["ratios_vs_onnxruntime_1_thread_batch32"] = {m.engine: self.ratio_batch32(m.engine)
                                                          for m in self.measurements}
        data["gflops"] = {m.engine: self.gflops(m.engine) for m in self.measurements}
        data["alternated_ratio_vs_onnxruntime_1_thread"] = self.alternated_ratio
        data["interleaved_ratio_vs_onnxruntime_1_thread"] = self.interleaved[2] if self.interleaved else None
        data["rss_budgets_mb"] = [{"engine": e, "peak_rss_mb": m, "budget_mb": b, "met": m <= b}
                                  for e, m, b in self.rss_budgets()]
        return json.dumps(data, indent=2)


def machine() -> str:
    """CPU model and core count, as benchmark reports must state them."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, {platform.system()}"


def model_flops(graph: Graph) -> int:
    """2 x the multiply-adds of the matrix work in `graph`: the sum of each op's own count
    (`OpSpec.flops`: Conv, ConvTranspose, Gemm, MatMul); element-wise ops are not counted."""
    specs = (lookup(node.op_type, node.domain) for node in graph.nodes)
    return sum(spec.flops(node, graph) for node, spec in zip(graph.nodes, specs, strict=True)
               if spec is not None and spec.flops is not None)


def _bench_executable(crate_dir: Path, crate: str, features: tuple[str, ...] = ()) -> Path:
    """Build the crate's `latency` bench in release mode (with Cargo `features`); return the executable."""
    extra = ["--features", ",".join(features)] if features else []
    with progress.step(" ".join(["compiling the crate's benchmark with cargo", *features])):
        messages = toolchain.compile_crate(["bench", "--bench", "latency", "--no-run", "--quiet", *extra], crate_dir)
    for msg in messages:
        if msg.get("reason") == "compiler-artifact" and msg.get("target", {}).get("name") == "latency" \
                and msg.get("executable"):
            return Path(msg["executable"])
    raise ToolchainError(f"cargo did not report the latency bench of {crate}")


def _native(executable: Path, engine: str = "onnx2rs (native)",
            worker: Callable[..., dict] | None = None) -> tuple[Measurement, float]:
    """The crate's own benchmark, started through the worker so that its peak RSS is read;
    also the time the crate takes to load its model."""
    out = (worker or _worker)(["native", str(executable)])
    return Measurement(engine, out["median_us"], out["p90_us"], out["peak_rss_mb"], out["runs"],
                       out.get("median_us_batch32"), out.get("p90_us_batch32")), out["load_us"]


def _reference_inputs(result: CompileResult) -> list[Path]:
    """The crate's reference inputs (`tests/data/input_I.npy`), in the order of the graph's inputs."""
    return [result.out_dir / "tests" / "data" / f"input_{i}.npy" for i in range(len(result.graph.inputs))]


def _cli_peak_rss_mb(binary: Path, inputs: list[Path], outputs: int, work: Path) -> float:
    """One call of the crate's CLI on `inputs`; the peak RSS it reports (`--peak-rss`), in MB."""
    outs = [work / f"cli_out_{i}.npy" for i in range(outputs)]
    result = subprocess.run([str(binary), "--peak-rss", *map(str, inputs), *map(str, outs)],
                            capture_output=True, text=True)
    line = result.stderr.strip().splitlines()[-1] if result.stderr.strip() else ""
    if result.returncode != 0 or not line.startswith("peak RSS: ") or not line.endswith(" KiB"):
        raise ToolchainError(f"{binary.name} --peak-rss failed: {result.stderr.strip()[-800:]}")
    return kib_to_mb(int(line.removeprefix("peak RSS: ").removesuffix(" KiB")))


def _one_call_rss(result: CompileResult, work: Path, model_path: Path,
                  python: Path | None) -> dict[str, float]:
    """`BenchResult.one_call_rss_mb`: each engine in a fresh process, one call on the reference
    inputs (read from their `.npy` files). The static CLI only where it links (Linux)."""
    inputs = _reference_inputs(result)
    pairs = [f"{name}={path}" for name, path in zip(result.graph.inputs, inputs, strict=True)]
    outputs = len(result.graph.outputs)
    rss = {CLI: _cli_peak_rss_mb(toolchain.build_binary(result.out_dir, result.crate), inputs, outputs, work)}
    if sys.platform == "linux":
        try:
            static = toolchain.build_binary(result.out_dir, result.crate, static=True)
            rss[CLI_STATIC] = _cli_peak_rss_mb(static, inputs, outputs, work)
        except ToolchainError:
            pass  # no static C library here (glibc's libc.a): the dynamic figure stands alone
    if python is not None:
        rss[MODULE] = _worker(["module_one_call", result.crate, *pairs], python=python)["peak_rss_mb"]
    rss[ORT_1] = _worker(["onnxruntime_one_call", str(model_path), "1", *pairs])["peak_rss_mb"]
    # numpy's baseline in the module's own venv when there is one.
    rss[NUMPY] = _worker(["baseline"], python=python)["peak_rss_mb"]
    return rss


def install_python_module(modules: list[Path], venv_dir: Path, extra: tuple[str, ...] = ()) -> Path:
    """A fresh venv at `venv_dir` with numpy, the `extra` packages and `modules`: wheels (from
    `toolchain.build_wheel`, seconds to install) or crate folders made with `--python` (which
    pip builds afresh with maturin, in 40-90 s); returns the venv's python."""
    venv.EnvBuilder(with_pip=True).create(venv_dir)
    python = venv_dir / "bin" / "python"
    result = subprocess.run([str(python), "-m", "pip", "install", "--quiet", "numpy", *extra, *map(str, modules)],
                            capture_output=True, text=True)
    if result.returncode != 0:
        raise ToolchainError(f"pip could not install the Python module: {result.stderr.strip()[-800:]}")
    return python


def _save_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """`arrays` in one `.npz`, each under its name (numpy's stubs read `**arrays` as its flags)."""
    np.savez(path, **arrays)  # type: ignore[arg-type]


def _worker(args: list[str], env: dict[str, str] | None = None, python: Path | None = None) -> dict:
    worker = Path(__file__).with_name("bench_worker.py")
    result = subprocess.run([str(python or sys.executable), str(worker), *args], capture_output=True, text=True,
                            env={**os.environ, **(env or {})})
    if result.returncode != 0:
        raise ToolchainError(f"benchmark worker {args[0]} failed: {result.stderr.strip()[-800:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def bench(
    source: str | Path, options: CompileOptions | None = None, keras: Path | None = None, runs: int | None = None,
    threads: bool = True, python_module: bool = False, rounds: int = 0, interleaved: bool = False,
    seconds: float = SECONDS, batch32: bool | None = None,
) -> BenchResult:
    """Compile `source`, then measure the crate (and, with `threads`, the crate built with its
    `threads` feature; with `python_module`, its Python module in a fresh venv), ONNX Runtime
    (1 thread and default threads) and, given `keras`, TensorFlow's predict, __call__ and
    tf.function, each in its own process; then `rounds` alternated rounds of the crate and
    ONNX Runtime on 1 thread. `interleaved` (which implies `python_module`) also times the module
    and ONNX Runtime call after call in one process, with ONNX Runtime installed beside it.
    Last, the peak RSS of one call in a fresh process, for the CLI (dynamic and static), the
    module and ONNX Runtime (`BenchResult.one_call_rss_mb`).

    Each engine is timed for `seconds` after a warm-up, or for exactly `runs` calls if given.
    Batch 32 is timed too where the crate accepts any batch and `batch32` asks for it; by
    default (None) only when no `--input-shape` fixed the model's shapes."""
    options = options or CompileOptions()
    python_module = python_module or interleaved
    if python_module:
        options = CompileOptions(**{**options.__dict__, "python": True})
    if batch32 is None:
        batch32 = not options.input_shapes
    with tempfile.TemporaryDirectory(prefix="onnx2rs-bench-") as tmp:
        work = Path(tmp)
        # A TensorFlow model keeps its symbolic batch here, so that batch 32 can be timed too.
        converted = frontends.to_onnx(Path(source), dynamic_batch=True) if isinstance(source, (str, Path)) else None
        name = Path(source).stem if isinstance(source, (str, Path)) else None
        result = compile_model(converted if converted is not None else source, work / "crate",
                               CompileOptions(**{**options.__dict__, "force": True, "name": options.name or name}))
        time32 = batch32 and result.dynamic_batch
        timing = {"ONNX2RS_BENCH_SECONDS": str(seconds), **({"ONNX2RS_BENCH_RUNS": str(runs)} if runs else {}),
                  **({"ONNX2RS_BENCH_BATCH32": "1"} if time32 else {})}
        worker = lambda args, **kw: _worker(args, env={**timing, **kw.pop("env", {})}, **kw)  # noqa: E731
        count = str(runs or 0)
        executable = _bench_executable(result.out_dir, result.crate)
        inputs = [np.load(p) for p in _reference_inputs(result)]
        feeds = dict(zip(result.graph.inputs, inputs, strict=True))
        _save_npz(work / "feeds.npz", feeds)
        if time32:
            _save_npz(work / "feeds32.npz", {k: np.concatenate([v] * 32) for k, v in feeds.items()})
        model_path = work / "model.onnx"
        onnx.save(ort_compatible(result.model), model_path)
        batch = int(inputs[0].shape[0]) if inputs and inputs[0].ndim else 1
        report = BenchResult(str(source), machine(), result.weights_bytes / 1e6, batch,
                             arena_mb=result.arena_bytes / 1e6, io_mb=result.graph.io_bytes() / 1e6)
        with progress.step("timing onnx2rs"):
            native, report.load_us = _native(executable, worker=worker)
        report.measurements.append(native)
        if threads:  # large products, convolutions and batches shared between the cores
            threaded = _bench_executable(result.out_dir, result.crate, features=("threads",))
            with progress.step("timing onnx2rs (threads)"):
                report.measurements.append(_native(threaded, "onnx2rs (threads)", worker=worker)[0])
        report.flops = model_flops(result.graph)
        ort = lambda threads, feeds="feeds.npz": worker(  # noqa: E731
            ["onnxruntime", str(model_path), str(work / feeds), str(threads), count])
        for ort_threads, label in ((1, "onnxruntime (1 thread)"), (0, "onnxruntime (default threads)")):
            with progress.step(f"timing {label}"):
                out = ort(ort_threads)
                measured = Measurement(label, out["median_us"], out["p90_us"], out["peak_rss_mb"], out["runs"])
                if time32:
                    out32 = ort(ort_threads, "feeds32.npz")
                    measured.batch32_median_us, measured.batch32_p90_us = out32["median_us"], out32["p90_us"]
            report.measurements.append(measured)
        if importlib.util.find_spec("tract") is not None:  # the other Rust engine, when installed
            with progress.step("timing tract"):
                _time_tract(report, worker, model_path, work, count, time32)
        python = None
        if python_module:
            with progress.step("building and installing the Python module"):
                python = install_python_module([toolchain.build_wheel(result.out_dir)], work / "venv",
                                               ("onnxruntime",) if interleaved else ())
            with progress.step("timing the Python module"):
                out = worker(["python_module", result.crate, str(work / "feeds.npz"), count], python=python)
            report.measurements.append(Measurement("onnx2rs (Python module)", out["median_us"], out["p90_us"],
                                                   out["peak_rss_mb"], out["runs"]))
        if interleaved:
            with progress.step("timing the Python module and ONNX Runtime call after call"):
                out = worker(["interleaved", result.crate, str(model_path), str(work / "feeds.npz"), count],
                             python=python)
            report.interleaved = (out["module_median_us"], out["ort_median_us"], out["ratio"])
        if keras is not None:
            with progress.step("timing TensorFlow"):
                out = worker(["keras", str(keras), str(work / "feeds.npz"), count])
            for mode, numbers in out.items():
                report.measurements.append(Measurement(f"tensorflow ({mode})", numbers["median_us"],
                                                       numbers["p90_us"], numbers["peak_rss_mb"], numbers["runs"]))
        for i in range(rounds):
            with progress.step(f"alternated round {i + 1} of {rounds}"):
                report.rounds.append((_native(executable, worker=worker)[0].median_us, ort(1)["median_us"]))
        single = {v: "1" for v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")}
        with progress.step("measuring peak memory of one call"):
            report.gemm_peak_gflops = _worker(["gemm_peak"], env=single)["gflops"]
            report.one_call_rss_mb = _one_call_rss(result, work, model_path, python)
        return report


def _time_tract(report: BenchResult, worker: Callable[..., dict], model_path: Path, work: Path, count: str,
                time32: bool) -> None:
    """tract's row of `report` (batch 32 too with `time32`), or why it could not run the model."""
    try:
        out = worker(["tract", str(model_path), str(work / "feeds.npz"), count])
        row = Measurement("tract", out["median_us"], out["p90_us"], out["peak_rss_mb"], out["runs"])
        if time32:
            out = worker(["tract", str(model_path), str(work / "feeds32.npz"), count])
            row.batch32_median_us, row.batch32_p90_us = out["median_us"], out["p90_us"]
    except ToolchainError as e:  # tract refuses some models (silero-vad's If)
        report.skipped["tract"] = str(e).splitlines()[0][:200]
        return
    report.measurements.append(row)


def write_chart(report: BenchResult, path: Path) -> bool:
    """A bar chart of median latency per engine (PNG); False if matplotlib is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    timed = [m for m in report.measurements if m.runs]
    fig, ax = plt.subplots(figsize=(8, 0.5 + 0.45 * len(timed)))
    ax.barh([m.engine for m in timed], [m.median_us for m in timed], color="#4c72b0")
    ax.errorbar([m.p90_us for m in timed], range(len(timed)), fmt="|", color="black", label="p90")
    ax.invert_yaxis()
    ax.set_xlabel(f"median latency per call (µs), batch {report.batch}")
    ax.set_title(f"{Path(report.model).name} on {report.machine}", fontsize=9)
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return True
