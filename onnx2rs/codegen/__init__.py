"""Emit a standalone Rust crate for a lowered graph.

`emit_crate` writes into a folder that the caller owns (a temporary one during
`onnx2rs build`); nothing here decides where the final output goes.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..ir import Graph, Value
from ..ops import Lowering, lookup
from ..passes import InplaceDecision
from ..resources import runtime_dir
from .names import RESERVED, Names, crate_name, rust_str
from .render import Renderer
from .weights import write_weights

__all__ = ["CrateFiles", "emit_crate", "crate_name", "rust_str"]

TOLERANCE = 1e-4


@dataclass
class CrateFiles:
    """What `emit_crate` wrote: the Rust sources to format and the weights' size."""

    rust_sources: list[Path]
    weights_bytes: int


def _safe_file_name(path: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", Path(path).name) or "model.onnx"


def _describe(v: Value, renderer: Renderer) -> dict[str, Any]:
    return {
        "name": v.name,
        "ident": renderer.ident(v.name),
        "rust": v.dtype.rust,
        "shape": list(v.shape),
        "rank": len(v.shape),
        "bad_shape": [v.shape[0] + 1, *v.shape[1:]] if v.shape else [2],
    }


def emit_crate(
    graph: Graph,
    out_dir: Path,
    crate: str,
    source_file: str,
    reference: tuple[list[np.ndarray], list[np.ndarray]],
    inplace: dict[str, InplaceDecision] | None = None,
) -> CrateFiles:
    """Write the crate for `graph` into the existing, empty folder `out_dir`.

    `reference` holds inputs and ONNX Runtime's outputs for the generated tests;
    nodes that `inplace` approves overwrite their input's buffer instead of allocating.
    Precondition: preflight passed, so every node has a registered lowering.
    """
    names = Names(RESERVED | {crate})
    weights = {v for n in graph.nodes for v in n.inputs if graph.is_constant(v)}
    weights |= {v for v in graph.outputs if graph.is_constant(v)}
    renderer = Renderer(names, weights, set(graph.inputs))
    inputs = [_describe(graph.values[v], renderer) for v in graph.inputs]

    steps, used = [], set()
    for node in graph.nodes:
        spec = lookup(node.op_type, node.domain)
        assert spec is not None, "preflight rejects unsupported ops"
        decision = (inplace or {}).get(node.name)
        ctx = Lowering(graph, node, renderer, inplace=bool(decision and decision.inplace))
        call = spec.lower(ctx)
        used.update(ctx.weights_used)
        steps.append(
            {"op_type": node.op_type, "name": node.name, "out": renderer.ident(node.outputs[0]),
             "expr": call.expr, "fallible": call.fallible, "inplace": call.inplace,
             "source": renderer.ident(node.inputs[0]) if call.inplace else None}
        )

    outputs, seen = [], set()
    for name in graph.outputs:
        desc = _describe(graph.value(name), renderer)
        if graph.is_constant(name):
            used.add(name)
            desc["result"] = f"self.{desc['ident']}.clone()"
        elif name in graph.inputs:
            desc["result"] = f"{desc['ident']}.to_owned()"
        else:
            desc["result"] = desc["ident"] + (".clone()" if name in seen else "")
        seen.add(name)
        outputs.append(desc)
    # The caller binds outputs by name; give each output position its own identifier.
    for i, desc in enumerate(outputs):
        if sum(d["ident"] == desc["ident"] for d in outputs) > 1:
            desc["ident"] = f"{desc['ident']}_{i}"

    weight_list = [
        _describe(graph.value(w), renderer) for w in sorted(used, key=renderer.ident)
    ]
    context = {
        "crate": crate,
        "source_file": _safe_file_name(source_file),
        "inputs": inputs,
        "outputs": outputs,
        "weights": weight_list,
        "steps": steps,
        "tolerance": TOLERANCE,
    }
    files = {
        "Cargo.toml": "Cargo.toml",
        "src/lib.rs": "lib.rs",
        "src/model.rs": "model.rs",
        "src/main.rs": "main.rs",
        "tests/reference.rs": "reference.rs",
        "benches/latency.rs": "latency.rs",
        "README.md": "README.md",
        ".gitignore": "gitignore",
    }
    for path, template in files.items():
        target = out_dir / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(renderer.file(template, **context))

    weights_path = out_dir / "weights.safetensors"
    write_weights(weights_path, {renderer.ident(w): graph.initializers[w] for w in used})
    data = out_dir / "tests" / "data"
    data.mkdir(parents=True, exist_ok=True)
    feeds, expected = reference
    for i, array in enumerate(feeds):
        np.save(data / f"input_{i}.npy", array)
    for i, array in enumerate(expected):
        np.save(data / f"output_{i}.npy", array)

    _vendor_runtime(out_dir / "runtime")
    sources = [out_dir / p for p in files if p.endswith(".rs")]
    return CrateFiles(sources, weights_path.stat().st_size)


def _vendor_runtime(dest: Path) -> None:
    """Copy the runtime crate's manifest and sources, so the output builds on its own."""
    src = runtime_dir()
    dest.mkdir()
    shutil.copy2(src / "Cargo.toml", dest / "Cargo.toml")
    shutil.copytree(src / "src", dest / "src")
