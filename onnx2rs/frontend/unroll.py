"""Unroll ONNX `Loop`s whose trip count is known at build time (part of loading).

tf2onnx turns every Keras 3 RNN layer into a `Loop` over the time steps, with a
constant trip count once the input shapes are fixed. Unrolled, each step's body
becomes plain nodes that the rest of the compiler handles like any other (the
iteration number becomes a constant, so the per-step `Gather` and the loop
condition fold away), and the static memory plan covers every step.

Guarantees: a Loop is replaced only when its trip count is a constant, its
initial condition is absent or true, its body has no nested subgraphs, and its
condition can be evaluated at build time for every step; the loop then stops
where the ONNX semantics stop it. Other Loops are left for preflight to reject.
Works on the protobuf, before shape inference, like the rest of loading.
"""

from __future__ import annotations

import logging

import numpy as np
import onnx
from onnx import helper, numpy_helper

from .graph_constants import graph_constants, scalar
from .rewrite import replace_nodes

log = logging.getLogger(__name__)

MAX_STEPS = 4096
# The op types this step removes before code generation (for docs/ops.md).
REMOVES = frozenset({"Loop", "Scan"})


class _Unroller:
    """Copies of one Loop's body, one per step, with every name made unique."""

    def __init__(self, graph: onnx.GraphProto, loop: onnx.NodeProto, opset: int) -> None:
        self.graph, self.loop, self.opset = graph, loop, opset
        self.body = next(a.g for a in loop.attribute if a.name == "body")
        self.prefix = (loop.name or loop.output[0]).replace("/", "_")
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []

    def _name(self, base: str, step: int) -> str:
        return f"{self.prefix}__step{step}__{base}"

    def _const(self, base: str, step: int, value: np.ndarray) -> str:
        name = self._name(base, step)
        self.initializers.append(numpy_helper.from_array(value, name))
        return name

    def step(self, step: int, carried: list[str]) -> tuple[str, list[str], list[str]]:
        """Copy a Loop's body once; return (condition, carried values, scan values) by their new names."""
        body = self.body
        rename = {body.input[0].name: self._const("iteration", step, np.array(step, np.int64)),
                  body.input[1].name: self._const("condition_in", step, np.array(True))}
        rename.update({i.name: c for i, c in zip(body.input[2:], carried, strict=True)})
        outs = self.copy_body(step, rename)
        n_carried = len(carried)
        return outs[0], outs[1:1 + n_carried], outs[1 + n_carried:]

    def copy_body(self, step: int, rename: dict[str, str]) -> list[str]:
        """Copy the body once, its inputs bound as `rename` says; its outputs' new names."""
        body = self.body
        rename = dict(rename)
        inner = {o for n in body.node for o in n.output} | {t.name for t in body.initializer}
        for t in body.initializer:
            copy = onnx.TensorProto()
            copy.CopyFrom(t)
            copy.name = self._name(t.name, step)
            self.initializers.append(copy)
            rename[t.name] = copy.name
        for name in inner - set(rename):
            rename[name] = self._name(name, step)
        for n in body.node:
            copy = onnx.NodeProto()
            copy.CopyFrom(n)
            copy.name = self._name(n.name or n.output[0], step)
            copy.input[:] = [rename.get(i, i) if i else "" for i in n.input]
            copy.output[:] = [rename[o] if o else "" for o in n.output]
            self.nodes.append(copy)
        return [rename.get(o.name, o.name) for o in body.output]

    def stack(self, parts: list[str], out: str, axis: int = 0) -> None:
        """`out` = the parts stacked along a new axis `axis` (a Loop's or Scan's scan output)."""
        unsqueezed = []
        for i, part in enumerate(parts):
            name = self._name(f"{out}_unsqueezed", i)
            if self.opset >= 13:
                axes = self._const(f"{out}_axes", i, np.array([axis], np.int64))
                self.nodes.append(helper.make_node("Unsqueeze", [part, axes], [name], name=name))
            else:
                self.nodes.append(helper.make_node("Unsqueeze", [part], [name], name=name, axes=[axis]))
            unsqueezed.append(name)
        self.nodes.append(helper.make_node("Concat", unsqueezed, [out], name=self._name(out, 0), axis=axis))

    def take(self, value: str, index: int, axis: int, step: int) -> str:
        """`value`'s slice `index` along `axis`, with that axis removed (a Scan input's step)."""
        name = self._name(f"{value}_slice", step)
        at = self._const(f"{value}_index", step, np.array(index, np.int64))
        self.nodes.append(helper.make_node("Gather", [value, at], [name], name=name, axis=axis))
        return name


