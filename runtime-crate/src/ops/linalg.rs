//! The matrix-product kernel behind MatMul, Gemm and Conv: no allocation, no packing
//! buffers beyond a few KiB on the stack.
//!
//! Row-major operands take a register-blocked kernel: an `R × NR` tile of C lives in
//! registers while a depth-`KC` strip of A (copied to the stack, `R` values per step)
//! meets `NR` contiguous values of each row of B. The same generic code is compiled
//! three times, for AVX-512, AVX2+FMA and the baseline instruction set, and the CPU
//! picks one at run time; f32 on AVX-512 computes its tiles with the vector intrinsics
//! (safe Rust: the kernel is compiled for the features it calls). Other layouts (a
//! transposed operand) take simpler loops.
//!
//! This file holds the public products and the choice of instruction set; `linalg/blocks.rs`
//! the loops over depth blocks, panels of B and strips of A, `linalg/tiles.rs` the register
//! tiles, `linalg/small.rs` the narrow and transposed products, `linalg/packed.rs` a B packed block
//! by block from any source (a convolution's unfolded windows), `linalg/prepacked.rs` weights
//! stored as panels, and `linalg/bands.rs` the split between threads.

use crate::{Error, Numeric, Result};
use ndarray::{ArrayView2, ArrayViewMut2};

mod bands;
mod blocks;
mod packed;
mod prepacked;
mod small;
mod tiles;

use blocks::{blocked, pack_strip, store_tile};
use small::{dot_products, narrow_rows_into, rows_times_rows, NARROW_COLUMNS, NARROW_VALUES};
#[cfg(target_arch = "x86_64")]
use tiles::{avx2_tiles, avx512_tiles};
use tiles::{one_row, portable_tiles, Strip, Tiles};

pub use packed::{
    mat_mul_packed_into, mat_mul_packed_into_on, packed_workspace_len, PackB, RowMajor,
    PACK_COLUMNS, PACK_DEPTH,
};
pub use prepacked::{
    mat_mul_prepacked_into, mat_mul_prepacked_into_on, panels_shape, PackedB, PANEL_COLUMNS,
};

/// Depth per pass: an `R × KC` strip of A and `KC × NR` values of B stay in L1.
const KC: usize = 128;
/// The deepest pass of the in-place kernel: a product up to this deep (a 3×3
/// convolution over 16 channels, 144) makes one pass over C, not two.
const KC_IN_PLACE: usize = 160;
/// Columns of C per block: a `KC × NC` block of B stays in L2.
const NC: usize = 512;
/// Columns of C handled per tile by the fallback for row-major B and strided A.
const TILE: usize = 256;

/// `c = alpha · a·b + beta · c` for `a` `[M, K]`, `b` `[K, N]`, `c` `[M, N]`.
///
/// With `beta == 0`, `c`'s old contents are ignored (as in BLAS).
///
/// ```
/// use ndarray::array;
/// use onnx2rs_runtime::ops::mat_mul_into;
/// let a = array![[1.0f32, 2.0], [3.0, 4.0]];
/// let b = array![[5.0f32, 6.0], [7.0, 8.0]];
/// let mut c = array![[1.0f32, 1.0], [1.0, 1.0]];
/// mat_mul_into(1.0, a.view(), b.view(), 1.0, &mut c.view_mut()).unwrap();
/// assert_eq!(c, array![[20.0, 23.0], [44.0, 51.0]]);
/// ```
///
/// # Errors
/// [`Error::Shape`] if the shapes do not chain.
pub fn mat_mul_into<T: Numeric>(
    alpha: T,
    a: ArrayView2<'_, T>,
    b: ArrayView2<'_, T>,
    beta: T,
    c: &mut ArrayViewMut2<'_, T>,
) -> Result<()> {
    mat_mul_into_on(Isa::best(), alpha, a, b, beta, c)
}

/// An instruction set the row-major matrix-product kernel is compiled for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Isa {
    /// AVX-512F with FMA: 8 × 32 register tiles.
    Avx512,
    /// AVX2 with FMA: 6 × 16 register tiles.
    Avx2,
    /// What every CPU of the target architecture has: 4 × 16 tiles, no FMA.
    Baseline,
}

