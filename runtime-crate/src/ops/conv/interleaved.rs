//! Depthwise convolutions over small planes, [`LANES`] channels at a time.
//!
//! Over a plane of a few hundred pixels, one channel's rows are too short to fill vectors
//! (a 7-pixel row fills 7 of 16 lanes) and the setup per channel outweighs its sums
//! (mobilenet's 5×5 over 576 channels of 7×7 ran at 13 GFLOP/s). Here a block of channels
//! is interleaved into a zero-padded `[row][column][channel]` buffer, so that one vector
//! holds one pixel of every channel of the block and each tap costs one multiply-add per
//! output pixel, whatever the plane's width or the stride. The sums come out interleaved
//! the same way and are written back to the channels' planes with the residual and the
//! activation.

use super::{Sizes, Window};
use crate::ops::linalg::Isa;
use crate::ops::unary::{bias_then_activation, Activation};
use crate::{parallel, Error, Result};
use ndarray::ArrayView3;

mod moves;

use moves::{deinterleave, interleave};

/// Channels per block: one AVX-512 vector (two AVX2 ones).
const LANES: usize = 16;
/// One pixel of every channel of a block.
type Lanes = [f32; LANES];
/// Output pixels of a row summed together: their sums stay in registers while each tap's
/// weights are loaded once.
const PIXELS: usize = 8;
/// The most padded pixels a block interleaves (a 64 KiB buffer): up to 28×28 with a 5×5
/// window's padding. Rows of 56 already fill the per-channel kernels' vectors, which ran
/// 3×3 over 96 × 56² in 228 µs against 365 here; 5×5 over 96 × 14² took 42 against 29.
const PLANE_MAX: usize = 1024;

/// The buffers of one depthwise convolution over interleaved blocks of channels.
#[derive(Debug, Clone, Copy)]
pub(super) struct Interleaved {
    win: [Window; 2],
    input: (usize, usize),
    output: (usize, usize),
    /// The padded plane's height and width.
    padded: (usize, usize),
}

impl Interleaved {
    /// The layout for a convolution of `group` groups, or `None` unless it is depthwise
    /// (one channel and one filter per group) over at least half a block of channels,
    /// with no fused pool, output rows of at most [`LANES`] pixels and a padded plane of
    /// at most [`PLANE_MAX`].
    pub(super) fn new(sizes: Sizes, win: &[Window; 2], group: usize) -> Option<Interleaved> {
        let [wy, wx] = win;
        let padded = (
            sizes.input.0 + wy.pad_begin + wy.pad_end,
            sizes.input.1 + wx.pad_begin + wx.pad_end,
        );
        let depthwise = sizes.channels == 1 && sizes.filters == 1 && group >= LANES / 2;
        // Output rows of up to a vector's width: longer rows fill the per-channel kernels'
        // vectors (a 5×5 over 104 channels of 3×96 took 37 µs there, 82 here).
        let (oh, ow) = sizes.output;
        let small = padded.0 * padded.1 <= PLANE_MAX && oh > 0 && (1..=LANES).contains(&ow);
        (depthwise && small && sizes.pool == (1, 1)).then_some(Interleaved {
            win: *win,
            input: sizes.input,
            output: sizes.output,
            padded,
        })
    }

    fn taps(&self) -> usize {
        self.win[0].kernel * self.win[1].kernel
    }

    /// Workspace values one block needs: its padded input, its sums and its weights.
    pub(super) fn len(&self) -> usize {
        let (oh, ow) = self.output;
        (self.padded.0 * self.padded.1 + oh * ow + self.taps()) * LANES
    }