def _evaluate(graph: onnx.GraphProto, unroller: _Unroller, conds: list[str], opset: int) -> list[bool] | None:
    """The value of each condition, if build-time constants determine it; else None."""
    producers = {o: n for n in unroller.nodes for o in n.output}
    known = {t.name for t in graph.initializer} | {t.name for t in unroller.initializers}
    known |= {n.output[0] for n in graph.node if n.op_type == "Constant"}
    needed, stack = [], list(conds)
    seen: set[str] = set()
    while stack:
        v = stack.pop()
        if v in seen or v in known:
            continue
        seen.add(v)
        node = producers.get(v)
        if node is None:
            return None  # a run-time value (a graph input or an outer node's output)
        needed.append(node)
        stack.extend(i for i in node.input if i)
    order = [n for n in unroller.nodes if n in needed]
    consts = [*graph.initializer, *unroller.initializers,
              *(n for n in graph.node if n.op_type == "Constant")]
    sub = helper.make_graph(
        [n for n in consts if isinstance(n, onnx.NodeProto)] + order, "conditions", [],
        [helper.make_tensor_value_info(c, onnx.TensorProto.BOOL, None) for c in conds],
        [t for t in consts if isinstance(t, onnx.TensorProto)],
    )
    model = helper.make_model(sub, opset_imports=[helper.make_opsetid("", opset)])
    try:
        from onnx.reference import ReferenceEvaluator

        values = ReferenceEvaluator(model).run(None, {})
    except Exception as e:  # noqa: BLE001 - the reference evaluator raises anything
        log.info("cannot evaluate the loop condition at build time: %s", e)
        return None
    return [bool(np.asarray(v).reshape(-1)[0]) for v in values]


def _unroll(graph: onnx.GraphProto, loop: onnx.NodeProto, opset: int) -> list[onnx.NodeProto] | None:
    constants = graph_constants(graph)
    trips = scalar(constants, loop.input[0])
    initial = scalar(constants, loop.input[1]) if len(loop.input) > 1 and loop.input[1] else True
    unroller = _Unroller(graph, loop, opset)
    nested = any(a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS)
                 for n in unroller.body.node for a in n.attribute)
    if trips is None or initial is not True or nested or not 0 < int(trips) <= MAX_STEPS:
        return None
    carried = list(loop.input[2:])
    conds, scans = [], []
    for step in range(int(trips)):
        cond, carried, scan = unroller.step(step, carried)
        conds.append(cond)
        scans.append(scan)
    truth = _evaluate(graph, unroller, conds[:-1], opset) if len(conds) > 1 else []
    if truth is None:
        return None
    steps = next((i + 1 for i, ok in enumerate(truth) if not ok), int(trips))
    if steps < int(trips):
        return _unroll_steps(graph, loop, opset, steps)
    return _finish(unroller, loop, carried, scans)


def _unroll_steps(graph: onnx.GraphProto, loop: onnx.NodeProto, opset: int, steps: int) -> list[onnx.NodeProto]:
    """Unroll exactly `steps` steps (the condition ends the loop before its trip count)."""
    unroller = _Unroller(graph, loop, opset)
    carried, scans = list(loop.input[2:]), []
    for step in range(steps):
        _, carried, scan = unroller.step(step, carried)
        scans.append(scan)
    return _finish(unroller, loop, carried, scans)


