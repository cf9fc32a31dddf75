"""The rewrite that the front end's control-flow steps share: a copy of the model in which
some top-level nodes are replaced by others (an If by its flattened branches, a Loop or Scan
by its unrolled steps)."""

from __future__ import annotations

from collections.abc import Callable

import onnx

Rewrite = Callable[[onnx.GraphProto, onnx.NodeProto], "list[onnx.NodeProto] | None"]


def replace_nodes(
    model: onnx.ModelProto, rewrite: Rewrite,
    order: Callable[[list[onnx.NodeProto]], list[onnx.NodeProto]] = list,
) -> tuple[onnx.ModelProto, int]:
    """A copy of `model` where each top-level node for which `rewrite(graph, node)` returns a
    list is replaced by that list (`graph` is the copy's, to which `rewrite` may add
    initializers); the nodes are then put in `order`. Also returns how many were replaced."""
    out = onnx.ModelProto()
    out.CopyFrom(model)
    nodes: list[onnx.NodeProto] = []
    count = 0
    for n in out.graph.node:
        replacement = rewrite(out.graph, n)
        if replacement is None:
            nodes.append(n)
        else:
            nodes.extend(replacement)
            count += 1
    del out.graph.node[:]
    out.graph.node.extend(order(nodes))
    return out, count
