"""Matrix products: MatMul (numpy semantics, batched) and Gemm.

Spec: https://onnx.ai/onnx/operators/onnx__MatMul.html,
https://onnx.ai/onnx/operators/onnx__Gemm.html (C optional since opset 11).
"""

from __future__ import annotations

from ..dtypes import NUMERIC
from . import Call, Lowering, register


@register("MatMul", dtypes=NUMERIC)
def lower_matmul(ctx: Lowering) -> Call:
    """`ops::matmul_into(a, b, out)`."""
    return ctx.call("matmul_into", ctx.arg(0), ctx.arg(1), ctx.out())


@register("Gemm", dtypes=NUMERIC, attrs=("alpha", "beta", "transA", "transB"))
def lower_gemm(ctx: Lowering) -> Call:
    """`ops::gemm_into(a, b, c, out, GemmParams { .. })`."""
    dtype = ctx.input(0).dtype
    return ctx.render(
        "gemm",
        a=ctx.arg(0),
        b=ctx.arg(1),
        c=ctx.opt_arg(2),
        out=ctx.out(),
        alpha=ctx.literal(ctx.attr("alpha", 1.0), dtype),
        beta=ctx.literal(ctx.attr("beta", 1.0), dtype),
        trans_a=bool(ctx.attr("transA", 0)),
        trans_b=bool(ctx.attr("transB", 0)),
        activation=ctx.activation(),
    )
