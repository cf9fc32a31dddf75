"""The `onnx2rs` command line: build, convert, verify, analyze, bench."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from .build import CompileOptions, compile_model
from .errors import Onnx2rsError

app = typer.Typer(
    help="Compile ONNX models into fast, dependency-free Rust crates.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
console = Console()
err = Console(stderr=True)

ShapeOpt = Annotated[
    list[str] | None,
    typer.Option("--input-shape", help="Fix an input's shape: NAME=D0,D1,... (repeatable)."),
]


TrustOpt = Annotated[bool, typer.Option(
    "--trust-code", help="Let a Keras file run the Python code of its Lambda and custom layers "
    "(Keras's safe_mode=False). Only for files you trust.")]


def parse_shapes(specs: list[str] | None) -> dict[str, list[int]]:
    """Parse `NAME=1,64` options into a mapping."""
    shapes = {}
    for spec in specs or []:
        name, sep, dims = spec.rpartition("=")
        try:
            if not sep or not name:
                raise ValueError
            shapes[name] = [int(d) for d in dims.split(",")]
        except ValueError:
            raise Onnx2rsError(f"--input-shape {spec!r}: expected NAME=D0,D1,...") from None
    return shapes


def _fail(e: Onnx2rsError) -> typer.Exit:
    err.print(f"[bold red]error:[/] {e}", highlight=False, markup=True, soft_wrap=True)
    return typer.Exit(e.exit_code)


@app.command()
def build(
    model: Annotated[Path, typer.Argument(
        help="The model: .onnx, .keras, .h5, a SavedModel folder, .tflite or .pt2.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder to write the crate to.")] = Path("out"),
    name: Annotated[str | None, typer.Option(help="Crate name (default: the model's file name).")] = None,
    input_shape: ShapeOpt = None,
    force: Annotated[bool, typer.Option(help="Replace OUT if it exists.")] = False,
    python: Annotated[bool, typer.Option(
        "--python", help="Add PyO3 bindings: `pip install OUT` then gives `import NAME`.")] = False,
    trust_code: TrustOpt = False,
) -> None:
    """Compile MODEL into a Rust crate at OUT."""
    try:
        options = CompileOptions(name=name, input_shapes=parse_shapes(input_shape), force=force, python=python,
                                 trust_code=trust_code)
        result = compile_model(model, out, options)
    except Onnx2rsError as e:
        raise _fail(e) from None
    removed = sum(r.removed for r in result.reports)
    console.print(
        f"wrote crate [bold]{result.crate}[/] to {result.out_dir} "
        f"({len(result.graph.nodes)} nodes, {removed} removed by passes, "
        f"weights {result.weights_bytes / 1e6:.2f} MB)"
    )


@app.command()
def convert(
    model: Annotated[Path, typer.Argument(help="A .keras, .h5, SavedModel folder, .tflite or .pt2 model.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="The .onnx file to write.")],
    force: Annotated[bool, typer.Option(help="Replace OUT if it exists.")] = False,
    trust_code: TrustOpt = False,
) -> None:
    """Write the ONNX model onnx2rs compiles from MODEL (before simplification)."""
    from .load import read_model

    try:
        if out.exists() and not force:
            raise Onnx2rsError(f"{out} already exists: pass --force to replace it")
        proto = read_model(model, trust_code)
        staging = out.with_name(f".{out.name}.partial")
        staging.write_bytes(proto.SerializeToString())
        staging.replace(out)
    except Onnx2rsError as e:
        raise _fail(e) from None
    console.print(f"wrote {out} ({len(proto.graph.node)} nodes, opset {proto.opset_import[0].version})")


@app.command()
def verify(
    model: Annotated[Path, typer.Argument(help="The .onnx model to check.")],
    input_shape: ShapeOpt = None,
    atol: Annotated[float, typer.Option(help="Absolute and relative tolerance.")] = 1e-4,
    show: Annotated[int, typer.Option(help="How many output values to print side by side.")] = 0,
    trust_code: TrustOpt = False,
) -> None:
    """Build MODEL, run it on random inputs and compare with ONNX Runtime."""
    from .verify import verify as run_verify

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
            console.print(table)
    table = Table(title=f"onnx2rs vs {result.reference}", title_justify="left")
    for col in ("output", "shape", "max abs error", "max rel error", f"within {atol:g}"):
        table.add_column(col)
    for m, ours in zip(result.mismatches, result.ours, strict=True):
        table.add_row(
            m.name, str(list(ours.shape)), f"{m.max_abs:.3g}", f"{m.max_rel:.3g}",
            "[green]yes[/]" if m.ok else "[red]NO[/]",
        )
    console.print(table)
    if not result.ok:
        raise typer.Exit(1)


@app.command()
def bench(
    model: Annotated[Path, typer.Argument(help="The model to compile and measure.")],
    keras: Annotated[Path | None, typer.Option(help="The Keras source model, to time TensorFlow too.")] = None,
    input_shape: ShapeOpt = None,
    runs: Annotated[int, typer.Option(help="Timed calls per engine (after a warm-up).")] = 200,
    json_out: Annotated[Path | None, typer.Option("--json", help="Write the results as JSON.")] = None,
    png: Annotated[Path | None, typer.Option(help="Write a bar chart of median latencies.")] = None,
    threads: Annotated[bool, typer.Option(help="Also time the crate built with its `threads` feature.")] = True,
    python: Annotated[bool, typer.Option(help="Also time the crate's Python module (built with pip in a "
                                                "fresh venv; needs network access to PyPI for maturin).")] = False,
    rounds: Annotated[int, typer.Option(help="Then time the crate and ONNX Runtime (1 thread) in turn this many "
                                             "times, and report the median of the per-round ratios.")] = 0,
    interleaved: Annotated[bool, typer.Option(help="Also time the Python module and ONNX Runtime (1 thread) call "
                                                   "after call in one process (implies --python).")] = False,
) -> None:
    """Measure MODEL's crate against ONNX Runtime (and TensorFlow): latency and peak memory."""
    from .bench import bench as run_bench
    from .bench import write_chart

    try:
        report = run_bench(model, CompileOptions(input_shapes=parse_shapes(input_shape)), keras=keras, runs=runs,
                           threads=threads, python_module=python, rounds=rounds,
                           interleaved=interleaved)
    except Onnx2rsError as e:
        raise _fail(e) from None
    table = Table(title=f"{model.name}, batch {report.batch}, on {report.machine}", title_justify="left")
    for col in ("engine", "median µs", "p90 µs", "vs ORT 1 thread", "GFLOP/s", "batch 32 µs", "vs ORT",
                "peak RSS MB"):
        table.add_column(col, justify="left" if col == "engine" else "right")
    for m in report.measurements:
        ratio, ratio32 = (report.ratio(m.engine), report.ratio_batch32(m.engine)) if m.runs else (None, None)
        rate = report.gflops(m.engine)
        table.add_row(m.engine, f"{m.median_us:.1f}" if m.runs else "", f"{m.p90_us:.1f}" if m.runs else "",
                      f"{ratio:.2f}x" if ratio is not None else "", f"{rate:.1f}" if rate else "",
                      f"{m.batch32_median_us:.0f}" if m.batch32_median_us else "",
                      f"{ratio32:.2f}x" if ratio32 else "", f"{m.peak_rss_mb:.1f}")
    console.print(table)
    console.print(f"load: {report.load_us:.0f} µs; weights: {report.weights_mb:.2f} MB; matrix work {report.flops / 1e6:.2f} MFLOP per call; "
                  f"single-core GEMM peak here (numpy's BLAS, 1 thread): {report.gemm_peak_gflops:.0f} GFLOP/s")
    if report.rounds:
        ratios = ", ".join(f"{a / b:.2f}" for a, b in report.rounds)
        console.print(f"alternated with ONNX Runtime (1 thread), {len(report.rounds)} rounds: median ratio "
                      f"{report.alternated_ratio:.2f}x (rounds: {ratios})")
    if report.interleaved:
        module_us, ort_us, ratio = report.interleaved
        console.print(f"interleaved in one process, call after call: Python module {module_us:.1f} µs, "
                      f"ONNX Runtime (1 thread) {ort_us:.1f} µs; median ratio {ratio:.2f}x")
    if report.one_call_rss_mb:
        one = ", ".join(f"{engine} {mb:.2f} MB" for engine, mb in report.one_call_rss_mb.items())
        console.print(f"peak RSS of one call in a fresh process: {one}")
    for engine, why in report.skipped.items():
        console.print(f"not timed: {engine} could not run this model ({why})", markup=False)
    for engine, measured, budget in report.rss_budgets():
        verdict = "[green]within[/]" if measured <= budget else "[red]over[/]"
        console.print(f"  {engine}: {measured:.2f} MB, {verdict} its budget of {budget:.2f} MB")
    if json_out:
        json_out.write_text(report.to_json())
    if png and not write_chart(report, png):
        err.print("no chart: matplotlib is not installed (pip install matplotlib)")