impl Isa {
    /// Whether this CPU can run code compiled for `self`.
    pub fn is_available(self) -> bool {
        match self {
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => {
                std::is_x86_feature_detected!("avx512f") && std::is_x86_feature_detected!("fma")
            }
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => {
                std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma")
            }
            Isa::Baseline => true,
            #[allow(unreachable_patterns)]
            _ => false,
        }
    }

    /// The fastest instruction set this CPU has; what [`mat_mul_into`] uses.
    pub fn best() -> Isa {
        [Isa::Avx512, Isa::Avx2]
            .into_iter()
            .find(|isa| isa.is_available())
            .unwrap_or(Isa::Baseline)
    }
}

/// [`mat_mul_into`] with the kernel compiled for `isa` (tests and benchmarks compare them).
///
/// # Errors
/// [`Error::Shape`] if the shapes do not chain; [`Error::Input`] if this CPU lacks `isa`.
pub fn mat_mul_into_on<T: Numeric>(
    isa: Isa,
    alpha: T,
    a: ArrayView2<'_, T>,
    b: ArrayView2<'_, T>,
    beta: T,
    c: &mut ArrayViewMut2<'_, T>,
) -> Result<()> {
    if !isa.is_available() {
        return Err(Error::Input(format!("this CPU cannot run {isa:?} code")));
    }
    let (m, k) = a.dim();
    let (k2, n) = b.dim();
    if k != k2 || c.dim() != (m, n) {
        return Err(Error::Shape(format!(
            "matrix product {:?} x {:?} does not give {:?}",
            a.dim(),
            b.dim(),
            c.dim()
        )));
    }
    let accumulate = beta != T::zero();
    // One column of B is dot products (below), not tiles 32 columns wide.
    let row_major = a.is_standard_layout()
        && b.is_standard_layout()
        && c.is_standard_layout()
        && (n > 1 || m == 1);
    if beta != T::one() {
        if accumulate {
            c.mapv_inplace(|v| v * beta);
        } else if k == 0 || !row_major {
            c.fill(T::zero()); // the row-major kernel overwrites C instead
        }
    }
    if m == 0 || n == 0 || k == 0 {
        return Ok(());
    }
    #[cfg(feature = "blas")]
    if m * n * k >= BLAS_MIN_MACS
        && matches!(T::DTYPE, safetensors::Dtype::F32 | safetensors::Dtype::F64)
    {
        // ndarray hands f32/f64 products in BLAS-compatible layouts to cblas_?gemm; C was
        // scaled by beta above, or is to be overwritten.
        let keep = if accumulate { T::one() } else { T::zero() };
        ndarray::linalg::general_mat_mul(alpha, &a, &b, keep, c);
        return Ok(());
    }
    if let (true, Some(a), Some(b), Some(c)) =
        (row_major, a.as_slice(), b.as_slice(), c.as_slice_mut())
    {
        if n <= NARROW_COLUMNS && k * n <= NARROW_VALUES && alpha == T::one() {
            // C was scaled by beta above, or is to be overwritten.
            let b = InPlace {
                values: b,
                starts: row_stride(n),
            };
            narrow_rows_into(a, b, c, Dims { m, k, n }, accumulate);
            return Ok(());
        }
        bands::product(isa, alpha, (a, b, c), Dims { m, k, n }, accumulate);
        return Ok(());
    }
    let b_rows = b.row(0).as_slice().is_some() || n == 1;
    if n == 1 && b.column(0).as_slice().is_some() {
        // A matrix times a vector (a 1×1 convolution of one pixel: squeeze-excitation).
        dot_products(alpha, a, b, c);
        return Ok(());
    }
    let c_rows = c.row(0).as_slice().is_some() || n == 1;
    if b_rows && c_rows {
        rows_times_rows(alpha, a, b, c);
    } else if b.column(0).as_slice().is_some() {
        dot_products(alpha, a, b, c);
    } else {
        for ((i, j), cij) in c.indexed_iter_mut() {
            let dot = a
                .row(i)
                .iter()
                .zip(b.column(j))
                .fold(T::zero(), |s, (&x, &y)| s + x * y);
            *cij = *cij + alpha * dot;
        }
    }
    Ok(())
}

