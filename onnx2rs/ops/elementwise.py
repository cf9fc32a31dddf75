"""Element-wise ops with numpy broadcasting: arithmetic, comparison, logic, activations.

Spec: https://onnx.ai/onnx/repo-docs/Broadcasting.html. Each op is one row;
the runtime functions share the same names (`ops::add`, `ops::relu`, ...).
"""

from __future__ import annotations

import numpy as np

from ..dtypes import BOOL, F32, NUMERIC, DType
from ..ir import Graph, Node
from . import Call, Lowering, register

_BINARY = {"Add": "add", "Sub": "sub", "Mul": "mul", "Div": "div", "Less": "less"}
_UNARY = {"Relu": "relu", "Sigmoid": "sigmoid", "Tanh": "tanh"}
_SIGNED = frozenset(d for d in NUMERIC if d.numpy.kind in "if")


@register("Add", "Sub", "Mul", "Less", dtypes=NUMERIC)
@register("Div", dtypes=NUMERIC, limits="Integer division truncates; integer x/0 gives 0 (undefined in ONNX).")
def lower_binary(ctx: Lowering) -> Call:
    """`ops::<op>_into(a, b, out)` with broadcasting."""
    return ctx.call(f"{_BINARY[ctx.node.op_type]}_into", ctx.arg(0), ctx.arg(1), ctx.out())


@register("Relu", dtypes=_SIGNED, inplace=True)
@register("Sigmoid", "Tanh", dtypes=frozenset({F32}), inplace=True)
def lower_unary(ctx: Lowering) -> Call:
    """`ops::<op>_into(x, out)`, or `ops::<op>_inplace(out)`."""
    fn = _UNARY[ctx.node.op_type]
    if ctx.inplace:
        return ctx.call(f"{fn}_inplace", ctx.out(), fallible=False)
    return ctx.call(f"{fn}_into", ctx.arg(0), ctx.out())


@register("Not", dtypes=frozenset({BOOL}), inplace=True)
def lower_not(ctx: Lowering) -> Call:
    """`ops::not_into(x, out)` on bool, or `ops::not_inplace(out)`."""
    if ctx.inplace:
        return ctx.call("not_inplace", ctx.out(), fallible=False)
    return ctx.call("not_into", ctx.arg(0), ctx.out())


@register("Where", dtypes=NUMERIC | {BOOL}, dtype_input=1)
def lower_where(ctx: Lowering) -> Call:
    """`ops::where_into(cond, x, y, out)` with broadcasting."""
    return ctx.call("where_into", ctx.arg(0), ctx.arg(1), ctx.arg(2), ctx.out())


def _clip_bounds_known(node: Node, graph: Graph) -> str | None:
    for i in (1, 2):
        name = node.input(i)
        if name and name not in graph.initializers:
            return "min/max computed at run time"
    return None


@register(
    "Clip",
    dtypes=NUMERIC,
    check=_clip_bounds_known,
    inplace=True,
    attrs=("min", "max"),
    limits="min and max must be constants.",
)
def lower_clip(ctx: Lowering) -> Call:
    """`ops::clip_into(x, out, min, max)` with literal bounds (attributes before opset 11)."""
    dtype = ctx.input(0).dtype
    lowest, highest = _limits(dtype)
    lo = ctx.const(1) if ctx.has_input(1) else ctx.attr("min", lowest)
    hi = ctx.const(2) if ctx.has_input(2) else ctx.attr("max", highest)
    bounds = (ctx.literal(lo, dtype), ctx.literal(hi, dtype))
    if ctx.inplace:
        return ctx.call("clip_inplace", ctx.out(), *bounds, fallible=False)
    return ctx.call("clip_into", ctx.arg(0), ctx.out(), *bounds)


def _limits(dtype: DType) -> tuple[float, float]:
    if dtype.is_float:
        return (-np.inf, np.inf)
    info = np.iinfo(dtype.numpy)
    return (info.min, info.max)
