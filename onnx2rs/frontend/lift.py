"""Lift a checked, shape-inferred ONNX graph into the IR (`to_ir`), refusing what nothing handles.

Guarantee: every value of the IR has a dtype and a static shape, `Constant` nodes are
initializers, and names are unique; unsupported ops are listed all at once.
"""

from __future__ import annotations

import logging
from collections.abc import Collection

import onnx
import onnx.inliner
import onnx.version_converter
from onnx import numpy_helper

from .. import dtypes
from ..errors import ModelError, UnsupportedError
from ..ir import IR_DOMAIN, LOOP_BEGIN, LOOP_END, Graph, Node, Value
from ..ops import lookup
from .loops import flatten_runtime_loops
from .read import constant_value, node_attrs, opset_of
from .shapes import is_static

log = logging.getLogger(__name__)

def unsupported_ops(graph: onnx.GraphProto, rewritten: Collection[str], custom_only: bool = False
                    ) -> dict[str, list[str]]:
    """Every op type of `graph` and its subgraphs that onnx2rs neither compiles nor rewrites away
    (the default-domain op types of `rewritten`, which the driver gathers from the steps that remove
    them), labelled with its domain when not the default one, with the nodes that use it.
    `custom_only`: only ops of other domains (com.microsoft, custom), which no folding removes."""
    found: dict[str, list[str]] = {}
    for node in graph.node:
        default = node.domain in ("", "ai.onnx")
        if lookup(node.op_type, node.domain) is None and not (default and node.op_type in rewritten):
            if default and custom_only:
                continue
            label = node.op_type if default else f"{node.domain}.{node.op_type}"
            found.setdefault(label, []).append(node.name or node.output[0])
        for a in node.attribute:
            for g in [a.g] if a.type == onnx.AttributeProto.GRAPH else a.graphs:
                for label, names in unsupported_ops(g, rewritten, custom_only).items():
                    found.setdefault(label, []).extend(names)
    return found


def _refuse_if_unsupported(graph: onnx.GraphProto, value: str, rewritten: Collection[str]) -> None:
    """UnsupportedError naming every unsupported op, if `value` comes from one."""
    for node in graph.node:
        if value in node.output and lookup(node.op_type, node.domain) is None and node.op_type not in rewritten:
            raise UnsupportedError(unsupported_ops(graph, rewritten))


def _value(info: onnx.ValueInfoProto, unsupported: dict[str, list[str]]) -> Value | None:
    t = info.type.tensor_type
    dtype = dtypes.from_onnx(t.elem_type)
    if dtype is None:
        unsupported.setdefault(f"dtype {dtypes.onnx_name(t.elem_type)}", []).append(info.name)
        return None
    if not t.HasField("shape") or any(not d.HasField("dim_value") for d in t.shape.dim):
        raise ModelError(f"value {info.name!r} has no static shape after shape inference")
    return Value(info.name, dtype, tuple(d.dim_value for d in t.shape.dim))


def _why_not_static(graph: onnx.GraphProto, value: str) -> str:
    """The message for a value without a static shape: the node where static shapes end
    (its inputs all have one, its output does not) and the graph inputs it depends on."""
    infos = {i.name: i for i in [*graph.input, *graph.value_info, *graph.output]}
    weights = {t.name for t in graph.initializer}
    producer = {o: n for n in graph.node for o in n.output if o}

    def static(v: str) -> bool:
        return v in weights or is_static(infos.get(v))

    node = producer.get(value)
    while node is not None:
        upstream = next((producer[i] for i in node.input if i and not static(i) and i in producer), None)
        if upstream is None:
            break
        node = upstream
    if node is None:
        return f"value {value!r} has no static shape after shape inference"
    sources, frontier, seen = set(), [i for i in node.input if i], set()
    while frontier:
        v = frontier.pop()
        if v in seen:
            continue
        seen.add(v)
        if v in producer:
            frontier.extend(i for i in producer[v].input if i)
        elif v not in weights:
            sources.add(v)
    name = node.name or node.output[0]
    depends = f", computed from the input(s) {', '.join(repr(s) for s in sorted(sources))}" if sources else ""
    return (f"value {value!r} has no static shape after shape inference: static shapes end at the "
            f"{node.op_type} node {name!r}, whose output shape depends on values known only at run time"
            f"{depends} (fix them with --input-shape if they are shapes)")


