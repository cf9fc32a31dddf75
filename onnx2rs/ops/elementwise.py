"""Element-wise ops with numpy broadcasting: arithmetic, comparison, logic, activations.

Spec: https://onnx.ai/onnx/repo-docs/Broadcasting.html and one page per op under
https://onnx.ai/onnx/operators/. Ops are rows in tables: a binary op names its
runtime function; a float unary op names its `ops::Unary` variant and attributes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..dtypes import BOOL, BY_RUST, HALF, INTEGERS, NUMERIC, DType
from ..ir import Graph, Node
from . import Call, Lowering, register
from .rust import Arg, Array, Bool, Lit, Ref, RustCall, Struct, Try

FLOATS = frozenset({BY_RUST["f32"], BY_RUST["f64"]})
# Kernels that compute each value in f64 and round once serve the 16-bit floats too.
VIA_F64 = FLOATS | HALF
F64 = BY_RUST["f64"]
_SIGNED = frozenset(d for d in NUMERIC if d.numpy.kind in "if")

# ---- binary ops: ONNX op -> runtime function (`<fn>_into`) ------------------------------
_ARITHMETIC = {"Add": "add", "Sub": "sub", "Mul": "mul", "PRelu": "prelu"}
_COMPARE = {"Less": "less", "Greater": "greater", "LessOrEqual": "less_or_equal",
            "GreaterOrEqual": "greater_or_equal", "Equal": "equal"}
_LOGIC = {"And": "and", "Or": "or", "Xor": "xor"}
_BITWISE = {"BitwiseAnd": "bitwise_and", "BitwiseOr": "bitwise_or", "BitwiseXor": "bitwise_xor"}
_BINARY = {**_ARITHMETIC, **_COMPARE, **_LOGIC, **_BITWISE, "Div": "div", "Pow": "pow"}
# The ops with a flat form: each an `ops::Binary` variant of the same name.
_FLAT = frozenset({*_ARITHMETIC, "Div"})


@register(*_ARITHMETIC, dtypes=NUMERIC, inplace=True)
@register("Less", "Greater", "LessOrEqual", "GreaterOrEqual", "Pow", dtypes=NUMERIC)
@register("Equal", dtypes=NUMERIC | {BOOL})
@register(*_LOGIC, dtypes=frozenset({BOOL}))
@register(*_BITWISE, dtypes=INTEGERS)
@register("Div", dtypes=NUMERIC, inplace=True,
          limits="Integer division truncates; integer x/0 gives 0 (undefined in ONNX).")
def lower_binary(ctx: Lowering) -> Call:
    """`ops::<op>_into(a, b, out)` with broadcasting, or `ops::<op>_inplace(a, b)` over `a`;
    arithmetic on equal shapes in the arena takes the flat form (`ops::binary_flat_into`)."""
    op = ctx.node.op_type
    same = tuple(ctx.input(0).shape) == tuple(ctx.input(1).shape) == tuple(ctx.output().shape)
    out, a, b = ctx.flat_out(), ctx.flat(0), ctx.flat(1)
    if op in _FLAT and same and out:
        variant = Struct(f"Binary::{op}")
        if ctx.inplace and b:
            return ctx.call("binary_flat_inplace", out, b, variant)
        if not ctx.inplace and a and b:
            return ctx.call("binary_flat_into", a, b, out, variant)
    if ctx.inplace:
        return ctx.call(f"{_BINARY[op]}_inplace", ctx.out(), ctx.arg(1))
    return ctx.call(f"{_BINARY[op]}_into", ctx.arg(0), ctx.arg(1), ctx.out())


@register("Mod", dtypes=NUMERIC, attrs=("fmod",),
          limits="Integer x mod 0 gives 0. Float `fmod=0` takes the divisor's sign, as numpy's `mod`.")
def lower_mod(ctx: Lowering) -> Call:
    """`ops::mod_into(a, b, out, fmod)`."""
    return ctx.call("mod_into", ctx.arg(0), ctx.arg(1), ctx.out(), Bool(bool(ctx.attr("fmod", 0))))


_VARIADIC = {"Max": "max", "Min": "min", "Sum": "sum", "Mean": "mean"}


@register("Max", "Min", "Sum", dtypes=NUMERIC)
@register("Mean", dtypes=FLOATS)
def lower_variadic(ctx: Lowering) -> Call:
    """`ops::<op>_into(&[a, b, ..], out)`, all inputs broadcast together."""
    parts = [ctx.arg(i) for i in range(len(ctx.node.inputs)) if ctx.has_input(i)]
    return ctx.call(f"{_VARIADIC[ctx.node.op_type]}_into", Array(tuple(parts)), ctx.out())


# ---- float unary ops: ONNX op -> `ops::Unary` variant, from the node's attributes ----------
Variant = Callable[[dict[str, Any]], Struct]


def _plain(name: str) -> Variant:
    return lambda attrs: Struct(f"Unary::{name}")


def _with(name: str, **defaults: float) -> Variant:
    def spell(attrs: dict[str, Any]) -> Struct:
        return Struct(f"Unary::{name}", tuple((k, f64_literal(attrs.get(k, d))) for k, d in defaults.items()))

    return spell


def f64_literal(value: float) -> Lit:
    """An `f64` literal (the type of every `ops::Unary` parameter)."""
    return Lit(value, F64)


UNARY: dict[str, Variant] = {
    **{op: _plain(op) for op in (
        "Sigmoid", "Tanh", "Abs", "Neg", "Exp", "Log", "Sqrt", "Reciprocal", "Floor", "Ceil", "Round",
        "Sign", "Erf", "Sin", "Cos", "Tan", "Asin", "Acos", "Atan", "Sinh", "Cosh", "Asinh", "Acosh",
        "Atanh", "Softplus", "Softsign", "Mish", "HardSwish")},
    "Gelu": lambda attrs: Struct("Unary::Gelu", (("tanh", Bool(attrs.get("approximate", "none") == "tanh")),)),
    "LeakyRelu": _with("LeakyRelu", alpha=0.01),
    "Elu": _with("Elu", alpha=1.0),
    "Celu": _with("Celu", alpha=1.0),
    "Selu": _with("Selu", alpha=1.67326319217681884765625, gamma=1.05070102214813232421875),
    "HardSigmoid": _with("HardSigmoid", alpha=0.2, beta=0.5),
    "Swish": _with("Swish", alpha=1.0),
    "ThresholdedRelu": _with("ThresholdedRelu", alpha=1.0),
    "Shrink": _with("Shrink", bias=0.0, lambd=0.5),
    # Relu and Clip only as fused epilogues; on their own they have generic kernels below.
    "Relu": _plain("Relu"),
    "Clip": _with("Clip", min=-np.inf, max=np.inf),
}


@register(*(op for op in UNARY if op not in ("Relu", "Clip")), dtypes=VIA_F64, inplace=True,
          attrs=("alpha", "beta", "gamma", "bias", "lambd", "approximate"))
def lower_unary(ctx: Lowering) -> Call:
    """`ops::unary_into(x, out, ops::Unary::<Op> {..})`, or `ops::unary_flat_inplace(out, ..)`."""
    variant = UNARY[ctx.node.op_type](ctx.node.attrs)
    if ctx.inplace:
        out = ctx.flat_out()
        assert out is not None, "an in-place node has one output: an arena slice"
        return ctx.call("unary_flat_inplace", out, variant, fallible=False)
    return ctx.call("unary_into", ctx.arg(0), ctx.out(), variant)


@register("Relu", dtypes=_SIGNED, inplace=True)
def lower_relu(ctx: Lowering) -> Call:
    """`ops::relu_into(x, out)`, or `ops::relu_inplace(out)`; also for signed integers."""
    if ctx.inplace:
        return ctx.call("relu_inplace", ctx.out(), fallible=False)
    return ctx.call("relu_into", ctx.arg(0), ctx.out())


@register("Not", dtypes=frozenset({BOOL}), inplace=True)
def lower_not(ctx: Lowering) -> Call:
    """`ops::not_into(x, out)` on bool, or `ops::not_inplace(out)`."""
    if ctx.inplace:
        return ctx.call("not_inplace", ctx.out(), fallible=False)
    return ctx.call("not_into", ctx.arg(0), ctx.out())


@register("BitwiseNot", dtypes=INTEGERS)
def lower_bitwise_not(ctx: Lowering) -> Call:
    """`ops::bitwise_not_into(x, out)`."""
    return ctx.call("bitwise_not_into", ctx.arg(0), ctx.out())


@register("BitShift", dtypes=INTEGERS, attrs=("direction",))
def lower_bit_shift(ctx: Lowering) -> Call:
    """`ops::bit_shift_into(a, b, left, out)` with broadcasting."""
    left = Bool(ctx.attr("direction") == "LEFT")
    return ctx.call("bit_shift_into", ctx.arg(0), ctx.arg(1), left, ctx.out())


@register("IsNaN", dtypes=VIA_F64)
def lower_is_nan(ctx: Lowering) -> Call:
    """`ops::is_nan_into(x, out)`."""
    return ctx.call("is_nan_into", ctx.arg(0), ctx.out())


@register("IsInf", dtypes=VIA_F64, attrs=("detect_negative", "detect_positive"))
def lower_is_inf(ctx: Lowering) -> Call:
    """`ops::is_inf_into(x, negative, positive, out)`."""
    flags = [Bool(bool(ctx.attr(a, 1))) for a in ("detect_negative", "detect_positive")]
    return ctx.call("is_inf_into", ctx.arg(0), *flags, ctx.out())


@register("Where", dtypes=NUMERIC | {BOOL}, dtype_input=1)
def lower_where(ctx: Lowering) -> Call:
    """`ops::where_into(cond, x, y, out)` with broadcasting."""
    return ctx.call("where_into", ctx.arg(0), ctx.arg(1), ctx.arg(2), ctx.out())


def clip_bounds(node: Node, graph: Graph) -> tuple[Any, Any] | None:
    """Clip's (min, max), from attributes before opset 11 and constant inputs after; None if computed."""
    if graph.opset < 11:
        return node.attrs.get("min"), node.attrs.get("max")
    bounds = [node.input(1), node.input(2)]
    if any(b and not graph.is_constant(b) for b in bounds):
        return None
    lo, hi = (graph.initializers[b] if b else None for b in bounds)
    return lo, hi


