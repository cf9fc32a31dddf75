"""The compiler driver: load -> IR -> passes -> preflight -> emit, written atomically.

    load.load          read, check, fix shapes, simplify, lift into the IR
    passes.PIPELINE    sanitize, dead nodes (see passes/__init__.py)
    preflight          every unsupported op listed at once, before any file is written
    passes.analyse     liveness -> in-place decisions -> memory plan (arena offsets)
    codegen.emit_crate lower each node through templates/ into a crate that uses the plan
    toolchain.rustfmt  generated code is formatted like hand-written code

Output goes to a temporary sibling folder and is renamed into place only when
everything succeeded, so a failed build leaves nothing behind.
"""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx

from . import codegen, load, passes, preflight, reference, toolchain
from .errors import Onnx2rsError
from .invariants import check_graph
from .ir import Graph


@dataclass
class CompileOptions:
    """How to compile a model."""

    name: str | None = None
    input_shapes: dict[str, list[int]] = field(default_factory=dict)
    force: bool = False
    seed: int = 0
    # Add PyO3 bindings and a maturin pyproject.toml, so that `pip install OUT` works.
    python: bool = False
    # Inputs and expected outputs for the generated tests; None: random inputs through ONNX Runtime.
    reference: tuple[dict[str, np.ndarray], list[np.ndarray]] | None = None


@dataclass
class CompileResult:
    """What a build produced."""

    out_dir: Path
    crate: str
    model: onnx.ModelProto
    graph: Graph
    reports: list[passes.PassReport]
    weights_bytes: int


def lower_model(
    source: str | Path | onnx.ModelProto, options: CompileOptions
) -> tuple[onnx.ModelProto, Graph, list[passes.PassReport]]:
    """Load a model and run the pipeline; raises before anything is written."""
    model, graph = load.load(source, options.input_shapes)
    check_graph(graph)
    reports = passes.run_passes(graph, passes.PIPELINE, check=check_graph)
    preflight.check_supported(graph)
    return model, graph, reports


def compile_model(
    source: str | Path | onnx.ModelProto, out_dir: str | Path, options: CompileOptions | None = None
) -> CompileResult:
    """Compile an ONNX model into a standalone Rust crate at `out_dir`.

    Raises Onnx2rsError (with nothing written) if the model is bad or unsupported,
    or if `out_dir` exists and `options.force` is not set.
    """
    options = options or CompileOptions()
    out_dir = Path(out_dir).absolute()
    if out_dir.exists() and not options.force:
        raise Onnx2rsError(f"{out_dir} already exists: pass --force to replace it")
    stem = Path(source).stem if isinstance(source, (str, Path)) else "model"
    crate = codegen.crate_name(options.name or stem)
    model, graph, reports = lower_model(source, options)
    _, inplace, memory = passes.analyse(graph)

    if options.reference is not None:
        feeds, expected = options.reference
    else:
        feeds = reference.sample_inputs(graph, options.seed)
        expected = reference.run_onnxruntime(model, feeds)
    inputs = [feeds[name] for name in graph.inputs]

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        files = codegen.emit_crate(
            graph, staging, crate, str(source) if not isinstance(source, onnx.ModelProto) else "model.onnx",
            (inputs, expected),
            (inplace, memory),
            python=options.python,
        )
        toolchain.rustfmt(files.rust_sources)
        if out_dir.exists():
            shutil.rmtree(out_dir)
        staging.rename(out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return CompileResult(out_dir, crate, model, graph, reports, files.weights_bytes)


def from_torch(
    module: object,
    example_inputs: tuple,
    out_dir: str | Path,
    options: CompileOptions | None = None,
    dynamic_batch: bool = False,
) -> CompileResult:
    """Compile a PyTorch `nn.Module` into a Rust crate at `out_dir`.

    The module is exported with `torch.onnx.export` (dynamo) at the shapes of
    `example_inputs`, then goes through the same pipeline as an ONNX file.
    """
    from .frontends import pytorch

    options = options or CompileOptions()
    if options.name is None:
        options = dataclasses.replace(options, name=type(module).__name__)
    model = pytorch.export(module, example_inputs, dynamic_batch=dynamic_batch)
    return compile_model(model, out_dir, options)
