"""Emit a standalone Rust crate for a lowered, planned graph.

`emit_crate` writes into a folder that the caller owns (a temporary one during
`onnx2rs build`); nothing here decides where the final output goes.

Every intermediate lives in its planned slice of a per-dtype arena
(`Scratch::arena_<dtype>`), so a run allocates nothing: each node borrows its
output slice mutably and its input slices immutably (`arena::split`), and an
in-place node is handed its input's slice as its output.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..dtypes import BY_NAME, to_storage
from ..errors import ModelError
from ..ir import Graph, Node, Value
from ..ops import Lowering, lookup
from ..ops.lowering import literal
from ..ops.rust import Arg, fallible
from ..passes import InplaceDecision, Interval, MemoryPlan
from ..passes.guards import Guard, guards
from ..passes.symbolic_plan import SymbolicPlan
from ..resources import runtime_dir
from .loops import loop_begin, loop_end
from .names import RESERVED, Names, crate_name, shadowed_module
from .probe_check import size_dependent
from .render import Operands, Renderer
from .sizes import SizeTable, doc_shape, is_expression
from .step import Step
from .weights import write_weights

__all__ = ["CrateFiles", "crate_name", "emit_crate", "shadowed_module"]

TOLERANCE = 1e-4


@dataclass
class CrateFiles:
    """What `emit_crate` wrote: the Rust sources to format and the weights' size."""

    rust_sources: list[Path]
    weights_bytes: int


def _workspace(needs: list[int | Arg], renderer: Renderer) -> list[str]:
    """What the shared workspace must hold, as Rust expressions whose largest value is its
    length: the largest fixed size, then each size the runtime computes, once each in
    order of first use (empty when no kernel needs one)."""
    fixed = [n for n in needs if isinstance(n, int)]
    computed = [renderer.arg(n) for n in needs if not isinstance(n, int)]
    return ([str(max(fixed))] if fixed else []) + list(dict.fromkeys(computed))


