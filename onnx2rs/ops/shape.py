"""Data movement: Reshape, Flatten, Squeeze, Unsqueeze, Transpose, Concat, Gather, Cast.

Shapes are static after loading, so the four reshaping ops need no code at
all when the output can take over the input's arena slice (the usual case),
and a plain row-major copy otherwise; their shape/axes inputs never reach the
generated code. Spec: https://onnx.ai/onnx/operators/ (one page per op).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..dtypes import ALL, BY_ONNX, BY_RUST, NUMERIC
from ..ir import Graph, Node, is_static
from . import Call, Lowering, register
from .elementwise import scalar
from .rust import Alias, Arg, Array, Bool, Int, Local, Method, Ref, RustCall, Struct, Try, Tuple


def _runtime_operand(node: Node, graph: Graph) -> str | None:
    """Reshape's shape, Squeeze/Unsqueeze's axes, Expand's shape and Tile's repeats may be
    computed at run time (then checked against the static shapes); only as int64/int32."""
    operand = node.input(1)
    if not operand or graph.is_constant(operand):
        return None
    if graph.value(operand).dtype.name not in ("i64", "i32"):
        return f"{graph.value(operand).dtype.name} operand"
    return None


def _checked(ctx: Lowering, check: str, kernel: RustCall | Alias, *extra: Arg) -> Call:
    """`ops::<check>(&operand, &in_shape, &out_shape, ..)` before `kernel` when input 1 is
    computed at run time; else `kernel` alone."""
    if not ctx.has_input(1) or ctx.const(1) is not None:
        return kernel
    shapes = (ctx.shape_literal(ctx.input(0).shape), ctx.shape_literal(ctx.output().shape))
    first = ctx.call(check, Ref(ctx.arg(1)), *shapes, *extra)
    return first if isinstance(kernel, Alias) else ctx.chain(first, "()", kernel)


_SHAPE_CHECK = {"Reshape": "check_reshape", "Squeeze": "check_squeeze", "Unsqueeze": "check_squeeze"}


@register("Reshape", "Flatten", "Squeeze", "Unsqueeze", dtypes=ALL, check=_runtime_operand,
          attrs=("allowzero", "axes", "axis"), view=lambda node, graph: 0,
          limits="A shape or axes operand computed at run time is checked against the static output shape.")
def lower_reshape(ctx: Lowering) -> Call:
    """Nothing when the output is a view of the input; else `ops::reshape_into(x, out)`.
    A run-time shape or axes operand is checked first (`ops::check_reshape`, `ops::check_squeeze`)."""
    kernel: RustCall | Alias = ctx.alias() if ctx.view else ctx.call("reshape_into", ctx.arg(0), ctx.out())
    op = ctx.node.op_type
    if op == "Flatten" or (op != "Reshape" and ctx.graph.opset < 13):
        return kernel
    extra = Bool(bool(ctx.attr("allowzero", 0))) if op == "Reshape" else Bool(op == "Squeeze")
    return _checked(ctx, _SHAPE_CHECK[op], kernel, extra)


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
    return ctx.call("concat_into", Array(tuple(parts)), Int(axis), ctx.out())


def contiguous_window(shape: tuple[int, ...], ranges: list[tuple[int, int, int]]) -> int | None:
    """The element offset of the run that `ranges` (ndarray's `(lo, hi, step)` per axis) pick
    from a row-major array of `shape`, or None unless they pick one non-empty contiguous run."""
    counts = [len(range(lo, hi, abs(step))) for lo, hi, step in ranges]
    if 0 in counts or any(n > 1 and step != 1 for n, (_, _, step) in zip(counts, ranges, strict=True)):
        return None
    # Past the first partial axis (from the right), every outer axis must pick one index.
    partial = next((a for a in reversed(range(len(shape))) if counts[a] != shape[a]), None)
    if partial is not None and any(counts[a] != 1 for a in range(partial)):
        return None
    offset, stride = 0, 1
    for axis in reversed(range(len(shape))):
        lo, hi, step = ranges[axis]
        # ndarray walks a negative step from the range's end: its one index is then hi - 1.
        offset += (lo if step > 0 else hi - 1) * stride
        stride *= shape[axis]
    return offset


def _gather_view(node: Node, graph: Graph) -> int | None:
    """One constant, in-range index picks a contiguous run when every axis before `axis` has
    one element (an RNN's time step out of a [T, 1, F] sequence)."""
    indices = graph.initializers.get(node.input(1) or "")
    shape = graph.value(node.inputs[0]).shape
    axis = int(node.attrs.get("axis", 0)) % len(shape)
    if not is_static(shape) or indices is None or indices.size != 1:
        return None
    if not -shape[axis] <= int(indices.flat[0]) < shape[axis]:
        return None
    index = int(indices.flat[0]) % shape[axis]
    ranges = [(0, d, 1) for d in shape]
    ranges[axis] = (index, index + 1, 1)
    return contiguous_window(shape, ranges)


@register("Gather", dtypes=ALL, attrs=("axis",), view=_gather_view)
def lower_gather(ctx: Lowering) -> Call:
    """`ops::gather_into(data, indices, axis, out)`, or nothing for a view; bad indices are a
    run-time error."""
    if ctx.view:
        return ctx.alias()
    rank = len(ctx.input(0).shape)
    axis = int(ctx.attr("axis", 0)) % rank
    return ctx.call("gather_into", ctx.arg(0), ctx.arg(1), Int(axis), ctx.out())


def slice_ranges(node: Node, graph: Graph) -> list[tuple[int, int, int]] | None:
    """Per axis, Slice's `(lo, hi, step)` in ndarray's convention; None if computed at run time
    (from run-time operands, or where an axis it slices is an open dim: an axis it leaves
    whole keeps its expression, `(0, N, 1)`)."""
    shape = graph.value(node.inputs[0]).shape
    if graph.opset < 10:
        starts, ends = node.attrs.get("starts", []), node.attrs.get("ends", [])
        axes, steps = node.attrs.get("axes", list(range(len(starts)))), [1] * len(starts)
    else:
        operands = [node.input(i) for i in range(1, 5)]
        if any(o and not graph.is_constant(o) for o in operands):
            return None
        values = [[int(v) for v in np.asarray(graph.initializers[o]).reshape(-1)] if o else None for o in operands]
        starts, ends = values[0] or [], values[1] or []
        axes = values[2] if values[2] is not None else list(range(len(starts)))
        steps = values[3] if values[3] is not None else [1] * len(starts)
    ranges = [(0, d, 1) for d in shape]
    for start, end, axis, step in zip(starts, ends, axes, steps, strict=True):
        axis %= len(shape)
        lo, hi, step = _indices(start, end, step, shape[axis])
        if step > 0:
            ranges[axis] = (lo, _max(lo, hi), step)
        else:  # numpy walks lo, lo+step, ... > hi; ndarray walks the range (hi, lo] from its end
            ranges[axis] = (hi + 1, _max(hi + 1, lo + 1), step)
    return ranges


def _indices(start: int, end: int, step: int, dim: Any) -> tuple[Any, Any, int]:
    """numpy's `slice(start, end, step).indices(dim)`: also for a `dim` of open dims, as min/max
    expressions (bounds past the end clamp at run time, as ONNX says)."""
    if is_static([dim]):
        return slice(start, end, step).indices(dim)
    import sympy

    low, high = (0, dim) if step > 0 else (-1, dim - 1)

    def clamp(i: int) -> Any:
        return sympy.Min(sympy.Max(i + dim if i < 0 else sympy.Integer(i), low), high)

    return clamp(start), clamp(end), step


def _max(a: Any, b: Any) -> Any:
    if is_static([a, b]):
        return max(a, b)
    import sympy

    return sympy.Max(a, b)


def _slice_view(node: Node, graph: Graph) -> int | None:
    """Static ranges that pick one contiguous run (a Split part along the last axis)."""
    ranges, shape = slice_ranges(node, graph), graph.value(node.inputs[0]).shape
    return None if ranges is None or not is_static(shape) else contiguous_window(shape, ranges)


@register("Slice", dtypes=ALL, attrs=("starts", "ends", "axes"), view=_slice_view,
          limits="starts, ends, axes and steps computed at run time must give the static output shape.")
def lower_slice(ctx: Lowering) -> Call:
    """`ops::slice_into(x, &[(lo, hi, step), ..], out)`, resolved with numpy's rules at compile
    time, or from run-time operands by `ops::SliceRanges::read`; nothing for a view."""
    if ctx.view:
        return ctx.alias()
    ranges = slice_ranges(ctx.node, ctx.graph)
    if ranges is None:
        read = ctx.call("SliceRanges::read", Ref(ctx.arg(1)), Ref(ctx.arg(2)), ctx.opt_arg(3), ctx.opt_arg(4),
                        ctx.shape_literal(ctx.input(0).shape))
        kernel = ctx.call("slice_into", ctx.arg(0), Method(Local("ranges"), "as_slice"), ctx.out())
        return ctx.chain(read, "ranges", kernel)
    spelled = Array(tuple(Tuple((Int(lo), Int(hi), Int(step))) for lo, hi, step in ranges))
    return ctx.call("slice_into", ctx.arg(0), spelled, ctx.out())


@register("Expand", dtypes=ALL, check=_runtime_operand,
          limits="A shape computed at run time is checked against the static output shape.")
def lower_expand(ctx: Lowering) -> Call:
    """`ops::expand_into(x, out)`: the static output shape is all the kernel needs (a run-time
    shape operand is checked first)."""
    return _checked(ctx, "check_expand", ctx.call("expand_into", ctx.arg(0), ctx.out()))


@register("Tile", dtypes=ALL, check=_runtime_operand,
          limits="Repeats computed at run time are checked against the static output shape.")
def lower_tile(ctx: Lowering) -> Call:
    """`ops::tile_into(x, out)`: the static output shape gives the repeats (run-time repeats
    are checked first)."""
    return _checked(ctx, "check_tile", ctx.call("tile_into", ctx.arg(0), ctx.out()))


_PAD_MODES = {"constant": "Constant", "reflect": "Reflect", "edge": "Edge", "wrap": "Wrap"}


def pad_begin(node: Node, graph: Graph) -> list[int] | None:
    """Pad's leading pad per axis (negative crops); None if computed at run time."""
    rank = len(graph.value(node.inputs[0]).shape)
    if graph.opset < 11:
        pads = list(node.attrs.get("pads", [0] * 2 * rank))
        axes = list(range(rank))
    else:
        operands = [node.input(1), node.input(3)]
        if any(o and not graph.is_constant(o) for o in operands):
            return None
        pads = [int(v) for v in np.asarray(graph.initializers[operands[0]]).reshape(-1)] if operands[0] else []
        axes = [int(a) % rank for a in np.asarray(graph.initializers[operands[1]]).reshape(-1)] if operands[1] \
            else list(range(rank))
    begin = [0] * rank
    for i, axis in enumerate(axes):
        begin[axis] = pads[i]
    return begin


def _check_pad(node: Node, graph: Graph) -> str | None:
    if node.attrs.get("mode", "constant") not in _PAD_MODES:
        return f"mode {node.attrs.get('mode')!r}"
    return None


@register("Pad", dtypes=ALL, check=_check_pad, attrs=("mode", "pads", "value"),
          limits="pads and axes computed at run time must give the static output shape.")
def lower_pad(ctx: Lowering) -> Call:
    """`ops::pad_into(x, &begin, ops::PadMode::<Mode>, value, out)`; the static output shape gives
    the ends. Run-time pads are read (and checked) by `ops::PadBegin::read`; a run-time
    constant value by `ops::scalar`."""
    dtype = ctx.input(0).dtype
    value: Arg
    if ctx.graph.opset < 11:
        value = ctx.literal(ctx.attr("value", 0.0), dtype)
    elif not ctx.has_input(2):
        value = ctx.literal(0, dtype)
    elif ctx.const(2) is not None:
        value = ctx.literal(ctx.const(2), dtype)
    else:
        value = scalar(ctx, 2)
    mode = Struct(f"PadMode::{_PAD_MODES[ctx.attr('mode', 'constant')]}")
    begin = pad_begin(ctx.node, ctx.graph)
    if begin is not None:
        return ctx.call("pad_into", ctx.arg(0), ctx.shape_literal(begin), mode, value, ctx.out())
    shapes = (ctx.shape_literal(ctx.input(0).shape), ctx.shape_literal(ctx.output().shape))
    read = ctx.call("PadBegin::read", Ref(ctx.arg(1)), ctx.opt_arg(3), *shapes)
    kernel = ctx.call("pad_into", ctx.arg(0), Method(Local("begin"), "as_slice"), mode, value, ctx.out())
    return ctx.chain(read, "begin", kernel)


@register("Trilu", dtypes=ALL, attrs=("upper",))
def lower_trilu(ctx: Lowering) -> Call:
    """`ops::trilu_into(x, k, upper, out)`; a k computed at run time is read from its tensor."""
    k: Arg
    if not ctx.has_input(1):
        k = Int(0)
    elif ctx.const(1) is not None:
        k = Int(int(np.asarray(ctx.const(1)).reshape(-1)[0]))
    else:
        k = scalar(ctx, 1)
    upper = Bool(bool(ctx.attr("upper", 1)))
    return ctx.call("trilu_into", ctx.arg(0), k, upper, ctx.out())


@register("CumSum", dtypes=frozenset(d for d in ALL if d.rust != "bool"), attrs=("exclusive", "reverse"))
def lower_cumsum(ctx: Lowering) -> Call:
    """`ops::cumsum_into(x, axis, exclusive, reverse, out)`; an axis computed at run time is read
    from its tensor."""
    rank = len(ctx.input(0).shape)
    axis: Arg
    if ctx.const(1) is not None:
        axis = Int(int(np.asarray(ctx.const(1)).reshape(-1)[0]) % rank)
    else:
        axis = Try(RustCall("Axes::one", (Ref(ctx.arg(1)), Int(rank))))
    flags = [Bool(bool(ctx.attr(a, 0))) for a in ("exclusive", "reverse")]
    return ctx.call("cumsum_into", ctx.arg(0), axis, *flags, ctx.out())


def _check_cast(node: Node, graph: Graph) -> str | None:
    to = node.attrs.get("to")
    if to not in BY_ONNX:
        return f"cast to element type {to}"
    round_mode = node.attrs.get("round_mode", b"up")
    if (round_mode.decode() if isinstance(round_mode, bytes) else round_mode) != "up":
        return "Cast (round_mode other than 'up')"
    return None


@register("CastLike", dtypes=ALL, attrs=("saturate",))
@register("Cast", dtypes=ALL, check=_check_cast, attrs=("to", "saturate", "round_mode"),
          limits="Every type but string. Narrow floats round to nearest even; float8 overflow "
          "saturates unless `saturate=0`; float8e8m0 only with `round_mode='up'`.")
def lower_cast(ctx: Lowering) -> Call:
    """`ops::cast_into(x, out)`: truncating, saturating, non-zero to true; with
    `saturate=0`, `ops::cast_unsaturated_into` (float8 overflow gives infinity or NaN)."""
    kernel = "cast_into" if ctx.attr("saturate", 1) else "cast_unsaturated_into"
    return ctx.call(kernel, ctx.arg(0), ctx.out())


def _check_bit_cast(node: Node, graph: Graph) -> str | None:
    to = BY_ONNX.get(int(node.attrs.get("to", -1)))
    if to is None:
        return f"bit cast to element type {node.attrs.get('to')}"
    if to.numpy.itemsize != graph.value(node.inputs[0]).dtype.numpy.itemsize:
        return "bit cast between element types of different widths"
    return None


@register("BitCast", dtypes=ALL, check=_check_bit_cast, attrs=("to",))
def lower_bit_cast(ctx: Lowering) -> Call:
    """`ops::bit_cast_into(x, out)`: each element's bytes reinterpreted."""
    return ctx.call("bit_cast_into", ctx.arg(0), ctx.out())


@register("GatherElements", dtypes=ALL, attrs=("axis",))
def lower_gather_elements(ctx: Lowering) -> Call:
    """`ops::gather_elements_into(data, indices, axis, out)`; bad indices are a run-time error."""
    axis = int(ctx.attr("axis", 0)) % len(ctx.input(0).shape)
    return ctx.call("gather_elements_into", ctx.arg(0), ctx.arg(1), Int(axis), ctx.out())


_SCATTER_REDUCTIONS = {"none": "None", "add": "Add", "mul": "Mul", "max": "Max", "min": "Min"}


def _check_scatter(node: Node, graph: Graph) -> str | None:
    reduction = node.attrs.get("reduction", "none")
    return None if reduction in _SCATTER_REDUCTIONS else f"reduction {reduction!r}"


def _scatter_reduction(ctx: Lowering) -> Struct:
    return Struct(f"ScatterReduction::{_SCATTER_REDUCTIONS[ctx.attr('reduction', 'none')]}")


@register("ScatterElements", dtypes=NUMERIC, check=_check_scatter, attrs=("axis", "reduction"),
          limits="Numeric types. Updates apply in order: with `reduction=none`, the last of two to one place wins.")
def lower_scatter_elements(ctx: Lowering) -> Call:
    """`ops::scatter_elements_into(data, indices, updates, axis, reduction, out)`; bad indices are
    a run-time error."""
    axis = int(ctx.attr("axis", 0)) % len(ctx.input(0).shape)
    return ctx.call("scatter_elements_into", ctx.arg(0), ctx.arg(1), ctx.arg(2), Int(axis), _scatter_reduction(ctx),
                    ctx.out())


@register("ScatterND", dtypes=NUMERIC, check=_check_scatter, attrs=("reduction",),
          limits="Numeric types. Updates apply in order: with `reduction=none`, the last of two to one place wins.")
def lower_scatter_nd(ctx: Lowering) -> Call:
    """`ops::scatter_nd_into(data, indices, updates, reduction, out)`; bad indices are a run-time
    error."""
    return ctx.call("scatter_nd_into", ctx.arg(0), ctx.arg(1), ctx.arg(2), _scatter_reduction(ctx), ctx.out())


@register("Range", dtypes=NUMERIC, limits="Folded when its operands are constants; else the operands must "
          "give the element count the model declares.")
def lower_range(ctx: Lowering) -> Call:
    """`ops::range_into(start, limit, delta, out)`, checked against the static length."""
    return ctx.call("range_into", ctx.arg(0), ctx.arg(1), ctx.arg(2), ctx.out())


@register("ConstantOfShape", dtypes=frozenset({BY_RUST["i64"]}), attrs=("value",),
          limits="Folded when the shape is a constant; otherwise the model must declare the output shape.")
def lower_constant_of_shape(ctx: Lowering) -> Call:
    """`ops::fill_into(value, out)`: the static output shape is the shape operand's value."""
    value = ctx.attr("value")
    fill = 0 if value is None else np.asarray(value).reshape(-1)[0]
    return ctx.call("fill_into", ctx.literal(fill, ctx.output().dtype), ctx.out(), fallible=False)


def _check_eye_like(node: Node, graph: Graph) -> str | None:
    out = graph.value(node.outputs[0])
    return None if out.dtype in NUMERIC else f"output dtype {out.dtype.rust}"


@register("EyeLike", dtypes=ALL, check=_check_eye_like, attrs=("dtype", "k"))
def lower_eye_like(ctx: Lowering) -> Call:
    """`ops::eye_into(k, out)`: only the input's (static) shape matters."""
    return ctx.call("eye_into", Int(int(ctx.attr("k", 0))), ctx.out())


@register("ReverseSequence", dtypes=ALL, attrs=("batch_axis", "time_axis"))
def lower_reverse_sequence(ctx: Lowering) -> Call:
    """`ops::reverse_sequence_into(x, lens, batch_axis, time_axis, out)`; bad lengths are a run-time error."""
    axes = [Int(int(ctx.attr(a, d))) for a, d in (("batch_axis", 1), ("time_axis", 0))]
    return ctx.call("reverse_sequence_into", ctx.arg(0), ctx.arg(1), *axes, ctx.out())


_RESIZE_COORDINATES = {"half_pixel": "HalfPixel", "half_pixel_symmetric": "HalfPixelSymmetric",
                       "pytorch_half_pixel": "PytorchHalfPixel", "align_corners": "AlignCorners",
                       "asymmetric": "Asymmetric", "tf_crop_and_resize": "TfCropAndResize"}
_RESIZE_NEAREST = {"round_prefer_floor": "NearestRoundPreferFloor", "round_prefer_ceil": "NearestRoundPreferCeil",
                   "floor": "NearestFloor", "ceil": "NearestCeil"}


def resize_scales(node: Node, graph: Graph) -> list[float] | None:
    """Resize's per-axis scales as its coordinate transform uses them; None if computed at run time.

    Given `scales`, those values (not output / input); given `sizes`, output / input.
    """
    x, y = graph.value(node.inputs[0]), graph.value(node.outputs[0])
    rank = len(x.shape)
    scales_in = node.input(2)
    if scales_in and graph.value(scales_in).size:
        if not graph.is_constant(scales_in):
            return None
        given = [float(v) for v in np.asarray(graph.initializers[scales_in]).reshape(-1)]
        scales = [1.0] * rank
        for axis, scale in zip(_resize_axes(node, rank), given, strict=True):
            scales[axis] = scale
        return scales
    ratios = [y.shape[a] / x.shape[a] if x.shape[a] else 1.0 for a in range(rank)]
    policy = node.attrs.get("keep_aspect_ratio_policy", "stretch")
    if policy == "stretch":
        return ratios
    # One scale for every resized axis, from the `sizes` the model asked for.
    sizes = [float(v) for v in np.asarray(graph.initializers[node.input(3) or ""]).reshape(-1)]
    axes = _resize_axes(node, rank)
    pick = min if policy == "not_larger" else max
    scale = pick(size / x.shape[a] for a, size in zip(axes, sizes, strict=True))
    return [scale if a in axes else 1.0 for a in range(rank)]


def _resize_axes(node: Node, rank: int) -> list[int]:
    return [int(a) % rank for a in node.attrs.get("axes", range(rank))]


def _check_resize(node: Node, graph: Graph) -> str | None:
    attrs = node.attrs
    if graph.opset < 11:
        return "opset < 11 (Resize-10 semantics)"
    if attrs.get("mode", "nearest") not in ("nearest", "linear", "cubic"):
        return f"mode {attrs.get('mode')!r}"
    coordinates = attrs.get("coordinate_transformation_mode", "half_pixel")
    if coordinates not in _RESIZE_COORDINATES:
        return f"coordinate_transformation_mode {coordinates!r}"
    if coordinates == "tf_crop_and_resize" and not node.input(1):
        return "tf_crop_and_resize without a roi"
    if attrs.get("nearest_mode", "round_prefer_floor") not in _RESIZE_NEAREST:
        return f"nearest_mode {attrs.get('nearest_mode')!r}"
    sizes = node.input(3)
    if attrs.get("keep_aspect_ratio_policy", "stretch") != "stretch" and not (sizes and graph.is_constant(sizes)):
        return "keep_aspect_ratio_policy with run-time sizes"
    if len(graph.value(node.inputs[0]).shape) > 8 or not graph.value(node.inputs[0]).size:
        return "rank > 8 or an empty input"
    return None


@register("Resize", dtypes=frozenset({BY_RUST["f32"]}), check=_check_resize,
          attrs=("antialias", "axes", "coordinate_transformation_mode", "cubic_coeff_a", "exclude_outside",
                 "extrapolation_value", "keep_aspect_ratio_policy", "mode", "nearest_mode"),
          limits="Nearest, (n-)linear and cubic, with antialias; every coordinate mode (tf_crop_and_resize "
                 "with a constant roi). Scales computed at run time need the model to declare the output shape.")
def lower_resize(ctx: Lowering) -> Call:
    """`ops::resize_into(x, &scales, &axes, ops::ResizeParams { .. }, out)`; the static output shape
    is the target. Constant scales become literals; run-time ones are read from their tensor."""
    static = resize_scales(ctx.node, ctx.graph)
    resized = _resize_axes(ctx.node, len(ctx.input(0).shape))
    axes = ctx.shape_literal(resized if "axes" in ctx.node.attrs else [])
    scales: Arg
    if static is not None:
        scales = Array(tuple(ctx.literal(static[a], BY_RUST["f32"]) for a in resized))
    else:
        scales = _values(ctx, 2)
    mode = {"linear": "Linear", "cubic": "Cubic"}.get(ctx.attr("mode", "nearest")) or \
        _RESIZE_NEAREST[ctx.attr("nearest_mode", "round_prefer_floor")]
    coordinates = ctx.attr("coordinate_transformation_mode", "half_pixel")
    f32 = BY_RUST["f32"]
    roi: Arg
    if coordinates != "tf_crop_and_resize":
        roi = Array(())
    elif ctx.const(1) is not None:
        roi = Array(tuple(ctx.literal(v, f32) for v in np.asarray(ctx.const(1)).reshape(-1)))
    else:
        roi = _values(ctx, 1)
    params = Struct("ResizeParams", (
        ("mode", Struct(f"ResizeMode::{mode}")),
        ("coordinates", Struct(f"ResizeCoordinates::{_RESIZE_COORDINATES[coordinates]}")),
        ("cubic_coeff_a", ctx.literal(ctx.attr("cubic_coeff_a", -0.75), f32)),
        ("exclude_outside", Bool(bool(ctx.attr("exclude_outside", 0)))),
        ("antialias", Bool(bool(ctx.attr("antialias", 0)))),
        ("roi", roi),
        ("extrapolation_value", ctx.literal(ctx.attr("extrapolation_value", 0.0), f32)),
    ))
    return ctx.call("resize_into", ctx.arg(0), scales, axes, params, ctx.out())


def _values(ctx: Lowering, i: int) -> Try:
    """`ops::values(&input)?`: run-time input `i`'s values, as a slice."""
    return Try(RustCall("values", (Ref(ctx.arg(i)),)))