@app.command()
def analyze(
    model: Annotated[Path, typer.Argument(help="The .onnx model to analyse.")],
    input_shape: ShapeOpt = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
    html_out: Annotated[Path | None, typer.Option("--html", help="Write a self-contained HTML report.")] = None,
) -> None:
    """Show the schedule, liveness, in-place decisions and the memory plan of MODEL."""
    import json

    from .analyze import analyze as run_analyze
    from .report_html import render_html

    try:
        a = run_analyze(model, CompileOptions(input_shapes=parse_shapes(input_shape)))
    except Onnx2rsError as e:
        raise _fail(e) from None
    if html_out is not None:
        html_out.write_text(render_html(a))
    if json_out:
        print(json.dumps(a.to_json(), indent=2))
        return
    table = Table(title=f"schedule of {a.model}", title_justify="left")
    for col in ("step", "node", "op", "output shape", "bytes", "last use", "in place", "offset"):
        numeric = col in ("step", "bytes", "last use", "offset")
        table.add_column(col, justify="right" if numeric else "left",
                         overflow="ellipsis" if col == "node" else "fold",
                         no_wrap=col == "node", max_width=22 if col == "node" else None)
    for s in a.steps:
        table.add_row(str(s.step), s.node, s.op, "x".join(map(str, s.shape)), str(s.bytes), str(s.last_use),
                      ("[green]yes[/]: " if s.inplace else "no: ") + s.reason, str(s.offset))
    console.print(table)
    removed = ", ".join(f"{p['pass']} removed {p['removed']}" for p in a.passes)
    console.print(f"passes: {removed}")
    console.print(
        f"intermediates: naive {a.naive_bytes:,} B, planned arena {a.arena_bytes:,} B "
        f"([bold]{a.ratio:.1%}[/] of naive); weights {a.weights_bytes:,} B"
    )
    if html_out is not None:
        console.print(f"wrote {html_out}")


def main() -> None:
    """Console-script entry point. A failure onnx2rs did not foresee is still one line
    (exit code 1) unless ONNX2RS_TRACEBACK=1 asks for the traceback."""
    logging.basicConfig(level=logging.WARNING, format="warning: %(message)s")
    np.set_printoptions(precision=6)
    try:
        app()  # exits through SystemExit, which passes untouched
    except Exception as e:  # noqa: BLE001 - the last line of defence against tracebacks
        if os.environ.get("ONNX2RS_TRACEBACK"):
            raise
        err.print(f"[bold red]error:[/] internal error, please report it: {type(e).__name__}: {e} "
                  "(ONNX2RS_TRACEBACK=1 shows where)", highlight=False, soft_wrap=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
    sys.exit(0)