/// `c = a·b` (`c += a·b` with `accumulate`) for row-major `a` (`[m, k]`) and `c` (`[m, n]`)
/// slices and a B read in place whose row `p` is `b[start_p..][..n]`, where `starts(first, s)` writes the starts of
/// rows `first..first + s.len()` into `s`: rows may overlap or skip, which lets a
/// stride-1 convolution read each tap's row of its im2col matrix as a shifted stretch of
/// its zero-padded input.
///
/// # Errors
/// [`Error::Shape`] if `a` or `c` are smaller than the sizes say, or a row of B runs
/// past `b`'s end.
pub(crate) fn mat_mul_rows_into<T: Numeric>(
    a: &[T],
    b: &[T],
    starts: impl Fn(usize, &mut [usize]) + Copy,
    c: &mut [T],
    (m, k, n): (usize, usize, usize),
    accumulate: bool,
) -> Result<()> {
    let mut block = [0usize; KC];
    let rows_fit = (0..k).step_by(KC).all(|first| {
        let block = &mut block[..(k - first).min(KC)];
        starts(first, block);
        block
            .iter()
            .all(|s| s.checked_add(n).is_some_and(|end| end <= b.len()))
    });
    if a.len() < m * k || c.len() < m * n || !rows_fit {
        return Err(Error::Shape(format!(
            "product [{m}, {k}] x [{k}, {n}] with rows of B in place needs {} values of A \
             and {} of C, and every row of B inside its {} values",
            m * k,
            m * n,
            b.len()
        )));
    }
    let (a, c) = (&a[..m * k], &mut c[..m * n]);
    if k == 0 {
        if !accumulate {
            c.fill(T::zero()); // the kernel writes C only from its depth blocks
        }
        return Ok(());
    }
    if m == 0 || n == 0 {
        return Ok(());
    }
    if n <= NARROW_COLUMNS && k * n <= NARROW_VALUES {
        narrow_rows_into(
            a,
            InPlace { values: b, starts },
            c,
            Dims { m, k, n },
            accumulate,
        );
        return Ok(());
    }
    let b = InPlace { values: b, starts };
    blocked_on(Isa::best(), T::one(), a, b, c, Dims { m, k, n }, accumulate);
    Ok(())
}

/// [`blocked`] with the kernel compiled for `isa` (which the caller checked).
fn blocked_on<T: Numeric, S: Fn(usize, &mut [usize]) + Copy>(
    isa: Isa,
    alpha: T,
    a: &[T],
    b: InPlace<'_, T, S>,
    c: &mut [T],
    dims: Dims,
    accumulate: bool,
) {
    match isa {
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => blocked_avx512(alpha, a, b, c, dims, accumulate),
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => blocked_avx2(alpha, a, b, c, dims, accumulate),
        _ if dims.m == 1 => one_row::<T, S, 16, 32, false>(alpha, a, b, c, dims, accumulate),
        _ => blocked::<T, S, 4, 16, false>(
            alpha,
            a,
            b,
            c,
            dims,
            accumulate,
            &mut portable_tiles::<T, 4, 16, false>,
        ),
    }
}

/// The row starts of a row-major matrix with `n` columns, for [`mat_mul_rows_into`].
pub(crate) fn row_stride(n: usize) -> impl Fn(usize, &mut [usize]) + Copy {
    move |first, starts| {
        for (p, start) in (first..).zip(starts) {
            *start = p * n;
        }
    }
}

/// A right-hand operand read in place: `starts(first, s)` writes where rows
/// `first..first + s.len()` start in `values`.
#[derive(Clone, Copy)]
struct InPlace<'b, T, S> {
    values: &'b [T],
    starts: S,
}

