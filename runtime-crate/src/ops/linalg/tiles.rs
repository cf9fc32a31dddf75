//! The register tiles: an `R × NR` block of C kept in registers while a strip of A meets a
//! panel of B; portable code for every element type, vector intrinsics for f32.

use super::{pack_strip, store_tile, Dims, InPlace};
use crate::Numeric;

/// The tile kernel of [`blocked`]: `tiles(rows, strip, c, buffer)` computes some of the
/// `rows` rows of C (at most `MR`) that `strip` starts at, packing its strip of A
/// into `buffer`, and returns how many it did.
pub(super) trait Tiles<T, const MR: usize, const NR: usize>:
    FnMut(usize, &Strip<'_, T, NR>, &mut [T], &mut [[T; MR]]) -> usize
{
}

impl<T, const MR: usize, const NR: usize, F> Tiles<T, MR, NR> for F where
    F: FnMut(usize, &Strip<'_, T, NR>, &mut [T], &mut [[T; MR]]) -> usize
{
}

/// [`Tiles`] in portable code: whole `MR`-row strips, then 4, 2 and 1 rows for the rest.
#[inline(always)]
pub(super) fn portable_tiles<T: Numeric, const MR: usize, const NR: usize, const FMA: bool>(
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
pub(super) fn one_row<
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
        let starts = b.rows_from(k0, &mut starts[..depth]);
        let (a, add) = (&a[k0..k0 + depth], accumulate || k0 > 0);
        let rows = (a, b.values, starts);
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
pub(super) fn blocks_of<T: Numeric, const W: usize, const FMA: bool>(
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
pub(super) fn row_block<T: Numeric, const W: usize, const FMA: bool>(
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
pub(super) fn multiply_then_add<T: Numeric, const FMA: bool>(x: T, y: T, acc: T) -> T {
    if FMA {
        x.fused_mul_add(y, acc)
    } else {
        acc + x * y
    }
}

/// One strip of rows of C over one depth block of a product with B read in place:
/// the depth range of A, the first row, the columns of C in whole tiles, and how many
/// columns follow them. Row `k0 + pk` of B starts at `b[starts[pk]]`, and `edge` is
/// the zero-padded copy of its last `ragged` columns.
pub(super) struct Strip<'s, T, const NR: usize> {
    pub(super) alpha: T,
    pub(super) a: &'s [T],
    pub(super) b: &'s [T],
    pub(super) starts: &'s [usize],
    pub(super) edge: &'s [[T; NR]],
    pub(super) k: usize,
    pub(super) n: usize,
    pub(super) k0: usize,
    pub(super) depth: usize,
    pub(super) i: usize,
    pub(super) full: std::ops::Range<usize>,
    pub(super) ragged: usize,
    /// Add into C (a later depth pass, or `beta != 0`) rather than overwrite it.
    pub(super) add: bool,
}

impl<'s, T, const NR: usize> Strip<'s, T, NR> {
    /// Rows `i..` of C over depth `k0..k0 + depth` of `[k, n]`, with B one packed `panel` of
    /// C's columns `j..j + NR` (fewer at its right edge): what the panel kernels (packed,
    /// prepacked) hand their tiles.
    #[inline(always)]
    pub(super) fn over_panel(
        alpha: T,
        a: &'s [T],
        panel: &'s [[T; NR]],
        (k, n): (usize, usize),
        (k0, depth): (usize, usize),
        (i, j): (usize, usize),
        add: bool,
    ) -> Self {
        Strip {
            alpha,
            a,
            b: &[],
            starts: &[],
            edge: panel,
            k,
            n,
            k0,
            depth,
            i,
            full: j..j,
            ragged: (n - j).min(NR),
            add,
        }
    }
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
        pub(super) fn $tiles(
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
pub(super) fn rows_of<
    T: Numeric,
    const MR: usize,
    const R: usize,
    const NR: usize,
    const FMA: bool,
>(
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
pub(super) fn multiply_add<
    T: Numeric,
    const MR: usize,
    const R: usize,
    const NR: usize,
    const FMA: bool,
>(
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
