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

use crate::{Error, Numeric, Result};
use multiversion::multiversion;
use ndarray::{ArrayView2, ArrayViewMut2, Axis};

mod bands;
mod prepacked;

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

/// Products with at most this many columns take [`narrow_rows_into`]: a tile 32 columns
/// wide would compute mostly padding (silero-vad's convolutions over 4, 2 and 1 frames).
const NARROW_COLUMNS: usize = 8;

/// Values of the stack buffer [`narrow_rows_into`] gathers B's columns into.
const NARROW_VALUES: usize = 4096;

/// [`mat_mul_rows_into`] for a narrow B (checked by the caller): its columns are gathered
/// into a contiguous buffer, and each value of C is one dot product of a row of A and a
/// column.
fn narrow_rows_into<T: Numeric, S: Fn(usize, &mut [usize]) + Copy>(
    a: &[T],
    InPlace { values: b, starts }: InPlace<'_, T, S>,
    c: &mut [T],
    Dims { m, k, n }: Dims,
    accumulate: bool,
) {
    let mut buffer = [T::zero(); NARROW_VALUES];
    let columns = &mut buffer[..k * n];
    let mut block = [0usize; KC];
    for first in (0..k).step_by(KC) {
        let block = &mut block[..(k - first).min(KC)];
        starts(first, block);
        for (p, &start) in (first..).zip(block.iter()) {
            for (j, &v) in b[start..start + n].iter().enumerate() {
                columns[j * k + p] = v;
            }
        }
    }
    narrow_products(a, columns, c, (m, k, n), accumulate);
}

/// `c (+)= a · columnsᵀ` for row-major `a` (`[m, k]`), `columns` (`[n, k]`) and `c`
/// (`[m, n]`): one dot product per value of C, compiled for AVX-512 and AVX2 as well.
#[multiversion(targets("x86_64+avx512f+avx512vl+fma", "x86_64+avx2+fma"))]
fn narrow_products<T: Numeric>(
    a: &[T],
    columns: &[T],
    c: &mut [T],
    (m, k, n): (usize, usize, usize),
    accumulate: bool,
) {
    for (a_row, c_row) in a.chunks_exact(k).zip(c.chunks_exact_mut(n)).take(m) {
        for (cij, column) in c_row.iter_mut().zip(columns.chunks_exact(k)) {
            let d = dot(a_row, column);
            *cij = if accumulate { *cij + d } else { d };
        }
    }
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

/// Columns of B that [`mat_mul_packed_into`] packs per block.
pub const PACK_COLUMNS: usize = 512;

/// Depth of B that [`mat_mul_packed_into`] packs per block.
pub const PACK_DEPTH: usize = KC;

/// The workspace [`mat_mul_packed_into`] needs for a `[k, n]` B: one block of packed
/// columns, `min(k, PACK_DEPTH) × min(n rounded up to 32, PACK_COLUMNS)` values.
pub fn packed_workspace_len(k: usize, n: usize) -> usize {
    k.min(PACK_DEPTH) * n.next_multiple_of(32).min(PACK_COLUMNS)
}

/// A right-hand operand that [`mat_mul_packed_into`] copies block by block into its
/// workspace, so B need never exist whole: a convolution unfolds its input windows
/// straight into the packed panels instead of into an im2col matrix.
pub trait PackB<T> {
    /// Whether this operand has at least `rows` rows and `cols` columns, so that every
    /// `segment` call of a `[rows, cols]` product is in bounds.
    fn covers(&self, rows: usize, cols: usize) -> bool;
    /// Write `B[row, col..col + dst.len()]` into `dst`.
    fn segment(&self, row: usize, col: usize, dst: &mut [T]);
}

/// A row-major `[k, n]` matrix as a [`PackB`].
pub struct RowMajor<'a, T> {
    /// The values, row by row.
    pub values: &'a [T],
    /// Columns per row.
    pub n: usize,
}

impl<T: Copy> PackB<T> for RowMajor<'_, T> {
    fn covers(&self, rows: usize, cols: usize) -> bool {
        cols <= self.n
            && rows
                .checked_mul(self.n)
                .is_some_and(|len| len <= self.values.len())
    }

    #[inline(always)]
    fn segment(&self, row: usize, col: usize, dst: &mut [T]) {
        dst.copy_from_slice(&self.values[row * self.n + col..][..dst.len()]);
    }
}

