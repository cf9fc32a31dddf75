"""Convolution: Conv over 1-D and 2-D inputs, with groups, as an implicit-im2col GEMM; ConvTranspose.

Spec: https://onnx.ai/onnx/operators/onnx__Conv.html.
"""

from __future__ import annotations

import math

from ..dtypes import F32
from ..ir import Graph, Node
from . import Call, Lowering, register
from .rust import Arg, Bool, Closure, Int, Local, Method, RustCall, Struct, dims
from .window import check_spatial_rank, resolve


def conv_output_spatial(node: Node, graph: Graph) -> list[int]:
    """A Conv node's own output size per spatial axis: before a max pool fused into it."""
    x, w = graph.value(node.inputs[0]), graph.value(node.inputs[1])
    return resolve(node, list(x.shape[2:]), list(w.shape[2:])).output(list(x.shape[2:]))


def conv_flops(node: Node, graph: Graph) -> int:
    """2 x multiply-adds: each output value of the Conv itself (before a fused max pool)
    meets w[1:], its group's channels times the kernel."""
    y, w = graph.value(node.outputs[0]).shape, graph.value(node.inputs[1]).shape
    return 2 * math.prod((*y[:2], *conv_output_spatial(node, graph))) * math.prod(w[1:])


def conv_transpose_flops(node: Node, graph: Graph) -> int:
    """2 x multiply-adds: each input value meets w[1:], its group's output channels times the kernel."""
    return 2 * math.prod(graph.value(node.inputs[0]).shape) * math.prod(graph.value(node.inputs[1]).shape[1:])


def residual_input(node: Node) -> int | None:
    """The input a Conv may write its output over: the residual that `fuse_conv_residual`
    gave it as input 3, which the kernel adds to its output before the activation."""
    return 3 if node.input(3) else None


@register(
    "Conv",
    dtypes=frozenset({F32}),
    check=check_spatial_rank,
    inplace=residual_input,
    flops=conv_flops,
    attrs=("auto_pad", "dilations", "group", "kernel_shape", "pads", "strides"),
    limits="1-D and 2-D only. In place only over a residual `Add` fused into it.",
)
def lower_conv(ctx: Lowering) -> Call:
    """`ops::conv_into(x, w, bias, ConvParams { .. }, out, workspace)`. The runtime sizes the
    workspace (`ops::conv_shapes`): the padded input and a chunk of output, or the unfolded
    input, whole or one packed block of it, and with a pool it cannot apply as it copies out,
    one sample's unpooled output. With a residual (input 3) the kernel accumulates onto `out`,
    which holds the residual already when the Conv runs in place over it, or gets a copy of
    it first. With a max pool fused into it (`fuse_conv_pool`), `out` is the pooled output."""
    x, w = ctx.input(0), ctx.input(1)
    win = resolve(ctx.node, list(x.shape[2:]), list(w.shape[2:]))
    window: tuple[tuple[str, Arg], ...] = (
        ("strides", dims(win.strides)), ("pads", dims(win.pads)), ("dilations", dims(win.dilations)),
        ("group", Int(int(ctx.attr("group", 1)))),
    )
    pool = ("pool", dims(ctx.node.pool or []))
    residual = ctx.has_input(3)
    params = Struct("ConvParams", (*window, ("activation", ctx.activation()), ("accumulate", Bool(residual)), pool))
    # The workspace depends on the shapes and the window alone, not on the epilogue.
    sizing = Struct("ConvParams", (*window, pool), defaults=True)
    needed = RustCall("conv_shapes", (dims(x.shape), dims(w.shape), sizing))
    workspace = ctx.workspace(Method(needed, "map_or", (Int(0), Closure("(_, len)", Local("len")))))
    conv = ctx.call("conv_into", ctx.arg(0), ctx.arg(1), ctx.opt_arg(2), params, ctx.out(), workspace)
    if not residual or ctx.inplace:
        return conv
    return ctx.chain(ctx.call("expand_into", ctx.arg(3), ctx.out()), "()", conv)


def conv_transpose_pads_begin(node: Node, graph: Graph) -> list[int]:
    """The leading output padding per spatial axis, from `pads`, `auto_pad` or `output_shape`.

    With `output_shape` or a SAME `auto_pad`, the total padding is whatever makes the
    full output (stride · (in - 1) + output_padding + dilated kernel) the target size.
    """
    x, w, y = graph.value(node.inputs[0]), graph.value(node.inputs[1]), graph.value(node.outputs[0])
    n = len(x.shape) - 2
    strides = list(node.attrs.get("strides", [1] * n))
    dilations = list(node.attrs.get("dilations", [1] * n))
    extra = list(node.attrs.get("output_padding", [0] * n))
    auto_pad = node.attrs.get("auto_pad", "NOTSET")
    if "output_shape" not in node.attrs and auto_pad not in ("SAME_UPPER", "SAME_LOWER"):
        return [0] * n if auto_pad == "VALID" else list(node.attrs.get("pads", [0] * (2 * n)))[:n]
    begin = []
    for i in range(n):
        full = strides[i] * (x.shape[2 + i] - 1) + extra[i] + (w.shape[2 + i] - 1) * dilations[i] + 1
        total = max(full - y.shape[2 + i], 0)
        begin.append(total // 2 if auto_pad == "SAME_UPPER" else total - total // 2)
    return begin


@register(
    "ConvTranspose",
    dtypes=frozenset({F32}),
    check=check_spatial_rank,
    flops=conv_transpose_flops,
    attrs=("auto_pad", "dilations", "group", "kernel_shape", "output_padding", "output_shape", "pads", "strides"),
    limits="1-D and 2-D only.",
)
def lower_conv_transpose(ctx: Lowering) -> Call:
    """`ops::conv_transpose_into(x, w, bias, ConvTransposeParams { .. }, out)`; the static
    output shape settles `output_shape` and `output_padding`."""
    n = len(ctx.input(0).shape) - 2
    params = Struct("ConvTransposeParams", (
        ("strides", dims(ctx.attr("strides", [1] * n))),
        ("pads_begin", dims(conv_transpose_pads_begin(ctx.node, ctx.graph))),
        ("dilations", dims(ctx.attr("dilations", [1] * n))),
        ("group", Int(int(ctx.attr("group", 1)))),
    ))
    return ctx.call("conv_transpose_into", ctx.arg(0), ctx.arg(1), ctx.opt_arg(2), params, ctx.out())
