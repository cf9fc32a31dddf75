"""Normalisation: BatchNormalization (inference) and Softmax.

Spec: https://onnx.ai/onnx/operators/onnx__BatchNormalization.html,
https://onnx.ai/onnx/operators/onnx__Softmax.html (opset 13 changed the axis
meaning from "flatten at axis" to "along axis"; both are handled).
"""

from __future__ import annotations

from ..dtypes import F32
from ..ir import Graph, Node
from . import Call, Lowering, register


def _check_bn(node: Node, graph: Graph) -> str | None:
    if node.attrs.get("training_mode", 0) or len([o for o in node.outputs if o]) > 1:
        return "training mode"
    return None


@register(
    "BatchNormalization",
    dtypes=frozenset({F32}),
    check=_check_bn,
    inplace=True,
    attrs=("epsilon",),
    limits="Inference mode only.",
)
def lower_batch_norm(ctx: Lowering) -> Call:
    """`ops::batch_norm(x, scale, bias, mean, var, epsilon)?`."""
    eps = ctx.literal(ctx.attr("epsilon", 1e-5), F32)
    params = [ctx.arg(i) for i in range(1, 5)]
    if ctx.inplace:
        return ctx.call_inplace("batch_norm_inplace", *params, eps, fallible=True)
    return ctx.call("batch_norm", ctx.arg(0), *params, eps)


@register("Softmax", dtypes=frozenset({F32}), inplace=True, attrs=("axis",))
def lower_softmax(ctx: Lowering) -> Call:
    """`ops::softmax(x, axis)?`, or `softmax_flattened` before opset 13."""
    if ctx.graph.opset >= 13:
        axis = str(int(ctx.attr("axis", -1)))
        if ctx.inplace:
            return ctx.call_inplace("softmax_inplace", axis, fallible=True)
        return ctx.call("softmax", ctx.arg(0), axis)
    return ctx.call("softmax_flattened", ctx.arg(0), str(int(ctx.attr("axis", 1))))
