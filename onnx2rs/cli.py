"""The `onnx2rs` command line: build, convert, verify, analyze, bench."""

from __future__ import annotations

import errno
import os
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import numpy as np
import typer
from rich.table import Table
from rich.text import Text

from . import __version__, outputs, toolchain, ui
from .build import CompileOptions, compile_model
from .errors import Onnx2rsError

if TYPE_CHECKING:
    from .tools.analyze import Analysis
    from .tools.bench import BenchResult

class _Command(typer.core.TyperCommand):
    """A command whose usage line reads `onnx2rs build [OPTIONS] MODEL` (typer writes `{MODEL}`)."""

    def collect_usage_pieces(self, ctx: Any) -> list[str]:  # click's Context (typer vendors click)
        pieces = [self.options_metavar] if self.options_metavar else []
        for param in self.get_params(ctx):
            if param.param_type_name == "argument":
                pieces.append(param.metavar or (param.name or "ARG").upper())
        return pieces


def _examples(*lines: str) -> str:
    """An epilog of example command lines, kept as written (`\b` stops click rewrapping them)."""
    return "Examples:\n\n\b\n" + "\n".join(f"  {line}" for line in lines)


app = typer.Typer(
    help="Compile ONNX models into fast, dependency-free Rust crates.\n\n"
    "Run `onnx2rs COMMAND --help` for a command's options and examples.",
    epilog=_examples("onnx2rs build model.onnx -o model_rs",
                     "onnx2rs verify model.onnx --input-shape input=1,3,224,224"),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,  # help texts and user text are never read as markup
    context_settings={"help_option_names": ["-h", "--help"]},
)

