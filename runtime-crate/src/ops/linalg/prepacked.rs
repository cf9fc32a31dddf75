//! Constant right-hand operands stored as panels, so that a Gemm's weight streams
//! contiguously on every call instead of being copied tile by tile from as many
//! scattered rows as a depth block is deep (the copy was an eighth of BERT's time, and
//! the weight's first touch on each call).
//!
//! The panel format is this module's: [`PANEL_COLUMNS`] columns per panel, each panel
//! the full depth of B. The compiler writes weights in it (reading the constant from
//! this file), so they need no second copy in memory; the depth of a pass and the
//! register tile stay the kernel's own choices at run time.

use super::bands::{column_bands, row_bands};
use super::{pass_depth, portable_tiles, CacheLines, Dims, Isa, Strip, Tiles, KC_IN_PLACE};
use crate::{Error, Numeric, Result};
use ndarray::{s, Array1, Array3, ArrayView2, CowArray, IxDyn};

/// Columns per panel of a [`PackedB`]: the AVX-512 kernel's register tile, which the
/// narrower kernels read in halves.
pub const PANEL_COLUMNS: usize = 32;

/// A `[k, n]` right-hand operand as `[⌈n / PANEL_COLUMNS⌉, k, PANEL_COLUMNS]` panels:
/// panel `t` holds B's columns `t · PANEL_COLUMNS..`, row by row, zero-padded on the
/// right. Read in place from the weights buffer (`'w`) or owned.
///
/// ```
/// use ndarray::array;
/// use onnx2rs_runtime::ops::{mat_mul_prepacked_into, PackedB};
/// let b = PackedB::new(array![[5.0f32, 6.0], [7.0, 8.0]].view());
/// let mut c = [0.0f32; 4];
/// mat_mul_prepacked_into(1.0, &[1.0, 2.0, 3.0, 4.0], &b, &mut c, false).unwrap();
/// assert_eq!(c, [19.0, 22.0, 43.0, 50.0]);
/// ```
pub struct PackedB<'w, T> {
    k: usize,
    n: usize,
    /// `[tiles, k, PANEL_COLUMNS]`, in standard layout.
    panels: CowArray<'w, T, IxDyn>,
}

/// The shape of the panels of a `[k, n]` operand.
pub fn panels_shape(k: usize, n: usize) -> [usize; 3] {
    [n.div_ceil(PANEL_COLUMNS), k, PANEL_COLUMNS]
}

impl<T: Numeric> PackedB<'static, T> {
    /// `b` copied into panels.
    pub fn new(b: ArrayView2<'_, T>) -> Self {
        let (k, n) = b.dim();
        let mut panels = aligned_zeros(panels_shape(k, n));
        for ((t, p, l), v) in panels.indexed_iter_mut() {
            if let Some(&x) = b.get((p, t * PANEL_COLUMNS + l)) {
                *v = x;
            }
        }
        PackedB {
            k,
            n,
            panels: panels.into_dyn().into(),
        }
    }
}

/// Zeros of `shape` whose first value starts a cache line, so that no vector load of a
/// panel's row straddles two lines.
fn aligned_zeros<T: Numeric>(shape: [usize; 3]) -> Array3<T> {
    let (len, size) = (
        shape.iter().product::<usize>(),
        std::mem::size_of::<T>().max(1),
    );
    let values = vec![T::zero(); len + 64 / size];
    let start = (values.as_ptr() as usize).wrapping_neg() % 64 / size;
    let flat = Array1::from_vec(values).slice_move(s![start..start + len]);
    flat.into_shape_with_order(shape)
        .unwrap_or_else(|_| Array3::zeros(shape))
}

impl<'w, T: Numeric> PackedB<'w, T> {
    /// A `[k, n]` operand from panels already in the format (as the weights file stores
    /// them).
    ///
    /// # Errors
    /// [`Error::Shape`] if `panels` does not have the shape [`panels_shape`] gives, or is
    /// not in standard layout.
    pub fn from_panels(panels: CowArray<'w, T, IxDyn>, k: usize, n: usize) -> Result<Self> {
        if panels.shape() != panels_shape(k, n) || !panels.is_standard_layout() {
            return Err(Error::Shape(format!(
                "panels of a [{k}, {n}] operand must be {:?} in standard layout, not {:?}",
                panels_shape(k, n),
                panels.shape()
            )));
        }
        Ok(PackedB { k, n, panels })
    }