/// `c = a·b` (or with `accumulate`, `c += a·b`) for row-major `a` (`[m, k]`) and `c`
/// (`[m, n]`) slices, with B supplied by
/// `b` in blocks of [`PACK_DEPTH`] rows × [`PACK_COLUMNS`] columns, each packed into
/// `workspace` as contiguous register-tile-wide panels. The kernel then streams B
/// from cache instead of striding across pages: what wide products (convolutions over
/// an image) need, and what lets a convolution skip its im2col matrix.
///
/// ```
/// use onnx2rs_runtime::ops::{mat_mul_packed_into, packed_workspace_len, RowMajor};
/// let (a, b) = ([1.0f32, 2.0, 3.0, 4.0], [5.0f32, 6.0, 7.0, 8.0]);
/// let mut c = [0.0f32; 4];
/// let mut ws = vec![0.0f32; packed_workspace_len(2, 2)];
/// mat_mul_packed_into(&a, &RowMajor { values: &b, n: 2 }, &mut c, (2, 2, 2), &mut ws, false).unwrap();
/// assert_eq!(c, [19.0, 22.0, 43.0, 50.0]);
/// mat_mul_packed_into(&a, &RowMajor { values: &b, n: 2 }, &mut c, (2, 2, 2), &mut ws, true).unwrap();
/// assert_eq!(c, [38.0, 44.0, 86.0, 100.0]);
/// ```
///
/// # Errors
/// [`Error::Shape`] if `a`, `b`, `c` or the workspace are smaller than the sizes say.
pub fn mat_mul_packed_into<T: Numeric, B: PackB<T>>(
    a: &[T],
    b: &B,
    c: &mut [T],
    (m, k, n): (usize, usize, usize),
    workspace: &mut [T],
    accumulate: bool,
) -> Result<()> {
    mat_mul_packed_into_on(Isa::best(), a, b, c, (m, k, n), workspace, accumulate)
}

/// [`mat_mul_packed_into`] with the kernel compiled for `isa`.
///
/// # Errors
/// As [`mat_mul_packed_into`]; [`Error::Input`] if this CPU lacks `isa`.
pub fn mat_mul_packed_into_on<T: Numeric, B: PackB<T>>(
    isa: Isa,
    a: &[T],
    b: &B,
    c: &mut [T],
    (m, k, n): (usize, usize, usize),
    workspace: &mut [T],
    accumulate: bool,
) -> Result<()> {
    if !isa.is_available() {
        return Err(Error::Input(format!("this CPU cannot run {isa:?} code")));
    }
    let needed = packed_workspace_len(k, n);
    if a.len() < m * k || c.len() < m * n || workspace.len() < needed || !b.covers(k, n) {
        return Err(Error::Shape(format!(
            "packed product [{m}, {k}] x [{k}, {n}] needs {} values of A, {} of C, {needed} \
             of workspace and a B that large; got {}, {} and {}",
            m * k,
            m * n,
            a.len(),
            c.len(),
            workspace.len()
        )));
    }
    if k == 0 {
        if !accumulate {
            c[..m * n].fill(T::zero());
        }
        return Ok(());
    }
    let (a, c, dims) = (&a[..m * k], &mut c[..m * n], Dims { m, k, n });
    match isa {
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => packed_avx512(a, b, c, dims, workspace, accumulate),
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => packed_avx2(a, b, c, dims, workspace, accumulate),
        _ => packed::<T, B, 4, 16, false>(a, b, c, dims, workspace, accumulate),
    }
    Ok(())
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

/// `$name`: [`packed`] with `MR × NR` tiles, compiled for the target features of `$isa`.
macro_rules! packed_for {
    ($name:ident, $isa:expr, $features:literal, $mr:literal, $nr:literal) => {
        #[doc = concat!("[`packed`] compiled for ", $features, " (", $mr, " × ", $nr, " tiles).")]
        #[cfg(target_arch = "x86_64")]
        #[allow(unsafe_code)]
        fn $name<T: Numeric, B: PackB<T>>(
            a: &[T],
            b: &B,
            c: &mut [T],
            d: Dims,
            ws: &mut [T],
            add: bool,
        ) {
            #[target_feature(enable = $features)]
            fn run<T: Numeric, B: PackB<T>>(
                a: &[T],
                b: &B,
                c: &mut [T],
                d: Dims,
                ws: &mut [T],
                add: bool,
            ) {
                packed::<T, B, $mr, $nr, true>(a, b, c, d, ws, add);
            }
            assert!($isa.is_available(), "dispatch checks the CPU first");
            // SAFETY: the CPU has these features, checked just above.
            unsafe { run(a, b, c, d, ws, add) }
        }
    };
}
// 8 rows keep 16 of the 32 vector registers busy with C. (The in-place kernel's generic
// code at 8 × 32 kept some of its tile on the stack; its f32 tiles use intrinsics.)
packed_for!(packed_avx512, Isa::Avx512, "avx512f,fma", 8, 32);
packed_for!(packed_avx2, Isa::Avx2, "avx2,fma", 6, 16);

/// `c = a·b` (`c += a·b` with `add`) with B packed block by block into `workspace` (see
/// [`mat_mul_packed_into`]):
/// each block of at most `KC` rows × `PACK_COLUMNS` columns becomes `NR`-wide panels,
/// zero-padded on the right, which every `MR`-row strip of A then streams through.
#[inline(always)]
fn packed<T: Numeric, B: PackB<T>, const MR: usize, const NR: usize, const FMA: bool>(
    a: &[T],
    b: &B,
    c: &mut [T],
    Dims { m, k, n }: Dims,
    workspace: &mut [T],
    add: bool,
) {
    let mut strip = CacheLines([[T::zero(); MR]; KC]);
    // One row of the block at a time: a single long `segment` call is far cheaper for
    // an unfolding convolution than one per panel.
    let mut line = CacheLines([T::zero(); PACK_COLUMNS]);
    for k0 in (0..k).step_by(KC) {
        let depth = (k - k0).min(KC);
        for j0 in (0..n).step_by(PACK_COLUMNS) {
            let cols = (n - j0).min(PACK_COLUMNS);
            let panels = &mut workspace[..cols.div_ceil(NR) * depth * NR];
            for pk in 0..depth {
                b.segment(k0 + pk, j0, &mut line[..cols]);
                for (p, part) in line[..cols].chunks(NR).enumerate() {
                    let row = &mut panels[(p * depth + pk) * NR..][..NR];
                    row[..part.len()].copy_from_slice(part);
                    row[part.len()..].fill(T::zero());
                }
            }
            let block = Block {
                a,
                panels,
                k,
                n,
                k0,
                depth,
                j0,
                cols,
                add: add || k0 > 0,
            };
            let mut i = 0;
            while i < m {
                let (rows, strip) = (m - i, &mut strip.0[..]);
                i += if rows >= MR {
                    block.strip_times_panels::<MR, MR, NR, FMA>(c, i, strip)
                } else if rows >= 4 {
                    block.strip_times_panels::<MR, 4, NR, FMA>(c, i, strip)
                } else if rows >= 2 {
                    block.strip_times_panels::<MR, 2, NR, FMA>(c, i, strip)
                } else {
                    block.strip_times_panels::<MR, 1, NR, FMA>(c, i, strip)
                };
            }
        }
    }
}

/// One packed block of B (rows `k0..k0 + depth`, columns `j0..j0 + cols` of `[k, n]`)
/// and the A it meets.
struct Block<'a, T> {
    a: &'a [T],
    panels: &'a [T],
    k: usize,
    n: usize,
    k0: usize,
    depth: usize,
    j0: usize,
    cols: usize,
    /// Whether the block adds to C (every depth block but the first, unless C holds a
    /// value to accumulate onto) or overwrites it.
    add: bool,
}