    /// `out = act(x ⊛ w + bias [+ out])` for `x` of `[C, H, W]`, `w` of `[C, taps]`, `bias`
    /// of `C` values or none and `out` of `[C, oh, ow]`; blocks of channels are spread
    /// over the threads, the first block of each part in `workspace`.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn run(
        &self,
        x: ArrayView3<'_, f32>,
        w: &[f32],
        bias: &[f32],
        act: Activation,
        accumulate: bool,
        out: &mut [f32],
        workspace: &mut [f32],
    ) -> Result<()> {
        let channels = x.dim().0;
        let (plane, taps) = (self.output.0 * self.output.1, self.taps());
        let x = x
            .as_slice()
            .ok_or_else(|| Error::Shape("Conv input must be contiguous".into()))?;
        let fits = x.len() == channels * self.input.0 * self.input.1
            && w.len() == channels * taps
            && out.len() == channels * plane
            && (bias.is_empty() || bias.len() == channels);
        if !fits || workspace.len() < self.len() {
            return Err(Error::Shape(format!(
                "depthwise Conv over {channels} channels got mismatched buffers"
            )));
        }
        let input = self.input.0 * self.input.1;
        let blocks = channels.div_ceil(LANES);
        let per = blocks.div_ceil(parallel::parts(channels * taps * plane, blocks));
        let mut own = Some(&mut *workspace);
        let parts = out.chunks_mut(per * LANES * plane).enumerate();
        let parts = parts.map(|(i, out)| (i, out, if i == 0 { own.take() } else { None }));
        parallel::each(parts, |(i, out, workspace)| {
            let mut blocks = |workspace: &mut [f32]| {
                for (j, out) in out.chunks_mut(LANES * plane).enumerate() {
                    let c0 = (i * per + j) * LANES;
                    let lanes = out.len() / plane;
                    let bias = bias.get(c0..c0 + lanes).unwrap_or(&[]);
                    let x = &x[c0 * input..(c0 + lanes) * input];
                    let w = &w[c0 * taps..(c0 + lanes) * taps];
                    self.block(x, w, bias, (act, accumulate), out, workspace);
                }
            };
            match workspace {
                Some(workspace) => blocks(workspace),
                None => parallel::with_scratch(self.len(), blocks),
            }
        });
        Ok(())
    }

    /// One block of up to [`LANES`] channels: `x` holds their input planes, `w` their
    /// weights, `bias` their biases (or nothing) and `out` their output planes.
    fn block(
        &self,
        x: &[f32],
        w: &[f32],
        bias: &[f32],
        (act, accumulate): (Activation, bool),
        out: &mut [f32],
        workspace: &mut [f32],
    ) {
        let taps = self.taps();
        let lanes = w.len() / taps;
        let (hp, wp) = self.padded;
        let (oh, ow) = self.output;
        let values: &mut [Lanes] = bytemuck::cast_slice_mut(&mut workspace[..self.len()]);
        let (padded, rest) = values.split_at_mut(hp * wp);
        let (sums, weights) = rest.split_at_mut(oh * ow);
        // Each channel's taps are a plane of one row. Lanes past the last channel sum
        // zeros and are never written back.
        interleave(w, lanes, (1, taps), weights, (0, 0, taps));
        let start: Lanes = std::array::from_fn(|l| bias.get(l).copied().unwrap_or(0.0));
        let [wy, wx] = &self.win;
        // Only the border is zeroed: every lane of the interior is written.
        let (top, bottom) = (wy.pad_begin, wy.pad_end);
        let (left, right) = (wx.pad_begin, wx.pad_end);
        padded[..top * wp].fill([0.0; LANES]);
        padded[(hp - bottom) * wp..].fill([0.0; LANES]);
        for row in padded[top * wp..(hp - bottom) * wp].chunks_exact_mut(wp) {
            row[..left].fill([0.0; LANES]);
            row[wp - right..].fill([0.0; LANES]);
        }
        interleave(
            x,
            lanes,
            self.input,
            padded,
            (wy.pad_begin, wx.pad_begin, wp),
        );
        sum_taps(padded, weights, start, sums, self);
        deinterleave(sums, out, lanes, accumulate);
        bias_then_activation(out, 0.0, act);
    }
}

/// Every output pixel's sum over the taps, starting from `start` (the biases), in the
/// widest vectors this CPU has.
#[allow(unsafe_code)]
fn sum_taps(
    padded: &[Lanes],
    weights: &[Lanes],
    start: Lanes,
    sums: &mut [Lanes],
    at: &Interleaved,
) {
    match Isa::best() {
        // SAFETY: `Isa::best` checked that the CPU has these features.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => unsafe { sum_taps_avx512(padded, weights, start, sums, at) },
        // SAFETY: as above.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => unsafe { sum_taps_avx2(padded, weights, start, sums, at) },
        _ => sum_taps_portable(padded, weights, start, sums, at),
    }
}

