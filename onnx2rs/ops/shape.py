"""Data movement: Reshape, Flatten, Squeeze, Unsqueeze, Transpose, Concat, Gather, Cast.

Shapes are static after loading, so the four reshaping ops need no code at
all when the output can take over the input's arena slice (the usual case),
and a plain row-major copy otherwise; their shape/axes inputs never reach the
generated code. Spec: https://onnx.ai/onnx/operators/ (one page per op).
"""

from __future__ import annotations

from ..dtypes import ALL, BY_ONNX
from ..ir import Graph, Node
from . import Call, Lowering, register


def _shape_operand_is_constant(node: Node, graph: Graph) -> str | None:
    """Reshape's shape and (opset 13+) Squeeze/Unsqueeze's axes must be known at compile time."""
    operand = node.input(1)
    if operand and not graph.is_constant(operand):
        return "shape or axes computed at run time"
    return None


@register("Reshape", "Flatten", "Squeeze", "Unsqueeze", dtypes=ALL, inplace=True,
          check=_shape_operand_is_constant, limits="The shape or axes operand must be a constant.")
def lower_reshape(ctx: Lowering) -> Call:
    """Nothing when the output may reuse the input's buffer; else `ops::reshape_into(x, out)`."""
    if ctx.inplace:
        return ctx.alias()
    return ctx.call("reshape_into", ctx.arg(0), ctx.out())


@register("Transpose", dtypes=ALL, attrs=("perm",))
def lower_transpose(ctx: Lowering) -> Call:
    """`ops::transpose_into(x, &perm, out)` (the default perm reverses the axes)."""
    rank = len(ctx.input(0).shape)
    perm = ctx.attr("perm", list(reversed(range(rank))))
    return ctx.call("transpose_into", ctx.arg(0), ctx.shape_literal(perm), ctx.out())


@register("Concat", dtypes=ALL, attrs=("axis",))
def lower_concat(ctx: Lowering) -> Call:
    """`ops::concat_into(&[a, b, ..], axis, out)`."""
    rank = len(ctx.output().shape)
    axis = int(ctx.attr("axis")) % rank
    parts = [ctx.arg(i) for i in range(len(ctx.node.inputs))]
    return ctx.call("concat_into", f"&[{', '.join(parts)}]", str(axis), ctx.out())


@register("Gather", dtypes=ALL, attrs=("axis",))
def lower_gather(ctx: Lowering) -> Call:
    """`ops::gather_into(data, indices, axis, out)`; bad indices are a run-time error."""
    rank = len(ctx.input(0).shape)
    axis = int(ctx.attr("axis", 0)) % rank
    return ctx.call("gather_into", ctx.arg(0), ctx.arg(1), str(axis), ctx.out())


def _check_cast(node: Node, graph: Graph) -> str | None:
    to = node.attrs.get("to")
    return None if to in BY_ONNX else f"cast to element type {to}"


@register("Cast", dtypes=ALL, check=_check_cast, attrs=("to",))
def lower_cast(ctx: Lowering) -> Call:
    """`ops::cast_into(x, out)`: truncating, saturating, non-zero to true."""
    return ctx.call("cast_into", ctx.arg(0), ctx.out())
