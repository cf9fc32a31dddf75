"""Constant folding: nodes whose inputs are all known at compile time become weights.

Guarantees: no remaining deterministic node has only constant inputs (unless
its result would be larger than FOLD_LIMIT elements, or onnx's reference
evaluator cannot run it); `Shape` and `Size` of statically shaped values are
constants (of open dims, they stay computed at run time). Values are computed
by onnx's reference implementation, so folding follows the ONNX spec exactly.
"""

from __future__ import annotations

import logging

import numpy as np

from ..dtypes import from_numpy
from ..ir import Graph, Node, is_static
from ..ops import NONDETERMINISTIC
from ..reference import evaluate_node

log = logging.getLogger(__name__)

# Op types that always fold, since every shape is static (for docs/ops.md).
REMOVES = frozenset({"Shape", "Size"})

FOLD_LIMIT = 1 << 20  # elements; larger results stay computed at run time


def _static_shape_result(graph: Graph, node: Node) -> np.ndarray | None:
    """`Shape`/`Size` need only the (static) shape of their input, not its values."""
    if node.op_type not in ("Shape", "Size") or node.domain not in ("", "ai.onnx"):
        return None
    shape = graph.value(node.inputs[0]).shape
    rank = len(shape)
    start, end = node.attrs.get("start", 0), node.attrs.get("end", rank)
    start, end = (max(0, min(rank, d + rank if d < 0 else d)) for d in (start, end))
    picked = shape if node.op_type == "Size" else shape[start:end]
    if not is_static(picked):
        return None  # an open dim: computed at run time
    if node.op_type == "Size":
        return np.array(int(np.prod(shape, dtype=np.int64)), np.int64)
    return np.array(picked, np.int64)


def _fold(graph: Graph, node: Node) -> list[np.ndarray] | None:
    static = _static_shape_result(graph, node)
    if static is not None:
        return [static]
    given = [v for v in node.inputs if v]
    if node.is_loop_begin or node.is_loop_end:
        return None  # a loop's structure, run however many times the model says
    if not given or not all(graph.is_constant(v) for v in given) or node.op_type in NONDETERMINISTIC:
        return None
    if any(isinstance(a, (list, tuple)) and a and not isinstance(a[0], (int, float, str, np.ndarray))
           for a in node.attrs.values()):
        return None  # subgraphs and other structured attributes
    inputs = [graph.initializers[v] if v else None for v in node.inputs]
    try:
        results = evaluate_node(node, inputs, graph.opset)
    except Exception as e:  # noqa: BLE001 - the reference evaluator raises many kinds
        log.debug("not folding %s: %s", node.name, e)
        return None
    if any(r.size > FOLD_LIMIT or from_numpy(r.dtype) is None for r in results):
        return None
    return results


def constant_fold(graph: Graph) -> bool:
    """Replace constant-only nodes by initializers; True if any were folded."""
    changed = False
    for node in list(graph.nodes):
        results = _fold(graph, node)
        if results is None:
            continue
        for name, array in zip(node.outputs, results, strict=False):
            if name:
                graph.initializers[name] = array
                graph.remove_value(name)
        graph.nodes.remove(node)
        changed = True
    return changed