impl<T: Numeric> Block<'_, T> {
    /// `R` rows of C from row `i` over this block; returns `R`.
    #[inline(always)]
    fn strip_times_panels<const MR: usize, const R: usize, const NR: usize, const FMA: bool>(
        &self,
        c: &mut [T],
        i: usize,
        strip: &mut [[T; MR]],
    ) -> usize {
        let strip = pack_strip::<T, MR, R>(self.a, self.k, i, self.k0, self.depth, strip);
        for (p, panel) in self.panels.chunks_exact(self.depth * NR).enumerate() {
            let mut acc = [[T::zero(); NR]; R];
            for (ap, row) in strip.iter().zip(panel.chunks_exact(NR)) {
                let bp: [T; NR] = core::array::from_fn(|l| row[l]);
                multiply_add::<T, MR, R, NR, FMA>(&mut acc, ap, &bp);
            }
            let (j, width) = (self.j0 + p * NR, NR.min(self.cols - p * NR));
            store_tile(&acc, c, (i, j, self.n), width, T::one(), self.add);
        }
        R
    }
}

/// Copy `A[i..i + R, k0..k0 + depth]` into `strip` as `depth` groups of `R` values.
#[inline(always)]
fn pack_strip<'s, T: Numeric, const MR: usize, const R: usize>(
    a: &[T],
    k: usize,
    i: usize,
    k0: usize,
    depth: usize,
    strip: &'s mut [[T; MR]],
) -> &'s [[T; MR]] {
    for r in 0..R {
        let row = &a[(i + r) * k + k0..][..depth];
        for (slot, &v) in strip.iter_mut().zip(row) {
            slot[r] = v;
        }
    }
    &strip[..depth]
}

/// Write (or with `add`, add) `alpha ×` the first `width` columns of a tile into C
/// (row stride `n`) at row `i`, column `j`.
#[inline(always)]
fn store_tile<T: Numeric, const NR: usize, const R: usize>(
    acc: &[[T; NR]; R],
    c: &mut [T],
    (i, j, n): (usize, usize, usize),
    width: usize,
    alpha: T,
    add: bool,
) {
    for (r, acc_row) in acc.iter().enumerate() {
        let out = &mut c[(i + r) * n + j..][..width];
        for (x, &v) in out.iter_mut().zip(acc_row) {
            *x = if add { *x + alpha * v } else { alpha * v };
        }
    }
}

/// `c (+)= alpha · a·b` for contiguous row-major `a` and `c` and a B read in place
/// (rows starting where `b.starts` says), in `MR × NR` tiles.
/// With `PANELS` (the f32 intrinsics kernels) each `NR`-column tile of B is copied into
/// an aligned panel that every strip of A, read where it lies, then meets
/// ([`panels_with`]). Otherwise (the portable kernels) each strip of A is packed on the
/// stack and B is read in place, except its last few columns (fewer than NR), which
/// are copied once per block into a zero-padded stack buffer so every tile runs at
/// full width.
#[inline(always)]
fn blocked<
    T: Numeric,
    S: Fn(usize, &mut [usize]) + Copy,
    const MR: usize,
    const NR: usize,
    const PANELS: bool,
