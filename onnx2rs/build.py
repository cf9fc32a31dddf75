"""The compiler driver: load -> IR -> passes -> preflight -> emit, written atomically.

    frontend.load      read, check, fix shapes, simplify, rewrite control flow, lift into the IR
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
import importlib
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx

from . import codegen, limits, outputs, passes, preflight, progress, reference, toolchain
from .errors import ModelError, Onnx2rsError, UnsupportedError
from .frontend import load
from .invariants import check_graph
from .ir import Graph
from .passes import batching
from .passes.symbolic_plan import SymbolicPlan, plan_of

log = logging.getLogger(__name__)

# Op types that never reach code generation, and the steps that remove them: the front end's
# control-flow rewrites and the passes, each declaring its own `REMOVES`.
# (By module path: the passes package exports each pass function under its module's name.)
REWRITTEN: dict[str, tuple[str, ...]] = {}
for _path in ("frontend.branches", "frontend.unroll", "frontend.loops", "passes.sanitize", "passes.decompose",
              "passes.constant_fold"):
    for _op in sorted(importlib.import_module(f".{_path}", __package__).REMOVES):
        REWRITTEN[_op] = (*REWRITTEN.get(_op, ()), _path.rsplit(".", 1)[-1])


@dataclass
class CompileOptions:
    """How to compile a model."""

    name: str | None = None
    input_shapes: dict[str, list[int]] = field(default_factory=dict)
    force: bool = False
    seed: int = 0
    # Add PyO3 bindings and a maturin pyproject.toml, so that `pip install OUT` works.
    python: bool = False
    # Accept any batch size at run time (per-sample runs of the batch-1 plan) when the model's
    # batch dim is symbolic and no op mixes samples; False fixes the batch at compile time.
    dynamic_batch: bool = True
    # Let a Keras file run the Python code of its Lambda and custom layers (safe_mode=False).
    trust_code: bool = False
    # Inputs and expected outputs for the generated tests; None: random inputs through ONNX Runtime.
    reference: tuple[dict[str, np.ndarray], list[np.ndarray]] | None = None
    # With open dims: more such sets, at other sizes, that the crate's tests run through one
    # session, twice each (with `reference` given; else one at twice the probe's sizes).
    more_references: list[tuple[dict[str, np.ndarray], list[np.ndarray]]] = field(default_factory=list)
    # Dims to leave open (`--dynamic`; {} for the model's own): shapes in the IR are then
    # expressions of them, `input_shapes` the probe size; the crate then runs at any size.
    dynamic: dict[str, list[int | str]] | None = None


@dataclass
class CompileResult:
    """What a build produced."""

    out_dir: Path
    crate: str
    model: onnx.ModelProto
    graph: Graph
    reports: list[passes.PassReport]
    weights_bytes: int
    # The generated API accepts any batch size (see batching.py).
    dynamic_batch: bool = False
    # The planned arena of intermediates (all element types), in bytes.
    arena_bytes: int = 0


def lower_model(
    source: str | Path | onnx.ModelProto, options: CompileOptions
) -> tuple[onnx.ModelProto, Graph, list[passes.PassReport]]:
    """Load a model and run the pipeline; raises before anything is written."""
    with progress.step("loading and simplifying the model"):
        model, graph = load.load(source, options.input_shapes, options.trust_code, rewritten=REWRITTEN,
                                 dynamic=options.dynamic)
    with progress.step("running the passes"):
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
    outputs.check_folder(out_dir, options.force)
    crate = _crate(source, options)
    model, graph, reports = lower_model(source, options)
    if options.python:
        _check_python_dtypes(graph)
    with progress.step("planning memory"):
        live, inplace, memory = passes.analyse(graph)
    io_bytes = graph.io_bytes()
    limits.check_fits(f"the compiled model's buffers (arena {limits.human(memory.arena_bytes)}, "
                      f"inputs and outputs {limits.human(io_bytes)})", memory.arena_bytes + io_bytes)
    symbolic = None
    if graph.probe:
        symbolic = _symbolic_plan(graph, memory)
        dynamic_batch = False  # the open dims include the batch, if the model leaves it open
    else:
        with progress.step("checking whether the batch can vary"):
            dynamic_batch = options.dynamic_batch and _batch_is_separable(source, model, graph, options)

    if options.more_references and not graph.probe:
        raise Onnx2rsError("reference sets at other sizes need open dims (--dynamic)")
    if options.reference is not None:
        references = [options.reference, *options.more_references]
    else:
        with progress.step("computing reference outputs with ONNX Runtime"):
            first, *more = _sample_sets(graph, options.seed)
            references = [(first, reference.run_onnxruntime(model, first))]
            for feeds in more:
                try:
                    references.append((feeds, reference.run_onnxruntime(model, feeds)))
                except Exception as e:  # noqa: BLE001 - ONNX Runtime's error types are not public
                    log.warning("the crate's tests run at the probe size only: ONNX Runtime fails at twice "
                                "its sizes (%s)", str(e).strip().splitlines()[0] if str(e).strip() else e)
    sets = [([feeds[name] for name in graph.inputs], expected) for feeds, expected in references]

    with progress.step("writing the crate"):
        try:
            with outputs.staged_folder(out_dir, options.force) as staging:
                files = codegen.emit_crate(
                    graph, staging, crate, str(source) if not isinstance(source, onnx.ModelProto) else "model.onnx",
                    sets,
                    (live, inplace, memory),
                    python=options.python,
                    dynamic_batch=dynamic_batch,
                    symbolic=symbolic,
                )
                toolchain.rustfmt(files.rust_sources)
        except OSError as e:
            if e.errno in outputs.ENVIRONMENT_ERRNOS:
                raise outputs.environment_error(e, "writing the crate") from None
            raise
    return CompileResult(out_dir, crate, model, graph, reports, files.weights_bytes, dynamic_batch,
                         memory.arena_bytes)


def _symbolic_plan(graph: Graph, memory: passes.MemoryPlan) -> SymbolicPlan:
    """The memory plan at every size of the open dims; ModelError naming the values whose
    sizes have no expression (the code could not compute their offsets)."""
    plan = plan_of(graph, memory)
    if isinstance(plan, list):
        raise ModelError(f"with open dims, the size of {len(plan)} value(s) is known only at "
                         f"{graph.probe} ({', '.join(map(repr, plan[:5]))}{', ...' if len(plan) > 5 else ''}); "
                         "pin the dims they depend on with --input-shape")
    return plan


def _sample_sets(graph: Graph, seed: int) -> list[dict[str, np.ndarray]]:
    """Inputs for the generated tests: at the probe, and for a graph with open dims also at
    twice each open dim, where the sizes' code meets a second size (growing its memory)."""
    sets = [reference.sample_inputs(graph, seed)]
    if graph.probe:
        sets.append(reference.sample_inputs(graph, seed + 1, {k: 2 * v for k, v in graph.probe.items()}))
    return sets


