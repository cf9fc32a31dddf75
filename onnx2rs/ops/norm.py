"""Normalisation: BatchNormalization (inference) and Softmax.

Spec: https://onnx.ai/onnx/operators/onnx__BatchNormalization.html,
https://onnx.ai/onnx/operators/onnx__Softmax.html (opset 13 changed the axis
meaning from "flatten at axis" to "along axis"; both are handled).
"""

from __future__ import annotations

from ..dtypes import F32
from ..ir import Graph, Node
from . import Call, Lowering, register
from .rust import Int


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
    """`ops::batch_norm_into(x, scale, bias, mean, var, epsilon, out)`, or `_inplace(out, ..)`."""
    eps = ctx.literal(ctx.attr("epsilon", 1e-5), F32)
    params = [ctx.arg(i) for i in range(1, 5)]
    if ctx.inplace:
        return ctx.call("batch_norm_inplace", ctx.out(), *params, eps)
    return ctx.call("batch_norm_into", ctx.arg(0), *params, eps, ctx.out())


@register("Softmax", dtypes=frozenset({F32}), inplace=True, attrs=("axis",))
def lower_softmax(ctx: Lowering) -> Call:
    """`ops::softmax_into(x, axis, out)` or `_inplace(out, axis)`; `softmax_flattened_*` before opset 13."""
    if ctx.graph.opset >= 13:
        fn, axis = "softmax", ctx.attr("axis", -1)
    else:
        fn, axis = "softmax_flattened", ctx.attr("axis", 1)
    if ctx.inplace:
        return ctx.call(f"{fn}_inplace", ctx.out(), Int(int(axis)))
    return ctx.call(f"{fn}_into", ctx.arg(0), Int(int(axis)), ctx.out())


def _check_log_softmax(node: Node, graph: Graph) -> str | None:
    return "opset < 13 (flattening) semantics" if graph.opset < 13 else None


@register("LogSoftmax", dtypes=frozenset({F32}), check=_check_log_softmax, inplace=True, attrs=("axis",),
          limits="Opset 13 and later.")
def lower_log_softmax(ctx: Lowering) -> Call:
    """`ops::log_softmax_into(x, axis, out)`, or `ops::log_softmax_inplace(out, axis)`."""
    axis = Int(int(ctx.attr("axis", -1)))
    if ctx.inplace:
        return ctx.call("log_softmax_inplace", ctx.out(), axis)
    return ctx.call("log_softmax_into", ctx.arg(0), axis, ctx.out())


@register("LayerNormalization", dtypes=frozenset({F32}), attrs=("axis", "epsilon"))
def lower_layer_norm(ctx: Lowering) -> Call:
    """`ops::layer_norm_into(x, scale, bias, axis, epsilon, out, mean, inv_std_dev)`."""
    rank = len(ctx.input(0).shape)
    axis = int(ctx.attr("axis", -1)) % rank
    eps = ctx.literal(ctx.attr("epsilon", 1e-5), F32)
    return ctx.call("layer_norm_into", ctx.arg(0), ctx.arg(1), ctx.opt_arg(2), Int(axis), eps, ctx.out(),
                    ctx.opt_out(1), ctx.opt_out(2))


@register("InstanceNormalization", dtypes=frozenset({F32}), attrs=("epsilon",))
def lower_instance_norm(ctx: Lowering) -> Call:
    """`ops::instance_norm_into(x, scale, bias, epsilon, out)`."""
    eps = ctx.literal(ctx.attr("epsilon", 1e-5), F32)
    return ctx.call("instance_norm_into", ctx.arg(0), ctx.arg(1), ctx.arg(2), eps, ctx.out())


def _check_hardmax(node: Node, graph: Graph) -> str | None:
    return "opset < 13 (flattening) semantics" if graph.opset < 13 else None


@register("Hardmax", dtypes=frozenset({F32}), check=_check_hardmax, attrs=("axis",), limits="Opset 13 and later.")
def lower_hardmax(ctx: Lowering) -> Call:
    """`ops::hardmax_into(x, axis, out)`."""
    return ctx.call("hardmax_into", ctx.arg(0), Int(int(ctx.attr("axis", -1))), ctx.out())


@register("LRN", dtypes=frozenset({F32}), attrs=("alpha", "beta", "bias", "size"))
def lower_lrn(ctx: Lowering) -> Call:
    """`ops::lrn_into(x, size, alpha, beta, bias, out)` across channels (axis 1)."""
    params = [ctx.literal(ctx.attr(a, d), F32) for a, d in (("alpha", 1e-4), ("beta", 0.75), ("bias", 1.0))]
    return ctx.call("lrn_into", ctx.arg(0), Int(int(ctx.attr("size"))), *params, ctx.out())


def _check_lp_norm(node: Node, graph: Graph) -> str | None:
    return None if node.attrs.get("p", 2) in (1, 2) else f"p={node.attrs.get('p')}"


@register("LpNormalization", dtypes=frozenset({F32}), check=_check_lp_norm, attrs=("axis", "p"))
def lower_lp_norm(ctx: Lowering) -> Call:
    """`ops::lp_normalize_into(x, axis, p, out)`, p = 1 or 2."""
    axis = int(ctx.attr("axis", -1)) % len(ctx.input(0).shape)
    return ctx.call("lp_normalize_into", ctx.arg(0), Int(axis), Int(int(ctx.attr("p", 2))), ctx.out())