>(
    alpha: T,
    a: &[T],
    b: InPlace<'_, T, S>,
    c: &mut [T],
    d: Dims,
    accumulate: bool,
    tiles: &mut impl Tiles<T, MR, NR>,
) {
    // The stack buffers only need the product's depth: zeroing 18 KiB per call would
    // cost more than a small product (a recurrent cell's) itself.
    if d.k <= 16 {
        with_buffers::<T, S, MR, NR, 16, PANELS>(alpha, a, b, c, d, accumulate, tiles);
    } else if d.k <= 32 {
        with_buffers::<T, S, MR, NR, 32, PANELS>(alpha, a, b, c, d, accumulate, tiles);
    } else {
        with_buffers::<T, S, MR, NR, KC_IN_PLACE, PANELS>(alpha, a, b, c, d, accumulate, tiles);
    }
}

/// The tile kernel of [`blocked`]: `tiles(rows, strip, c, buffer)` computes some of the
/// `rows` rows of C (at most `MR`) that `strip` starts at, packing its strip of A
/// into `buffer`, and returns how many it did.
trait Tiles<T, const MR: usize, const NR: usize>:
    FnMut(usize, &Strip<'_, T, NR>, &mut [T], &mut [[T; MR]]) -> usize
{
}

impl<T, const MR: usize, const NR: usize, F> Tiles<T, MR, NR> for F where
    F: FnMut(usize, &Strip<'_, T, NR>, &mut [T], &mut [[T; MR]]) -> usize
{
}

/// [`Tiles`] in portable code: whole `MR`-row strips, then 4, 2 and 1 rows for the rest.
#[inline(always)]
fn portable_tiles<T: Numeric, const MR: usize, const NR: usize, const FMA: bool>(
    rows: usize,
    s: &Strip<'_, T, NR>,
    c: &mut [T],
    buffer: &mut [[T; MR]],
) -> usize {
    if rows >= MR {
        rows_of::<T, MR, MR, NR, FMA>(s, c, buffer)
    } else if rows >= 4 {
        rows_of::<T, MR, 4, NR, FMA>(s, c, buffer)
    } else if rows >= 2 {
        rows_of::<T, MR, 2, NR, FMA>(s, c, buffer)
    } else {
        rows_of::<T, MR, 1, NR, FMA>(s, c, buffer)
    }
}

/// [`blocked`] for a single row of A (a recurrent cell's or a dense layer's at batch 1):
/// no strip of A to pack and no edge buffer to zero; B's rows are streamed once per
/// block of C's columns, `WIDE` (2·NR), then `NR` wide, then what is left.
#[inline(always)]
fn one_row<
    T: Numeric,
    S: Fn(usize, &mut [usize]) + Copy,
    const NR: usize,
    const WIDE: usize,
    const FMA: bool,
>(
    alpha: T,
    a: &[T],
    b: InPlace<'_, T, S>,
    c: &mut [T],
    Dims { k, n, .. }: Dims,
    accumulate: bool,
) {
    const DEPTH: usize = 64;
    let mut starts = [0usize; DEPTH];
    for k0 in (0..k).step_by(DEPTH) {
        let depth = (k - k0).min(DEPTH);
        let starts = &mut starts[..depth];
        (b.starts)(k0, starts);
        let (a, add) = (&a[k0..k0 + depth], accumulate || k0 > 0);
        let rows = (a, b.values, &*starts);
        // Narrower and narrower blocks: every width is a whole number of registers.
        let j = blocks_of::<T, WIDE, FMA>(rows, c, 0, (n, alpha, add));
        let j = blocks_of::<T, NR, FMA>(rows, c, j, (n, alpha, add));
        let j = blocks_of::<T, 16, FMA>(rows, c, j, (n, alpha, add));
        let j = blocks_of::<T, 8, FMA>(rows, c, j, (n, alpha, add));
        let j = blocks_of::<T, 4, FMA>(rows, c, j, (n, alpha, add));
        blocks_of::<T, 1, FMA>(rows, c, j, (n, alpha, add));
    }
}

/// C's columns from `j` on in `W`-wide blocks, as many as fit; returns the first column
/// left over.
#[inline(always)]
#[allow(clippy::type_complexity)]
fn blocks_of<T: Numeric, const W: usize, const FMA: bool>(
    (a, values, starts): (&[T], &[T], &[usize]),
    c: &mut [T],
    mut j: usize,
    (n, alpha, add): (usize, T, bool),
) -> usize {
    while n - j >= W {
        let sum = row_block::<T, W, FMA>(a, values, starts, j);
        store_tile::<T, W, 1>(&[sum], c, (0, j, n), W, alpha, add);
        j += W;
    }
    j
}

/// `Σ_p a[p] · B[p][j..j + W]`, where row p of B starts at `values[starts[p]]`. Even and
/// odd rows go to separate sums, so that a multiply-add need not wait for the one before.
#[inline(always)]
fn row_block<T: Numeric, const W: usize, const FMA: bool>(
    a: &[T],
    values: &[T],
    starts: &[usize],
    j: usize,
) -> [T; W] {
    let (mut even, mut odd) = ([T::zero(); W], [T::zero(); W]);
    let pairs = a.len().min(starts.len()) / 2;
    for q in 0..pairs {
        let (x0, x1) = (a[2 * q], a[2 * q + 1]);
        let r0 = &values[starts[2 * q] + j..][..W];
        let r1 = &values[starts[2 * q + 1] + j..][..W];
        for l in 0..W {
            even[l] = multiply_then_add::<T, FMA>(x0, r0[l], even[l]);
            odd[l] = multiply_then_add::<T, FMA>(x1, r1[l], odd[l]);
        }
    }
    if 2 * pairs < a.len().min(starts.len()) {
        let (x, r) = (a[2 * pairs], &values[starts[2 * pairs] + j..][..W]);
        for l in 0..W {
            even[l] = multiply_then_add::<T, FMA>(x, r[l], even[l]);
        }
    }
    core::array::from_fn(|l| even[l] + odd[l])
}

/// `x · y + acc`, fused when the kernel is compiled with FMA.
#[inline(always)]
fn multiply_then_add<T: Numeric, const FMA: bool>(x: T, y: T, acc: T) -> T {
    if FMA {
        x.fused_mul_add(y, acc)
    } else {
        acc + x * y
    }
}

/// [`blocked`] with its A strip and (when some columns are ragged) edge buffer, each
/// `DEPTH` (at least `min(k, KC)`) deep.
#[inline(always)]
fn with_buffers<
    T: Numeric,
    S: Fn(usize, &mut [usize]) + Copy,
    const MR: usize,
    const NR: usize,
    const DEPTH: usize,
    const PANELS: bool,
>(
    alpha: T,
    a: &[T],
    b: InPlace<'_, T, S>,
    c: &mut [T],
    d: Dims,
    accumulate: bool,
    tiles: &mut impl Tiles<T, MR, NR>,
) {
    let mut starts = [0usize; DEPTH];
    if PANELS {
        // The panel kernels read A where it lies: no strip to zero.
        let mut panel = CacheLines([[[T::zero(); NR]; DEPTH]; PANEL_TILES]);
        let panel = panel.0.as_flattened_mut();
        let bufs = (&mut [][..], &mut starts[..]);
        panels_with::<T, S, MR, NR>(alpha, a, b, c, d, accumulate, bufs, panel, tiles);
        return;
    }
    let mut strip = CacheLines([[T::zero(); MR]; DEPTH]);
    let bufs = (&mut strip[..], &mut starts[..]);
    if d.n.is_multiple_of(NR) {
        blocked_with::<T, S, MR, NR>(alpha, a, b, c, d, accumulate, bufs, &mut [], tiles);
    } else {
        let mut edge = CacheLines([[T::zero(); NR]; DEPTH]);
        blocked_with::<T, S, MR, NR>(alpha, a, b, c, d, accumulate, bufs, &mut edge.0, tiles);
    }
}

/// [`blocked`] with its strip of A, the starts of a depth block's rows of B, and the
/// edge buffer (empty when no block has ragged columns).
#[inline(always)]
#[allow(clippy::type_complexity, clippy::too_many_arguments)]
fn blocked_with<T: Numeric, S: Fn(usize, &mut [usize]) + Copy, const MR: usize, const NR: usize>(
    alpha: T,
    a: &[T],
    b: InPlace<'_, T, S>,
    c: &mut [T],
    Dims { m, k, n }: Dims,
    accumulate: bool,
    (strip, starts): (&mut [[T; MR]], &mut [usize]),
    edge: &mut [[T; NR]],
    tiles: &mut impl Tiles<T, MR, NR>,
) {
    // Passes of equal depth: 144 as one, 576 as four of 144 (not 128 × 4 + 64).
    let passes = k.div_ceil(KC_IN_PLACE.min(starts.len())).max(1);
    let step = k.div_ceil(passes).max(1);
    for k0 in (0..k).step_by(step) {
        let depth = (k - k0).min(step);
        let add = accumulate || k0 > 0;
        let starts = &mut starts[..depth];
        (b.starts)(k0, starts);
        let starts = &*starts;
        for j0 in (0..n).step_by(NC) {
            let cols = (n - j0).min(NC);
            let ragged = cols % NR;
            let full = j0..j0 + cols - ragged;
            if ragged > 0 {
                // Only the last column block is ragged, always by the same count, so the
                // zeros that `with_buffers` put past `ragged` are never overwritten.
                for (slot, &start) in edge.iter_mut().zip(starts) {
                    slot[..ragged].copy_from_slice(&b.values[start + full.end..][..ragged]);
                }
            }
            let edge = &edge[..if ragged > 0 { depth } else { 0 }];
            let mut i = 0;
            while i < m {
                let s = Strip {
                    alpha,
                    a,
                    b: b.values,
                    starts,
                    edge,
                    k,
                    n,
                    k0,
                    depth,
                    i,
                    full: full.clone(),
                    ragged,
                    add,
                };
                i += tiles(m - i, &s, c, strip);
            }
        }
    }
}

/// Tiles of B that [`panels_with`] copies at once.
const PANEL_TILES: usize = 4;

/// [`blocked_with`] in the other loop order, for tile kernels that read A where it lies:
/// each `NR`-column tile of a depth block of B is copied once into `panel` (aligned,
/// contiguous, `PANEL_TILES` tiles at a time), and every strip of A then meets it there. Reading B in place
/// from as many scattered rows as the block is deep kept the kernel at half its rate.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn panels_with<T: Numeric, S: Fn(usize, &mut [usize]) + Copy, const MR: usize, const NR: usize>(
    alpha: T,
    a: &[T],
    b: InPlace<'_, T, S>,
    c: &mut [T],
    Dims { m, k, n }: Dims,
    accumulate: bool,
    (strip, starts): (&mut [[T; MR]], &mut [usize]),
    panel: &mut [[T; NR]],
    tiles: &mut impl Tiles<T, MR, NR>,
) {
    let passes = k.div_ceil(KC_IN_PLACE.min(starts.len())).max(1);
    let step = k.div_ceil(passes).max(1);
    for k0 in (0..k).step_by(step) {
        let depth = (k - k0).min(step);
        let add = accumulate || k0 > 0;
        let starts = &mut starts[..depth];
        (b.starts)(k0, starts);
        let starts = &*starts;
        for j0 in (0..n).step_by(PANEL_TILES * NR) {
            let cols = (n - j0).min(PANEL_TILES * NR);
            // Row by row, `PANEL_TILES` tiles at once: B's rows are read in stretches of
            // up to 512 bytes (a weight matrix far larger than the caches streams from memory
            // once, and short stretches from as many rows as the block is deep defeat
            // the prefetchers), and tile `t` lands in `panel[t · depth..]`.
            for (pk, &start) in starts.iter().enumerate() {
                let row = &b.values[start + j0..][..cols];
                for (t, part) in row.chunks(NR).enumerate() {
                    let slot = &mut panel[t * depth + pk];
                    match <&[T; NR]>::try_from(part) {
                        // A fixed-size copy: vector moves, not a call to memmove per row.
                        Ok(whole) => *slot = *whole,
                        Err(_) => {
                            // Fixed size here too: a narrow product (a short plane's
                            // convolution) has only ragged tiles, and a call to memcpy
                            // and memset per row was a tenth of silero-vad's time.
                            let mut tile = [T::zero(); NR];
                            for (l, v) in tile.iter_mut().enumerate() {
                                if let Some(&x) = part.get(l) {
                                    *v = x;
                                }
                            }
                            *slot = tile;
                        }
                    }
                }
            }
            for t in 0..cols.div_ceil(NR) {
                let j = j0 + t * NR;
                let tile = &panel[t * depth..][..depth];
                let mut i = 0;
                while i < m {
                    let s = Strip {
                        alpha,
                        a,
                        b: b.values,
                        starts,
                        edge: tile,
                        k,
                        n,
                        k0,
                        depth,
                        i,
                        full: j..j,
                        ragged: (n - j).min(NR),
                        add,
                    };
                    i += tiles(m - i, &s, c, strip);
                }
            }
        }
    }
}

/// One strip of rows of C over one depth block of a product with B read in place:
/// the depth range of A, the first row, the columns of C in whole tiles, and how many
/// columns follow them. Row `k0 + pk` of B starts at `b[starts[pk]]`, and `edge` is
/// the zero-padded copy of its last `ragged` columns.
struct Strip<'s, T, const NR: usize> {
    alpha: T,
    a: &'s [T],
    b: &'s [T],
    starts: &'s [usize],
    edge: &'s [[T; NR]],
    k: usize,
    n: usize,
    k0: usize,
    depth: usize,
    i: usize,
    full: std::ops::Range<usize>,
    ragged: usize,
    /// Add into C (a later depth pass, or `beta != 0`) rather than overwrite it.
    add: bool,
}

