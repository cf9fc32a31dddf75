//! The loops around the tiles: blocks of depth, panels of B copied once per block (or packed
//! from a [`PackB`](super::PackB) source), strips of A, and how a tile is stored into C.

use super::{
    depth_passes, CacheLines, Dims, InPlace, PackB, Strip, Tiles, KC, KC_IN_PLACE, NC, PACK_COLUMNS,
};
use crate::Numeric;

/// `c = a·b` (`c += a·b` with `add`) with B packed block by block into `workspace` (see
/// [`mat_mul_packed_into`](super::mat_mul_packed_into)):
/// each block of at most `KC` rows × `PACK_COLUMNS` columns becomes `NR`-wide panels,
/// zero-padded on the right, and each panel then meets every strip of A through `tiles`,
/// the same tile kernels as the in-place product's (the f32 ones read A where it lies).
#[inline(always)]
pub(super) fn packed<T: Numeric, B: PackB<T>, const MR: usize, const NR: usize>(
    a: &[T],
    b: &B,
    c: &mut [T],
    Dims { m, k, n }: Dims,
    workspace: &mut [T],
    add: bool,
    tiles: &mut impl Tiles<T, MR, NR>,
) {
    let mut strip = CacheLines([[T::zero(); MR]; KC]);
    // One row of the block at a time: a single long `segment` call is far cheaper for
    // an unfolding convolution than one per panel.
    let mut line = CacheLines([T::zero(); PACK_COLUMNS]);
    for k0 in (0..k).step_by(KC) {
        let depth = (k - k0).min(KC);
        for j0 in (0..n).step_by(PACK_COLUMNS) {
            let cols = (n - j0).min(PACK_COLUMNS);
            let (panels, _) = workspace.as_chunks_mut::<NR>();
            let panels = &mut panels[..cols.div_ceil(NR) * depth];
            for pk in 0..depth {
                b.segment(k0 + pk, j0, &mut line[..cols]);
                for (p, part) in line[..cols].chunks(NR).enumerate() {
                    let row = &mut panels[p * depth + pk];
                    row[..part.len()].copy_from_slice(part);
                    row[part.len()..].fill(T::zero());
                }
            }
            for (p, panel) in panels.chunks_exact(depth).enumerate() {
                let j = j0 + p * NR;
                let mut i = 0;
                while i < m {
                    let s = Strip::over_panel(
                        T::one(),
                        a,
                        panel,
                        (k, n),
                        (k0, depth),
                        (i, j),
                        add || k0 > 0,
                    );
                    i += tiles(m - i, &s, c, &mut strip.0[..depth]);
                }
            }
        }
    }
}

/// Copy `A[i..i + R, k0..k0 + depth]` into `strip` as `depth` groups of `R` values.
#[inline(always)]
pub(super) fn pack_strip<'s, T: Numeric, const MR: usize, const R: usize>(
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
pub(super) fn store_tile<T: Numeric, const NR: usize, const R: usize>(
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
pub(super) fn blocked<
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

/// [`blocked`] with its A strip and (when some columns are ragged) edge buffer, each
/// `DEPTH` (at least `min(k, KC)`) deep.
#[inline(always)]
pub(super) fn with_buffers<
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
pub(super) fn blocked_with<
    T: Numeric,
    S: Fn(usize, &mut [usize]) + Copy,
    const MR: usize,
    const NR: usize,
>(
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
    for (k0, depth) in depth_passes(k, KC_IN_PLACE.min(starts.len())) {
        let add = accumulate || k0 > 0;
        let starts = b.rows_from(k0, &mut starts[..depth]);
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
pub(super) const PANEL_TILES: usize = 4;

/// [`blocked_with`] in the other loop order, for tile kernels that read A where it lies:
/// each `NR`-column tile of a depth block of B is copied once into `panel` (aligned,
/// contiguous, `PANEL_TILES` tiles at a time), and every strip of A then meets it there. Reading B in place
/// from as many scattered rows as the block is deep kept the kernel at half its rate.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub(super) fn panels_with<
    T: Numeric,
    S: Fn(usize, &mut [usize]) + Copy,
    const MR: usize,
    const NR: usize,
>(
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
    for (k0, depth) in depth_passes(k, KC_IN_PLACE.min(starts.len())) {
        let add = accumulate || k0 > 0;
        let starts = b.rows_from(k0, &mut starts[..depth]);
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
