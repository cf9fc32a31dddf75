"""Pooling: MaxPool, AveragePool, LpPool (1-D to 6-D windows) and the global pools.

Spec: https://onnx.ai/onnx/operators/onnx__MaxPool.html,
https://onnx.ai/onnx/operators/onnx__AveragePool.html (dilations since opset 19).
"""

from __future__ import annotations

from ..dtypes import F32
from ..ir import Graph, Node
from . import Call, Lowering, register
from .rust import Bool, Int, Struct, dims
from .window import check_spatial_rank, resolve

_POOL = {"MaxPool": "max_pool", "AveragePool": "average_pool", "LpPool": "lp_pool"}


def _check_pool(node: Node, graph: Graph) -> str | None:
    return check_spatial_rank(node, graph, max_spatial=6)


@register(
    *_POOL,
    dtypes=frozenset({F32}),
    check=_check_pool,
    attrs=("auto_pad", "ceil_mode", "count_include_pad", "dilations", "kernel_shape", "p", "pads", "storage_order",
           "strides"),
    limits="1-D to 6-D; MaxPool's Indices output in either storage order.",
)
def lower_pool(ctx: Lowering) -> Call:
    """`ops::max_pool_into(x, PoolParams { .. }, out)`, `ops::average_pool_into(..)`, or
    `ops::lp_pool_into(x, PoolParams { .. }, p, out)`."""
    x = ctx.input(0)
    win = resolve(ctx.node, list(x.shape[2:]), list(ctx.attr("kernel_shape")))
    with_indices = ctx.has_output(1)
    params = Struct("PoolParams", (
        ("kernel", dims(win.kernel)),
        ("strides", dims(win.strides)),
        ("pads", dims(win.pads)),
        ("dilations", dims(win.dilations)),
        ("ceil_mode", Bool(bool(ctx.attr("ceil_mode", 0)))),
        ("count_include_pad", Bool(bool(ctx.attr("count_include_pad", 0)))),
    ))
    if with_indices:
        storage_order = Bool(bool(ctx.attr("storage_order", 0)))
        return ctx.call("max_pool_with_indices_into", ctx.arg(0), params, storage_order, ctx.out(0), ctx.out(1))
    if ctx.node.op_type == "LpPool":
        return ctx.call("lp_pool_into", ctx.arg(0), params, Int(int(ctx.attr("p", 2))), ctx.out())
    return ctx.call(_POOL[ctx.node.op_type] + "_into", ctx.arg(0), params, ctx.out())


_GLOBAL = {"GlobalMaxPool": "global_max_pool", "GlobalAveragePool": "global_average_pool"}


@register(*_GLOBAL, dtypes=frozenset({F32}))
def lower_global_pool(ctx: Lowering) -> Call:
    """`ops::global_max_pool_into(x, out)` or `ops::global_average_pool_into(x, out)`."""
    return ctx.call(_GLOBAL[ctx.node.op_type] + "_into", ctx.arg(0), ctx.out())