/// `$tiles`: [`Tiles`] for f32 written with the vector intrinsics of `$features`, whole
/// `$mr`-row strips then 4, 2 and 1 rows; each `R × $nr` tile of C stays in `2R`
/// registers of `$vec` (generic code compiled to the same tiles kept some of them on the
/// stack, or with AVX2 reached half of what the registers allow).
macro_rules! simd_tiles {
    ($tiles:ident, $rows:ident, $tile:ident, $features:literal, $mr:literal, $nr:literal,
     $vec:ident, $zero:ident, $splat:ident, $fma:ident) => {
        #[doc = concat!("[`Tiles`] for f32 in ", $features, " intrinsics (", $mr, " × ", $nr, " tiles).")]
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = $features)]
        fn $tiles(
            rows: usize,
            s: &Strip<'_, f32, $nr>,
            c: &mut [f32],
            strip: &mut [[f32; $mr]],
        ) -> usize {
            if rows >= $mr {
                $rows::<$mr>(s, c, strip)
            } else if rows >= 4 {
                $rows::<4>(s, c, strip)
            } else if rows >= 2 {
                $rows::<2>(s, c, strip)
            } else {
                $rows::<1>(s, c, strip)
            }
        }

        #[doc = concat!("[`rows_of`] for f32 in ", $features, " intrinsics.")]
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = $features)]
        #[inline]
        fn $rows<const R: usize>(
            s: &Strip<'_, f32, $nr>,
            c: &mut [f32],
            strip: &mut [[f32; $mr]],
        ) -> usize {
            // A's rows are broadcast from where they lie: R sequential streams that stay in
            // L1, so a strip needs no packing (whose transposing cost as much as the
            // product when B has few columns, as in a 7×7 convolution's chunks). B comes
            // as one panel ([`panels_with`]).
            let _ = strip;
            // A loop, not `array::from_fn`: a closure compiled with this function's
            // features cannot be inlined into the generic `from_fn`, which then made a
            // call per row of every tile.
            let mut a: [&[f32]; R] = [&[]; R];
            for (r, a) in a.iter_mut().enumerate() {
                *a = &s.a[(s.i + r) * s.k + s.k0..][..s.depth];
            }
            let acc = $tile::<R>(a, &s.edge[..s.depth]);
            store_tile(&acc, c, (s.i, s.full.end, s.n), s.ragged, s.alpha, s.add);
            R
        }

        #[doc = concat!("One `R × ", $nr, "` tile of C in ", $features, " intrinsics: the sum over the strip of A's values times a panel of B.")]
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = $features)]
        #[inline]
        fn $tile<const R: usize>(a: [&[f32]; R], panel: &[[f32; $nr]]) -> [[f32; $nr]; R] {
            use std::arch::x86_64::{$vec, $fma, $splat, $zero};
            let mut acc = [[$zero(); 2]; R];
            // Eight depth steps at a time, each row of A taken as an `[f32; 8]`: one bounds
            // check per row per eight steps, not one per step (they cost a third of the
            // kernel's issue slots). A's values are broadcast straight from memory.
            let whole = panel.len() / 8 * 8;
            for (p, rows) in panel[..whole].chunks_exact(8).enumerate() {
                let mut a8: [&[f32; 8]; R] = [&[0.0; 8]; R];
                for (a8, a) in a8.iter_mut().zip(&a) {
                    *a8 = <&[f32; 8]>::try_from(&a[p * 8..p * 8 + 8]).unwrap_or(&[0.0; 8]);
                }
                for (q, row) in rows.iter().enumerate() {
                    let [b0, b1]: [$vec; 2] = bytemuck::cast(*row);
                    for (acc, a8) in acc.iter_mut().zip(&a8) {
                        let av = $splat(a8[q]);
                        acc[0] = $fma(av, b0, acc[0]);
                        acc[1] = $fma(av, b1, acc[1]);
                    }
                }
            }
            for (pk, row) in panel.iter().enumerate().skip(whole) {
                let [b0, b1]: [$vec; 2] = bytemuck::cast(*row);
                for (acc, a) in acc.iter_mut().zip(&a) {
                    let av = $splat(a.get(pk).copied().unwrap_or(0.0));
                    acc[0] = $fma(av, b0, acc[0]);
                    acc[1] = $fma(av, b1, acc[1]);
                }
            }
            acc.map(bytemuck::cast::<[$vec; 2], [f32; $nr]>)
        }
    };
}
simd_tiles!(
    avx512_tiles,
    avx512_rows,
    avx512_tile,
    "avx512f,fma",
    8,
    32,
    __m512,
    _mm512_setzero_ps,
    _mm512_set1_ps,
    _mm512_fmadd_ps
);
simd_tiles!(
    avx2_tiles,
    avx2_rows,
    avx2_tile,
    "avx2,fma",
    6,
    16,
    __m256,
    _mm256_setzero_ps,
    _mm256_set1_ps,
    _mm256_fmadd_ps
);