ShapeOpt = Annotated[
    list[str] | None,
    typer.Option("--input-shape", metavar="NAME=D0,D1,...",
                 help="Fix the shape of input NAME (repeat for each input). Needed for dims the model leaves "
                      "open, except a leading batch dim, which becomes 1 (see `build --help`)."),
]
TrustOpt = Annotated[bool, typer.Option(
    "--trust-code", metavar="", help="Let a Keras file run the Python code of its Lambda and custom layers "
    "(Keras's safe_mode=False). Only for files you trust.")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", metavar="", help="Print only results and errors.")]
VerboseOpt = Annotated[bool, typer.Option(
    "--verbose", "-v", metavar="", help="Also print the compiler's notes and the frameworks' own logs.")]
ModelArg = Annotated[Path, typer.Argument(
    metavar="MODEL", show_default=False,
    help="The model: .onnx, .keras, .h5, a SavedModel folder, .tflite or .pt2.")]


def _show_version(value: bool) -> None:
    if value:
        ui.say(f"onnx2rs {__version__}")
        raise typer.Exit(0)


@app.callback()
def _global(
    version: Annotated[bool, typer.Option("--version", metavar="", callback=_show_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    """Each command applies its own -q/-v (ui.configure)."""


def parse_shapes(specs: list[str] | None, flag: str | None = None) -> dict[str, list[int]]:
    """Parse `NAME=1,64` options into a mapping."""
    shapes = {}
    for spec in specs or []:
        name, sep, dims = spec.rpartition("=")
        try:
            if not sep or not name:
                raise ValueError
            shapes[name] = [int(d) for d in dims.split(",")]
        except ValueError:
            raise Onnx2rsError(f"{flag or '--input-shape'} {spec!r}: expected NAME=D0,D1,...") from None
    return shapes


def parse_dims(specs: list[str]) -> dict[str, list[int | str]]:
    """Parse `NAME=N,3,H,W` options (numbers pin, names open) into a mapping."""
    dims: dict[str, list[int | str]] = {}
    for spec in specs:
        name, sep, given = spec.rpartition("=")
        if not sep or not name or not given:
            raise Onnx2rsError(f"--dynamic {spec!r}: expected NAME=D0,D1,... (numbers or dim names)")
        dims[name] = [int(d) if d.strip().lstrip("-").isdigit() else d.strip() for d in given.split(",")]
    return dims


def _fail(e: Onnx2rsError) -> typer.Exit:
    ui.error(str(e))
    return typer.Exit(e.exit_code)


ForceOpt = Annotated[bool, typer.Option("--force", metavar="", help="Replace OUT if it exists.")]


@app.command(cls=_Command, epilog=_examples(
    "onnx2rs build model.onnx -o model_rs",
    "onnx2rs build detector.onnx --input-shape images=1,3,640,640 -o det --python",
    "pip install ./det   # with --python: then `import det`"))
def build(
    model: ModelArg,
    out: Annotated[Path, typer.Option("--out", "-o", metavar="DIR", help="Folder to write the crate to.")]
    = Path("out"),
    name: Annotated[str | None, typer.Option(metavar="NAME", help="Crate name (default: the model's file name, "
                                                                    "made a valid identifier).")] = None,
    input_shape: ShapeOpt = None,
    force: ForceOpt = False,
    python: Annotated[bool, typer.Option(
        "--python", metavar="", help="Add PyO3 bindings and a pyproject.toml: `pip install OUT` (which needs "
        "maturin, fetched by pip from PyPI) then gives `import NAME`.")] = False,
    wheel: Annotated[bool, typer.Option(
        "--wheel", metavar="", help="With --python: also build the module's wheel into OUT/dist with maturin "
        "(pip install 'onnx2rs[wheel]'), reusing what earlier modules compiled; then pip install the wheel, "
        "which takes seconds.")] = False,
    dynamic: Annotated[list[str] | None, typer.Option(
        "--dynamic", metavar="NAME=D0,D1,...|auto",
        help="Leave dims of input NAME open, so that the crate runs at any size: a name (H) opens a dim, a "
             "number pins it (repeat for each input); 'auto' opens the model's own symbolic dims. "
             "--input-shape then gives the sizes the plan is made and tested at.")] = None,
    trust_code: TrustOpt = False,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Compile MODEL into a Rust crate at OUT.

    The batch: when the model's leading dim is symbolic (a name or ?) and no --input-shape fixes
    it, the crate is compiled at batch 1 and accepts any batch at run time, running sample by
    sample, if onnx2rs proves that no op mixes samples (it compiles the model at batch 2 and 3 and
    compares the graphs). Otherwise the batch is fixed at 1; -v says why.
    """
    ui.configure(quiet, verbose)
    try:
        if wheel and not python:
            raise Onnx2rsError("--wheel builds the Python module: pass --python too")
        if wheel:
            toolchain.maturin()  # missing: say so before the build
        if dynamic and not input_shape:
            raise Onnx2rsError("--dynamic needs --input-shape NAME=D0,D1,...: the sizes to make the plan at and "
                               "to test the crate at (it then runs at any size the model accepts)")
        options = CompileOptions(name=name, input_shapes=parse_shapes(input_shape), force=force, python=python,
                                 trust_code=trust_code,
                                 dynamic=None if not dynamic else {} if dynamic == ["auto"] else parse_dims(dynamic))
        result = compile_model(model, out, options)
    except Onnx2rsError as e:
        raise _fail(e) from None
    removed = sum(r.removed for r in result.reports)
    ui.say(Text.assemble("wrote crate ", (result.crate, "bold"), f" to {result.out_dir} "
                         f"({len(result.graph.nodes)} nodes, {removed} removed by passes, "
                         f"weights {result.weights_bytes / 1e6:.2f} MB)"))
    if wheel:
        try:
            built = toolchain.build_wheel(result.out_dir)
        except Onnx2rsError as e:
            raise _fail(Onnx2rsError(f"the crate is at {result.out_dir}, but its wheel failed: {e}")) from None
        ui.say(f"wrote wheel {built}: pip install {built}")


@app.command(cls=_Command, epilog=_examples("onnx2rs convert model.keras -o model.onnx"))
def convert(
    model: Annotated[Path, typer.Argument(metavar="MODEL", show_default=False,
                                          help="A .keras, .h5, SavedModel folder, .tflite or .pt2 model.")],
    out: Annotated[Path, typer.Option("--out", "-o", metavar="FILE", help="The .onnx file to write.")],
    force: ForceOpt = False,
    trust_code: TrustOpt = False,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Write the ONNX model onnx2rs compiles from MODEL (before simplification)."""
    from . import progress
    from .frontend.read import read_model

    ui.configure(quiet, verbose)
    try:
        outputs.check_file(out, force, "--out")
        with progress.step(f"converting {model.name}"):
            proto = read_model(model, trust_code)
        outputs.write_file(out, proto.SerializeToString(), "--out")
    except Onnx2rsError as e:
        raise _fail(e) from None
    ui.say(f"wrote {out} ({len(proto.graph.node)} nodes, opset {proto.opset_import[0].version})")


@app.command(cls=_Command, epilog=_examples("onnx2rs verify model.onnx --input-shape x=1,3,224,224 --show 5"))
def verify(
    model: ModelArg,
    input_shape: ShapeOpt = None,
    atol: Annotated[float, typer.Option(metavar="TOL", help="Absolute and relative tolerance.")] = 1e-4,
    show: Annotated[int, typer.Option(metavar="N", help="How many output values to print side by side.")] = 0,
    trust_code: TrustOpt = False,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Build MODEL, run it on random inputs and compare with ONNX Runtime.

    Exit code 0 if every output is within the tolerance, 1 if not, 2 on an error.
    """
    from .tools.verify import verify as run_verify

    ui.configure(quiet, verbose)
    try:
        options = CompileOptions(input_shapes=parse_shapes(input_shape), trust_code=trust_code)
        result = run_verify(model, options, atol=atol)
    except Onnx2rsError as e:
        raise _fail(e) from None
    if show:
        for name, ours, theirs in zip(result.names, result.ours, result.theirs, strict=True):
            table = Table(title=f"output {name!r}: first {show} values", title_justify="left")
            table.add_column("index", justify="right")
            table.add_column("onnx2rs", justify="right")
            table.add_column(result.reference, justify="right")
            for i, (a, b) in enumerate(zip(ours.reshape(-1)[:show], theirs.reshape(-1)[:show], strict=True)):
                table.add_row(str(i), f"{a:.6g}", f"{b:.6g}")
            ui.out.print(table)
    table = Table(title=f"onnx2rs vs {result.reference}", title_justify="left")
    for col in ("output", "shape", "max abs error", "max error / max |ref|", f"within {atol:g}"):
        table.add_column(col)
    for m, ours in zip(result.mismatches, result.ours, strict=True):
        table.add_row(m.name, str(list(ours.shape)), f"{m.max_abs:.3g}", f"{m.max_rel:.3g}",
                      Text("yes", "green") if m.ok else Text("NO", "red"))
    ui.out.print(table)
    if not result.ok:
        raise typer.Exit(1)


@app.command(cls=_Command, epilog=_examples("onnx2rs bench model.onnx --json bench.json",
                                           "onnx2rs bench det.onnx --input-shape x=1,3,640,640 --runs 20"))
def bench(
    model: ModelArg,
    keras: Annotated[Path | None, typer.Option(metavar="FILE",
                                               help="The Keras source model, to time TensorFlow too.")] = None,
    input_shape: ShapeOpt = None,
    runs: Annotated[int | None, typer.Option(metavar="N", min=1, help="Time exactly N calls per engine (after a "
                                            "warm-up) instead of --seconds of them.")] = None,
    seconds: Annotated[float, typer.Option(metavar="S", min=0.1, help="Seconds of timing per engine, after a "
                                           "warm-up of 0.3 s (at least 5 calls).")] = 3.0,
    batch32: Annotated[bool | None, typer.Option(
        "--batch32/--no-batch32", help="Also time batch 32, where the crate accepts any batch. Default: only "
        "when no --input-shape fixed the shapes.", show_default=False)] = None,
    json_out: Annotated[Path | None, typer.Option("--json", metavar="FILE",
                                                  help="Write the results as JSON.")] = None,
    png: Annotated[Path | None, typer.Option(metavar="FILE", help="Write a bar chart of median latencies.")] = None,
    threads: Annotated[bool, typer.Option(help="Also time the crate built with its `threads` feature.")] = True,
    python: Annotated[bool, typer.Option(
        "--python", metavar="",
        help="Also time the crate's Python module (its wheel built as by `build --wheel`, installed in a fresh venv).",
    )] = False,
    rounds: Annotated[int, typer.Option(metavar="N", help="Then time the crate and ONNX Runtime (1 thread) in "
                                        "turn this many times, and report the median of the per-round ratios.")] = 0,
    interleaved: Annotated[bool, typer.Option(
        "--interleaved", metavar="",
        help="Also time the Python module and ONNX Runtime (1 thread) call after call in one process "
        "(implies --python).",
    )] = False,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Measure MODEL's crate against ONNX Runtime (and TensorFlow): latency and peak memory."""
    from .tools.bench import bench as run_bench
    from .tools.bench import write_chart

    ui.configure(quiet, verbose)
    try:
        for path, flag in ((json_out, "--json"), (png, "--png")):
            if path is not None:
                outputs.check_file(path, True, flag)
        report = run_bench(model, CompileOptions(input_shapes=parse_shapes(input_shape)), keras=keras, runs=runs,
                           threads=threads, python_module=python, rounds=rounds,
                           interleaved=interleaved, seconds=seconds, batch32=batch32)
    except Onnx2rsError as e:
        raise _fail(e) from None
    _print_measurements(model.name, report)
    ui.say(f"load: {report.load_us:.0f} µs; weights: {report.weights_mb:.2f} MB; matrix work "
           f"{report.flops / 1e6:.2f} MFLOP per call; single-core GEMM peak here (numpy's BLAS, 1 thread): "
           f"{report.gemm_peak_gflops:.0f} GFLOP/s")
    if report.rounds:
        ratios = ", ".join(f"{a / b:.2f}" for a, b in report.rounds)
        ui.say(f"alternated with ONNX Runtime (1 thread), {len(report.rounds)} rounds: median ratio "
               f"{report.alternated_ratio:.2f}x (rounds: {ratios})")
    if report.interleaved:
        module_us, ort_us, ratio = report.interleaved
        ui.say(f"interleaved in one process, call after call: Python module {module_us:.1f} µs, "
               f"ONNX Runtime (1 thread) {ort_us:.1f} µs; median ratio {ratio:.2f}x")
    if report.one_call_rss_mb:
        one = ", ".join(f"{engine} {mb:.2f} MB" for engine, mb in report.one_call_rss_mb.items())
        ui.say(f"peak RSS of one call in a fresh process: {one}")
    for engine, why in report.skipped.items():
        ui.say(f"not timed: {engine} could not run this model ({why})")
    parts = " + ".join(f"{what} {mb:.2f}" for what, mb in report.rss_budget_parts().items())
    for engine, measured, budget in report.rss_budgets():
        verdict = Text("within", "green") if measured <= budget else Text("over", "red")
        extra = " + numpy's own" if engine == "onnx2rs Python module" else ""
        ui.say(Text.assemble(f"  {engine}: {measured:.2f} MB, ", verdict,
                             f" its budget of {budget:.2f} MB ({parts}{extra})"))
    try:
        if json_out:
            outputs.write_file(json_out, report.to_json(), "--json")
        if png and not write_chart(report, png):
            ui.note("no chart: matplotlib is not installed (pip install matplotlib)")
    except Onnx2rsError as e:
        raise _fail(e) from None


@app.command(cls=_Command, epilog=_examples("onnx2rs analyze model.onnx",
                                           "onnx2rs analyze model.onnx --json > plan.json",
                                           "onnx2rs analyze model.onnx --html report.html"))
def analyze(
    model: ModelArg,
    input_shape: ShapeOpt = None,
    dynamic: Annotated[list[str] | None, typer.Option(
        "--dynamic", metavar="NAME=D0,D1,...",
        help="Leave dims of input NAME open: a name (H) opens a dim, a number pins it (repeat for each input). "
             "Shapes are then also shown as expressions of the open dims.")] = None,
    at: Annotated[list[str] | None, typer.Option(
        "--at", metavar="NAME=D0,D1,...",
        help="With --dynamic: the sizes at which the plan is also shown in numbers (as --input-shape).")] = None,
    json_out: Annotated[bool, typer.Option("--json", metavar="", help="Print JSON instead of tables.")] = False,
    html_out: Annotated[Path | None, typer.Option("--html", metavar="FILE",
                                                  help="Write a self-contained HTML report.")] = None,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Show the schedule, liveness, in-place decisions and the memory plan of MODEL."""
    import json

    from .tools.analyze import analyze as run_analyze
    from .tools.report_html import render_html

    ui.configure(quiet, verbose)
    try:
        if html_out is not None:
            outputs.check_file(html_out, True, "--html")
        if at and input_shape:
            raise Onnx2rsError("--at and --input-shape both fix the sizes: pass one of them")
        if dynamic and not (at or input_shape):
            raise Onnx2rsError("--dynamic needs --at NAME=D0,D1,...: the sizes to build the plan at "
                               "and show it in numbers")
        a = run_analyze(model, CompileOptions(input_shapes=parse_shapes(at or input_shape, "--at" if at else None)),
                        parse_dims(dynamic) if dynamic else None)
        if html_out is not None:
            outputs.write_file(html_out, render_html(a), "--html")
    except Onnx2rsError as e:
        raise _fail(e) from None
    if json_out:
        print(json.dumps(a.to_json(), indent=2))
        return
    if ui.out.width >= WIDE:
        ui.out.print(_schedule_table(a))
    else:
        _print_schedule(a)
    removed = ", ".join(f"{p['pass']} removed {p['removed']}" for p in a.passes)
    ui.say(f"passes: {removed}")
    sizes = " at these sizes" if a.open_dims is not None else ""
    ui.say(f"intermediates{sizes}: naive {a.naive_bytes:,} B, planned arena {a.arena_bytes:,} B "
           f"({a.ratio:.1%} of naive); weights {a.weights_bytes:,} B")
    if a.open_dims is not None:
        named = ", ".join(f"{k} = {v}" for k, v in a.open_dims.items()) or "none"
        plan = a.dynamic_note or "each buffer starts above the end of the buffers of the steps listed (at any size)"
        ui.say(f"open dims (sizes shown): {named}; {plan}")
    if html_out is not None:
        ui.say(f"wrote {html_out}")


# From this many columns `analyze` and `bench` print tables; narrower (a pipe is 80),
# as lines, which never wrap a word letter by letter.
WIDE = 120


def _schedule_table(a: Analysis) -> Table:
    table = Table(title=f"schedule of {a.model}", title_justify="left")
    symbolic = a.open_dims is not None
    columns = ["step", "node", "computes", "output shape", "bytes", "last use", "in place", "offset"]
    for col in columns + (["shape at any size", "above steps"] if symbolic else []):
        numeric = col in ("step", "bytes", "last use", "offset")
        table.add_column(col, justify="right" if numeric else "left",
                         no_wrap=col not in ("in place", "shape at any size"),
                         overflow="ellipsis", max_width=24 if col == "node" else None)
    for s in a.steps:
        row: list[str | Text] = [
            str(s.step), s.node, s.fused, "x".join(map(str, s.shape)), f"{s.bytes:,}", str(s.last_use),
            Text.assemble(("yes", "green") if s.inplace else "no", ": " + s.reason), f"{s.offset:,}"]
        if symbolic:
            row += [" x ".join(s.dims) if s.dims else "?",
                    ", ".join(map(str, s.above)) if s.above else ("-" if s.above is not None else "?")]
        table.add_row(*row)
    return table


def _print_schedule(a: Analysis) -> None:
    ui.say(f"schedule of {a.model} ({len(a.steps)} steps)")
    for s in a.steps:
        ui.say(Text.assemble(f"{s.step:>4}  ", (s.fused, "bold"), f"  {s.node}"))
        if s.fused_by:
            ui.say(f"      fused by {', '.join(s.fused_by)}")
        ui.say(f"      output {'x'.join(map(str, s.shape))} {s.dtype}, {s.bytes:,} B at offset {s.offset:,}, "
               f"last read at step {s.last_use}")
        if a.open_dims is not None:
            where = (f"; above steps {', '.join(map(str, s.above))}" if s.above else
                     "; at offset 0" if s.above is not None else "")
            ui.say(f"      at any size: {' x '.join(s.dims) if s.dims else 'not known yet'}{where}")
        ui.say(Text.assemble("      in place: ", ("yes", "green") if s.inplace else "no", f" ({s.reason})"))


def _print_measurements(model: str, report: BenchResult) -> None:
    """One row per engine: a table on a wide terminal, a line each otherwise (see WIDE)."""
    title = f"{model}, batch {report.batch}, on {report.machine}"
    rows = []
    for m in report.measurements:
        ratio, ratio32 = (report.ratio(m.engine), report.ratio_batch32(m.engine)) if m.runs else (None, None)
        rate = report.gflops(m.engine)
        rows.append((m, ratio, ratio32, rate))
    if ui.out.width < WIDE:
        ui.say(title)
        for m, ratio, ratio32, rate in rows:
            parts = [f"median {m.median_us:,.1f} µs, p90 {m.p90_us:,.1f} µs ({m.runs} calls)" if m.runs else "",
                     f"{ratio:.2f}x ORT 1 thread" if ratio is not None else "",
                     f"{rate:.1f} GFLOP/s" if rate else "",
                     f"batch 32 {m.batch32_median_us:,.0f} µs ({ratio32:.2f}x)" if m.batch32_median_us and ratio32
                     else "", f"peak RSS {m.peak_rss_mb:.1f} MB"]
            ui.say(f"  {m.engine}: " + ", ".join(p for p in parts if p))
        return
    table = Table(title=title, title_justify="left")
    for col in ("engine", "median µs", "p90 µs", "vs ORT 1 thread", "GFLOP/s", "batch 32 µs", "vs ORT",
                "peak RSS MB"):
        table.add_column(col, justify="left" if col == "engine" else "right", no_wrap=True)
    for m, ratio, ratio32, rate in rows:
        table.add_row(m.engine, f"{m.median_us:.1f}" if m.runs else "", f"{m.p90_us:.1f}" if m.runs else "",
                      f"{ratio:.2f}x" if ratio is not None else "", f"{rate:.1f}" if rate else "",
                      f"{m.batch32_median_us:.0f}" if m.batch32_median_us else "",
                      f"{ratio32:.2f}x" if ratio32 else "", f"{m.peak_rss_mb:.1f}")
    ui.out.print(table)


def _exit_on_signal(signum: int, _frame: object) -> None:
    """SIGTERM and SIGHUP end the run as Ctrl-C does: through the same cleanup (staging
    folders, temporary folders), then the conventional exit code."""
    raise SystemExit(128 + signum)


def _usage_error(e: BaseException) -> bool:
    """Whether `e` is one of typer's usage errors (a bad flag, a missing argument): typer
    0.20+ raises them from its own copy of click, earlier versions from click itself."""
    return callable(getattr(e, "format_message", None)) and isinstance(getattr(e, "exit_code", None), int)


def main() -> None:
    """Console-script entry point. Every failure is one `error:` line: exit code 2 for a mistake
    in the input, the flags or the environment (a full disk), 1 for one onnx2rs did not
    foresee, with its traceback only if ONNX2RS_TRACEBACK=1 asks."""
    np.set_printoptions(precision=6)
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _exit_on_signal)
    try:
        code = app(standalone_mode=False, prog_name="onnx2rs")
    except (typer.Abort, KeyboardInterrupt):
        ui.error("interrupted")
        sys.exit(130)
    except OSError as e:
        if e.errno == errno.EPIPE:  # `onnx2rs analyze model.onnx | head`
            sys.exit(0)
        if os.environ.get("ONNX2RS_TRACEBACK") or e.errno not in outputs.ENVIRONMENT_ERRNOS:
            _internal(e)
        ui.error(str(outputs.environment_error(e, "onnx2rs")))
        sys.exit(2)
    except Exception as e:  # noqa: BLE001 - the last line of defence against tracebacks
        if not _usage_error(e):
            _internal(e)
        if type(e).__name__ == "NoArgsIsHelpError":  # `onnx2rs` alone: the help, as --help gives it
            ui.out.print(e.ctx.get_help())  # type: ignore[attr-defined]
            sys.exit(0)
        ui.error(f"{e.format_message()} (see onnx2rs {_command_of(e)}--help)")  # type: ignore[attr-defined]
        sys.exit(2)
    sys.exit(code if isinstance(code, int) else 0)


def _command_of(e: BaseException) -> str:
    ctx = getattr(e, "ctx", None)
    return f"{ctx.info_name} " if ctx is not None and ctx.parent is not None else ""


def _internal(e: Exception) -> None:
    if os.environ.get("ONNX2RS_TRACEBACK"):
        raise e
    ui.error(f"internal error, please report it: {type(e).__name__}: {e} (ONNX2RS_TRACEBACK=1 shows where)")
    sys.exit(1)


if __name__ == "__main__":
    main()