    /// The same operand, copied out of the buffer it was read from.
    pub fn into_owned(self) -> PackedB<'static, T> {
        let mut panels = aligned_zeros(panels_shape(self.k, self.n));
        panels
            .as_slice_mut()
            .unwrap_or(&mut [])
            .copy_from_slice(self.values());
        PackedB {
            k: self.k,
            n: self.n,
            panels: panels.into_dyn().into(),
        }
    }

    /// The `[k, n]` shape of the operand.
    pub fn dim(&self) -> (usize, usize) {
        (self.k, self.n)
    }

    fn values(&self) -> &[T] {
        // Standard layout, checked when the operand was made.
        self.panels.as_slice().unwrap_or(&[])
    }
}

/// `c = alpha · a·b` (`c += alpha · a·b` with `accumulate`) for a row-major `a` (`[m, k]`,
/// `m` taken from its length) and `c` (`[m, n]`), with B packed by [`PackedB::new`]. With
/// the `threads` feature the product is split as [`super::mat_mul_into`] splits it.
///
/// # Errors
/// [`Error::Shape`] if `a` is not a whole number of rows of `k`, or `c` has not `m × n`
/// values.
pub fn mat_mul_prepacked_into<T: Numeric>(
    alpha: T,
    a: &[T],
    b: &PackedB<'_, T>,
    c: &mut [T],
    accumulate: bool,
) -> Result<()> {
    mat_mul_prepacked_into_on(Isa::best(), alpha, a, b, c, accumulate)
}

/// [`mat_mul_prepacked_into`] with the kernel compiled for `isa` (tests compare them).
///
/// # Errors
/// As [`mat_mul_prepacked_into`]; [`Error::Input`] if this CPU lacks `isa`.
pub fn mat_mul_prepacked_into_on<T: Numeric>(
    isa: Isa,
    alpha: T,
    a: &[T],
    b: &PackedB<'_, T>,
    c: &mut [T],
    accumulate: bool,
) -> Result<()> {
    if !isa.is_available() {
        return Err(Error::Input(format!("this CPU cannot run {isa:?} code")));
    }
    let (k, n) = b.dim();
    let m = a.len().checked_div(k).unwrap_or(c.len() / n.max(1));
    if a.len() != m * k || c.len() != m * n {
        return Err(Error::Shape(format!(
            "product with a packed [{k}, {n}] needs [m, {k}] and [m, {n}]; got {} and {} values",
            a.len(),
            c.len()
        )));
    }
    if m == 0 || n == 0 {
        return Ok(());
    }
    if k == 0 {
        if !accumulate {
            c.fill(T::zero());
        }
        return Ok(());
    }
    let (dims, layout) = (Dims { m, k, n }, Layout::of(k));
    let scale = T::as_f32(std::slice::from_ref(&alpha)).and_then(|s| s.first().copied());
    if let (Some(a32), Some(p32), Some(alpha32)) = (T::as_f32(a), T::as_f32(b.values()), scale) {
        if let Some(c) = T::as_f32_mut(c) {
            let piece = |c: &mut [f32], j0: usize, w: usize| {
                let dims = Dims { n: w, ..dims };
                on(
                    isa,
                    Operands {
                        alpha: alpha32,
                        a: a32,
                        panels: p32,
                        layout,
                        c,
                        dims,
                        j0,
                        add: accumulate,
                    },
                );
            };
            if let Err(c) = column_bands(c, dims, accumulate, piece) {
                row_bands(a32, c, dims, |a, c, m| {
                    let dims = Dims { m, ..dims };
                    on(
                        isa,
                        Operands {
                            alpha: alpha32,
                            a,
                            panels: p32,
                            layout,
                            c,
                            dims,
                            j0: 0,
                            add: accumulate,
                        },
                    );
                });
            }
            return Ok(());
        }
    }
    row_bands(a, c, dims, |a, c, m| {
        let (dims, panels) = (Dims { m, ..dims }, b.values());
        on(
            isa,
            Operands {
                alpha,
                a,
                panels,
                layout,
                c,
                dims,
                j0: 0,
                add: accumulate,
            },
        );
    });
    Ok(())
}

