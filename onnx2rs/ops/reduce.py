"""Reductions: every Reduce* op (one runtime function over `ops::Reduce`), ArgMax, ArgMin and TopK.

Spec: https://onnx.ai/onnx/operators/onnx__ReduceSum.html and siblings. `axes` is an
attribute before opset 13 (ReduceSum) or 18 (the others) and an optional input
after; either way it must be known at compile time. `keepdims` only changes the
static output shape, so the kernel never sees it.
"""

from __future__ import annotations

import numpy as np

from ..dtypes import BOOL, NUMERIC
from ..ir import Graph, Node
from . import Call, Lowering, register
from .rust import Bool, Int, Method, Opt, Ref, RustCall, Struct, Try

_REDUCE = {f"Reduce{v}": v for v in ("Sum", "Mean", "Max", "Min", "Prod", "L1", "L2", "LogSum", "LogSumExp",
                                      "SumSquare")}


def _axes_as_input(node: Node, graph: Graph) -> bool:
    return graph.opset >= (13 if node.op_type == "ReduceSum" else 18)


def reduction_axes(node: Node, graph: Graph) -> list[int] | None:
    """The reduced axes (non-negative, sorted); [] for a no-op; None if computed at run time."""
    rank = len(graph.value(node.inputs[0]).shape)
    if _axes_as_input(node, graph):
        name = node.input(1)
        if name and not graph.is_constant(name):
            if graph.value(name).size == 0:  # an empty operand, whatever its values
                return [] if node.attrs.get("noop_with_empty_axes", 0) else list(range(rank))
            return None
        axes = [int(a) for a in np.asarray(graph.initializers[name]).reshape(-1)] if name else []
    else:
        axes = [int(a) for a in node.attrs.get("axes", [])]
    if not axes:
        return [] if node.attrs.get("noop_with_empty_axes", 0) else list(range(rank))
    return sorted({a % rank for a in axes})


@register("ReduceMax", "ReduceMin", dtypes=NUMERIC | {BOOL}, attrs=("axes", "keepdims", "noop_with_empty_axes"),
          limits="bool too (any / all). Axes computed at run time need the model to declare the output shape.")
@register(*(op for op in _REDUCE if op not in ("ReduceMax", "ReduceMin")), dtypes=NUMERIC,
          attrs=("axes", "keepdims", "noop_with_empty_axes"),
          limits="Accumulates in f64; axes computed at run time need the model to declare the output shape.")
def lower_reduce(ctx: Lowering) -> Call:
    """`ops::reduce_into(x, &axes, ops::Reduce::<Op>, out)`; a copy when the axes are empty;
    axes computed at run time are read from their tensor (`ops::Axes`)."""
    axes = reduction_axes(ctx.node, ctx.graph)
    variant = Struct(f"Reduce::{_REDUCE[ctx.node.op_type]}")
    if axes is None:
        rank = len(ctx.input(0).shape)
        axes_read = Method(Try(RustCall("Axes::read", (Ref(ctx.arg(1)), Int(rank)))), "as_slice")
        return ctx.call("reduce_into", ctx.arg(0), axes_read, variant, ctx.out())
    if not axes:
        return ctx.call("reshape_into", ctx.arg(0), ctx.out())
    return ctx.call("reduce_into", ctx.arg(0), ctx.shape_literal(axes), variant, ctx.out())


@register("ArgMax", "ArgMin", dtypes=NUMERIC, attrs=("axis", "keepdims", "select_last_index"))
def lower_arg_extreme(ctx: Lowering) -> Call:
    """`ops::arg_extreme_into(x, axis, max, last, out)`."""
    rank = len(ctx.input(0).shape)
    axis = int(ctx.attr("axis", 0)) % rank
    is_max = Bool(ctx.node.op_type == "ArgMax")
    last = Bool(bool(ctx.attr("select_last_index", 0)))
    return ctx.call("arg_extreme_into", ctx.arg(0), Int(axis), is_max, last, ctx.out())


@register("TopK", dtypes=NUMERIC, attrs=("axis", "largest", "sorted"),
          limits="Results always come sorted (allowed when sorted=0); a K computed at run time must "
                 "match the static output shape.")
def lower_topk(ctx: Lowering) -> Call:
    """`ops::topk_into(x, k, axis, largest, values, indices)`: the static output shape gives K;
    a run-time K is passed along to be checked against it."""
    rank = len(ctx.input(0).shape)
    axis = int(ctx.attr("axis", -1)) % rank
    largest = Bool(bool(ctx.attr("largest", 1)))
    k = ctx.opt_arg(1) if ctx.graph.opset >= 10 and ctx.const(1) is None else Opt(None)
    return ctx.call("topk_into", ctx.arg(0), k, Int(axis), largest, ctx.out(0), ctx.out(1))