@register("Clip", dtypes=NUMERIC, inplace=True, attrs=("min", "max"))
def lower_clip(ctx: Lowering) -> Call:
    """`ops::clip_into(x, out, min, max)`: literal bounds when known at build time (attributes
    before opset 11), else read from their tensors (`ops::scalar`)."""
    dtype = ctx.input(0).dtype
    lowest, highest = _limits(dtype)
    known = clip_bounds(ctx.node, ctx.graph)
    if known is not None:
        lo, hi = known
        bounds: tuple[Arg, Arg] = (ctx.literal(lowest if lo is None else lo, dtype),
                                   ctx.literal(highest if hi is None else hi, dtype))
    else:
        low, high = (scalar(ctx, i) if ctx.has_input(i) else ctx.literal(limit, dtype)
                     for i, limit in ((1, lowest), (2, highest)))
        bounds = (low, high)
    if ctx.inplace:
        return ctx.call("clip_inplace", ctx.out(), *bounds, fallible=False)
    return ctx.call("clip_into", ctx.arg(0), ctx.out(), *bounds)


def _limits(dtype: DType) -> tuple[float, float]:
    if dtype.is_float:
        return (-np.inf, np.inf)
    info = np.iinfo(dtype.numpy)
    return (info.min, info.max)


def scalar(ctx: Lowering, i: int) -> Try:
    """`ops::scalar(&input)?`: the one value of run-time input `i`."""
    return Try(RustCall("scalar", (Ref(ctx.arg(i)),)))