/// `R` rows of C starting at `s.i`, with the strip of A packed into `strip`; returns `R`.
#[inline(always)]
fn rows_of<T: Numeric, const MR: usize, const R: usize, const NR: usize, const FMA: bool>(
    s: &Strip<'_, T, NR>,
    c: &mut [T],
    strip: &mut [[T; MR]],
) -> usize {
    let strip = pack_strip::<T, MR, R>(s.a, s.k, s.i, s.k0, s.depth, strip);
    let store = |acc: &[[T; NR]; R], c: &mut [T], j: usize, width: usize| {
        store_tile(acc, c, (s.i, j, s.n), width, s.alpha, s.add);
    };
    for j in s.full.clone().step_by(NR) {
        let mut acc = [[T::zero(); NR]; R];
        for (ap, &start) in strip.iter().zip(s.starts) {
            let row = &s.b[start + j..][..NR];
            let bp: [T; NR] = core::array::from_fn(|l| row[l]);
            multiply_add::<T, MR, R, NR, FMA>(&mut acc, ap, &bp);
        }
        store(&acc, c, j, NR);
    }
    if s.ragged > 0 {
        let mut acc = [[T::zero(); NR]; R];
        for (ap, bp) in strip.iter().zip(s.edge) {
            multiply_add::<T, MR, R, NR, FMA>(&mut acc, ap, bp);
        }
        store(&acc, c, s.full.end, s.ragged);
    }
    R
}

