"""Convolution: Conv over 1-D and 2-D inputs, with groups, as an implicit-im2col GEMM; ConvTranspose.

Spec: https://onnx.ai/onnx/operators/onnx__Conv.html.
"""

from __future__ import annotations

import numpy as np

from ..dtypes import F32
from ..ir import Graph, Node
from . import Call, Lowering, register
from .window import Window, check_spatial_rank, resolve

# Mirrors runtime-crate/src/ops/linalg.rs and conv.rs: the runtime checks
# the workspace it is given, so a disagreement is an error at run time, never a misread.
PACK_DEPTH, PACK_COLUMNS, PANEL_ROUND = 128, 512, 32
SHIFTED_COLUMNS, SHIFTED_MAX, SHIFTED_PHASES = 1024, 1 << 18, 4


def _cdiv(a: int, b: int) -> int:
    return -(-a // b)


def _pointwise(kernel: list[int], strides: list[int], begin: list[int], end: list[int]) -> bool:
    return all(k == 1 and s == 1 and b == 0 and e == 0 for k, s, b, e in zip(kernel, strides, begin, end))


def shifted_workspace_len(
    channels: int, filters: int, win: Window, spatial: list[int], out: list[int], pool_rows: int = 1
) -> int | None:
    """Floats a convolution read as shifted rows of its padded input needs (`Shifted` in
    conv.rs): the padded phase planes (whole, or one chunk's band of rows when the whole
    would exceed SHIFTED_MAX), one row of slack and one chunk of wide output; or None when
    it reads its input as it lies (1x1), its strides split it into more than SHIFTED_PHASES
    planes per channel, or even a one-row band exceeds SHIFTED_MAX.
    `out` is the convolution's own output; with a fused max pool of `pool_rows` rows per
    window, each chunk holds whole windows of rows."""
    n = len(spatial)
    # A 1-D convolution is a 2-D one of height 1 (a unit window on the first axis).
    kernel, strides = [1] * (2 - n) + win.kernel, [1] * (2 - n) + win.strides
    dilations = [1] * (2 - n) + win.dilations
    begin, end = [0] * (2 - n) + win.pads[:n], [0] * (2 - n) + win.pads[n:]
    (h, w), (oh, _) = [1] * (2 - n) + spatial, [1] * (2 - n) + out
    if _pointwise(kernel, strides, begin, end) or oh == 0:
        return None
    hq = _cdiv(h + begin[0] + end[0], strides[0])
    wq = max(_cdiv(w + begin[1] + end[1], strides[1]), 1)
    # A tap reads the phases of its offsets: with unit dilation, the first `kernel`.
    held = [min(s, k) if d == 1 else s for k, s, d in zip(kernel, strides, dilations)]
    if held[0] * held[1] > SHIFTED_PHASES:
        return None
    planes = channels * held[0] * held[1]
    reach = dilations[0] * (kernel[0] - 1) // strides[0]

    def layout(most_rows: int, banded: bool) -> int:
        rows = _cdiv(oh, _cdiv(oh, max(most_rows, 1))) if pool_rows == 1 else max(most_rows // pool_rows, 1) * pool_rows
        return planes * (rows + reach if banded else hq) * wq + wq + filters * rows * wq

    per_chunk = SHIFTED_COLUMNS // wq
    whole = layout(per_chunk, False)
    if whole <= SHIFTED_MAX:
        return whole
    fit = max(SHIFTED_MAX - wq - planes * reach * wq, 0) // (wq * (planes + filters))
    band = layout(min(per_chunk, fit), True)
    return band if fit > 0 and band <= SHIFTED_MAX else None


def conv_workspace_len(
    channels: int, filters: int, win: Window, spatial: list[int], out: list[int], pool_rows: int = 1
) -> int:
    """Floats of workspace `conv_into` needs for one group of `channels` inputs and
    `filters` outputs (`conv_workspace_len` in conv.rs): none for a 1x1 window read as
    it lies; the shifted layout's when it applies; else the whole unfolded input when it
    fits one packed block, else one block of packed panels. `out` is the convolution's
    own output, before any fused pool (see `shifted_workspace_len`)."""
    n = len(spatial)
    if _pointwise(win.kernel, win.strides, win.pads[:n], win.pads[n:]):
        return 0
    shifted = shifted_workspace_len(channels, filters, win, spatial, out, pool_rows)
    if shifted is not None:
        return shifted
    taps, pixels = channels * int(np.prod(win.kernel)), int(np.prod(out))
    if taps * pixels <= PACK_DEPTH * PACK_COLUMNS:
        return taps * pixels
    return min(taps, PACK_DEPTH) * min(_cdiv(pixels, PANEL_ROUND) * PANEL_ROUND, PACK_COLUMNS)


def conv_output_spatial(node: Node, graph: Graph) -> list[int]:
    """A Conv node's own output size per spatial axis: before a max pool fused into it."""
    x, w = graph.value(node.inputs[0]), graph.value(node.inputs[1])
    return resolve(node, list(x.shape[2:]), list(w.shape[2:])).output(list(x.shape[2:]))


def pool_rows(pool: list[int]) -> int:
    """Rows per window of a fused max pool (1 for none, and for a 1-D one)."""
    return pool[0] if len(pool) == 2 else 1


def residual_input(node: Node) -> int | None:
    """The input a Conv may write its output over: the residual that `fuse_conv_residual`
    gave it as input 3, which the kernel adds to its output before the activation."""
    return 3 if node.input(3) else None


@register(
    "Conv",
    dtypes=frozenset({F32}),
    check=check_spatial_rank,
    inplace=residual_input,
    attrs=("auto_pad", "dilations", "group", "kernel_shape", "pads", "strides"),
    limits="1-D and 2-D only. In place only over a residual `Add` fused into it.",
)
def lower_conv(ctx: Lowering) -> Call:
    """`ops::conv_into(x, w, bias, ConvParams { .. }, out, workspace)`; the workspace
    holds the padded input and a chunk of output (see `shifted_workspace_len`), or the
    unfolded input, whole or one packed block of it (at most 128 taps x 512 positions).
    With a residual (input 3) the kernel accumulates onto `out`, which holds the residual
    already when the Conv runs in place over it, or gets a copy of it first. With a max
    pool fused into it (`fuse_conv_pool`), `out` is the pooled output."""
    x, w = ctx.input(0), ctx.input(1)
    win = resolve(ctx.node, list(x.shape[2:]), list(w.shape[2:]))
    group = int(ctx.attr("group", 1))
    pool = list(ctx.node.pool or [])
    columns = conv_workspace_len(w.shape[1], w.shape[0] // group, win, list(x.shape[2:]),
                                 conv_output_spatial(ctx.node, ctx.graph), pool_rows(pool))
    residual = ctx.has_input(3)
    conv = ctx.render(
        "conv",
        x=ctx.arg(0),
        w=ctx.arg(1),
        bias=ctx.opt_arg(2),
        win=win,
        group=group,
        out=ctx.out(),
        workspace=ctx.workspace(columns),
        activation=ctx.activation(),
        accumulate=residual,
        pool=pool,
    )
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
    attrs=("auto_pad", "dilations", "group", "kernel_shape", "output_padding", "output_shape", "pads", "strides"),
    limits="1-D and 2-D only.",
)
def lower_conv_transpose(ctx: Lowering) -> Call:
    """`ops::conv_transpose_into(x, w, bias, ConvTransposeParams { .. }, out)`; the static
    output shape settles `output_shape` and `output_padding`."""
    n = len(ctx.input(0).shape) - 2
    params = (
        f"ops::ConvTransposeParams {{ strides: {ctx.shape_literal(ctx.attr('strides', [1] * n))}, "
        f"pads_begin: {ctx.shape_literal(conv_transpose_pads_begin(ctx.node, ctx.graph))}, "
        f"dilations: {ctx.shape_literal(ctx.attr('dilations', [1] * n))}, group: {int(ctx.attr('group', 1))} }}"
    )
    return ctx.call("conv_transpose_into", ctx.arg(0), ctx.arg(1), ctx.opt_arg(2), params, ctx.out())
