"""Dynamic batch: may the batch-1 plan run once per sample to serve any batch size?

The compiled plan is static (batch 1 unless the user fixes another size). When the
model declares a symbolic batch dim, the generated `Model::run` accepts any batch
by running each sample through the batch-1 plan, which is exact only if no op
mixes samples. This analysis proves that conservatively, by comparing the model
loaded at batch 2 with the same model at batch 3 (at batch 1, simplification can
fold an op over the batch away, hiding it):

- every value's shape at batch 3 is its batch-2 shape with one axis (its batch
  axis) grown by half, or unchanged (constants); graph inputs and outputs have it on axis 0;
- no node works along a batched input's batch axis (a reduction, softmax, concat,
  contraction, convolution over the batch...), and reshapes keep each sample one
  contiguous block. An op the analysis does not know counts as mixing.

Guarantee: `separable` returns None only when per-sample runs equal a batched run.
"""

from __future__ import annotations

import numpy as np
import onnx

from ..ir import Graph, Node
from ..ops import lookup

_RESHAPES = {"Reshape", "Flatten", "Squeeze", "Unsqueeze"}
_AXIS_OPS = {"Concat", "Gather", "GatherElements", "ArgMax", "ArgMin", "TopK", "LpNormalization"}


def symbolic_batch(model: onnx.ModelProto) -> bool:
    """True if every graph input's leading dim is symbolic (or unknown): the exporter kept a batch."""
    weights = {t.name for t in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in weights]
    return bool(inputs) and all(
        i.type.tensor_type.shape.dim and not i.type.tensor_type.shape.dim[0].HasField("dim_value")
        for i in inputs
    )


def batch_axes(graph2: Graph, graph3: Graph) -> dict[str, int] | str:
    """Each batched value's batch axis (the one axis that grows by half from batch 2 to 3), or why not."""
    axes = {}
    for name, v2 in graph2.values.items():
        v3 = graph3.values.get(name)
        if v3 is None:
            return f"value {name!r} exists at batch 2 but not at batch 3"
        if tuple(v2.shape) == tuple(v3.shape):
            continue
        differ = [a for a, (d2, d3) in enumerate(zip(v2.shape, v3.shape, strict=False)) if d2 != d3]
        if len(v2.shape) != len(v3.shape) or len(differ) != 1 or 2 * v3.shape[differ[0]] != 3 * v2.shape[differ[0]]:
            return f"value {name!r} does not scale with the batch ({list(v2.shape)} at 2, {list(v3.shape)} at 3)"
        axes[name] = differ[0]
    return axes


def _axis(node: Node, rank: int, default: int) -> int:
    return int(node.attrs.get("axis", default)) % max(rank, 1)


def _mixes(node: Node, graph: Graph, axes: dict[str, int]) -> bool:
    """True unless `node` provably treats the samples of its batched inputs independently."""
    spec = lookup(node.op_type, node.domain)
    family = spec.family if spec else ""
    out_axis = axes.get(node.outputs[0]) if node.outputs and node.outputs[0] else None
    for i, name in enumerate(node.inputs):
        if name not in axes:
            continue
        a, rank = axes[name], len(graph.value(name).shape)
        op = node.op_type
        if family == "elementwise" or op in ("Cast", "CastLike", "Transpose"):
            continue
        if op in _RESHAPES:
            # Same number of elements before the batch axis: each sample stays one contiguous block.
            before_in = int(np.prod(graph.value(name).shape[:a]))
            out = graph.value(node.outputs[0])
            if out_axis is None or i != 0 or before_in != int(np.prod(out.shape[:out_axis])):
                return True
            continue
        if op in _AXIS_OPS:
            if (op == "Gather" and i == 1) or (op == "GatherElements" and i == 1 and _axis(node, rank, 0) != a):
                continue
            default = -1 if op in ("TopK", "LpNormalization") else 0
            if _axis(node, rank, default) == a:
                return True
            continue
        if op.startswith("Reduce"):
            from ..ops.reduce import reduction_axes

            if a in (reduction_axes(node, graph) or [a]):
                return True
            continue
        if op in ("Softmax", "LogSoftmax", "Hardmax"):
            if (graph.opset >= 13 and _axis(node, rank, -1) == a) or (graph.opset < 13 and a >= _axis(node, rank, 1)):
                return True
            continue
        if op == "LayerNormalization":
            if a >= _axis(node, rank, -1):
                return True
            continue
        if op in ("Slice", "Pad", "Expand"):
            continue  # touching the batch axis would change its size, which batch_axes rejects
        if op == "Tile":
            reps = graph.initializers.get(node.input(1) or "")
            if reps is None or int(np.asarray(reps).reshape(-1)[a]) != 1:
                return True
            continue
        if family in ("conv", "pool") or op in ("BatchNormalization", "InstanceNormalization", "LRN"):
            # Input 3 of a Conv is a fused residual, read sample by sample like its input.
            if a != 0 or i not in ((0, 3) if op == "Conv" else (0,)):
                return True
            continue
        if op == "MatMul":
            if (i == 0 and a == rank - 1) or (i == 1 and (rank < 2 or a == rank - 2)):
                return True
            continue
        if op == "Gemm":
            trans = int(node.attrs.get("transA" if i == 0 else "transB", 0))
            wanted = {0: 1 if trans else 0, 1: 0 if trans else 1}.get(i)
            if i in (0, 1) and a != wanted:
                return True
            continue
        if op in ("RNN", "GRU", "LSTM"):
            layout = int(node.attrs.get("layout", 0))
            if i == 0 and a == (0 if layout else 1):
                continue
            if i in (5, 6) and a == (0 if layout else 1):
                continue
            return True
        return True  # an op this analysis does not know: assume it mixes
    return False


def separable(graph2: Graph, graph3: Graph) -> str | None:
    """None if the model (loaded at batch 2 and 3) treats every sample on its own; else why not."""
    axes = batch_axes(graph2, graph3)
    if isinstance(axes, str):
        return axes
    for name in [*graph2.inputs, *graph2.outputs]:
        if axes.get(name) != 0:
            return f"{name!r} does not have the batch on axis 0"
    for node in graph2.nodes:
        if _mixes(node, graph2, axes):
            return f"node {node.name!r} ({node.op_type}) may mix samples"
    return None


def with_batch(shapes: dict[str, list[int]], size: int) -> dict[str, list[int]]:
    """`shapes` with every leading dim replaced by `size`."""
    return {k: [size, *v[1:]] for k, v in shapes.items()}


__all__ = ["batch_axes", "separable", "symbolic_batch", "with_batch"]
