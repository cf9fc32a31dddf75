"""Convolution: Conv over 1-D and 2-D inputs, with groups, as im2col + GEMM.

Spec: https://onnx.ai/onnx/operators/onnx__Conv.html.
"""

from __future__ import annotations

import numpy as np

from ..dtypes import F32
from . import Call, Lowering, register
from .window import check_spatial_rank, resolve


@register(
    "Conv",
    dtypes=frozenset({F32}),
    check=check_spatial_rank,
    attrs=("auto_pad", "dilations", "group", "kernel_shape", "pads", "strides"),
    limits="1-D and 2-D only.",
)
def lower_conv(ctx: Lowering) -> Call:
    """`ops::conv_into(x, w, bias, ConvParams { .. }, out, workspace)`; im2col needs
    `(C / group) · prod(kernel) · prod(output spatial)` floats of workspace."""
    x, w, y = ctx.input(0), ctx.input(1), ctx.output()
    win = resolve(ctx.node, list(x.shape[2:]), list(w.shape[2:]))
    columns = int(np.prod(w.shape[1:])) * int(np.prod(y.shape[2:]))
    return ctx.render(
        "conv",
        x=ctx.arg(0),
        w=ctx.arg(1),
        bias=ctx.opt_arg(2),
        win=win,
        group=int(ctx.attr("group", 1)),
        out=ctx.out(),
        workspace=ctx.workspace(columns),
        activation=ctx.activation(),
    )
