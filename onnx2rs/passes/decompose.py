"""Rewrite ops into simpler ones the rest of the compiler already handles.

- `Split` with static split sizes becomes one `Slice` per output (with constant
  starts/ends/axes), so codegen only ever sees single-output nodes there.

Guarantee: no Split with known sizes remains; every output keeps its name.
"""

from __future__ import annotations

import numpy as np

from ..ir import Graph, Node


def _split_sizes(graph: Graph, node: Node) -> list[int] | None:
    axis_len = graph.value(node.inputs[0]).shape[int(node.attrs.get("axis", 0)) % len(graph.value(node.inputs[0]).shape)]
    outputs = [o for o in node.outputs]
    if graph.opset >= 13 and node.input(1):
        if not graph.is_constant(node.inputs[1]):
            return None
        return [int(v) for v in np.asarray(graph.initializers[node.inputs[1]]).reshape(-1)]
    if "split" in node.attrs:
        return [int(v) for v in node.attrs["split"]]
    # Equal parts; since opset 18 the last one may be smaller.
    parts = int(node.attrs.get("num_outputs", len(outputs)))
    size = -(-axis_len // parts)
    return [min(size, max(axis_len - i * size, 0)) for i in range(parts)]


def decompose(graph: Graph) -> bool:
    """Replace each Split with static sizes by Slices; True if any were replaced."""
    changed = False
    for node in [n for n in graph.nodes if n.op_type == "Split" and n.domain in ("", "ai.onnx")]:
        sizes = _split_sizes(graph, node)
        if sizes is None or len(sizes) != len(node.outputs):
            continue
        rank = len(graph.value(node.inputs[0]).shape)
        axis = int(node.attrs.get("axis", 0)) % rank
        at = graph.nodes.index(node)
        slices, start = [], 0
        for i, (out, size) in enumerate(zip(node.outputs, sizes, strict=True)):
            names = [graph.fresh_name(f"{node.name}/slice{i}/{part}") for part in ("starts", "ends", "axes")]
            for name, value in zip(names, (start, start + size, axis), strict=True):
                graph.initializers[name] = np.array([value], np.int64)
            start += size
            if out:
                slices.append(Node(f"{node.name}/slice{i}", "Slice", [node.inputs[0], *names], [out]))
        graph.nodes[at:at + 1] = slices
        changed = True
    return changed
