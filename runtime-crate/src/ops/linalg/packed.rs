//! Products whose B is packed block by block into the workspace from any [`PackB`] source: a
//! row-major matrix, or a convolution's input windows unfolded straight into the panels, so
//! that no im2col matrix ever exists whole.

use super::blocks::packed;
use super::{portable_tiles, Dims, Isa, Strip, KC};
use crate::{Error, Numeric, Result};

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
        _ => {
            let mut tiles = portable_tiles::<T, 4, 16, false>;
            packed::<T, B, 4, 16>(a, b, c, dims, workspace, accumulate, &mut tiles);
        }
    }
    Ok(())
}

/// `$name`: [`packed`] with `MR × NR` tiles, compiled for the target features of `$isa`;
/// f32 takes the intrinsics tiles `$f32_tiles`, other types the portable ones.
macro_rules! packed_for {
    ($name:ident, $isa:expr, $features:literal, $mr:literal, $nr:literal, $f32_tiles:path) => {
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
                // f32 takes the intrinsics tiles (a closure, because a `#[target_feature]`
                // function is no `FnMut`; it inherits this function's features).
                let mut tiles = |rows, s: &Strip<'_, T, $nr>, c: &mut [T], buf: &mut [[T; $mr]]| {
                    let f32s = (
                        T::as_f32(std::slice::from_ref(&s.alpha)),
                        T::as_f32(s.a),
                        T::as_f32(s.edge.as_flattened()),
                        T::as_f32_mut(c),
                    );
                    if let (Some(&[alpha]), Some(a), Some(edge), Some(c)) = f32s {
                        let panel = edge.as_chunks::<$nr>().0;
                        let (size, pass, at) = ((s.k, s.n), (s.k0, s.depth), (s.i, s.full.start));
                        let s = Strip::over_panel(alpha, a, panel, size, pass, at, s.add);
                        return $f32_tiles(rows, &s, c, &mut []);
                    }
                    portable_tiles::<T, $mr, $nr, true>(rows, s, c, buf)
                };
                packed::<T, B, $mr, $nr>(a, b, c, d, ws, add, &mut tiles);
            }
            assert!($isa.is_available(), "dispatch checks the CPU first");
            // SAFETY: the CPU has these features, checked just above.
            unsafe { run(a, b, c, d, ws, add) }
        }
    };
}
// 8 rows keep 16 of the 32 vector registers busy with C. (The in-place kernel's generic
// code at 8 × 32 kept some of its tile on the stack; its f32 tiles use intrinsics.)
packed_for!(
    packed_avx512,
    Isa::Avx512,
    "avx512f,fma",
    8,
    32,
    super::avx512_tiles
);
packed_for!(packed_avx2, Isa::Avx2, "avx2,fma", 6, 16, super::avx2_tiles);