/// `acc[r][l] += a[r] · b[l]`: the register tile's inner step.
#[inline(always)]
fn multiply_add<T: Numeric, const MR: usize, const R: usize, const NR: usize, const FMA: bool>(
    acc: &mut [[T; NR]; R],
    a: &[T; MR],
    b: &[T; NR],
) {
    // Columns outside, rows inside: the short row loop unrolls first, then the column
    // loop vectorises, so the whole tile stays in registers.
    for l in 0..NR {
        let bv = b[l];
        for r in 0..R {
            acc[r][l] = multiply_then_add::<T, FMA>(a[r], bv, acc[r][l]);
        }
    }
}

/// B and C have contiguous rows: C[i, j..] += A[i, p] · B[p, j..], four rows of C at a time.
fn rows_times_rows<T: Numeric>(
    alpha: T,
    a: ArrayView2<'_, T>,
    b: ArrayView2<'_, T>,
    c: &mut ArrayViewMut2<'_, T>,
) {
    let (m, k) = a.dim();
    let n = b.ncols();
    let b_row = |p: usize, j0: usize, j1: usize| &b.row(p).to_slice().unwrap_or(&[])[j0..j1];
    for j0 in (0..n).step_by(TILE) {
        let j1 = (j0 + TILE).min(n);
        let mut i = 0;
        while i + 4 <= m {
            let mut block = c.slice_axis_mut(Axis(0), (i..i + 4).into());
            let mut rows = block.outer_iter_mut();
            let (Some(mut r0), Some(mut r1), Some(mut r2), Some(mut r3)) =
                (rows.next(), rows.next(), rows.next(), rows.next())
            else {
                break;
            };
            let (Some(c0), Some(c1), Some(c2), Some(c3)) = (
                r0.as_slice_mut(),
                r1.as_slice_mut(),
                r2.as_slice_mut(),
                r3.as_slice_mut(),
            ) else {
                break;
            };
            let (c0, c1, c2, c3) = (
                &mut c0[j0..j1],
                &mut c1[j0..j1],
                &mut c2[j0..j1],
                &mut c3[j0..j1],
            );
            for p in 0..k {
                let (a0, a1, a2, a3) = (
                    alpha * a[[i, p]],
                    alpha * a[[i + 1, p]],
                    alpha * a[[i + 2, p]],
                    alpha * a[[i + 3, p]],
                );
                let bp = b_row(p, j0, j1);
                for ((((x0, x1), x2), x3), &bv) in c0
                    .iter_mut()
                    .zip(c1.iter_mut())
                    .zip(c2.iter_mut())
                    .zip(c3.iter_mut())
                    .zip(bp)
                {
                    *x0 = *x0 + a0 * bv;
                    *x1 = *x1 + a1 * bv;
                    *x2 = *x2 + a2 * bv;
                    *x3 = *x3 + a3 * bv;
                }
            }
            i += 4;
        }
        for i in i..m {
            let mut row = c.row_mut(i);
            let Some(ci) = row.as_slice_mut() else {
                continue;
            };
            let ci = &mut ci[j0..j1];
            for p in 0..k {
                let ap = alpha * a[[i, p]];
                for (x, &bv) in ci.iter_mut().zip(b_row(p, j0, j1)) {
                    *x = *x + ap * bv;
                }
            }
        }
    }
}

