//! Operator kernels, one module per family. Generated code calls these.
//!
//! Naming follows ndarray: `relu` allocates its result, `relu_into` writes
//! into the caller's `out` view, and `relu_inplace` overwrites its argument.
//! Generated code calls the `_into` and `_inplace` forms on slices of a
//! preallocated arena, so a model run allocates nothing.

mod broadcast;
mod cast;
mod control;
mod conv;
mod conv_transpose;
mod elementwise;
mod gather;
mod generators;
mod linalg;
mod matmul;
mod norm;
mod operands;
mod pool;
mod recurrent;
mod reduce;
mod resize;
mod scatter;
mod shape;
mod unary;
mod variadic;
mod window;

pub use broadcast::{broadcast_shape, zip_with, zip_with_inplace, zip_with_into};
pub use cast::{bit_cast_into, cast, cast_into, cast_unsaturated_into};
pub use control::phi_into;
pub use conv::{conv, conv_into, conv_shapes, ConvParams};
pub use conv_transpose::{conv_transpose_into, ConvTransposeParams};
pub use elementwise::*;
pub use gather::{gather, gather_elements_into, gather_into};
pub use generators::{cumsum_into, eye_into, fill_into, range_into, trilu_into};
pub use linalg::{
    mat_mul_into, mat_mul_into_on, mat_mul_packed_into, mat_mul_packed_into_on,
    mat_mul_prepacked_into, mat_mul_prepacked_into_on, packed_workspace_len, panels_shape, Isa,
    PackB, PackedB, RowMajor, PACK_COLUMNS, PACK_DEPTH, PANEL_COLUMNS,
};
pub use matmul::{
    einsum_into, gemm, gemm_into, gemm_prepacked_into, matmul, matmul_into, matmul_prepacked_into,
    GemmParams, EINSUM_MAX_LABELS,
};
pub use norm::{
    batch_norm, batch_norm_inplace, batch_norm_into, hardmax_into, instance_norm_into,
    layer_norm_into, log_softmax_inplace, log_softmax_into, lp_normalize_into, lrn_into, softmax,
    softmax_flattened, softmax_flattened_inplace, softmax_flattened_into, softmax_inplace,
    softmax_into,
};
pub use operands::{
    check_expand, check_reshape, check_squeeze, check_tile, scalar, values, PadBegin, SliceRanges,
    OPERAND_MAX_RANK,
};
pub use pool::{
    average_pool, average_pool_into, global_average_pool, global_average_pool_into,
    global_max_pool, global_max_pool_into, lp_pool_into, max_pool, max_pool_into,
    max_pool_with_indices_into, pool_shape, PoolParams,
};
pub use recurrent::{recurrent_into, Cell, RecurrentInputs, RecurrentOutputs, RecurrentParams};
pub use reduce::{arg_extreme_into, reduce_into, topk_into, Axes, Reduce};
pub use resize::{resize_into, ResizeCoordinates, ResizeMode, ResizeParams, RESIZE_MAX_RANK};
pub use scatter::{scatter_elements_into, scatter_nd_into, ScatterReduction};
pub use shape::{
    concat, concat_into, expand_into, pad_into, reshape, reverse_sequence_into, slice_into,
    tile_into, transpose, transpose_into, PadMode,
};
pub use unary::{unary_flat_inplace, unary_inplace, unary_into, Activation, Unary};
pub use variadic::{max_into, mean_into, min_into, sum_into};
pub use window::Window;

/// Whether two shapes are equal, compared inline: for the few dimensions of a shape,
/// `==` on slices calls `memcmp`, which cost the unrolled GRU 7% of its time.
#[inline(always)]
pub(crate) fn same_shape(a: &[usize], b: &[usize]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y)
}
