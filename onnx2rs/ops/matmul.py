"""Matrix products: MatMul (numpy semantics, batched), Gemm and Einsum.

Spec: https://onnx.ai/onnx/operators/onnx__MatMul.html,
https://onnx.ai/onnx/operators/onnx__Gemm.html (C optional since opset 11).
"""

from __future__ import annotations

import math

from ..dtypes import NUMERIC
from ..ir import Graph, Node
from . import Call, Lowering, register
from .rust import Array, Bool, Struct


def product_flops(node: Node, graph: Graph) -> int:
    """2 x multiply-adds of a MatMul or Gemm: each output value is a dot product of depth k."""
    a = graph.value(node.inputs[0]).shape
    k = a[0] if node.op_type == "Gemm" and node.attrs.get("transA") else a[-1]
    return 2 * math.prod(graph.value(node.outputs[0]).shape) * k


@register("MatMul", dtypes=NUMERIC, flops=product_flops)
def lower_matmul(ctx: Lowering) -> Call:
    """`ops::matmul_into(a, b, out)`, or `ops::matmul_prepacked_into` with a B stored as panels."""
    panels = ctx.panels(1)
    if panels:
        return ctx.call("matmul_prepacked_into", ctx.arg(0), panels, ctx.out())
    return ctx.call("matmul_into", ctx.arg(0), ctx.arg(1), ctx.out())


@register("Gemm", dtypes=NUMERIC, attrs=("alpha", "beta", "transA", "transB"), flops=product_flops)
def lower_gemm(ctx: Lowering) -> Call:
    """`ops::gemm_into(a, b, c, out, GemmParams { .. })`, or `ops::gemm_prepacked_into` with a
    B stored as panels."""
    dtype = ctx.input(0).dtype
    panels = ctx.panels(1)
    a, b, c, out = ctx.arg(0), panels or ctx.arg(1), ctx.opt_arg(2), ctx.out()
    params = Struct("GemmParams", (
        ("alpha", ctx.literal(ctx.attr("alpha", 1.0), dtype)),
        ("beta", ctx.literal(ctx.attr("beta", 1.0), dtype)),
        ("trans_a", Bool(bool(ctx.attr("transA", 0)))),
        ("trans_b", Bool(bool(ctx.attr("transB", 0)))),
        ("activation", ctx.activation()),
    ))
    return ctx.call("gemm_prepacked_into" if panels else "gemm_into", a, b, c, out, params)


def einsum_labels(node: Node, graph: Graph) -> tuple[list[list[int]], list[int], list[int]] | str:
    """Einsum's equation as numbered letters: (per input, output, size of each letter), or why not.

    `...` becomes one letter per broadcast axis (aligned from the right, as numpy does);
    without `->` the output is the ellipsis then the letters used once, alphabetically.
    """
    equation = str(node.attrs.get("equation", "")).replace(" ", "")
    lhs, arrow, rhs = equation.partition("->")
    terms = lhs.split(",")
    shapes = [graph.value(i).shape for i in node.inputs]
    if len(terms) != len(shapes):
        return "equation and inputs disagree"
    ellipsis_rank = max((len(s) - len(t.replace("...", "")) for t, s in zip(terms, shapes, strict=True)
                         if "..." in t), default=0)
    ell = [f"#{k}" for k in range(ellipsis_rank)]

    def expand(term: str, rank: int | None) -> list[str] | None:
        head, dots, tail = term.partition("...")
        if any(not c.isalpha() for c in head + tail):
            return None
        if not dots:
            return list(head)
        extra = (rank - len(head) - len(tail)) if rank is not None else ellipsis_rank
        return [*head, *ell[ellipsis_rank - extra:], *tail]

    expanded = [expand(t, len(s)) for t, s in zip(terms, shapes, strict=True)]
    inputs = [i for i, s in zip(expanded, shapes, strict=True) if i is not None and len(i) == len(s)]
    if len(inputs) != len(expanded):
        return "equation does not match the input ranks"
    if arrow:
        output = expand(rhs, None)
    else:
        counts: dict[str, int] = {}
        for term in inputs:
            for c in term:
                counts[c] = counts.get(c, 0) + 1
        output = ell + sorted(c for c, n in counts.items() if n == 1 and not c.startswith("#"))
    if output is None:
        return "equation uses characters other than letters"
    sizes: dict[str, int] = {}
    for term, shape in zip(inputs, shapes, strict=True):
        for c, d in zip(term, shape, strict=True):
            if sizes.setdefault(c, d) != d:
                return f"letter {c.lstrip('#') or '...'} has sizes {sizes[c]} and {d} (no broadcasting)"
    letters = sorted(sizes)
    number = {c: i for i, c in enumerate(letters)}
    if len(letters) > 16:
        return "more than 16 distinct letters"
    return [[number[c] for c in t] for t in inputs], [number[c] for c in output], [sizes[c] for c in letters]


def _check_einsum(node: Node, graph: Graph) -> str | None:
    plan = einsum_labels(node, graph)
    return plan if isinstance(plan, str) else None


@register("Einsum", dtypes=NUMERIC, check=_check_einsum, attrs=("equation",),
          limits="Up to 16 letters; a plain loop over every index combination (fine for the small "
                 "contractions exporters emit); no broadcasting of size-1 axes inside `...`.")
def lower_einsum(ctx: Lowering) -> Call:
    """`ops::einsum_into(&[inputs], &[labels], &out_labels, &sizes, out)` with the letters numbered."""
    plan = einsum_labels(ctx.node, ctx.graph)
    assert not isinstance(plan, str), plan
    inputs, output, sizes = plan
    labels = Array(tuple(ctx.shape_literal(t) for t in inputs))
    args = Array(tuple(ctx.arg(i) for i in range(len(ctx.node.inputs))))
    return ctx.call("einsum_into", args, labels, ctx.shape_literal(output), ctx.shape_literal(sizes), ctx.out())