/// B has contiguous columns (a transposed matrix): C[i, j] += A[i, ..] · B[.., j].
#[multiversion(targets("x86_64+avx512f+avx512vl+fma", "x86_64+avx2+fma"))]
fn dot_products<T: Numeric>(
    alpha: T,
    a: ArrayView2<'_, T>,
    b: ArrayView2<'_, T>,
    c: &mut ArrayViewMut2<'_, T>,
) {
    for (i, mut c_row) in c.outer_iter_mut().enumerate() {
        let a_row = a.row(i);
        for (j, cij) in c_row.iter_mut().enumerate() {
            let b_col = b.column(j);
            let dot = match (a_row.as_slice(), b_col.as_slice()) {
                (Some(x), Some(y)) => dot(x, y),
                _ => a_row
                    .iter()
                    .zip(b_col)
                    .fold(T::zero(), |s, (&x, &y)| s + x * y),
            };
            *cij = *cij + alpha * dot;
        }
    }
}

/// A dot product with 64 independent accumulators (four AVX-512 registers of f32, so
/// that the additions' latency overlaps), then 8 for the rest, so that it vectorises.
#[inline(always)]
fn dot<T: Numeric>(x: &[T], y: &[T]) -> T {
    let (x, y) = (&x[..x.len().min(y.len())], &y[..x.len().min(y.len())]);
    let mut wide = [T::zero(); 64];
    let (xc, yc) = (x.chunks_exact(64), y.chunks_exact(64));
    let (x, y) = (xc.remainder(), yc.remainder());
    for (xs, ys) in xc.zip(yc) {
        for l in 0..64 {
            wide[l] = wide[l] + xs[l] * ys[l];
        }
    }
    let mut acc = [T::zero(); 8];
    for part in wide.chunks_exact(8) {
        for l in 0..8 {
            acc[l] = acc[l] + part[l];
        }
    }
    let (xc, yc) = (x.chunks_exact(8), y.chunks_exact(8));
    let tail = xc
        .remainder()
        .iter()
        .zip(yc.remainder())
        .fold(T::zero(), |s, (&a, &b)| s + a * b);
    for (xs, ys) in xc.zip(yc) {
        for l in 0..8 {
            acc[l] = acc[l] + xs[l] * ys[l];
        }
    }
    acc.iter().fold(tail, |s, &v| s + v)
}

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
