"""The op case table: one row per (op, attributes, dtypes) combination we support.

Each row is a single-node graph. Inputs marked `const` become initializers
(weights); the others are graph inputs fed at run time. Values come from seeded
generators; expected outputs always come from ONNX Runtime, never from this file.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import onnx
from onnx import helper, numpy_helper

from ..helpers import make_model

Gen = Callable[[np.random.Generator], np.ndarray]


def normal(*shape: int, dtype: Any = np.float32, scale: float = 1.0) -> Gen:
    """Standard-normal values."""
    return lambda rng: (rng.standard_normal(shape) * scale).astype(dtype)


def positive(*shape: int) -> Gen:
    """Values in [0.5, 1.5), for variances and divisors."""
    return lambda rng: rng.uniform(0.5, 1.5, shape).astype(np.float32)


def ints(low: int, high: int, *shape: int, dtype: Any = np.int64) -> Gen:
    """Integers in [low, high)."""
    return lambda rng: rng.integers(low, high, shape).astype(dtype)


def bools(*shape: int) -> Gen:
    """Random booleans."""
    return lambda rng: rng.integers(0, 2, shape).astype(np.bool_)


def fixed(value: Any, dtype: Any = np.int64) -> Gen:
    """A fixed array, for shape and axes operands."""
    return lambda rng: np.array(value, dtype=dtype)


@dataclass
class Case:
    """One single-node test graph: `inputs` are (generator, is_const) pairs in input order."""

    id: str
    op: str
    inputs: list[tuple[Gen | None, bool]]
    attrs: dict[str, Any] = field(default_factory=dict)
    opset: int = 17
    outputs: int = 1


def run(gen: Gen) -> tuple[Gen, bool]:
    """An input fed at run time."""
    return (gen, False)


def const(gen: Gen) -> tuple[Gen, bool]:
    """An input baked into the weights."""
    return (gen, True)


OMITTED = (None, False)

CASES = [
    # elementwise: broadcasting, dtypes
    Case("add_broadcast", "Add", [run(normal(2, 3, 4)), run(normal(3, 1))]),
    Case("add_i64_const", "Add", [run(ints(-5, 5, 2, 3)), const(ints(-5, 5, 3))]),
    Case("sub_f32", "Sub", [run(normal(4, 1)), run(normal(1, 5))]),
    # One value per contiguous block (a per-channel scale or shift), either side.
    Case("mul_per_channel", "Mul", [run(normal(1, 5, 6, 7)), const(normal(1, 5, 1, 1))]),
    Case("sub_per_channel_first", "Sub", [const(normal(5, 1, 1)), run(normal(1, 5, 6, 7))]),
    Case("add_per_row", "Add", [run(normal(4, 6)), const(normal(4, 1))]),
    Case("add_i8", "Add", [run(ints(-50, 50, 6, dtype=np.int8)), run(ints(-50, 50, 6, dtype=np.int8))]),
    Case("sub_u16", "Sub", [run(ints(100, 200, 6, dtype=np.uint16)), const(ints(0, 100, 6, dtype=np.uint16))]),
    Case("max_u32", "Max", [run(ints(0, 1000, 5, dtype=np.uint32)), run(ints(0, 1000, 5, dtype=np.uint32))]),
    Case("mul_u64", "Mul", [run(ints(0, 1000, 5, dtype=np.uint64)), const(ints(0, 1000, 5, dtype=np.uint64))]),
    # float16 arithmetic rounds each result to 16 bits, as ONNX Runtime does
    Case("add_f16", "Add", [run(normal(3, 4, dtype=np.float16)), const(normal(4, dtype=np.float16))]),
    Case("mul_f16", "Mul", [run(normal(3, 4, dtype=np.float16)), run(normal(3, 1, dtype=np.float16))]),
    Case("mul_i32", "Mul", [run(ints(-9, 9, 2, 3, dtype=np.int32)), run(ints(-9, 9, 1, dtype=np.int32))]),
    Case("div_f32", "Div", [run(normal(3, 4)), const(positive(4))]),
    Case("div_i64_truncates", "Div", [run(ints(-20, 20, 6)), const(fixed([3, -3, 7, 2, -5, 4]))]),
    Case("less_f32", "Less", [run(normal(2, 3)), run(normal(3))]),
    Case("less_i32", "Less", [run(ints(0, 4, 5, dtype=np.int32)), const(fixed(2, np.int32))]),
    Case("relu", "Relu", [run(normal(3, 7))]),
    Case("relu_i32", "Relu", [run(ints(-9, 9, 10, dtype=np.int32))]),
    Case("sigmoid_wide", "Sigmoid", [run(normal(4, 8, scale=30.0))]),
    Case("relu_f64", "Relu", [run(normal(5, dtype=np.float64))]),
    Case("tanh", "Tanh", [run(normal(2, 9, scale=3.0))]),
    Case("not", "Not", [run(bools(3, 4))]),
    Case("where_f32", "Where", [run(bools(2, 3)), run(normal(2, 3)), run(normal(3))]),
    Case("where_i64", "Where", [run(bools(4)), run(ints(0, 9, 4)), const(fixed(-1))]),
    Case("clip_both", "Clip", [run(normal(3, 5, scale=4.0)), const(fixed(-1.0, np.float32)),
                               const(fixed(2.5, np.float32))]),
    Case("clip_max_only", "Clip", [run(normal(10, scale=8.0)), OMITTED, const(fixed(6.0, np.float32))]),
    Case("clip_i64", "Clip", [run(ints(-9, 9, 8)), const(fixed(-2)), const(fixed(3))]),
    # float unary table (ops::Unary); inputs chosen inside each function's domain
    *[Case(f"unary_{op.lower()}", op, [run(normal(3, 5, scale=2.0))]) for op in (
        "Abs", "Neg", "Exp", "Floor", "Ceil", "Round", "Sign", "Erf", "Sin", "Cos", "Tan", "Atan",
        "Sinh", "Cosh", "Asinh", "Softplus", "Softsign", "HardSwish")],
    Case("unary_mish", "Mish", [run(normal(3, 5, scale=2.0))], opset=20),
    Case("swish_alpha", "Swish", [run(normal(3, 5, scale=3.0))], {"alpha": 0.5}, opset=24),
    *[Case(f"unary_{op.lower()}", op, [run(positive(3, 5))]) for op in ("Log", "Sqrt", "Reciprocal", "Acosh")],
    *[Case(f"unary_{op.lower()}", op, [run(lambda rng: rng.uniform(-0.9, 0.9, (3, 5)).astype(np.float32))])
      for op in ("Asin", "Acos", "Atanh")],
    Case("unary_round_halves", "Round", [run(fixed([0.5, 1.5, 2.5, -0.5, -2.5, 2.4], np.float32))]),
    Case("gelu_erf", "Gelu", [run(normal(4, 6))], opset=20),
    Case("gelu_tanh", "Gelu", [run(normal(4, 6))], {"approximate": "tanh"}, opset=20),
    Case("leaky_relu", "LeakyRelu", [run(normal(3, 5))], {"alpha": 0.2}),
    Case("elu", "Elu", [run(normal(3, 5))], {"alpha": 0.7}),
    Case("celu", "Celu", [run(normal(3, 5))], {"alpha": 1.5}),
    Case("selu_default", "Selu", [run(normal(3, 5))]),
    Case("hard_sigmoid", "HardSigmoid", [run(normal(3, 5, scale=4.0))], {"alpha": 0.3, "beta": 0.4}),
    Case("thresholded_relu", "ThresholdedRelu", [run(normal(3, 5))], {"alpha": 0.5}),
    Case("shrink", "Shrink", [run(normal(3, 5))], {"bias": 0.3, "lambd": 0.6}),
    Case("exp_f64", "Exp", [run(normal(4, dtype=np.float64))]),
    # comparisons, logic, pow, mod, variadic
    Case("greater_f32", "Greater", [run(normal(2, 3)), run(normal(3))]),
    Case("less_or_equal_i64", "LessOrEqual", [run(ints(0, 3, 6)), const(fixed(1))]),
    Case("greater_or_equal_f32", "GreaterOrEqual", [run(ints(0, 3, 6, dtype=np.float32)), run(ints(0, 3, 6, dtype=np.float32))]),
    Case("equal_i32", "Equal", [run(ints(0, 3, 2, 4, dtype=np.int32)), run(ints(0, 3, 4, dtype=np.int32))]),
    Case("equal_bool", "Equal", [run(bools(5)), run(bools(5))]),
    Case("and", "And", [run(bools(2, 3)), run(bools(3))]),
    Case("or", "Or", [run(bools(2, 3)), run(bools(2, 1))]),
    Case("xor", "Xor", [run(bools(4)), run(bools(4))]),
    Case("pow_f32", "Pow", [run(positive(2, 3)), run(normal(3))]),
    Case("pow_int_exponent", "Pow", [run(normal(5)), const(fixed([0, 1, 2, 3, 4]))]),
    Case("mod_i64_python", "Mod", [run(ints(-20, 20, 8)), const(fixed([3, -3, 5, -5, 7, 2, -2, 4]))]),
    Case("mod_f32_fmod", "Mod", [run(normal(6, scale=5.0)), const(fixed([1.5, -1.5, 2.0, 3.0, -0.7, 1.1], np.float32))],
         {"fmod": 1}),
    Case("prelu_channel_slope", "PRelu", [run(normal(2, 3, 4)), const(normal(3, 1))]),
    Case("max3", "Max", [run(normal(2, 3)), run(normal(3)), const(normal(1, 3))]),
    Case("min2_i32", "Min", [run(ints(-5, 5, 4, dtype=np.int32)), run(ints(-5, 5, 4, dtype=np.int32))]),
    Case("sum3", "Sum", [run(normal(2, 3)), run(normal(2, 3)), run(normal(3))]),
    Case("mean2", "Mean", [run(normal(2, 3)), run(normal(1, 3))]),
    # reductions
    Case("reduce_sum_axis1_keep", "ReduceSum", [run(normal(2, 3, 4)), const(fixed([1]))]),
    Case("reduce_sum_all_i64", "ReduceSum", [run(ints(-9, 9, 3, 4))], {"keepdims": 0}),
    Case("reduce_mean_neg_axis", "ReduceMean", [run(normal(2, 3, 4))], {"axes": [-1], "keepdims": 0}, opset=13),
    *[Case(f"reduce_{v.lower()}_axes02", f"Reduce{v}", [run(positive(2, 3, 4)), const(fixed([0, 2]))], opset=18)
      for v in ("Max", "Min", "Prod", "L1", "L2", "LogSum", "LogSumExp", "SumSquare", "Mean")],
    Case("argmax_axis1", "ArgMax", [run(normal(3, 4, 2))], {"axis": 1}),
    Case("argmin_last_index_nokeep", "ArgMin", [run(ints(0, 3, 3, 5, dtype=np.float32))],
         {"axis": -1, "keepdims": 0, "select_last_index": 1}),
    Case("argmax_i32", "ArgMax", [run(ints(-9, 9, 4, 3, dtype=np.int32))]),
    Case("topk_largest_ties", "TopK", [run(ints(0, 4, 3, 6, dtype=np.float32)), const(fixed([3]))], outputs=2),
    Case("topk_smallest_axis0_i32", "TopK", [run(ints(-9, 9, 5, 2, dtype=np.int32)), const(fixed([2]))],
         {"axis": 0, "largest": 0}, outputs=2),
    Case("log_softmax", "LogSoftmax", [run(normal(2, 3, 5, scale=4.0))]),
    Case("layer_norm_last_axis", "LayerNormalization", [run(normal(2, 3, 8)), const(normal(8)), const(normal(8))]),
    Case("layer_norm_with_statistics", "LayerNormalization", [run(normal(2, 3, 4)), const(normal(4)), const(normal(4))],
         outputs=3),
    Case("layer_norm_axis1_no_bias", "LayerNormalization", [run(normal(2, 3, 4)), const(normal(3, 4))],
         {"axis": 1, "epsilon": 1e-3}),
    Case("slice_steps_negative", "Slice", [run(normal(4, 6, 5)), const(fixed([1, -1, 0])), const(fixed([4, -7, 9])),
                                            const(fixed([0, 1, 2])), const(fixed([2, -2, 1]))]),
    Case("slice_clamped_default_axes", "Slice", [run(ints(0, 9, 5, 3)), const(fixed([-100])), const(fixed([2**62]))]),
    # One contiguous run of the input (a Split's part): copied as one range.
    Case("slice_contiguous_last_axis", "Slice", [run(normal(1, 36)), const(fixed([12])), const(fixed([24])),
                                                 const(fixed([1]))]),
    Case("slice_contiguous_inner_block", "Slice", [run(normal(3, 4, 5)), const(fixed([1, 1])), const(fixed([2, 3])),
                                                   const(fixed([0, 1]))]),
    Case("slice_strided_middle_axis", "Slice", [run(normal(3, 4, 5)), const(fixed([1])), const(fixed([3])),
                                                const(fixed([1]))]),
    Case("expand_i64", "Expand", [run(ints(0, 9, 3, 1)), const(fixed([2, 3, 4]))]),
    Case("tile", "Tile", [run(normal(2, 3)), const(fixed([2, 1]))]),
    Case("pad_constant", "Pad", [run(normal(2, 3)), const(fixed([1, 0, 0, 2])), const(fixed(1.5, np.float32))]),
    Case("pad_reflect_crop", "Pad", [run(normal(3, 5)), const(fixed([1, 3, -1, 2]))], {"mode": "reflect"}),
    Case("pad_edge_axes", "Pad", [run(ints(0, 9, 2, 3, 4)), const(fixed([1, 2])), OMITTED, const(fixed([2]))],
         {"mode": "edge"}, opset=18),
    Case("pad_wrap", "Pad", [run(normal(2, 3)), const(fixed([1, 2, 1, 2]))], {"mode": "wrap"}, opset=20),
    Case("instance_norm", "InstanceNormalization", [run(normal(2, 3, 4, 5)), const(normal(3)), const(normal(3))],
         {"epsilon": 1e-3}),
    Case("hardmax_axis1", "Hardmax", [run(ints(0, 3, 2, 4, 3, dtype=np.float32))], {"axis": 1}),
    Case("trilu_upper_k1", "Trilu", [run(normal(2, 4, 5)), const(fixed(1))]),
    Case("trilu_lower_k_neg", "Trilu", [run(ints(0, 9, 5, 4)), const(fixed(-1))], {"upper": 0}),
    Case("cumsum_exclusive_reverse", "CumSum", [run(normal(3, 4)), const(fixed(1))], {"exclusive": 1, "reverse": 1}),
    Case("cumsum_i32_axis0", "CumSum", [run(ints(-5, 5, 4, 2, dtype=np.int32)), const(fixed(0, np.int32))]),
    Case("cast_like", "CastLike", [run(normal(4, scale=5.0)), const(fixed([0], np.int32))]),
    # matrix products
    Case("matmul_2d", "MatMul", [run(normal(3, 4)), const(normal(4, 5))]),
    Case("matmul_batched", "MatMul", [run(normal(2, 3, 4)), run(normal(2, 4, 5))]),
    Case("matmul_broadcast_batch", "MatMul", [run(normal(2, 1, 3, 4)), run(normal(3, 4, 2))]),
    Case("matmul_vector_left", "MatMul", [run(normal(4)), run(normal(4, 5))]),
    Case("matmul_vector_right", "MatMul", [run(normal(2, 3, 4)), run(normal(4))]),
    Case("matmul_i32", "MatMul", [run(ints(-3, 3, 2, 3, dtype=np.int32)), run(ints(-3, 3, 3, 2, dtype=np.int32))]),
    Case("gemm_plain", "Gemm", [run(normal(3, 4)), const(normal(4, 5)), const(normal(5))]),
    Case("gemm_trans_scaled", "Gemm", [run(normal(4, 3)), const(normal(5, 4)), const(normal(3, 5))],
         {"transA": 1, "transB": 1, "alpha": 0.5, "beta": 2.0}),
    Case("gemm_no_c", "Gemm", [run(normal(2, 6)), const(normal(6, 3))]),
    # convolution
    Case("conv2d_pad_stride_bias", "Conv", [run(normal(1, 3, 8, 8)), const(normal(4, 3, 3, 3)), const(normal(4))],
         {"pads": [1, 1, 1, 1], "strides": [2, 2]}),
    Case("conv2d_dilated_asym_pads", "Conv", [run(normal(2, 2, 9, 7)), const(normal(3, 2, 3, 2))],
         {"dilations": [2, 1], "pads": [0, 1, 2, 0]}),
    Case("conv2d_depthwise", "Conv", [run(normal(1, 4, 6, 6)), const(normal(4, 1, 3, 3)), const(normal(4))],
         {"group": 4, "pads": [1, 1, 1, 1]}),
    Case("conv2d_depthwise_strided_dilated", "Conv", [run(normal(2, 3, 9, 8)), const(normal(3, 1, 3, 2))],
         {"group": 3, "pads": [2, 1, 0, 1], "strides": [2, 3], "dilations": [2, 1]}),
    Case("conv2d_pointwise", "Conv", [run(normal(2, 5, 4, 6)), const(normal(7, 5, 1, 1)), const(normal(7))]),
    # The unrolled row kernels (width 3, 5, 7; stride 1 and 2) and their edges.
    Case("conv2d_depthwise_3x3_stride2", "Conv", [run(normal(1, 8, 11, 10)), const(normal(8, 1, 3, 3))],
         {"group": 8, "pads": [0, 0, 1, 1], "strides": [2, 2]}),
    Case("conv2d_depthwise_5x5_col_stride2", "Conv", [run(normal(1, 3, 9, 12)), const(normal(3, 1, 5, 5))],
         {"group": 3, "pads": [2, 2, 2, 2], "strides": [1, 2]}),
    Case("conv2d_depthwise_pads_past_the_input", "Conv", [run(normal(1, 2, 3, 1)), const(normal(2, 1, 3, 3))],
         {"group": 2, "pads": [1, 2, 1, 0]}),
    # Read as shifted rows of the padded input (phase planes for strides), in chunks of rows.
    Case("conv2d_shifted_chunks_strided_dilated", "Conv", [run(normal(1, 16, 90, 80)), const(normal(10, 8, 3, 2))],
         {"group": 2, "pads": [2, 1, 0, 1], "strides": [1, 2], "dilations": [2, 1]}),
    Case("conv2d_shifted_pointwise_stride2", "Conv", [run(normal(1, 6, 15, 14)), const(normal(5, 6, 1, 1))],
         {"strides": [2, 2]}),
    Case("conv1d_shifted_dilated_stride2", "Conv", [run(normal(1, 4, 33)), const(normal(5, 4, 3)), const(normal(5))],
         {"dilations": [3], "strides": [2], "pads": [2, 1]}),
    # Too large to pad whole (over 2^16 values of workspace): each chunk of output rows
    # pads the band of input rows it reads.
    Case("conv2d_shifted_bands", "Conv", [run(normal(1, 8, 130, 131)), const(normal(12, 8, 3, 3)),
                                          const(normal(12))],
         {"pads": [1, 0, 1, 2]}),
    Case("conv2d_shifted_bands_strided_dilated", "Conv", [run(normal(1, 16, 200, 180)),
                                                          const(normal(10, 8, 3, 2))],
         {"group": 2, "pads": [2, 1, 0, 1], "strides": [1, 2], "dilations": [2, 1]}),
    Case("conv2d_shifted_bands_7x7_stride2", "Conv", [run(normal(1, 3, 150, 150)), const(normal(8, 3, 7, 7))],
         {"pads": [3, 3, 3, 3], "strides": [2, 2]}),
    # Not even one output row's band fits: the packed product, block by block.
    Case("conv1d_packed_blocks", "Conv", [run(normal(1, 64, 1100)), const(normal(5, 64, 3))], {"pads": [1, 1]}),
    Case("conv2d_pointwise_large", "Conv", [run(normal(1, 160, 30, 20)), const(normal(5, 160, 1, 1))], {}),
    # A 1x1 window with trailing padding: outputs past the input are the bias alone.
    Case("conv2d_1x1_pads_after", "Conv", [run(normal(1, 3, 5, 5)), const(normal(4, 3, 1, 1)), const(normal(4))],
         {"pads": [0, 0, 1, 2]}),
    # Output rows of 8 or more: input rows copied between zeros, edges summed with the rest.
    Case("conv2d_depthwise_padded_rows_stride2", "Conv", [run(normal(1, 4, 19, 23)), const(normal(4, 1, 3, 3))],
         {"group": 4, "pads": [1, 1, 1, 1], "strides": [2, 2]}),
    Case("conv2d_depthwise_padded_rows_5x5", "Conv", [run(normal(1, 3, 12, 17)), const(normal(3, 1, 5, 5)),
                                                     const(normal(3))],
         {"group": 3, "pads": [2, 1, 2, 3]}),
    Case("conv1d_depthwise_7", "Conv", [run(normal(1, 4, 20)), const(normal(4, 1, 7)), const(normal(4))],
         {"group": 4, "pads": [3, 3]}),
    # Unit-stride depthwise windows summed over shifted rows: dilated, banded, and one
    # with more taps than the direct sums hold (a product of one row instead).
    Case("conv2d_depthwise_shifted_dilated", "Conv", [run(normal(1, 5, 37, 41)), const(normal(5, 1, 3, 3)),
                                                     const(normal(5))],
         {"group": 5, "pads": [2, 2, 2, 2], "dilations": [2, 2]}),
    Case("conv2d_depthwise_shifted_bands", "Conv", [run(normal(1, 2, 520, 610)), const(normal(2, 1, 3, 3))],
         {"group": 2, "pads": [1, 1, 1, 1]}),
    Case("conv2d_depthwise_9x9_product", "Conv", [run(normal(1, 3, 20, 21)), const(normal(3, 1, 9, 9))],
         {"group": 3, "pads": [4, 4, 4, 4]}),
    Case("conv2d_grouped_same_upper", "Conv", [run(normal(1, 4, 7, 7)), const(normal(6, 2, 3, 3))],
         {"group": 2, "auto_pad": "SAME_UPPER", "strides": [2, 2]}),
    Case("conv1d", "Conv", [run(normal(1, 4, 10)), const(normal(6, 4, 3)), const(normal(6))],
         {"pads": [1, 1]}),
    Case("conv1d_same_lower_stride", "Conv", [run(normal(2, 3, 11)), const(normal(2, 3, 4))],
         {"auto_pad": "SAME_LOWER", "strides": [3]}),
    # pooling
    Case("maxpool2d", "MaxPool", [run(normal(1, 2, 7, 7))], {"kernel_shape": [3, 3], "strides": [2, 2],
                                                             "pads": [1, 1, 1, 1]}),
    Case("maxpool2d_ceil", "MaxPool", [run(normal(1, 2, 6, 6))], {"kernel_shape": [3, 3], "strides": [2, 2],
                                                                 "ceil_mode": 1}),
    Case("maxpool2d_dilated", "MaxPool", [run(normal(1, 1, 8, 8))], {"kernel_shape": [2, 2],
                                                                    "dilations": [2, 2]}),
    Case("maxpool1d", "MaxPool", [run(normal(1, 3, 9))], {"kernel_shape": [2], "strides": [2]}),
    Case("maxpool2d_indices", "MaxPool", [run(normal(2, 2, 6, 7))], {"kernel_shape": [3, 2], "strides": [2, 2],
         "pads": [1, 0, 1, 1]}, outputs=2),
    Case("maxpool2d_indices_column_major", "MaxPool", [run(normal(1, 3, 5, 6))], {"kernel_shape": [2, 2],
         "storage_order": 1}, outputs=2),
    Case("maxpool3d_dilated", "MaxPool", [run(normal(1, 2, 5, 6, 7))], {"kernel_shape": [2, 3, 2],
         "strides": [1, 2, 2], "dilations": [2, 1, 1], "pads": [1, 0, 1, 0, 1, 1]}),
    Case("averagepool3d_count_pad_ceil", "AveragePool", [run(normal(1, 2, 5, 6, 7))],
         {"kernel_shape": [3, 2, 3], "strides": [2, 2, 2], "pads": [1, 1, 1, 1, 0, 1],
          "count_include_pad": 1, "ceil_mode": 1}),
    Case("lppool2d_p3", "LpPool", [run(normal(1, 2, 6, 6))], {"kernel_shape": [2, 3], "strides": [2, 1],
         "pads": [0, 1, 1, 1], "p": 3}, opset=18),
    Case("lppool1d", "LpPool", [run(normal(1, 3, 9))], {"kernel_shape": [3]}),
    Case("maxpool1d_same_upper", "MaxPool", [run(normal(1, 3, 9))], {"kernel_shape": [3], "strides": [2],
                                                                    "auto_pad": "SAME_UPPER"}),
    Case("avgpool2d_exclude_pad", "AveragePool", [run(normal(1, 2, 5, 5))],
         {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1]}),
    Case("avgpool2d_include_pad", "AveragePool", [run(normal(1, 2, 5, 5))],
         {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1], "count_include_pad": 1}),
    Case("avgpool2d_ceil", "AveragePool", [run(normal(1, 1, 7, 7))],
         {"kernel_shape": [2, 2], "strides": [2, 2], "ceil_mode": 1}),
    # Side-by-side windows (stride = kernel = 2 or 3), with padded edges.
    Case("maxpool2d_side_by_side_pads", "MaxPool", [run(normal(1, 3, 9, 11))],
         {"kernel_shape": [2, 2], "strides": [2, 2], "pads": [1, 1, 1, 1]}),
    Case("avgpool2d_side_by_side_3_ceil", "AveragePool", [run(normal(1, 2, 7, 14))],
         {"kernel_shape": [3, 3], "strides": [3, 3], "pads": [0, 2, 0, 2], "ceil_mode": 1}),
    Case("avgpool1d", "AveragePool", [run(normal(2, 2, 8))], {"kernel_shape": [3], "strides": [1]}),
    # Stride 2 across wider rows, with odd and even leading pads.
    Case("maxpool2d_stride2_split", "MaxPool", [run(normal(1, 3, 23, 41))],
         {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 0, 1, 1]}),
    Case("avgpool2d_stride2_split_include_pad", "AveragePool", [run(normal(1, 2, 12, 33))],
         {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [0, 1, 1, 1], "count_include_pad": 1}),
    Case("maxpool1d_stride2_long", "MaxPool", [run(normal(1, 2, 1100))],
         {"kernel_shape": [3], "strides": [2], "pads": [1, 1]}),
    Case("global_max_2d", "GlobalMaxPool", [run(normal(2, 3, 4, 5))]),
    Case("global_max_1d", "GlobalMaxPool", [run(normal(1, 3, 6))]),
    Case("global_avg_2d", "GlobalAveragePool", [run(normal(1, 3, 4, 4))]),
    # normalisation
    Case("batchnorm_4d", "BatchNormalization",
         [run(normal(2, 3, 4, 4)), const(normal(3)), const(normal(3)), const(normal(3)), const(positive(3))],
         {"epsilon": 1e-3}),
    Case("batchnorm_3d", "BatchNormalization",
         [run(normal(1, 5, 7)), const(normal(5)), const(normal(5)), const(normal(5)), const(positive(5))]),
    Case("softmax_last", "Softmax", [run(normal(2, 3, 5, scale=5.0))]),
    Case("softmax_axis1", "Softmax", [run(normal(2, 3, 4))], {"axis": 1}),
    # shapes
    Case("reshape_zero_minus_one", "Reshape", [run(normal(2, 3, 4)), const(fixed([0, -1]))]),
    Case("reshape_i64", "Reshape", [run(ints(0, 9, 6)), const(fixed([3, 2]))]),
    Case("flatten_axis2", "Flatten", [run(normal(2, 3, 4, 5))], {"axis": 2}),
    Case("squeeze_axes", "Squeeze", [run(normal(1, 3, 1, 4)), const(fixed([0, 2]))]),
    Case("unsqueeze_axes", "Unsqueeze", [run(normal(3, 4)), const(fixed([0, 3]))]),
    Case("transpose_perm", "Transpose", [run(normal(2, 3, 4))], {"perm": [1, 2, 0]}),
    Case("transpose_default", "Transpose", [run(ints(0, 9, 2, 5))]),
    Case("concat_axis1", "Concat", [run(normal(2, 1, 3)), run(normal(2, 2, 3)), const(normal(2, 3, 3))],
         {"axis": 1}),
    Case("concat_negative_axis_bool", "Concat", [run(bools(2, 2)), run(bools(2, 3))], {"axis": -1}),
    Case("gather_embedding", "Gather", [const(normal(10, 4)), run(ints(0, 10, 2, 3))]),
    Case("gather_negative_indices", "Gather", [run(normal(5, 3)), const(fixed([[-1, 0], [-5, 2]]))]),
    Case("gather_axis1_i32", "Gather", [run(normal(2, 6, 3)), const(fixed([5, 1, 1], np.int32))], {"axis": 1}),
    Case("cast_f32_i32", "Cast", [run(normal(3, 4, scale=10.0))], {"to": 6}),
    Case("cast_i64_f32", "Cast", [run(ints(-100, 100, 5))], {"to": 1}),
    Case("cast_f32_bool", "Cast", [run(fixed([0.0, 1.5, -0.0, -2.0], np.float32))], {"to": 9}),
    Case("cast_bool_f32", "Cast", [run(bools(6))], {"to": 1}),
    Case("cast_i32_i64", "Cast", [run(ints(-50, 50, 4, dtype=np.int32))], {"to": 7}),
    Case("conv_transpose_2d_stride2_pads", "ConvTranspose",
         [run(normal(1, 4, 3, 3)), const(normal(4, 3, 3, 3)), const(normal(3))],
         {"strides": [2, 2], "pads": [1, 0, 1, 1]}),
    Case("conv_transpose_1d_groups_output_shape", "ConvTranspose",
         [run(normal(2, 4, 5)), const(normal(4, 1, 3))], {"group": 2, "strides": [2], "output_shape": [10]}),
    Case("conv_transpose_dilated_output_padding", "ConvTranspose",
         [run(normal(1, 2, 4, 3)), const(normal(2, 2, 2, 3))],
         {"strides": [2, 1], "dilations": [2, 1], "output_padding": [1, 0]}),
    Case("einsum_batched_matmul", "Einsum", [run(normal(2, 3, 4)), run(normal(2, 4, 5))],
         {"equation": "bij,bjk->bik"}, opset=12),
    Case("einsum_ellipsis_transpose", "Einsum", [run(normal(2, 3, 4))], {"equation": "...ij->...ji"}, opset=12),
    Case("einsum_implicit_outer_sum", "Einsum", [run(normal(3, 4)), const(normal(4))], {"equation": "ij,j"}, opset=12),
    Case("einsum_trace_i64", "Einsum", [run(ints(-5, 5, 3, 3))], {"equation": "ii->"}, opset=12),
    Case("resize_nearest_scales", "Resize", [run(normal(1, 2, 3, 4)), OMITTED, const(fixed([1, 1, 2, 1.5], np.float32))],
         {"mode": "nearest"}),
    Case("resize_linear_sizes_align_corners", "Resize",
         [run(normal(1, 2, 3, 4)), OMITTED, OMITTED, const(fixed([1, 2, 5, 7]))],
         {"mode": "linear", "coordinate_transformation_mode": "align_corners"}),
    Case("resize_linear_half_pixel_down", "Resize", [run(normal(2, 6, 8)), OMITTED, const(fixed([1, 0.5, 0.75], np.float32))],
         {"mode": "linear"}),
    Case("resize_nearest_asymmetric_floor", "Resize",
         [run(normal(1, 1, 3, 3)), OMITTED, OMITTED, const(fixed([1, 1, 7, 5]))],
         {"mode": "nearest", "coordinate_transformation_mode": "asymmetric", "nearest_mode": "floor"}),
    Case("resize_cubic_exclude_outside", "Resize", [run(normal(1, 2, 4, 5)), OMITTED, const(fixed([1, 1, 1.5, 2], np.float32))],
         {"mode": "cubic", "cubic_coeff_a": -0.5, "exclude_outside": 1}, opset=18),
    Case("resize_linear_antialias_down", "Resize", [run(normal(1, 2, 9, 8)), OMITTED, const(fixed([1, 1, 0.4, 0.5], np.float32))],
         {"mode": "linear", "antialias": 1}, opset=18),
    Case("resize_cubic_antialias_sizes", "Resize", [run(normal(1, 1, 10, 12)), OMITTED, OMITTED, const(fixed([1, 1, 4, 5]))],
         {"mode": "cubic", "antialias": 1}, opset=18),
    Case("resize_tf_crop_and_resize", "Resize", [run(normal(1, 1, 6, 6)), const(fixed([0, 0, 0.2, 0.1, 1, 1, 0.9, 1.3], np.float32)),
                                                 OMITTED, const(fixed([1, 1, 4, 5]))],
         {"mode": "linear", "coordinate_transformation_mode": "tf_crop_and_resize", "extrapolation_value": 7.0}, opset=18),
    # operands computed at run time (the output shape is static all the same)
    Case("trilu_run_time_k", "Trilu", [run(normal(3, 4)), run(fixed(1))]),
    Case("cumsum_run_time_axis_i32", "CumSum", [run(normal(2, 3)), run(fixed(1, np.int32))]),
    Case("clip_run_time_min", "Clip", [run(normal(3, 4)), run(fixed(-0.5, np.float32))]),
    # bits and float classes
    Case("bit_cast_f32_to_i32", "BitCast", [run(normal(2, 5))], {"to": 6}, opset=26),
    Case("bit_cast_u16_to_f16", "BitCast", [run(ints(0, 60000, 7, dtype=np.uint16))], {"to": 10}, opset=26),
    Case("bitwise_and_u8", "BitwiseAnd", [run(ints(0, 255, 2, 4, dtype=np.uint8)), run(ints(0, 255, 4, dtype=np.uint8))],
         opset=18),
    Case("bitwise_or_i32", "BitwiseOr", [run(ints(-99, 99, 5, dtype=np.int32)), const(ints(-99, 99, 5, dtype=np.int32))],
         opset=18),
    Case("bitwise_xor_i64", "BitwiseXor", [run(ints(-99, 99, 3, 2)), run(ints(-99, 99, 1, 2))], opset=18),
    Case("bitwise_not_i16", "BitwiseNot", [run(ints(-99, 99, 6, dtype=np.int16))], opset=18),
    Case("bit_shift_left_u32", "BitShift", [run(ints(0, 999, 6, dtype=np.uint32)), run(ints(0, 8, 6, dtype=np.uint32))],
         {"direction": "LEFT"}),
    Case("bit_shift_right_u8", "BitShift", [run(ints(0, 255, 2, 3, dtype=np.uint8)), const(ints(0, 8, 3, dtype=np.uint8))],
         {"direction": "RIGHT"}),
    Case("is_nan", "IsNaN", [run(fixed([1.0, np.nan, -np.inf, 0.0], np.float32))]),
    Case("is_inf_positive_only", "IsInf", [run(fixed([1.0, np.nan, -np.inf, np.inf], np.float32))],
         {"detect_negative": 0}),
    # more shapes and normalisations
    # Scatter: distinct places where updates replace, repeated ones where they combine.
    Case("scatter_elements_axis1", "ScatterElements", [run(normal(3, 4)), const(fixed([[1, -1], [0, 2], [3, 0]])),
                                                       run(normal(3, 2))], {"axis": 1}),
    Case("scatter_elements_add_i32", "ScatterElements", [run(ints(-5, 5, 4, 3, dtype=np.int32)),
                                                         run(fixed([[0, 3, 3], [3, 0, 1]], np.int32)),
                                                         run(ints(-5, 5, 2, 3, dtype=np.int32))],
         {"axis": 0, "reduction": "add"}, opset=18),
    Case("scatter_elements_max", "ScatterElements", [run(normal(2, 5)), const(fixed([[4, 4, 0], [1, 1, 1]])),
                                                     run(normal(2, 3))], {"axis": 1, "reduction": "max"}, opset=18),
    Case("scatter_nd_slices", "ScatterND", [run(normal(4, 3, 2)), const(fixed([[2], [-4]])), run(normal(2, 3, 2))]),
    Case("scatter_nd_elements", "ScatterND", [run(normal(3, 4)), run(fixed([[[0, 1], [2, 3]], [[1, 0], [1, -1]]])),
                                              run(normal(2, 2))]),
    Case("scatter_nd_mul", "ScatterND", [run(normal(4, 2)), const(fixed([[1], [1], [3]])), run(normal(3, 2))],
         {"reduction": "mul"}, opset=18),
    Case("gather_elements_axis1", "GatherElements", [run(normal(3, 4)), const(ints(-4, 4, 3, 2))], {"axis": 1}),
    Case("gather_elements_axis0_i32", "GatherElements", [run(ints(0, 9, 4, 3, dtype=np.int32)),
                                                         run(ints(0, 4, 2, 3))]),
    # Range and ConstantOfShape with constant operands fold at build time (their run-time
    # kernels, for models that declare the output shape, are covered by the backend suite).
    Case("range_i64", "Range", [const(fixed(2)), const(fixed(11)), const(fixed(3))]),
    Case("constant_of_shape_i32", "ConstantOfShape", [const(fixed([2, 3]))],
         {"value": numpy_helper.from_array(np.array([7], np.int32))}),
    Case("reverse_sequence_time0", "ReverseSequence", [run(normal(4, 3, 2)), const(fixed([4, 1, 3]))]),
    Case("reverse_sequence_batch0_i32", "ReverseSequence", [run(ints(0, 9, 2, 5, dtype=np.int32)),
                                                           run(fixed([5, 2]))], {"batch_axis": 0, "time_axis": 1}),
    Case("eye_like_k1", "EyeLike", [run(normal(3, 4))], {"k": 1}),
    Case("eye_like_i32_negative_k", "EyeLike", [run(ints(0, 9, 4, 4, dtype=np.int32))], {"k": -2}),
    Case("lrn_size3", "LRN", [run(normal(2, 5, 3, 3))], {"size": 3, "alpha": 0.01, "beta": 0.75, "bias": 1.5}),
    Case("lrn_size5_default", "LRN", [run(normal(1, 6, 2, 2))], {"size": 5}),
    Case("lp_norm_l1_axis0", "LpNormalization", [run(normal(3, 4))], {"axis": 0, "p": 1}),
    Case("lp_norm_l2", "LpNormalization", [run(normal(2, 3, 4))]),
    # recurrent: outputs Y, Y_h (and Y_c for LSTM); weights [directions, gates * hidden, ...]
    Case("rnn_forward", "RNN", [run(normal(4, 2, 3)), const(normal(1, 5, 3, scale=0.5)),
                                const(normal(1, 5, 5, scale=0.5))], {"hidden_size": 5}, outputs=2),
    Case("rnn_relu_bias", "RNN", [run(normal(3, 1, 2)), const(normal(1, 3, 2, scale=0.5)),
                                  const(normal(1, 3, 3, scale=0.5)), const(normal(1, 6))],
         {"hidden_size": 3, "activations": ["Relu"]}, outputs=2),
    Case("gru_bidirectional_linear_before_reset", "GRU",
         [run(normal(5, 2, 3)), const(normal(2, 12, 3, scale=0.5)), const(normal(2, 12, 4, scale=0.5)),
          const(normal(2, 24))], {"hidden_size": 4, "direction": "bidirectional", "linear_before_reset": 1},
         outputs=2),
    Case("gru_reverse_sequence_lens", "GRU",
         [run(normal(5, 3, 3)), const(normal(1, 12, 3, scale=0.5)), const(normal(1, 12, 4, scale=0.5)),
          const(normal(1, 24)), const(fixed([5, 2, 4], np.int32)), run(normal(1, 3, 4))],
         {"hidden_size": 4, "direction": "reverse"}, outputs=2),
    Case("lstm_peepholes_states", "LSTM",
         [run(normal(4, 2, 3)), const(normal(1, 16, 3, scale=0.5)), const(normal(1, 16, 4, scale=0.5)),
          const(normal(1, 32)), OMITTED, run(normal(1, 2, 4)), run(normal(1, 2, 4)), const(normal(1, 12))],
         {"hidden_size": 4}, outputs=3),
    # (ONNX Runtime refuses layout=1; the backend suite's batchwise cases cover it.)
    Case("lstm_bidirectional_sequence_lens_clip", "LSTM",
         [run(normal(4, 2, 3)), const(normal(2, 16, 3)), const(normal(2, 16, 4)),
          const(normal(2, 32)), const(fixed([4, 3], np.int32))],
         {"hidden_size": 4, "direction": "bidirectional", "clip": 1.5}, outputs=3),
    # opset 11: Softmax before the opset-13 axis change
    Case("softmax_legacy_axis1", "Softmax", [run(normal(2, 3, 4))], {"axis": 1}, opset=11),
    Case("softmax_legacy_default", "Softmax", [run(normal(3, 5))], opset=11),
]


def merged_model(cases: list[Case], opset: int) -> tuple[onnx.ModelProto, dict[str, np.ndarray]]:
    """All `cases` of one opset as one model (each its own node), and its run-time inputs."""
    rng = np.random.default_rng(1234)
    nodes, feeds, consts, outputs = [], {}, {}, []
    for case in cases:
        names = []
        for j, (gen, is_const) in enumerate(case.inputs):
            if gen is None:
                names.append("")
                continue
            name = f"{case.id}__{j}"
            (consts if is_const else feeds)[name] = gen(rng)
            names.append(name)
        outs = [f"{case.id}__out{k}" for k in range(case.outputs)]
        nodes.append(helper.make_node(case.op, names, outs, name=case.id, **case.attrs))
        outputs.extend(outs)
    return make_model(nodes, feeds, outputs, consts, opset=opset, name=f"cases_opset{opset}"), feeds