/// Calls `pixels::<P>(first, sums)` for every output pixel, [`PIXELS`] at a time in
/// row-major order whatever rows they lie in (each tap is one offset from every window's
/// top-left corner), then 4, 2 and 1.
macro_rules! in_runs {
    ($sums:expr, $pixels:ident ( $($arg:expr),* )) => {{
        let sums: &mut [Lanes] = $sums;
        let mut first = 0;
        while first < sums.len() {
            let dst = &mut sums[first..];
            first += match dst.len() {
                n if n >= PIXELS => $pixels::<PIXELS>($($arg,)* first, dst),
                n if n >= 4 => $pixels::<4>($($arg,)* first, dst),
                n if n >= 2 => $pixels::<2>($($arg,)* first, dst),
                _ => $pixels::<1>($($arg,)* first, dst),
            };
        }
    }};
}

/// The top-left corners in `padded` of the windows of output pixels `first..first + P`
/// (one division, not one per pixel: they cost as much as the sums over 7×7 planes).
#[inline(always)]
fn corners<const P: usize>(at: &Interleaved, first: usize) -> [usize; P] {
    let [wy, wx] = &at.win;
    let (wp, ow) = (at.padded.1, at.output.1);
    let (mut oy, mut ox) = (first / ow, first % ow);
    let mut corners = [0; P];
    for corner in &mut corners {
        *corner = oy * wy.stride * wp + ox * wx.stride;
        ox += 1;
        if ox == ow {
            (oy, ox) = (oy + 1, 0);
        }
    }
    corners
}

/// Each tap's weights with its offset in the padded input from a window's top-left
/// corner, row-major.
#[inline(always)]
fn with_offsets<'w>(
    weights: &'w [Lanes],
    at: &Interleaved,
) -> impl Iterator<Item = (&'w Lanes, usize)> {
    let [wy, wx] = at.win;
    let wp = at.padded.1;
    weights
        .chunks_exact(wx.kernel)
        .enumerate()
        .flat_map(move |(ky, row)| {
            let base = ky * wy.dilation * wp;
            row.iter()
                .enumerate()
                .map(move |(kx, tap)| (tap, base + kx * wx.dilation))
        })
}

/// `$name`: [`sum_taps`] with each block's [`LANES`] in `$n` vectors of `$vec` (the
/// sums of [`PIXELS`] pixels stay in registers for the whole window).
macro_rules! simd_sums {
    ($name:ident, $pixels:ident, $features:literal, $vec:ident, $n:literal, $fma:ident) => {
        #[doc = concat!("[`sum_taps`] in ", $features, " intrinsics.")]
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = $features)]
        fn $name(
            padded: &[Lanes],
            weights: &[Lanes],
            start: Lanes,
            sums: &mut [Lanes],
            at: &Interleaved,
        ) {
            in_runs!(sums, $pixels(padded, weights, start, at));
        }

        #[doc = concat!("`P` pixels' sums in ", $features, " intrinsics; returns `P`.")]
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = $features)]
        #[inline]
        fn $pixels<const P: usize>(
            padded: &[Lanes],
            weights: &[Lanes],
            start: Lanes,
            at: &Interleaved,
            first: usize,
            sums: &mut [Lanes],
        ) -> usize {
            use std::arch::x86_64::{$fma, $vec};
            let corners = corners::<P>(at, first);
            let mut acc: [[$vec; $n]; P] = [bytemuck::cast(start); P];
            for (tap, offset) in with_offsets(weights, at) {
                let t: [$vec; $n] = bytemuck::cast(*tap);
                for (acc, &corner) in acc.iter_mut().zip(&corners) {
                    let v: [$vec; $n] = bytemuck::cast(padded[corner + offset]);
                    for ((a, v), t) in acc.iter_mut().zip(v).zip(t) {
                        *a = $fma(v, t, *a);
                    }
                }
            }
            for (dst, acc) in sums.iter_mut().zip(acc) {
                *dst = bytemuck::cast(acc);
            }
            P
        }
    };
}
simd_sums!(
    sum_taps_avx512,
    pixels_avx512,
    "avx512f,fma",
    __m512,
    1,
    _mm512_fmadd_ps
);
simd_sums!(
    sum_taps_avx2,
    pixels_avx2,
    "avx2,fma",
    __m256,
    2,
    _mm256_fmadd_ps
);

