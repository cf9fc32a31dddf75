"""Turn ONNX `If`s into plain nodes (part of loading): inline a build-time choice, flatten a run-time one.

Exporters guard shape-dependent code with `If` (torch's checks on sizes, tf2onnx's
`tf.cond` on static flags); once the input shapes are fixed and constants folded, the
condition is a constant, and `inline_constant_ifs` puts the chosen branch's nodes in
place of the `If`.

Other models choose at run time (silero-vad's `If` on the sample rate input).
`flatten_runtime_ifs` inlines *both* branches and joins each pair of branch outputs
with a `Where(cond, then, else)` that it reports by output name; `to_ir` turns those
into `Phi` nodes. Which nodes then need to run for a given condition is an analysis
of the Phis (`passes/guards.py`), so any later pass that moves, merges or removes
nodes keeps the program correct.

Guarantees: every inlined name is fresh (the If's name as a prefix), and references
from nested subgraphs to the inlined scope are renamed with it; the If's outputs keep
their names. Works on the protobuf, before shape inference.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable

import onnx
from onnx import helper

from ..errors import ModelError
from .graph_constants import graph_constants, scalar
from .rewrite import replace_nodes

# The op types this step removes before code generation (for docs/ops.md).
REMOVES = frozenset({"If"})


def _rename_refs(graph: onnx.GraphProto, rename: dict[str, str]) -> None:
    """Rename the reads of outer values inside a nested subgraph (and its own subgraphs)."""
    for n in graph.node:
        n.input[:] = [rename.get(i, i) if i else "" for i in n.input]
        for a in n.attribute:
            for g in [a.g] if a.type == onnx.AttributeProto.GRAPH else list(a.graphs):
                _rename_refs(g, rename)
    for out in graph.output:
        out.name = rename.get(out.name, out.name)


def _inline(node: onnx.NodeProto, branch: onnx.GraphProto, prefix: str
            ) -> tuple[list[onnx.NodeProto], list[onnx.TensorProto], list[str]]:
    """The branch's nodes and initializers under fresh names, and its outputs' new names."""
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
        for a in copy.attribute:
            for g in [a.g] if a.type == onnx.AttributeProto.GRAPH else list(a.graphs):
                _rename_refs(g, rename)
        nodes.append(copy)
    return nodes, initializers, [rename.get(o.name, o.name) for o in branch.output]


def _prefix(node: onnx.NodeProto, side: str) -> str:
    return (node.name or node.output[0]).replace("/", "_") + f"__{side}__"


def _branch(node: onnx.NodeProto, side: str) -> onnx.GraphProto:
    return next(a.g for a in node.attribute if a.name == f"{side}_branch")


def _is_if(node: onnx.NodeProto) -> bool:
    return node.op_type == "If" and node.domain in ("", "ai.onnx")


def _subgraphs(node: onnx.NodeProto) -> list[onnx.GraphProto]:
    return [g for a in node.attribute for g in ([a.g] if a.type == onnx.AttributeProto.GRAPH else a.graphs)]


def _captured(graph: onnx.GraphProto) -> set[str]:
    """The outer values that `graph` (or a graph nested in it) reads without defining them."""
    defined = {i.name for i in graph.input} | {t.name for t in graph.initializer}
    defined |= {o for n in graph.node for o in n.output}
    read = {i for n in graph.node for i in n.input if i} | {o.name for o in graph.output}
    read |= {v for n in graph.node for g in _subgraphs(n) for v in _captured(g)}
    return read - defined


def reads(node: onnx.NodeProto) -> set[str]:
    """Every value `node` reads: its inputs, and what its subgraphs capture from outside."""
    return {i for i in node.input if i} | {v for g in _subgraphs(node) for v in _captured(g)}


def in_dataflow_order(nodes: list[onnx.NodeProto]) -> list[onnx.NodeProto]:
    """`nodes` ordered so that each comes after the producers of all it reads, captures included
    (exporters write branches whose nested Ifs capture values produced further down); the
    given order is kept where it is free."""
    producer = {o: i for i, n in enumerate(nodes) for o in n.output if o}
    waits = [{producer[v] for v in reads(n) if v in producer} - {i} for i, n in enumerate(nodes)]
    readers: dict[int, list[int]] = {}
    for i, deps in enumerate(waits):
        for d in deps:
            readers.setdefault(d, []).append(i)
    ready = [i for i, deps in enumerate(waits) if not deps]
    heapq.heapify(ready)
    order = []
    while ready:
        i = heapq.heappop(ready)
        order.append(i)
        for r in readers.get(i, []):
            waits[r].discard(i)
            if not waits[r]:
                heapq.heappush(ready, r)
    if len(order) < len(nodes):  # a cycle: leave it to the checks that name it
        return nodes
    return [nodes[i] for i in order]


def sort_subgraphs(graph: onnx.GraphProto) -> None:
    """Put the nodes of every graph nested in `graph` (at any depth) in dataflow order, in place."""
    for node in graph.node:
        for g in _subgraphs(node):
            sort_subgraphs(g)
            nodes = in_dataflow_order(list(g.node))
            del g.node[:]
            g.node.extend(nodes)


def _replace_nodes(model: onnx.ModelProto, rewrite) -> tuple[onnx.ModelProto, int]:
    """A copy of `model` where `rewrite(graph, node)` may return replacement nodes for each If."""
    if not any(_is_if(n) for n in model.graph.node):
        return model, 0
    return replace_nodes(model, lambda g, n: rewrite(g, n) if _is_if(n) else None, in_dataflow_order)


def _take(graph: onnx.GraphProto, n: onnx.NodeProto, side: str) -> list[onnx.NodeProto]:
    """The nodes that replace If `n` when `side` is the branch it takes (initializers go to `graph`)."""
    nodes, initializers, outs = _inline(n, _branch(n, side), _prefix(n, side))
    graph.initializer.extend(initializers)
    return nodes + [helper.make_node("Identity", [value], [out], name=f"{_prefix(n, side)}{out}")
                    for out, value in zip(n.output, outs, strict=True) if out]


def inline_constant_ifs(model: onnx.ModelProto) -> tuple[onnx.ModelProto, int]:
    """A copy of `model` with every top-level If on a constant condition inlined, and how many were."""
    constants = graph_constants(model.graph)

    def rewrite(graph: onnx.GraphProto, n: onnx.NodeProto) -> list[onnx.NodeProto] | None:
        cond = scalar(constants, n.input[0])
        return None if cond is None else _take(graph, n, "then" if cond else "else")

    return _replace_nodes(model, rewrite)


def taking(model: onnx.ModelProto, name: str, side: str) -> onnx.ModelProto:
    """A copy of `model` where the top-level If whose first output is `name` takes `side`."""
    return _replace_nodes(model, lambda g, n: _take(g, n, side) if n.output[0] == name else None)[0]


# Whether the If (by its first output) can run its `then`/`else` branch at the fixed input shapes.
Runs = Callable[[onnx.ModelProto, str, str], bool]


def flatten_runtime_ifs(model: onnx.ModelProto, runs: Runs) -> tuple[onnx.ModelProto, dict[str, int | None], int]:
    """A copy of `model` with every top-level If inlined with both branches; the `Where` nodes'
    outputs that choose between them (the Phis), each with the input (1 or 2) of a branch
    that cannot run at the fixed shapes (`runs` says; it is left out) or None; and how many
    Ifs there were.

    Ifs nested in a branch become top-level Ifs here: call again until the count is 0
    (with folding in between, many of them turn out to be constant).
    """
    phis: dict[str, int | None] = {}

    def rewrite(graph: onnx.GraphProto, n: onnx.NodeProto) -> list[onnx.NodeProto]:
        possible = [side for side in ("then", "else") if runs(model, n.output[0], side)]
        if not possible:
            raise ModelError(f"If node {n.name or n.output[0]!r}: neither branch can run at these input shapes "
                             "(check --input-shape)")
        nodes, sides = [], []
        for side in possible:
            inlined, initializers, outs = _inline(n, _branch(n, side), _prefix(n, side))
            nodes += inlined
            graph.initializer.extend(initializers)
            sides.append(outs)
        missing = None if len(possible) == 2 else (2 if possible == ["then"] else 1)
        for out, then_value, else_value in zip(n.output, sides[0], sides[-1], strict=True):
            if out:
                # With one branch left, Where reads it twice; `to_ir` drops the missing side.
                nodes.append(helper.make_node("Where", [n.input[0], then_value, else_value], [out],
                                              name=f"{_prefix(n, 'phi')}{out}"))
                phis[out] = missing
        return nodes

    flat, count = _replace_nodes(model, rewrite)
    return flat, phis, count