def _unique(name: str, fallback: str, taken: set[str]) -> str:
    base = name or fallback
    candidate, i = base, 1
    while candidate in taken:
        candidate, i = f"{base}_{i}", i + 1
    taken.add(candidate)
    return candidate


def to_ir(model: onnx.ModelProto, rewritten: Collection[str], phis: dict[str, int | None] | None = None) -> Graph:
    """Lift a shape-inferred model into the IR (Constant nodes become initializers).

    The `Where` nodes that compute `phis` (flattened Ifs, see `branches.py`) become `Phi` nodes,
    without the input that `phis` names (a branch that cannot run). Loops left after
    unrolling are flattened here (`loops.py`).
    """
    phis = phis or {}
    own = {n.name for n in model.graph.node if n.domain == IR_DOMAIN}
    model, _ = flatten_runtime_loops(model)
    structure = {n.name for n in model.graph.node if n.domain == IR_DOMAIN} - own
    g = model.graph
    unsupported: dict[str, list[str]] = {}
    initializers = {t.name: numpy_helper.to_array(t) for t in g.initializer}
    values: dict[str, Value] = {}
    for info in [*g.input, *g.value_info, *g.output]:
        if info.name and info.name not in initializers:
            try:
                v = _value(info, unsupported)
            except ModelError:
                _refuse_if_unsupported(g, info.name, rewritten)  # the likelier cause, named as such
                raise ModelError(_why_not_static(g, info.name)) from None
            if v is not None:
                values[info.name] = v
    nodes: list[Node] = []
    taken: set[str] = set()
    for i, n in enumerate(g.node):
        if n.op_type == "Constant" and n.domain in ("", "ai.onnx"):
            initializers[n.output[0]] = constant_value(n)
            values.pop(n.output[0], None)
            continue
        name = _unique(n.name, f"{n.op_type}_{i}", taken)
        if n.domain == IR_DOMAIN and n.op_type in (LOOP_BEGIN, LOOP_END) and n.name in structure:
            nodes.append(Node(name, n.op_type, list(n.input), list(n.output), node_attrs(n), n.domain))
            continue
        if n.domain == IR_DOMAIN:
            unsupported.setdefault(f"{n.domain}.{n.op_type}", []).append(n.name or n.output[0])
            continue
        if n.op_type == "Where" and n.output[0] in phis:
            nodes.append(_phi(name, n, values, phis[n.output[0]]))
            continue
        nodes.append(Node(name, n.op_type, list(n.input), list(n.output), node_attrs(n), n.domain))
    for name, array in initializers.items():
        if dtypes.from_numpy(array.dtype) is None:
            unsupported.setdefault(f"dtype {array.dtype}", []).append(name)
    if unsupported:
        raise UnsupportedError(unsupported)
    read = {v for n in nodes for v in n.inputs} | {o.name for o in model.graph.output}
    for node in nodes:
        # An output nobody reads may stay untyped (old Dropout masks): it is left out.
        node.outputs = [o if o in read or o in values else "" for o in node.outputs]
        for o in node.outputs:
            if o and o not in values and o not in initializers:
                raise ModelError(f"node {node.name!r}: output {o!r} has no inferred type or shape")
        for o in node.inputs:
            if o and o not in values and o not in initializers:
                raise ModelError(f"node {node.name!r} reads {o!r}, which nothing defines")
    graph = Graph(
        name=g.name or "model",
        nodes=nodes,
        values=values,
        initializers=initializers,
        inputs=[i.name for i in g.input if i.name not in initializers],
        outputs=[o.name for o in g.output],
        opset=opset_of(model),
        doc=model.doc_string or g.doc_string,
    )
    graph.toposort()
    return graph


def _phi(name: str, node: onnx.NodeProto, values: dict[str, Value], missing: int | None) -> Node:
    """The Phi of a flattened If; ModelError when its branches disagree on the shape."""
    out = node.output[0]
    inputs = ["" if i == missing else v for i, v in enumerate(node.input)]
    shapes = {values[v].shape for v in inputs[1:] if v in values}
    if out in values and shapes - {values[out].shape}:
        sides = " and ".join(str(list(values[v].shape)) for v in inputs[1:] if v in values)
        raise ModelError(f"If output {out!r}: the branches give shapes {sides}; onnx2rs needs one static "
                         "shape for both (fix the inputs that decide it with --input-shape)")
    return Node(name, "Phi", inputs, list(node.output), {}, IR_DOMAIN)