def _safe_file_name(path: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", Path(path).name) or "model.onnx"


def _describe(v: Value, renderer: Renderer, graph: Graph) -> dict[str, Any]:
    """An input or output for the templates: its names, dtype and shape (at the probe where
    dims are open; `doc` and `sizes` then spell them)."""
    shape = [graph.at_probe(d) for d in v.shape]
    open_axes = {axis for axis, d in enumerate(v.shape) if is_expression(d)}
    return {
        "name": v.name,
        "ident": renderer.ident(v.name),
        "rust": v.dtype.rust,
        "numpy": v.dtype.numpy.name,
        "shape": shape,
        "doc": doc_shape(v.shape),
        # The shape as a Rust array over the call's `Sizes` (open dims only).
        "sizes": renderer.sizes.shape(v.shape)[1:] if isinstance(renderer.sizes, SizeTable) else "",
        "rank": len(v.shape),
        "open": bool(open_axes),
        "dim": f"Ix{len(v.shape)}" if len(v.shape) <= 6 else "IxDyn",  # ndarray names ranks up to 6
        # Wrong shapes of the right rank, as (axis, shape): each fixed axis one larger, and empty.
        "bad_shapes": [(axis, [*shape[:axis], d, *shape[axis + 1:]]) for axis in range(len(shape))
                       for d in (shape[axis] + 1, 0) if d != shape[axis] and not (axis in open_axes and d)],
    }


SPLAT_MIN_ELEMENTS = 64


def _splat(array: np.ndarray, value: Value) -> str | None:
    """The Rust literal of a large weight whose elements are all equal, or None.

    Such weights (ConstantOfShape fills, zero biases) are built at load time
    instead of being stored element by element in the weights file.
    """
    a = np.asarray(array)
    if a.size < SPLAT_MIN_ELEMENTS or not (a == a.flat[0]).all():
        return None
    return literal(a.flat[0], value.dtype)


class _Arena:
    """Element ranges of values in their dtype's arena, and shapes, as Rust: literals, or
    fields of the call's `Sizes` where the graph has open dims (`sizes`)."""

    def __init__(self, graph: Graph, memory: MemoryPlan, sizes: SizeTable | None) -> None:
        self.graph, self.memory, self.sizes = graph, memory, sizes

    def bounds(self, name: str) -> tuple[str, str]:
        if self.sizes is not None:
            return self.sizes.bounds(name)
        value = self.graph.value(name)
        start = self.memory.offset_of(name) // value.dtype.numpy.itemsize
        return str(start), str(start + value.size)

    def range(self, name: str) -> str:
        return "{}..{}".format(*self.bounds(name))

    def dims(self, shape: tuple[int, ...]) -> str:
        if self.sizes is not None:
            return self.sizes.shape(shape)
        return "&[" + ", ".join(str(int(d)) for d in shape) + "]"

    def view(self, name: str) -> str:
        """A view of an intermediate of another dtype than the node's output (no split needed)."""
        v = self.graph.value(name)
        return f"arena::view(arena::slice(&s.arena_{v.dtype.name}, {self.range(name)})?, {self.dims(v.shape)})?"


def _lower(graph: Graph, node: Node, renderer: Renderer, arena: _Arena, decision: InplaceDecision | None
           ) -> tuple[Step, Lowering]:
    """Lower one node: its statement and how its operands are borrowed from the arena."""
    if len(node.outputs) > 1:
        return _lower_multi(graph, node, renderer, arena)
    out = graph.value(node.outputs[0])
    view = node.outputs[0] in arena.memory.views
    inplace_input = decision.input if decision is not None and decision.inplace else None
    bindings: dict[str, str] = {}
    split_names: list[str] = []
    split_ranges: list[str] = []
    holds = [] if view else [("out", node.outputs[0], inplace_input or "")]  # (binding, value, overwritten)
    flats = {} if view else {"": "out"}  # "" is the output
    for name in dict.fromkeys(v for v in node.inputs if v):
        if name in graph.inputs or graph.is_constant(name):
            bindings[name] = _outside_arena(graph, name, renderer)
        elif name == inplace_input or (view and name == node.inputs[0]):
            continue  # it is the output slice now, or the output lies within it
        elif graph.value(name).dtype == out.dtype and not view:
            split_names.append(f"in{len(split_names)}")
            split_ranges.append("({}, {})".format(*arena.bounds(name)))
            bindings[name] = f"arena::view({split_names[-1]}, {arena.dims(graph.value(name).shape)})?"
            flats[name] = split_names[-1]
            holds.append((split_names[-1], name, ""))
        else:
            bindings[name] = arena.view(name)
    out_views: list[str | None] = [f"arena::view_mut(out, {arena.dims(out.shape)})?"]
    ctx = Lowering(graph, node, [True], inplace_input is not None, view,
                   frozenset(name or None for name in flats))
    call = lookup(node.op_type, node.domain).lower(ctx)  # type: ignore[union-attr]
    operands = Operands([bindings.get(n) if n else None for n in node.inputs], out_views,
                        {**{i: flats[n] for i, n in enumerate(node.inputs) if n and n in flats},
                         **({None: flats[""]} if "" in flats else {})})
    step = Step(node.op_type, node.name, renderer.call(call, operands), fallible(call), view=view, arena=out.dtype.name,
                out=arena.range(node.outputs[0]), split_names=split_names, split_ranges=split_ranges, holds=holds)
    return step, ctx


def _guard(graph: Graph, guard: Guard | None, renderer: Renderer, arena: _Arena) -> str:
    """The Rust condition under which a node runs (`passes/guards.py`); "" if it always runs."""
    if guard is None:
        return ""
    if not guard:
        return "false"
    terms = []
    for term in sorted(guard, key=sorted):
        literals = []
        for cond, truth in sorted(term):
            view = _outside_arena(graph, cond, renderer) if cond in graph.inputs else arena.view(cond)
            literals.append(f"{'' if truth else '!'}ops::scalar(&{view})?")
        terms.append(" && ".join(literals))
    return " || ".join(f"({t})" if len(guard) > 1 and len(t.split(" && ")) > 1 else t for t in terms)


def _outside_arena(graph: Graph, name: str, renderer: Renderer) -> str:
    """The view of a weight or a graph input."""
    return f"self.{renderer.ident(name)}.view()" if graph.is_constant(name) else f"inputs.{renderer.ident(name)}.view()"


def _lower_multi(graph: Graph, node: Node, renderer: Renderer, arena: _Arena) -> tuple[Step, Lowering]:
    """A node with several outputs: one `arena::split_many` per arena that holds an output."""
    outs: dict[str, list[tuple[str, str]]] = {}  # dtype -> (binding, range) of outputs
    ins: dict[str, list[tuple[str, str]]] = {}
    out_views: list[str | None] = []
    for i, name in enumerate(node.outputs):
        if not name:
            out_views.append(None)
            continue
        v = graph.value(name)
        outs.setdefault(v.dtype.name, []).append((f"out{i}", "({}, {})".format(*arena.bounds(name))))
        out_views.append(f"arena::view_mut(out{i}, {arena.dims(v.shape)})?")
    bindings = {}
    holds = [(f"out{i}", name, "") for i, name in enumerate(node.outputs) if name]
    for name in dict.fromkeys(v for v in node.inputs if v):
        v = graph.value(name)
        if name in graph.inputs or graph.is_constant(name):
            bindings[name] = _outside_arena(graph, name, renderer)
        elif v.dtype.name in outs:
            group = ins.setdefault(v.dtype.name, [])
            group.append((f"in_{v.dtype.name}{len(group)}", "({}, {})".format(*arena.bounds(name))))
            holds.append((group[-1][0], name, ""))
            bindings[name] = f"arena::view({group[-1][0]}, {arena.dims(v.shape)})?"
        else:
            bindings[name] = arena.view(name)
    borrows = []
    for dtype, group in outs.items():
        reads = ins.get(dtype, [])
        borrows.append(
            f"let ([{', '.join(b for b, _ in group)}], [{', '.join(b for b, _ in reads)}]) = arena::split_many("
            f"&mut s.arena_{dtype}, [{', '.join(r for _, r in group)}], [{', '.join(r for _, r in reads)}])?;"
        )
    ctx = Lowering(graph, node, [v is not None for v in out_views], False)
    call = lookup(node.op_type, node.domain).lower(ctx)  # type: ignore[union-attr]
    operands = Operands([bindings.get(n) if n else None for n in node.inputs], out_views)
    step = Step(node.op_type, node.name, renderer.call(call, operands), fallible(call), borrows=borrows, holds=holds)
    return step, ctx


def emit_crate(
    graph: Graph,
    out_dir: Path,
    crate: str,
    source_file: str,
    references: list[tuple[list[np.ndarray], list[np.ndarray]]],
    plan: tuple[dict[str, Interval], dict[str, InplaceDecision], MemoryPlan],
    python: bool = False,
    dynamic_batch: bool = False,
    symbolic: SymbolicPlan | None = None,
) -> CrateFiles:
    """Write the crate for `graph` into the existing, empty folder `out_dir`.

    `references` holds sets of inputs and ONNX Runtime's outputs for the generated tests (the
    first at the shapes the code was planned at; more at other sizes of open dims);
    `plan` holds the liveness, the in-place decisions and the memory plan of `graph` as
    scheduled;
    `python` adds PyO3 bindings (`python/`) and a maturin `pyproject.toml`; with
    `dynamic_batch`, `Model::run` accepts any batch size (per-sample runs); `symbolic` is
    the closed-form memory plan of a graph with open dims, whose code then computes its
    shapes and offsets once per call (`model::Sizes`, codegen/sizes.py).
    Precondition: preflight passed, so every node has a registered lowering.
    """
    live, inplace, memory = plan
    names = Names(RESERVED | {crate})
    weights = {v for n in graph.nodes for v in n.inputs if graph.is_constant(v)}
    weights |= {v for v in graph.outputs if graph.is_constant(v)}
    table = SizeTable(graph, symbolic, memory) if symbolic is not None else None
    renderer = Renderer(names, weights, table)
    arena = _Arena(graph, memory, table)
    inputs = [_describe(graph.values[v], renderer, graph) for v in graph.inputs]

    steps: list[Step] = []
    used: set[str] = set()
    read_inputs: set[str] = set()
    needs: list[int | Arg] = []
    contexts: list[Lowering] = []
    conditions = guards(graph)
    for node in graph.nodes:
        if node.is_loop_begin or node.is_loop_end:
            lowered = (loop_begin(graph, node, renderer, arena) if node.is_loop_begin
                       else loop_end(graph, node, renderer, arena, memory.views))
            step = lowered.step(node)
            used.update(lowered.weights)
            read_inputs.update(lowered.inputs)
        else:
            step, ctx = _lower(graph, node, renderer, arena, inplace.get(node.name))
            contexts.append(ctx)
            used.update(ctx.weights_used)
            read_inputs.update(ctx.inputs_used)
            needs.extend(ctx.workspace_needed)
        step.guard = _guard(graph, conditions.get(node.name), renderer, arena)
        steps.append(step)
    if table is not None:
        # The code over expressions must be what a static build writes at the probe and at
        # twice its sizes: no lowering decided on a size.
        twice = {k: 2 * v for k, v in graph.probe.items()}
        if found := size_dependent(graph, contexts, renderer, [graph.probe, twice]):
            raise ModelError(f"with open dims, {len(found)} node(s) lower differently at different sizes "
                             f"({', '.join(f'{n.op_type} {n.name!r}' for n in found[:5])}); "
                             "pin the dims they depend on with --input-shape")
    for begin, end in graph.loops():
        # A loop lies inside one `if` block or none: its body runs when the loop does.
        if any(st.guard != steps[begin].guard for st in steps[begin:end + 1]):
            raise ModelError(f"the loop opened by {graph.nodes[begin].name!r} runs under different run-time "
                             "conditions in different places, which onnx2rs cannot generate yet")
    for before, step, after in zip([None, *steps[:-1]], steps, [*steps[1:], None], strict=True):
        # Consecutive steps under one condition share one `if` block.
        step.opens = bool(step.guard) and (before is None or before.guard != step.guard)
        step.closes = bool(step.guard) and (after is None or after.guard != step.guard)

    outputs: list[dict[str, Any]] = []
    for i, name in enumerate(graph.outputs):
        desc = _describe(graph.value(name), renderer, graph)
        if graph.is_constant(name):
            used.add(name)
            desc["source"] = f"self.{renderer.ident(name)}.view()"
        elif name in graph.inputs:
            read_inputs.add(name)
            desc["source"] = f"inputs.{renderer.ident(name)}.view()"
        else:
            desc["source"] = arena.view(name)
        if any(d["ident"] == desc["ident"] for d in outputs):
            desc["ident"] = f"{desc['ident']}_{i}"  # the same value returned twice
        outputs.append(desc)

    for desc, name in zip(inputs, graph.inputs, strict=True):
        desc["read"] = name in read_inputs  # an input read only for its (static) shape is never bound
        last = live[name].end  # past the last node for an input that is also an output
        if desc["read"] and 0 <= last < len(steps):
            steps[last].frees.append(desc["ident"])
    weight_list = []
    for w in sorted(used, key=renderer.ident):
        desc = _describe(graph.value(w), renderer, graph)
        desc["panels"] = graph.panels.get(w)  # the [k, n] of `ops::PackedB` panels
        desc["splat"] = None if desc["panels"] else _splat(graph.initializers[w], graph.value(w))
        weight_list.append(desc)
    stored = {w for w in used if w in graph.panels or _splat(graph.initializers[w], graph.value(w)) is None}
    arenas = [
        {"name": name, "rust": BY_NAME[name].rust, "len": nbytes // BY_NAME[name].numpy.itemsize}
        for name, nbytes in sorted(memory.arenas.items())
    ]
    context = {
        "crate": crate,
        "source_file": _safe_file_name(source_file),
        "inputs": inputs,
        "outputs": outputs,
        "weights": weight_list,
        "steps": steps,
        "arenas": arenas,
        "workspace": _workspace(needs, renderer),
        "tolerance": TOLERANCE,
        "dynamic_batch": dynamic_batch,
        "python": python,
        "sizes": table.context(graph.inputs) if table is not None else None,
        # The folders of tests/data that hold a set of inputs and outputs at other sizes.
        "more_sizes": [f"sizes_{k}" for k in range(1, len(references))],
        "runtime_path": json.dumps(str(_shared_runtime() or "runtime")),  # a TOML basic string
    }
    files = {
        "Cargo.toml": "Cargo.toml",
        "src/lib.rs": "lib.rs",
        "src/model.rs": "model.rs",
        "src/main.rs": "main.rs",
        "tests/reference.rs": "reference.rs",
        "tests/allocations.rs": "allocations.rs",
        "tests/threads.rs": "threads.rs",
        "benches/latency.rs": "latency.rs",
        "README.md": "README.md",
        ".gitignore": "gitignore",
    }
    weights_path = out_dir / "weights.safetensors"
    write_weights(weights_path, {renderer.ident(w): graph.initializers[w] for w in stored})
    context["weights_crc32"] = f"0x{zlib.crc32(weights_path.read_bytes()):08x}"
    written = {path: ("crate", template) for path, template in files.items()}
    if python:
        written |= {"pyproject.toml": ("python", "pyproject.toml"), "python/Cargo.toml": ("python", "Cargo.toml"),
                    "python/src/lib.rs": ("python", "lib.rs")}
    for path, (folder, template) in written.items():
        target = out_dir / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(renderer.file(template, folder, **context))

    for k, (feeds, expected) in enumerate(references):
        data = out_dir / "tests" / "data" / (f"sizes_{k}" if k else "")
        data.mkdir(parents=True, exist_ok=True)
        for i, array in enumerate(feeds):
            np.save(data / f"input_{i}.npy", to_storage(array))
        for i, array in enumerate(expected):
            np.save(data / f"output_{i}.npy", to_storage(array))

    if _shared_runtime() is None:
        _vendor_runtime(out_dir / "runtime")
    sources = [out_dir / p for p in written if p.endswith(".rs")]
    return CrateFiles(sources, weights_path.stat().st_size)


def _shared_runtime() -> Path | None:
    """`$ONNX2RS_RUNTIME_PATH`: a runtime checkout that generated crates link to instead of
    a vendored copy. Test suites set it so that one compiled runtime serves every crate
    they build (a vendored copy is a new package to Cargo, compiled again per crate)."""
    path = os.environ.get("ONNX2RS_RUNTIME_PATH")
    return Path(path).resolve() if path else None


def _vendor_runtime(dest: Path) -> None:
    """Copy the runtime crate's manifest and sources, so the output builds on its own."""
    src = runtime_dir()
    dest.mkdir()
    shutil.copy2(src / "Cargo.toml", dest / "Cargo.toml")
    shutil.copytree(src / "src", dest / "src")
