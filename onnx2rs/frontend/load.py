"""The front end in order: read, fix input shapes, simplify, rewrite control flow, lift into the IR.

The steps live beside it: `read.py` (files, the checker, external data), `shapes.py` (input
shapes, onnx-simplifier, shape folding and inference), `branches.py`, `unroll.py` and `loops.py`
(If, Loop, Scan) and `lift.py` (to the IR). Guarantees on return: the model passed the ONNX
checker, every value has a known dtype and a static shape, and `Constant` nodes have become
initializers.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from pathlib import Path

import onnx
import onnx.inliner
import onnx.version_converter
from onnx import numpy_helper

from ..errors import ModelError, UnsupportedError
from ..ir import Graph
from .branches import flatten_runtime_ifs, inline_constant_ifs, sort_subgraphs, taking
from .lift import to_ir, unsupported_ops
from .read import opset_of, read_model
from .shapes import (
    copy_model,
    drop_contradicted_shapes,
    fixed_input_shapes,
    infer_shapes,
    is_static,
    shapes_from_readers,
    simplify,
)
from .symbolic import open_dims, open_graph, sizes_of, symbolic_shapes, with_shapes_at
from .unroll import unroll_loops

log = logging.getLogger(__name__)

MIN_OPSET = 7


def upgraded(model: onnx.ModelProto, opset: int) -> onnx.ModelProto:
    """`model` itself, or for opsets before MIN_OPSET a copy upgraded by onnx's version
    converter (which rewrites old forms such as Add's `broadcast` attribute)."""
    if opset >= MIN_OPSET:
        return model
    try:
        converted = onnx.version_converter.convert_version(model, MIN_OPSET)
    except Exception as err:  # the converter raises bare RuntimeErrors from C++
        raise ModelError(f"opset {opset} is too old: onnx2rs reads opset {MIN_OPSET} and newer, "
                         f"and onnx's version converter could not upgrade this model ({err})") from None
    return _per_channel_prelu(converted)


def _per_channel_prelu(model: onnx.ModelProto) -> onnx.ModelProto:
    """Before opset 7 a PRelu slope of shape [C] meant one slope per channel (axis 1); since
    then it broadcasts from the right. The version converter leaves it, so reshape it to
    [C, 1, ...] here."""
    inferred = onnx.shape_inference.infer_shapes(model)
    ranks = {i.name: len(i.type.tensor_type.shape.dim) for i in [*inferred.graph.input, *inferred.graph.value_info]
             if i.type.tensor_type.HasField("shape")}
    weights = {t.name: t for t in model.graph.initializer}
    for node in model.graph.node:
        if node.op_type != "PRelu" or node.input[1] not in weights:
            continue
        slope = numpy_helper.to_array(weights[node.input[1]])
        rank = ranks.get(node.input[0], 0)
        if slope.ndim == 1 and slope.size > 1 and rank >= 3:
            reshaped = slope.reshape(slope.size, *([1] * (rank - 2)))
            weights[node.input[1]].CopyFrom(numpy_helper.from_array(reshaped, node.input[1]))
    return model


def load(
    source: str | Path | onnx.ModelProto, input_shapes: dict[str, list[int]] | None = None,
    trust_code: bool = False, *, rewritten: Collection[str], dynamic: dict[str, list[int | str]] | None = None,
) -> tuple[onnx.ModelProto, Graph]:
    """Read, check, fix shapes, simplify and lift a model (`trust_code`: see `frameworks.to_onnx`).
    `rewritten`: the op types that a later step removes (see `unsupported_ops`); `dynamic`: the
    dims to leave open (`symbolic.open_dims`; {} for the model's own): the model is simplified
    with them open and the IR's shapes are expressions of them, `input_shapes` giving the probe
    size (`Graph.probe`). ONNX's inference stops at the shape arithmetic an open graph keeps, so
    the shapes at the probe come from the symbolic ones too.

    Returns the checked original model (for the reference run) and the IR.
    """
    model = read_model(source, trust_code)
    opset = opset_of(model)
    if opset > onnx.defs.onnx_opset_version():
        raise ModelError(
            f"opset {opset} is newer than this onnx package knows ({onnx.defs.onnx_opset_version()})"
        )
    if unsupported_ops(model.graph, rewritten, custom_only=True):
        # Shape inference and onnxsim stop at the first op of another domain: name them all now.
        raise UnsupportedError(unsupported_ops(model.graph, rewritten))
    shapes = fixed_input_shapes(model, input_shapes)
    # With open dims, onnxsim keeps the shape arithmetic over them (`symbolic.py` values it).
    fixed = shapes if dynamic is None else {}
    simplified = simplify(drop_contradicted_shapes(upgraded(model, opset), shapes), fixed)
    simplified, phis = lift_control_flow(simplified, shapes)
    if dynamic is not None:
        sym = symbolic_shapes(simplified, open_dims(simplified, dynamic))
        sizes = sizes_of(sym.dims, shapes)
        at = sym.at(sizes)
        simplified = with_shapes_at(simplified, at)
    # Folding makes more shapes known, and so more contradictions visible.
    simplified = drop_contradicted_shapes(simplified, shapes)
    graph = to_ir(shapes_from_readers(infer_shapes(simplified, shapes)), rewritten, phis)
    if dynamic is not None:
        open_graph(graph, sym, sizes, at)
    return model, graph


def _static_shapes(model: onnx.ModelProto, shapes: dict[str, list[int]]) -> dict[str, list[int]]:
    """The values whose shape is static by (lenient) shape inference; none for a model without
    Scan, the only unrolling that needs them."""
    if not any(n.op_type == "Scan" for n in model.graph.node):
        return {}
    try:
        inferred = infer_shapes(copy_model(model), shapes, strict=False)
    except ModelError:
        return {}
    g = inferred.graph
    known = {i.name: [d.dim_value for d in i.type.tensor_type.shape.dim]
             for i in [*g.input, *g.value_info, *g.output] if is_static(i)}
    known |= {t.name: list(t.dims) for t in g.initializer}
    return known


def _runs(model: onnx.ModelProto, name: str, side: str, shapes: dict[str, list[int]]) -> bool:
    """Whether the If whose first output is `name` can take `side` at the fixed shapes: the
    model with that branch inlined loads through shape inference."""
    try:
        trial, _ = lift_control_flow(simplify(taking(model, name, side), shapes), shapes)
        infer_shapes(trial, shapes)
    except ModelError as e:
        log.info("the If giving %r cannot take its %s branch at these shapes: %s", name, side, e)
        return False
    return True


# Ifs nest (silero-vad's sample-rate If holds the shape-check Ifs of each branch): each
# round lifts one level.
MAX_NESTING = 16


def lift_control_flow(model: onnx.ModelProto, shapes: dict[str, list[int]]
                      ) -> tuple[onnx.ModelProto, dict[str, int | None]]:
    """Inline constant Ifs, unroll static Loops and flatten run-time Ifs, one nesting level per
    round, folding in between; returns the flat model and the names of its Phi values.

    If conditions and trip counts are constants only once shapes are fixed and folded, and
    a branch that the shapes rule out may not even type-check: an If is flattened only when
    folding has nothing left to decide, and a branch that does not type-check at the fixed
    shapes (silero-vad's 8 kHz branch at 512 samples) is left out, to fail at run time if taken.
    """
    phis: dict[str, int | None] = {}
    for _ in range(MAX_NESTING):
        sort_subgraphs(model.graph)  # onnxsim writes branches back out of dataflow order
        model, inlined = inline_constant_ifs(model)
        model, unrolled = unroll_loops(model, _static_shapes(model, shapes))
        flattened = 0
        if not (inlined or unrolled):
            model, new_phis, flattened = flatten_runtime_ifs(model, lambda m, name, side: _runs(m, name, side, shapes))
            phis |= new_phis
        if not (inlined or unrolled or flattened):
            break
        log.info("inlined %d If(s), unrolled %d Loop(s), flattened %d If(s)", inlined, unrolled, flattened)
        model = simplify(model, shapes)
    return model, phis
