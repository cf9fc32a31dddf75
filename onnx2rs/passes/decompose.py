"""Rewrite ops into simpler ones the rest of the compiler already handles.

- `Split` with static split sizes becomes one `Slice` per output (with constant
  starts/ends/axes), so codegen only ever sees single-output nodes there.
- `DepthToSpace` and `SpaceToDepth` become Reshape -> Transpose -> Reshape, exactly
  as the spec defines them.

Guarantee: no Split with known sizes, DepthToSpace or SpaceToDepth remains; every
output keeps its name.
"""

from __future__ import annotations

import numpy as np

from ..ir import Graph, Node, Value


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


def _space_depth_plan(graph: Graph, node: Node) -> tuple[list[int], list[int]]:
    """The 6-D intermediate shape and the permutation of the spec's definition."""
    b, c, h, w = graph.value(node.inputs[0]).shape
    bs = int(node.attrs["blocksize"])
    crd = node.attrs.get("mode", "DCR") == "CRD"  # SpaceToDepth has `mode` since opset 28
    if node.op_type == "SpaceToDepth":
        return [b, c, h // bs, bs, w // bs, bs], [0, 1, 3, 5, 2, 4] if crd else [0, 3, 5, 1, 2, 4]
    if crd:
        return [b, c // (bs * bs), bs, bs, h, w], [0, 1, 4, 2, 5, 3]
    return [b, bs, bs, c // (bs * bs), h, w], [0, 3, 4, 1, 5, 2]


def _decompose_space_depth(graph: Graph, node: Node) -> list[Node]:
    x, y = node.inputs[0], node.outputs[0]
    split, perm = _space_depth_plan(graph, node)
    dtype = graph.value(x).dtype
    a, t = graph.fresh_name(f"{node.name}/split"), graph.fresh_name(f"{node.name}/moved")
    s1, s2 = graph.fresh_name(f"{node.name}/split_shape"), graph.fresh_name(f"{node.name}/out_shape")
    graph.values[a] = Value(a, dtype, tuple(split))
    graph.values[t] = Value(t, dtype, tuple(split[p] for p in perm))
    graph.initializers[s1] = np.array(split, np.int64)
    graph.initializers[s2] = np.array(graph.value(y).shape, np.int64)
    return [
        Node(f"{node.name}/reshape_in", "Reshape", [x, s1], [a]),
        Node(f"{node.name}/transpose", "Transpose", [a], [t], {"perm": perm}),
        Node(f"{node.name}/reshape_out", "Reshape", [t, s2], [y]),
    ]


def decompose(graph: Graph) -> bool:
    """Replace Split (static sizes), DepthToSpace and SpaceToDepth; True if any were replaced."""
    changed = False
    for node in [n for n in graph.nodes if n.op_type in ("DepthToSpace", "SpaceToDepth")
                 and n.domain in ("", "ai.onnx") and len(graph.value(n.inputs[0]).shape) == 4]:
        at = graph.nodes.index(node)
        graph.nodes[at:at + 1] = _decompose_space_depth(graph, node)
        changed = True
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
