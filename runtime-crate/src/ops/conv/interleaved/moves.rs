//! Moving a block's planes into and out of the interleaved buffer, [`LANES`] × [`LANES`]
//! values at a time through a tile transpose per instruction set.

use super::{Lanes, LANES};
use crate::ops::linalg::Isa;

/// A block of [`LANES`] × [`LANES`] values.
type Tile = [Lanes; LANES];

/// `$interleave` and `$deinterleave`, moving values [`LANES`] × [`LANES`] at a time
/// through `$transpose` (16 vector loads, shuffles and stores instead of a scalar store
/// per value, which cost as much as the sums).
macro_rules! moves {
    ($interleave:ident, $deinterleave:ident, $transpose:ident $(, $features:literal)?) => {
        /// Copies `lanes` planes of `(h, w)` into the interior of `padded` (`wp` pixels
        /// wide), each plane into its lane, `top` rows and `left` columns in.
        $(#[cfg(target_arch = "x86_64")] #[target_feature(enable = $features)])?
        pub(super) fn $interleave(
            x: &[f32],
            lanes: usize,
            (h, w): (usize, usize),
            padded: &mut [Lanes],
            (top, left, wp): (usize, usize, usize),
        ) {
            let plane = h * w;
            let mut tile: Tile = [[0.0; LANES]; LANES];
            for i0 in (0..plane).step_by(LANES) {
                let n = (plane - i0).min(LANES);
                for (row, src) in tile.iter_mut().zip(x.chunks_exact(plane).take(lanes)) {
                    copy_into(row, &src[i0..i0 + n]);
                }
                $transpose(&mut tile);
                for (i, pixel) in (i0..i0 + n).zip(&tile) {
                    padded[(top + i / w) * wp + left + i % w] = *pixel;
                }
                // Unwritten rows (lanes past the last channel) must stay zero.
                tile = [[0.0; LANES]; LANES];
            }
        }

        /// Writes (or with `accumulate` adds) the first `lanes` lanes of `sums` to `out`'s
        /// planes.
        $(#[cfg(target_arch = "x86_64")] #[target_feature(enable = $features)])?
        pub(super) fn $deinterleave(sums: &[Lanes], out: &mut [f32], lanes: usize, accumulate: bool) {
            let plane = sums.len();
            let mut tile: Tile = [[0.0; LANES]; LANES];
            for i0 in (0..plane).step_by(LANES) {
                let n = (plane - i0).min(LANES);
                match <&Tile>::try_from(&sums[i0..i0 + n]) {
                    Ok(whole) => tile = *whole,
                    Err(_) => tile[..n].copy_from_slice(&sums[i0..i0 + n]),
                }
                $transpose(&mut tile);
                for (dst, row) in out.chunks_exact_mut(plane).take(lanes).zip(&tile) {
                    let dst = &mut dst[i0..i0 + n];
                    if accumulate {
                        dst.iter_mut().zip(row).for_each(|(d, v)| *d += v);
                    } else {
                        copy_into(dst, &row[..n]);
                    }
                }
            }
        }
    };
}
/// `dst[..src.len()] = src`, in vector moves when it is a whole row (`copy_from_slice`
/// of a run-time length calls memmove, a sixth of the time over 7×7 planes).
#[inline(always)]
fn copy_into(dst: &mut [f32], src: &[f32]) {
    match (<&mut Lanes>::try_from(&mut *dst), <&Lanes>::try_from(src)) {
        (Ok(dst), Ok(src)) => *dst = *src,
        _ => dst[..src.len()].copy_from_slice(src),
    }
}

moves!(
    interleave_avx512,
    deinterleave_avx512,
    transpose_avx512,
    "avx512f"
);
moves!(interleave_avx2, deinterleave_avx2, transpose_avx2, "avx2");
moves!(
    interleave_portable,
    deinterleave_portable,
    transpose_portable
);

/// Transposes a tile in place.
fn transpose_portable(tile: &mut Tile) {
    let t = *tile;
    *tile = std::array::from_fn(|r| std::array::from_fn(|c| t[c][r]));
}

/// Transposes a tile in place in AVX-512 shuffles: pairs of rows interleaved by 32, then
/// 64 bits, then 128-bit quarters exchanged twice.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[inline]
fn transpose_avx512(tile: &mut Tile) {
    use std::arch::x86_64::{
        __m512, _mm512_shuffle_f32x4, _mm512_shuffle_ps, _mm512_unpackhi_ps, _mm512_unpacklo_ps,
    };
    let r: [__m512; LANES] = bytemuck::cast(*tile);
    let mut t = r;
    for i in 0..8 {
        t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    let mut u = t;
    for b in (0..LANES).step_by(4) {
        u[b] = _mm512_shuffle_ps::<0x44>(t[b], t[b + 2]);
        u[b + 1] = _mm512_shuffle_ps::<0xEE>(t[b], t[b + 2]);
        u[b + 2] = _mm512_shuffle_ps::<0x44>(t[b + 1], t[b + 3]);
        u[b + 3] = _mm512_shuffle_ps::<0xEE>(t[b + 1], t[b + 3]);
    }
    let mut v = u;
    for h in [0, 8] {
        for i in h..h + 4 {
            v[i] = _mm512_shuffle_f32x4::<0x88>(u[i], u[i + 4]);
            v[i + 4] = _mm512_shuffle_f32x4::<0xDD>(u[i], u[i + 4]);
        }
    }
    let mut w = v;
    for i in 0..8 {
        w[i] = _mm512_shuffle_f32x4::<0x88>(v[i], v[i + 8]);
        w[i + 8] = _mm512_shuffle_f32x4::<0xDD>(v[i], v[i + 8]);
    }
    *tile = bytemuck::cast(w);
}

/// Transposes a tile in place in AVX shuffles: the tile's four 8 × 8 quarters are each
/// transposed ([`transpose8_avx2`]), and the two off the diagonal change places.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
fn transpose_avx2(tile: &mut Tile) {
    use std::arch::x86_64::__m256;
    // Row r of the tile is rows[r][0] (lanes 0..8) and rows[r][1] (lanes 8..16).
    let rows: [[__m256; 2]; LANES] = bytemuck::cast(*tile);
    let quarter =
        |r0: usize, half: usize| transpose8_avx2(std::array::from_fn(|r| rows[r0 + r][half]));
    let (top_left, top_right) = (quarter(0, 0), quarter(0, 1));
    let (bottom_left, bottom_right) = (quarter(8, 0), quarter(8, 1));
    let out: [[__m256; 2]; LANES] = std::array::from_fn(|r| match r < 8 {
        true => [top_left[r], bottom_left[r]],
        false => [top_right[r - 8], bottom_right[r - 8]],
    });
    *tile = bytemuck::cast(out);
}

/// An 8 × 8 block transposed: rows interleaved by 32 bits, then 64, then 128-bit halves
/// exchanged.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
fn transpose8_avx2(r: [std::arch::x86_64::__m256; 8]) -> [std::arch::x86_64::__m256; 8] {
    use std::arch::x86_64::{
        _mm256_permute2f128_ps, _mm256_shuffle_ps, _mm256_unpackhi_ps, _mm256_unpacklo_ps,
    };
    let mut t = r;
    for i in 0..4 {
        t[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    let mut u = t;
    for b in [0, 4] {
        u[b] = _mm256_shuffle_ps::<0x44>(t[b], t[b + 2]);
        u[b + 1] = _mm256_shuffle_ps::<0xEE>(t[b], t[b + 2]);
        u[b + 2] = _mm256_shuffle_ps::<0x44>(t[b + 1], t[b + 3]);
        u[b + 3] = _mm256_shuffle_ps::<0xEE>(t[b + 1], t[b + 3]);
    }
    std::array::from_fn(|i| match i < 4 {
        true => _mm256_permute2f128_ps::<0x20>(u[i], u[i + 4]),
        false => _mm256_permute2f128_ps::<0x31>(u[i - 4], u[i]),
    })
}

/// [`interleave_avx512`] or [`interleave_avx2`], where the CPU has it.
#[allow(unsafe_code)]
pub(super) fn interleave(
    x: &[f32],
    lanes: usize,
    plane: (usize, usize),
    padded: &mut [Lanes],
    at: (usize, usize, usize),
) {
    match Isa::best() {
        // SAFETY: `Isa::best` checked that the CPU has AVX-512F.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => unsafe { interleave_avx512(x, lanes, plane, padded, at) },
        // SAFETY: `Isa::best` checked that the CPU has AVX2.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => unsafe { interleave_avx2(x, lanes, plane, padded, at) },
        _ => interleave_portable(x, lanes, plane, padded, at),
    }
}

/// [`deinterleave_avx512`] or [`deinterleave_avx2`], where the CPU has it.
#[allow(unsafe_code)]
pub(super) fn deinterleave(sums: &[Lanes], out: &mut [f32], lanes: usize, accumulate: bool) {
    match Isa::best() {
        // SAFETY: `Isa::best` checked that the CPU has AVX-512F.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => unsafe { deinterleave_avx512(sums, out, lanes, accumulate) },
        // SAFETY: `Isa::best` checked that the CPU has AVX2.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => unsafe { deinterleave_avx2(sums, out, lanes, accumulate) },
        _ => deinterleave_portable(sums, out, lanes, accumulate),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every vector transpose this CPU can run turns a tile of distinct values into what
    /// the portable one gives.
    #[test]
    #[allow(unsafe_code)]
    fn every_transpose_matches_the_portable_one() {
        let tile: Tile = std::array::from_fn(|r| std::array::from_fn(|c| (r * LANES + c) as f32));
        let mut expected = tile;
        transpose_portable(&mut expected);
        assert_eq!(expected[3][5], tile[5][3]);
        #[cfg(target_arch = "x86_64")]
        for isa in [Isa::Avx512, Isa::Avx2]
            .into_iter()
            .filter(|i| i.is_available())
        {
            let mut got = tile;
            // SAFETY: the CPU has `isa`, checked just above.
            unsafe {
                match isa {
                    Isa::Avx512 => transpose_avx512(&mut got),
                    _ => transpose_avx2(&mut got),
                }
            }
            assert_eq!(got, expected, "{isa:?}");
        }
    }
}