/// [`sum_taps`] in plain arrays, for CPUs without AVX2.
fn sum_taps_portable(
    padded: &[Lanes],
    weights: &[Lanes],
    start: Lanes,
    sums: &mut [Lanes],
    at: &Interleaved,
) {
    fn pixels<const P: usize>(
        padded: &[Lanes],
        weights: &[Lanes],
        start: Lanes,
        at: &Interleaved,
        first: usize,
        sums: &mut [Lanes],
    ) -> usize {
        let corners = corners::<P>(at, first);
        let mut acc = [start; P];
        for (tap, offset) in with_offsets(weights, at) {
            for (acc, &corner) in acc.iter_mut().zip(&corners) {
                for ((a, v), t) in acc.iter_mut().zip(padded[corner + offset]).zip(tap) {
                    *a += v * t;
                }
            }
        }
        sums[..P].copy_from_slice(&acc);
        P
    }
    in_runs!(sums, pixels(padded, weights, start, at));
}

#[cfg(test)]
mod tests {
    use super::moves::*;
    use super::*;

    /// The AVX-512 and AVX2 sums and moves (those this CPU has) give what the portable ones
    /// give, over a strided, dilated window and partial runs.
    #[test]
    #[allow(unsafe_code)]
    fn every_instruction_set_sums_and_moves_alike() {
        let win = [
            Window {
                kernel: 3,
                stride: 2,
                dilation: 2,
                pad_begin: 1,
                pad_end: 2,
            },
            Window {
                kernel: 2,
                stride: 1,
                dilation: 1,
                pad_begin: 0,
                pad_end: 1,
            },
        ];
        let sizes = Sizes {
            channels: 1,
            filters: 1,
            input: (9, 6),
            output: (3, 6),
            pool: (1, 1),
        };
        let at = Interleaved::new(sizes, &win, 16).expect("small depthwise");
        let (hp, wp) = at.padded;
        let padded: Vec<Lanes> = (0..hp * wp)
            .map(|p| std::array::from_fn(|l| ((p * 7 + l * 3) % 13) as f32 - 6.0))
            .collect();
        let weights: Vec<Lanes> = (0..at.taps())
            .map(|t| std::array::from_fn(|l| ((t * 5 + l) % 7) as f32 * 0.25))
            .collect();
        let start: Lanes = std::array::from_fn(|l| l as f32);
        let mut expected = vec![[0.0; LANES]; 18];
        sum_taps_portable(&padded, &weights, start, &mut expected, &at);
        let x: Vec<f32> = (0..11 * 54).map(|i| (i % 17) as f32).collect();
        let mut moved = vec![[f32::NAN; LANES]; 12 * 7];
        interleave_portable(&x, 11, (9, 6), &mut moved[..], (2, 1, 7));
        let interior = |v: &[Lanes]| -> Vec<Lanes> {
            (0..9)
                .flat_map(|y| v[(2 + y) * 7 + 1..][..6].to_vec())
                .collect()
        };
        let mut back = vec![0.0; 11 * 54];
        deinterleave_portable(&interior(&moved), &mut back, 11, false);
        #[cfg(target_arch = "x86_64")]
        for isa in [Isa::Avx512, Isa::Avx2]
            .into_iter()
            .filter(|i| i.is_available())
        {
            let mut got = vec![[0.0; LANES]; 18];
            let mut got_moved = vec![[f32::NAN; LANES]; 12 * 7];
            let mut got_back = vec![0.0; 11 * 54];
            // SAFETY: the CPU has `isa`, checked just above.
            unsafe {
                match isa {
                    Isa::Avx512 => {
                        sum_taps_avx512(&padded, &weights, start, &mut got, &at);
                        interleave_avx512(&x, 11, (9, 6), &mut got_moved, (2, 1, 7));
                        deinterleave_avx512(&interior(&got_moved), &mut got_back, 11, false);
                    }
                    _ => {
                        sum_taps_avx2(&padded, &weights, start, &mut got, &at);
                        interleave_avx2(&x, 11, (9, 6), &mut got_moved, (2, 1, 7));
                        deinterleave_avx2(&interior(&got_moved), &mut got_back, 11, false);
                    }
                }
            }
            for (g, e) in got.iter().flatten().zip(expected.iter().flatten()) {
                assert!(
                    (g - e).abs() <= 1e-5 * e.abs().max(1.0),
                    "{isa:?}: {g} against {e}"
                );
            }
            let bits = |v: &[Lanes]| v.iter().flatten().map(|f| f.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&got_moved), bits(&moved), "{isa:?}: interleaved");
            assert_eq!(got_back, back, "{isa:?}: written back");
        }
        // The portable moves put channel 3's pixel (4, 5) at padded row 6, column 6, and
        // write every channel back where it came from.
        assert_eq!(moved[6 * 7 + 6][3], x[3 * 54 + 4 * 6 + 5]);
        assert_eq!(back, x);
    }
}