impl<T, S: Fn(usize, &mut [usize])> InPlace<'_, T, S> {
    /// Where rows `first..first + starts.len()` start, written into `starts`.
    #[inline(always)]
    fn rows_from<'s>(&self, first: usize, starts: &'s mut [usize]) -> &'s [usize] {
        (self.starts)(first, starts);
        starts
    }
}

/// The passes over a product `k` deep: `(k0, depth)` blocks of equal depth, each at most
/// `most` deep (144 as one, 576 as four of 144, not 128 × 4 + 64).
#[inline(always)]
fn depth_passes(k: usize, most: usize) -> impl Iterator<Item = (usize, usize)> {
    let step = pass_depth(k, most);
    (0..k).step_by(step).map(move |k0| (k0, (k - k0).min(step)))
}

/// The depth of each of [`depth_passes`] (the last may be shallower).
#[inline(always)]
fn pass_depth(k: usize, most: usize) -> usize {
    let passes = k.div_ceil(most.max(1)).max(1);
    k.div_ceil(passes).max(1)
}

/// With the `blas` feature, products of at least this many multiply-adds go to BLAS
/// (below it, the call overhead outweighs any gain).
#[cfg(feature = "blas")]
const BLAS_MIN_MACS: usize = 1 << 16;

/// A stack buffer that starts on a cache line, so the kernel's vector loads from it never
/// straddle two lines (left to the stack's placement, latency varied by half between runs).
#[repr(align(64))]
struct CacheLines<A>(A);

impl<A> std::ops::Deref for CacheLines<A> {
    type Target = A;
    fn deref(&self) -> &A {
        &self.0
    }
}

impl<A> std::ops::DerefMut for CacheLines<A> {
    fn deref_mut(&mut self) -> &mut A {
        &mut self.0
    }
}

/// The sizes of a product `[m, k] · [k, n]`.
#[derive(Clone, Copy)]
struct Dims {
    m: usize,
    k: usize,
    n: usize,
}

/// `$name`: [`blocked`] with `MR × NR` tiles, compiled for the target features of `$isa`.
macro_rules! blocked_for {
    ($name:ident, $isa:expr, $features:literal, $mr:literal, $nr:literal $(, f32: $f32_tiles:path)?) => {
        #[doc = concat!("[`blocked`] compiled for ", $features, " (", $mr, " × ", $nr, " tiles).")]
        #[cfg(target_arch = "x86_64")]
        #[allow(unsafe_code)]
        fn $name<T: Numeric, S: Fn(usize, &mut [usize]) + Copy>(
            alpha: T,
            a: &[T],
            b: InPlace<'_, T, S>,
            c: &mut [T],
            d: Dims,
            add: bool,
        ) {
            // One row of A is its own instance, so that it does not pay for the stack
            // buffers of the tiled kernel.
            #[target_feature(enable = $features)]
            fn run<T: Numeric, S: Fn(usize, &mut [usize]) + Copy, const ONE_ROW: bool>(
                alpha: T,
                a: &[T],
                b: InPlace<'_, T, S>,
                c: &mut [T],
                d: Dims,
                add: bool,
            ) {
                if ONE_ROW {
                    one_row::<T, S, $nr, { 2 * $nr }, true>(alpha, a, b, c, d, add);
                    return;
                }
                $(
                    // f32 takes the hand-vectorised tile kernel.
                    let scale = T::as_f32(std::slice::from_ref(&alpha)).and_then(|s| s.first());
                    if let (Some(a), Some(values), Some(c), Some(&alpha)) =
                        (T::as_f32(a), T::as_f32(b.values), T::as_f32_mut(c), scale)
                    {
                        let b = InPlace { values, starts: b.starts };
                        // A closure, because a `#[target_feature]` function is no `FnMut`;
                        // the closure inherits this function's features.
                        let mut tiles = |rows, s: &Strip<'_, f32, $nr>, c: &mut [f32], buf: &mut [_]| {
                            $f32_tiles(rows, s, c, buf)
                        };
                        blocked::<f32, S, $mr, $nr, true>(alpha, a, b, c, d, add, &mut tiles);
                        return;
                    }
                )?
                {
                    // A closure here too: the fn item's `FnMut` shim would be compiled
                    // without this function's features, its multiply-adds calls to `fmaf`.
                    let mut tiles = |rows, s: &Strip<'_, T, $nr>, c: &mut [T], buf: &mut [_]| {
                        portable_tiles::<T, $mr, $nr, true>(rows, s, c, buf)
                    };
                    blocked::<T, S, $mr, $nr, false>(alpha, a, b, c, d, add, &mut tiles);
                }
            }
            assert!($isa.is_available(), "dispatch checks the CPU first");
            // SAFETY: the CPU has these features, checked just above.
            unsafe {
                if d.m == 1 {
                    run::<T, S, true>(alpha, a, b, c, d, add)
                } else {
                    run::<T, S, false>(alpha, a, b, c, d, add)
                }
            }
        }
    };
}
blocked_for!(blocked_avx512, Isa::Avx512, "avx512f,fma", 8, 32, f32: avx512_tiles);
blocked_for!(blocked_avx2, Isa::Avx2, "avx2,fma", 6, 16, f32: avx2_tiles);