def _finish(unroller: _Unroller, loop: onnx.NodeProto, carried: list[str], scans: list[list[str]]):
    for value, out in zip(carried, loop.output[:len(carried)], strict=True):
        if out:
            unroller.nodes.append(helper.make_node("Identity", [value], [out], name=unroller._name(out, 0)))
    for k, out in enumerate(loop.output[len(carried):]):
        if out:
            unroller.stack([scan[k] for scan in scans], out)
    unroller.graph.initializer.extend(unroller.initializers)
    return unroller.nodes


def _attr(node: onnx.NodeProto, name: str, default):
    return next((helper.get_attribute_value(a) for a in node.attribute if a.name == name), default)


def _unroll_scan(graph: onnx.GraphProto, scan: onnx.NodeProto, opset: int,
                 static: dict[str, list[int]]) -> list[onnx.NodeProto] | None:
    """A Scan (opset 9+) as one copy of its body per step, when its scan inputs' lengths are known."""
    unroller = _Unroller(graph, scan, opset)
    body = unroller.body
    m = int(_attr(scan, "num_scan_inputs", 0))
    n = len(scan.input) - m
    k = len(body.output) - n
    nested = any(a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS)
                 for node in body.node for a in node.attribute)
    known = [static.get(x) for x in scan.input[n:]]
    dims = [d for d in known if d is not None]
    if opset < 9 or nested or m < 1 or len(dims) != len(known):
        return None
    in_axes = [a % len(d) for a, d in zip(_attr(scan, "scan_input_axes", [0] * m), dims, strict=True)]
    in_dirs = list(_attr(scan, "scan_input_directions", [0] * m))
    out_axes = list(_attr(scan, "scan_output_axes", [0] * k))
    out_dirs = list(_attr(scan, "scan_output_directions", [0] * k))
    lengths = {d[a] for d, a in zip(dims, in_axes, strict=True)}
    if len(lengths) != 1 or not 0 < (steps := lengths.pop()) <= MAX_STEPS:
        return None
    out_ranks = [len(o.type.tensor_type.shape.dim) + 1 if o.type.tensor_type.HasField("shape") else None
                 for o in body.output[n:]]
    if any(a < 0 and r is None for a, r in zip(out_axes, out_ranks, strict=True)):
        return None
    carried, parts = list(scan.input[:n]), list[list[str]]()
    for step in range(steps):
        rename = {i.name: c for i, c in zip(body.input[:n], carried, strict=True)}
        for i, (x, axis, reverse) in enumerate(zip(scan.input[n:], in_axes, in_dirs, strict=True)):
            rename[body.input[n + i].name] = unroller.take(x, steps - 1 - step if reverse else step, axis, step)
        outs = unroller.copy_body(step, rename)
        carried, parts = outs[:n], [*parts, outs[n:]]
    for value, out in zip(carried, scan.output[:n], strict=True):
        if out:
            unroller.nodes.append(helper.make_node("Identity", [value], [out], name=unroller._name(out, 0)))
    for j, out in enumerate(scan.output[n:]):
        if out:
            column = [p[j] for p in parts]
            axis = out_axes[j] % out_ranks[j] if out_axes[j] < 0 else out_axes[j]
            unroller.stack(column[::-1] if out_dirs[j] else column, out, axis)
    graph.initializer.extend(unroller.initializers)
    return unroller.nodes


def unroll_loops(model: onnx.ModelProto, static: dict[str, list[int]] | None = None) -> tuple[onnx.ModelProto, int]:
    """A copy of `model` with every unrollable top-level Loop and Scan unrolled, and how many were.
    `static` gives the static shapes known so far (a Scan's length is its inputs' length)."""
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)
    if not any(n.op_type in ("Loop", "Scan") for n in model.graph.node):
        return model, 0

    def unrolled(graph: onnx.GraphProto, n: onnx.NodeProto) -> list[onnx.NodeProto] | None:
        if n.domain in ("", "ai.onnx") and n.op_type == "Loop":
            return _unroll(graph, n, opset)
        if n.domain in ("", "ai.onnx") and n.op_type == "Scan":
            return _unroll_scan(graph, n, opset, static or {})
        return None

    return replace_nodes(model, unrolled)
