"""Data movement: Reshape, Flatten, Squeeze, Unsqueeze, Transpose, Concat, Gather, Cast.

Shapes are static after loading, so the four reshaping ops all lower to
`ops::reshape(x, &[final shape])` and their shape/axes inputs never reach the
generated code. Spec: https://onnx.ai/onnx/operators/ (one page per op).
"""

from __future__ import annotations

from ..dtypes import ALL, BY_ONNX
from ..ir import Graph, Node
from . import Call, Lowering, register


@register("Reshape", "Flatten", "Squeeze", "Unsqueeze", dtypes=ALL)
def lower_reshape(ctx: Lowering) -> Call:
    """`ops::reshape(x, &[..])?` to the statically known output shape."""
    return ctx.call("reshape", ctx.arg(0), ctx.shape_literal(ctx.output().shape))


@register("Transpose", dtypes=ALL, attrs=("perm",))
def lower_transpose(ctx: Lowering) -> Call:
    """`ops::transpose(x, &perm)?` (the default perm reverses the axes)."""
    rank = len(ctx.input(0).shape)
    perm = ctx.attr("perm", list(reversed(range(rank))))
    return ctx.call("transpose", ctx.arg(0), ctx.shape_literal(perm))


@register("Concat", dtypes=ALL, attrs=("axis",))
def lower_concat(ctx: Lowering) -> Call:
    """`ops::concat(&[a, b, ..], axis)?`."""
    rank = len(ctx.output().shape)
    axis = int(ctx.attr("axis")) % rank
    parts = [ctx.arg(i) for i in range(len(ctx.node.inputs))]
    return ctx.call("concat", f"&[{', '.join(parts)}]", str(axis))


@register("Gather", dtypes=ALL, attrs=("axis",))
def lower_gather(ctx: Lowering) -> Call:
    """`ops::gather(data, indices, axis)?`; bad indices are a run-time error."""
    rank = len(ctx.input(0).shape)
    axis = int(ctx.attr("axis", 0)) % rank
    return ctx.call("gather", ctx.arg(0), ctx.arg(1), str(axis))


def _check_cast(node: Node, graph: Graph) -> str | None:
    to = node.attrs.get("to")
    return None if to in BY_ONNX else f"cast to element type {to}"


@register("Cast", dtypes=ALL, check=_check_cast, attrs=("to",))
def lower_cast(ctx: Lowering) -> Call:
    """`ops::cast::<_, U>(x)`: truncating, saturating, non-zero to true."""
    return ctx.call(f"cast::<_, {ctx.output().dtype.rust}>", ctx.arg(0), fallible=False)