/// One product over panels: `c (+)= alpha · a·b` over B's columns `j0..j0 + dims.n`,
/// where C's row stride is `dims.n` and `j0` is a multiple of the register tile's width.
struct Operands<'a, T> {
    alpha: T,
    a: &'a [T],
    panels: &'a [T],
    layout: Layout,
    c: &'a mut [T],
    dims: Dims,
    j0: usize,
    /// Add into C (`accumulate`) rather than overwrite it.
    add: bool,
}

impl<'a, T: Numeric> Operands<'a, T> {
    /// The same operands as f32, when `T` is f32 (then every view converts).
    fn into_f32(self) -> Option<Operands<'a, f32>> {
        let alpha =
            T::as_f32(std::slice::from_ref(&self.alpha)).and_then(|s| s.first().copied())?;
        Some(Operands {
            alpha,
            a: T::as_f32(self.a)?,
            panels: T::as_f32(self.panels)?,
            layout: self.layout,
            c: T::as_f32_mut(self.c)?,
            dims: self.dims,
            j0: self.j0,
            add: self.add,
        })
    }
}

/// How a product over panels is blocked: passes of equal depth, at most `KC_IN_PLACE`
/// rows each, as the in-place kernel makes them.
#[derive(Clone, Copy)]
struct Layout {
    k: usize,
    depth: usize,
}

impl Layout {
    fn of(k: usize) -> Self {
        Layout {
            k,
            depth: pass_depth(k, KC_IN_PLACE),
        }
    }

    /// Where rows `k0..k0 + depth` of panel `t` lie.
    fn rows(self, t: usize, k0: usize, depth: usize) -> std::ops::Range<usize> {
        let at = (t * self.k + k0) * PANEL_COLUMNS;
        at..at + depth * PANEL_COLUMNS
    }
}

/// [`panels_times`] with the kernel of `isa` (the best this CPU has).
fn on<T: Numeric>(isa: Isa, ops: Operands<'_, T>) {
    match isa {
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => prepacked_avx512(ops),
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => prepacked_avx2(ops),
        _ => {
            let mut strip = CacheLines([[T::zero(); 4]; KC_IN_PLACE]);
            let mut halves = CacheLines([[T::zero(); 16]; KC_IN_PLACE]);
            let mut tiles = portable_tiles::<T, 4, 16, false>;
            panels_times::<T, 4, 16>(ops, (&mut strip.0, &mut halves.0), &mut tiles);
        }
    }
}

/// `$name`: [`panels_times`] with `$mr × $nr` tiles, compiled for the features of `$isa`;
/// f32 takes the intrinsics tiles `$f32_tiles`, other types the portable ones.
macro_rules! prepacked_for {
    ($name:ident, $isa:expr, $features:literal, $mr:literal, $nr:literal, $f32_tiles:path) => {
        #[doc = concat!("[`panels_times`] compiled for ", $features, ".")]
        #[cfg(target_arch = "x86_64")]
        #[allow(unsafe_code)]
        fn $name<T: Numeric>(ops: Operands<'_, T>) {
            #[target_feature(enable = $features)]
            fn run<T: Numeric>(ops: Operands<'_, T>) {
                // Tiles narrower than a panel copy their half of each row first.
                let mut halves = CacheLines([[T::zero(); $nr]; KC_IN_PLACE]);
                let halves = match $nr < PANEL_COLUMNS {
                    true => &mut halves.0[..],
                    false => &mut [],
                };
                if T::DTYPE == safetensors::Dtype::F32 {
                    let f32_ops = ops.into_f32();
                    let halves = T::as_f32_mut(halves.as_flattened_mut());
                    if let (Some(ops), Some(halves)) = (f32_ops, halves) {
                        // The intrinsics tiles read A where it lies: no strip buffer.
                        let mut tiles =
                            |rows, s: &Strip<'_, f32, $nr>, c: &mut [f32], buf: &mut [_]| {
                                $f32_tiles(rows, s, c, buf)
                            };
                        let (halves, _) = halves.as_chunks_mut::<$nr>();
                        panels_times::<f32, $mr, $nr>(ops, (&mut [], halves), &mut tiles);
                    }
                    return;
                }
                let mut strip = CacheLines([[T::zero(); $mr]; KC_IN_PLACE]);
                let mut tiles = |rows, s: &Strip<'_, T, $nr>, c: &mut [T], buf: &mut [_]| {
                    portable_tiles::<T, $mr, $nr, true>(rows, s, c, buf)
                };
                panels_times::<T, $mr, $nr>(ops, (&mut strip.0, halves), &mut tiles);
            }
            assert!($isa.is_available(), "the caller checked the CPU");
            // SAFETY: the CPU has these features, checked just above.
            unsafe { run(ops) }
        }
    };
}
prepacked_for!(
    prepacked_avx512,
    Isa::Avx512,
    "avx512f,fma",
    8,
    32,
    super::avx512_tiles
);
prepacked_for!(
    prepacked_avx2,
    Isa::Avx2,
    "avx2,fma",
    6,
    16,
    super::avx2_tiles
);