#[cfg(test)]
mod tests {
    use super::{mat_mul_rows_into, row_stride};
    use ndarray::Array2;

    #[test]
    fn rows_read_in_place_may_overlap() {
        // Row p of B is b[p..p + n]: each row is the one before shifted by one value.
        let (m, k, n) = (5, 7, 40);
        let b: Vec<f32> = (0..k + n).map(|i| (i as f32 * 0.37).sin()).collect();
        let a: Vec<f32> = (0..m * k).map(|i| (i as f32 * 0.11).cos()).collect();
        let mut c = vec![f32::NAN; m * n];
        mat_mul_rows_into(&a, &b, row_stride(1), &mut c, (m, k, n), false).unwrap();
        let whole = Array2::from_shape_fn((k, n), |(p, j)| b[p + j]);
        let expected = Array2::from_shape_vec((m, k), a).unwrap().dot(&whole);
        for (x, y) in c.iter().zip(&expected) {
            assert!((x - y).abs() <= 1e-5 * (1.0 + y.abs()), "{x} vs {y}");
        }
    }

    #[test]
    fn narrow_products_match_ndarray() {
        // At most NARROW_COLUMNS columns: dot products of gathered columns, with depth
        // tails past the 64- and 8-value blocks, overwriting and accumulating.
        for n in [1, 2, 3, 5, 8] {
            for accumulate in [false, true] {
                let (m, k) = (11, 150);
                let b: Vec<f32> = (0..k + n).map(|i| (i as f32 * 0.37).sin()).collect();
                let a: Vec<f32> = (0..m * k).map(|i| (i as f32 * 0.11).cos()).collect();
                let mut c: Vec<f32> = (0..m * n).map(|i| i as f32 * 0.5).collect();
                let before = Array2::from_shape_vec((m, n), c.clone()).unwrap();
                mat_mul_rows_into(&a, &b, row_stride(1), &mut c, (m, k, n), accumulate).unwrap();
                let whole = Array2::from_shape_fn((k, n), |(p, j)| b[p + j]);
                let mut expected = Array2::from_shape_vec((m, k), a).unwrap().dot(&whole);
                if accumulate {
                    expected += &before;
                }
                for (x, y) in c.iter().zip(&expected) {
                    assert!((x - y).abs() <= 1e-5 * (1.0 + y.abs()), "n={n}: {x} vs {y}");
                }
            }
        }
    }

    #[test]
    fn rows_past_the_end_are_an_error() {
        let (a, b, mut c) = ([1.0f32; 4], [1.0f32; 5], [0.0f32; 4]);
        assert!(mat_mul_rows_into(&a, &b, row_stride(2), &mut c, (2, 2, 2), false).is_ok());
        assert!(mat_mul_rows_into(&a, &b, row_stride(4), &mut c, (2, 2, 2), false).is_err());
        let mut c = [f32::NAN; 4];
        mat_mul_rows_into(&a, &b, row_stride(2), &mut c, (2, 0, 2), false).unwrap();
        assert_eq!(c, [0.0; 4]);
    }
}