def _crate(source: str | Path | onnx.ModelProto, options: CompileOptions) -> str:
    """The crate name: `--name` (or the file's stem) made a valid identifier, saying so on one
    line when that changed it; Onnx2rsError for a Python module that would shadow another."""
    requested = options.name or (Path(source).stem if isinstance(source, (str, Path)) else "model")
    crate = codegen.crate_name(requested)
    if crate != requested:
        # Said out loud only when the user chose the name.
        (log.warning if options.name else log.info)(
            "crate name %r is not a valid Rust crate name of its own; using %r", requested, crate)
    if options.python and (shadowed := codegen.shadowed_module(crate)):
        raise Onnx2rsError(f"--python: a module named {crate!r} would shadow {shadowed}; "
                           f"pick another with --name (for example --name {crate}_model)")
    return crate


def _check_python_dtypes(graph: Graph) -> None:
    """The Python module passes numpy arrays, which have no float8, bfloat16 or 4-bit types."""
    narrow = [f"{n} ({graph.value(n).dtype.name})" for n in graph.inputs + graph.outputs
              if not graph.value(n).dtype.native]
    if narrow:
        raise UnsupportedError({"--python with inputs or outputs of narrow element types "
                                "(use the Rust API)": narrow})


def _batch_is_separable(source: str | Path | onnx.ModelProto, model: onnx.ModelProto, graph: Graph,
                        options: CompileOptions) -> bool:
    """True if the model's batch is symbolic, compiled as 1, and no op mixes samples."""
    shapes = {name: list(graph.value(name).shape) for name in graph.inputs}
    if not batching.symbolic_batch(model) or any(not s or s[0] != 1 for s in shapes.values()):
        return False
    try:
        two, three = (lower_model(model, dataclasses.replace(options, input_shapes=batching.with_batch(shapes, n)))[1]
                      for n in (2, 3))
    except Onnx2rsError as e:
        log.info("batch fixed at 1: the model does not load at batch 2 or 3 (%s)", e)
        return False
    reason = batching.separable(two, three)
    if reason:
        log.info("batch fixed at 1: %s", reason)
    return reason is None


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
    from .frontend.frameworks import pytorch

    options = options or CompileOptions()
    if options.name is None:
        options = dataclasses.replace(options, name=type(module).__name__)
    model = pytorch.export(module, example_inputs, dynamic_batch=dynamic_batch)
    return compile_model(model, out_dir, options)
