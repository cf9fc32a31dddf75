"""Inline ONNX `If`s whose condition is known at build time (part of loading).

Exporters guard shape-dependent code with `If` (torch's checks on sizes, tf2onnx's
`tf.cond` on static flags); once the input shapes are fixed and constants folded, the
condition is a constant. The chosen branch's nodes then replace the `If`, with every
name made unique, and the other branch disappears.

Guarantees: an If is replaced only when its condition is a constant; the branch's outputs
keep the If's output names (through Identity, which `sanitize` removes). Other Ifs are left
for preflight to reject by name. Works on the protobuf, before shape inference.
"""

from __future__ import annotations

import onnx
from onnx import helper

from .unroll import _constants, _scalar

# The op types this step removes before code generation (for docs/ops.md).
REMOVES = frozenset({"If"})


def _inline(node: onnx.NodeProto, branch: onnx.GraphProto) -> tuple[list[onnx.NodeProto], list[onnx.TensorProto]]:
    """The branch's nodes and initializers under fresh names, ending in Identities onto the If's outputs."""
    prefix = (node.name or node.output[0]).replace("/", "_") + "__"
    inner = {o for n in branch.node for o in n.output if o} | {t.name for t in branch.initializer}
    rename = {name: prefix + name for name in inner}
    initializers = []
    for t in branch.initializer:
        copy = onnx.TensorProto()
        copy.CopyFrom(t)
        copy.name = rename[t.name]
        initializers.append(copy)
    nodes = []
    for n in branch.node:
        copy = onnx.NodeProto()
        copy.CopyFrom(n)
        copy.name = prefix + (n.name or n.output[0])
        copy.input[:] = [rename.get(i, i) if i else "" for i in n.input]
        copy.output[:] = [rename[o] if o else "" for o in n.output]
        nodes.append(copy)
    for out, branch_out in zip(node.output, branch.output, strict=True):
        if out:
            nodes.append(helper.make_node("Identity", [rename.get(branch_out.name, branch_out.name)], [out],
                                          name=f"{prefix}{out}"))
    return nodes, initializers


def inline_constant_ifs(model: onnx.ModelProto) -> tuple[onnx.ModelProto, int]:
    """A copy of `model` with every top-level If on a constant condition inlined, and how many were."""
    if not any(n.op_type == "If" for n in model.graph.node):
        return model, 0
    out = onnx.ModelProto()
    out.CopyFrom(model)
    constants = _constants(out.graph)
    nodes, count = [], 0
    for n in out.graph.node:
        cond = _scalar(constants, n.input[0]) if n.op_type == "If" and n.domain in ("", "ai.onnx") else None
        if cond is None:
            nodes.append(n)
            continue
        branch = next(a.g for a in n.attribute if a.name == ("then_branch" if cond else "else_branch"))
        inlined, initializers = _inline(n, branch)
        nodes.extend(inlined)
        out.graph.initializer.extend(initializers)
        count += 1
    del out.graph.node[:]
    out.graph.node.extend(nodes)
    return out, count