/// The product of [`Operands`]: every strip of A meets each panel's rows of a pass where
/// they lie, or, for tiles narrower than a panel, a copy of their half in `halves`.
#[inline(always)]
fn panels_times<T: Numeric, const MR: usize, const NR: usize>(
    ops: Operands<'_, T>,
    (strip, halves): (&mut [[T; MR]], &mut [[T; NR]]),
    tiles: &mut impl Tiles<T, MR, NR>,
) {
    let Operands {
        alpha,
        a,
        panels: values,
        layout,
        c,
        dims: Dims { m, k, n },
        j0,
        add,
    } = ops;
    let strips = m.div_ceil(MR).max(1);
    for k0 in (0..k).step_by(layout.depth) {
        let depth = (k - k0).min(layout.depth);
        for j in (0..n).step_by(NR) {
            let column = j0 + j;
            let rows = &values[layout.rows(column / PANEL_COLUMNS, k0, depth)];
            // The next panel this call reads, fetched a piece per strip of A: a panel
            // streamed from memory only when its first strip needs it held that strip
            // at memory speed (BERT's weights do not fit in the caches).
            let next = match (j + NR < n, k0 + depth < k) {
                (true, _) if (column + NR).is_multiple_of(PANEL_COLUMNS) => {
                    layout.rows((column + NR) / PANEL_COLUMNS, k0, depth)
                }
                (false, true) => {
                    let after = (k - k0 - depth).min(layout.depth);
                    layout.rows(j0 / PANEL_COLUMNS, k0 + depth, after)
                }
                _ => 0..0,
            };
            let piece = next.len().div_ceil(strips);
            let panel: &[[T; NR]] = if NR == PANEL_COLUMNS {
                rows.as_chunks::<NR>().0
            } else {
                let at = column % PANEL_COLUMNS;
                for (half, row) in halves.iter_mut().zip(rows.chunks_exact(PANEL_COLUMNS)) {
                    half.copy_from_slice(&row[at..at + NR]);
                }
                &halves[..depth]
            };
            let mut i = 0;
            while i < m {
                let ahead = (next.start + i / MR * piece).min(next.end);
                prefetch(&values[ahead..(ahead + piece).min(next.end)]);
                let s =
                    Strip::over_panel(alpha, a, panel, (k, n), (k0, depth), (i, j), add || k0 > 0);
                i += tiles(m - i, &s, c, strip);
            }
        }
    }
}

/// Ask the CPU to bring `values` into its second-level cache: a hint that reads nothing
/// the program sees.
#[inline(always)]
#[allow(unsafe_code)]
fn prefetch<T>(values: &[T]) {
    #[cfg(target_arch = "x86_64")]
    for line in values.chunks(64 / std::mem::size_of::<T>().max(1)) {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T1};
        // SAFETY: a prefetch never faults and changes no memory; `line` is in bounds anyway.
        unsafe { _mm_prefetch::<_MM_HINT_T1>(line.as_ptr().cast()) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = values;
}
