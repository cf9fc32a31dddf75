//! Convolutions read as shifted rows of their zero-padded input ([`Shifted`]): no im2col
//! matrix is built; the product reads each tap's row where it lies in the padded planes.

use super::copy_out::{copy_out, pool_out, CopyOut, PoolOut};
use super::{copy_row, pointwise, Epilogue, Sizes};
use crate::ops::linalg::mat_mul_rows_into;
use crate::ops::unary::{Activation, EpiloguePass};
use crate::ops::window::{zip_strided, Window};
use crate::{parallel, Error, Result};
use multiversion::multiversion;
use ndarray::{ArrayView1, ArrayView3, Axis, Slice};

/// Columns of the product a [`Shifted`] convolution computes per chunk of output rows:
/// wide enough that each panel of B the kernel copies serves many tiles (512 left a
/// 16-filter convolution over 320² at 56 GFLOP/s; 1024 gives 73).
const SHIFTED_COLUMNS: usize = 1024;

/// The most workspace (padded input and one chunk of wide output) a [`Shifted`]
/// convolution takes (1 MiB); a larger convolution is packed block by block instead.
/// At 256 KiB a 512-filter 3×3 convolution over 7×7 was cut into chunks of 36 and 27
/// columns, tiles of 32 half empty (75 GFLOP/s; whole, 110).
const SHIFTED_MAX: usize = 1 << 18;

/// The most phase planes per channel a [`Shifted`] convolution splits its input into: a
/// long kernel of a large stride (silero-vad's STFT: 256 taps, stride 128) would split
/// it into one plane per tap of a few values each, where unfolding is one copy.
const SHIFTED_PHASES: usize = 4;

/// A convolution read as shifted rows of its zero-padded input, so that no im2col matrix
/// is built. The padded input is laid out per channel as phase planes of `wq` columns
/// (one plane when the strides are 1, else one per `(row, column)` phase that a tap
/// reads); then tap `(c, ky, kx)`'s row of the im2col matrix, over whole output rows of
/// `wq` columns, is one contiguous stretch of those planes, which the in-place product
/// reads as a row of B. Columns `ow..wq` of each output row are computed from the
/// padding and dropped. When the whole padded input does not fit [`SHIFTED_MAX`], each
/// chunk of output rows pads just the band of input rows it reads.
#[derive(Debug, Clone, Copy)]
pub(super) struct Shifted {
    sizes: Sizes,
    win: [Window; 2],
    /// Row and column phases held (at most the strides).
    phases: (usize, usize),
    /// Rows of each phase plane held at once: all of them, or one chunk's band.
    hb: usize,
    wq: usize,
    /// Output rows per chunk: at most [`SHIFTED_COLUMNS`] columns of the product.
    rows: usize,
    /// Whether each chunk pads its own band of input rows.
    banded: bool,
}

impl Shifted {
    /// The layout for one group, or `None` for a 1×1 window that reads its input as it
    /// lies, for more than [`SHIFTED_PHASES`] phase planes per channel, or when even a
    /// band of one output row exceeds [`SHIFTED_MAX`].
    pub(super) fn new(sizes: Sizes, win: &[Window; 2]) -> Option<Shifted> {
        let [wy, wx] = win;
        let oh = sizes.output.0;
        if pointwise(win) || oh == 0 {
            return None;
        }
        let (h, w) = sizes.input;
        let hq = (h + wy.pad_begin + wy.pad_end).div_ceil(wy.stride);
        let wq = (w + wx.pad_begin + wx.pad_end).div_ceil(wx.stride).max(1);
        // A tap reads the phases of its offsets: with unit dilation the first
        // `kernel` of them, so a 1×1 window of stride 2 pads one plane, not four.
        let held = |w: &Window| match w.dilation {
            1 => w.stride.min(w.kernel),
            _ => w.stride,
        };
        let phases = (held(wy), held(wx));
        if phases.0 * phases.1 > SHIFTED_PHASES {
            return None;
        }
        // Plane rows a chunk reads below its first: the window's reach.
        let reach = wy.dilation * (wy.kernel - 1) / wy.stride;
        let py = sizes.pool.0;
        let layout = |most_rows: usize, banded: bool| {
            // Chunks of equal rows; with a fused pool, of whole windows of rows.
            let rows = match py {
                1 => oh.div_ceil(oh.div_ceil(most_rows.max(1))),
                _ => (most_rows / py).max(1) * py,
            };
            Shifted {
                sizes,
                win: *win,
                phases,
                hb: if banded { rows + reach } else { hq },
                wq,
                rows,
                banded,
            }
        };
        let per_chunk = SHIFTED_COLUMNS / wq;
        let whole = layout(per_chunk, false);
        if whole.len() <= SHIFTED_MAX {
            return Some(whole);
        }
        // The most output rows whose band and wide output fit: each row of the band
        // holds `planes × wq` values and each output row `filters × wq`.
        let planes = sizes.channels * phases.0 * phases.1;
        let fixed = wq + planes * reach * wq;
        let fit = SHIFTED_MAX.saturating_sub(fixed) / (wq * (planes + sizes.filters));
        let band = layout(per_chunk.min(fit), true);
        (fit > 0 && band.len() <= SHIFTED_MAX).then_some(band)
    }

    /// Values of the padded input (or band), with one row of zeros after it: the last
    /// tap's row runs that far past the planes in the columns that are dropped.
    pub(super) fn padded_len(&self) -> usize {
        self.planes_len() + self.wq
    }

    /// Values of the padded input's (or band's) phase planes.
    pub(super) fn planes_len(&self) -> usize {
        self.sizes.channels * self.phases.0 * self.phases.1 * self.hb * self.wq
    }

    /// The workspace: the padded input, then one chunk of `filters × rows × wq` outputs.
    pub(super) fn len(&self) -> usize {
        self.padded_len() + self.sizes.filters * self.rows * self.wq
    }

    /// Where tap row `(c, ky, kx)` starts for the first output row the planes hold (unit
    /// strides take the stepping loop of [`Shifted::starts`] instead).
    #[inline(always)]
    fn start(&self, c: usize, ky: usize, kx: usize) -> usize {
        let [wy, wx] = &self.win;
        let (dy, dx) = (ky * wy.dilation, kx * wx.dilation);
        let (py, px) = self.phases;
        let phase = (c * py + dy % wy.stride) * px + dx % wx.stride;
        (phase * self.hb + dy / wy.stride) * self.wq + dx / wx.stride
    }

    /// Write where tap rows `first..first + starts.len()` start, for the output row that
    /// is `offset` values into the planes, into `starts` (what [`mat_mul_rows_into`] asks
    /// for).
    fn starts(&self, first: usize, offset: usize, starts: &mut [usize]) {
        let [wy, wx] = &self.win;
        let taps = wy.kernel * wx.kernel;
        let (mut c, t) = (first / taps, first % taps);
        let (mut ky, mut kx) = (t / wx.kernel, t % wx.kernel);
        if wy.stride == 1 && wx.stride == 1 {
            // One plane per channel: each tap is a fixed step from the one before.
            let (step_x, step_y, plane) = (wx.dilation, wy.dilation * self.wq, self.hb * self.wq);
            let mut row = c * plane + ky * step_y + offset;
            for start in starts {
                *start = row + kx * step_x;
                kx += 1;
                if kx == wx.kernel {
                    (kx, ky, row) = (0, ky + 1, row + step_y);
                    if ky == wy.kernel {
                        (ky, c) = (0, c + 1);
                        row = c * plane + offset;
                    }
                }
            }
            return;
        }
        for start in starts {
            *start = self.start(c, ky, kx) + offset;
            kx += 1;
            if kx == wx.kernel {
                (kx, ky) = (0, ky + 1);
                if ky == wy.kernel {
                    (ky, c) = (0, c + 1);
                }
            }
        }
    }

    /// Write plane rows `y0..y0 + hb` of `x` (`[channels, h, w]`) into `dst`,
    /// zero-padded and split into phase planes.
    ///
    /// With `zeros_kept`, `dst` holds the padding of an earlier call of the same layout
    /// (another group of a whole-plane layout), so only the input rows are rewritten.
    /// A large input is padded in blocks of channels, one per thread.
    fn pad(&self, x: ArrayView3<'_, f32>, y0: usize, dst: &mut [f32], zeros_kept: bool) {
        let zeros_kept = zeros_kept && !self.banded;
        let (planes, channels) = (self.planes_len(), self.sizes.channels);
        if !zeros_kept {
            dst[planes..self.padded_len()].fill(0.0);
        }
        let per_channel = planes / channels.max(1);
        let block = channels.div_ceil(parallel::parts_of_values(planes, channels));
        let blocks = dst[..planes].chunks_mut((block * per_channel).max(1));
        parallel::each(blocks.enumerate(), |(i, dst)| {
            let c0 = i * block;
            let sizes = Sizes {
                channels: dst.len() / per_channel.max(1),
                ..self.sizes
            };
            let x = x.slice_axis(Axis(0), Slice::from(c0..c0 + sizes.channels));
            pad_planes(&Shifted { sizes, ..*self }, x, y0, dst, zeros_kept);
        });
    }
}

/// [`Shifted::pad`], compiled for AVX2/AVX-512 as well: its row copies are most of a
/// small convolution's time besides the product.
#[multiversion(targets("x86_64+avx512f+avx512vl+fma", "x86_64+avx2+fma"))]
fn pad_planes<'x>(
    shifted: &Shifted,
    x: ArrayView3<'x, f32>,
    y0: usize,
    dst: &mut [f32],
    zeros_kept: bool,
) {
    shifted.pad_inline(x, y0, dst, zeros_kept);
}

impl Shifted {
    /// [`Shifted::pad_inline`] at unit strides from a contiguous input (most convolutions):
    /// one plane per channel, each of its rows one copy over the zeros.
    #[inline(always)]
    fn pad_unit_strides(&self, values: &[f32], y0: usize, dst: &mut [f32], zeros_kept: bool) {
        let [wy, wx] = &self.win;
        let ((h, w), wq, pb) = (self.sizes.input, self.wq, wx.pad_begin);
        let plane = self.hb * wq;
        // One wide fill, not a short one per row: those become calls to `memset`.
        if !zeros_kept {
            dst[..self.planes_len()].fill(0.0);
        }
        // Plane rows `lo..hi` hold input rows; the others are all padding.
        let lo = wy.pad_begin.saturating_sub(y0).min(self.hb);
        let hi = (h + wy.pad_begin).saturating_sub(y0).clamp(lo, self.hb);
        let channels = self.sizes.channels;
        for (c, planes) in dst[..channels * plane].chunks_exact_mut(plane).enumerate() {
            let src = &values[c * h * w..][..h * w];
            for (r, row) in planes[lo * wq..hi * wq].chunks_exact_mut(wq).enumerate() {
                let iy = y0 + lo + r - wy.pad_begin;
                copy_row(&mut row[pb..pb + w], &src[iy * w..][..w]);
            }
        }
    }

    /// The body of [`Shifted::pad`], inlined into each of [`pad_planes`]' versions.
    #[inline(always)]
    fn pad_inline(&self, x: ArrayView3<'_, f32>, y0: usize, dst: &mut [f32], zeros_kept: bool) {
        let [wy, wx] = &self.win;
        let (plane, (h, w)) = (self.hb * self.wq, self.sizes.input);
        let (phases_y, phases_x) = self.phases;
        // NOTE: one fill, then the rows over it. Writing each slot once instead (the zeros
        // around each row as it is copied) made the small ResNet 7% slower: many short
        // stores and branches cost more than one pass of wide ones.
        let contiguous = x.as_slice();
        if let (Some(values), 1, 1) = (contiguous, wy.stride, wx.stride) {
            return self.pad_unit_strides(values, y0, dst, zeros_kept);
        }
        if !zeros_kept {
            dst[..self.planes_len()].fill(0.0);
        }
        for (c, channel) in x.outer_iter().enumerate() {
            for r in 0..self.hb {
                for py in 0..phases_y {
                    // Row `r` of phase plane `py` is row `i` of the padded input.
                    let i = (y0 + r) * wy.stride + py;
                    let Some(iy) = i.checked_sub(wy.pad_begin).filter(|&iy| iy < h) else {
                        continue;
                    };
                    let at = (c * phases_y + py) * phases_x * plane + r * self.wq;
                    let row = match contiguous {
                        Some(values) => ArrayView1::from(&values[(c * h + iy) * w..][..w]),
                        None => channel.index_axis(Axis(0), iy),
                    };
                    split_row(&mut dst[at..], row, self);
                }
            }
        }
        /// Write one input row into its place in each column phase plane (`dst` starts
        /// at that row of the first plane).
        #[inline(always)]
        fn split_row(dst: &mut [f32], row: ArrayView1<'_, f32>, s: &Shifted) {
            let ([_, wx], plane) = (&s.win, s.hb * s.wq);
            let Some(row) = row.as_slice() else {
                let sx = wx.stride;
                for (ix, &v) in row.iter().enumerate() {
                    let (px, at) = ((ix + wx.pad_begin) % sx, (ix + wx.pad_begin) / sx);
                    if px < s.phases.1 {
                        dst[px * plane + at] = v;
                    }
                }
                return;
            };
            match (wx.stride, s.phases.1) {
                (1, _) => copy_row(&mut dst[wx.pad_begin..][..row.len()], row),
                (2, 2) => {
                    // Even and odd columns, in blocks that compile to vector shuffles.
                    let (first, second) = dst.split_at_mut(plane);
                    let (at, w) = (wx.pad_begin / 2, row.len());
                    let (p0, p1) = match wx.pad_begin % 2 {
                        0 => (
                            &mut first[at..][..w.div_ceil(2)],
                            &mut second[at..][..w / 2],
                        ),
                        _ => (
                            &mut second[at..][..w.div_ceil(2)],
                            &mut first[at + 1..][..w / 2],
                        ),
                    };
                    deinterleave(p0, p1, row);
                }
                (sx, phases) => split_by(dst, row, sx, wx.pad_begin, plane, phases),
            }
        }
        /// `even[j] = row[2j]`, `odd[j] = row[2j + 1]`.
        #[inline(always)]
        fn deinterleave(even: &mut [f32], odd: &mut [f32], row: &[f32]) {
            let done = split_pairs::<16, 32>(even, odd, row);
            let done =
                done + split_pairs::<4, 8>(&mut even[done..], &mut odd[done..], &row[2 * done..]);
            let (even, odd, row) = (&mut even[done..], &mut odd[done..], &row[2 * done..]);
            for ((e, o), pair) in even.iter_mut().zip(odd.iter_mut()).zip(row.chunks_exact(2)) {
                (*e, *o) = (pair[0], pair[1]);
            }
            if row.len() % 2 == 1 {
                if let (Some(e), Some(&v)) = (even.get_mut(row.len() / 2), row.last()) {
                    *e = v;
                }
            }
        }
        /// [`deinterleave`] in blocks of `L` pairs (`PAIRS = 2L` values); returns the pairs done.
        #[inline(always)]
        fn split_pairs<const L: usize, const PAIRS: usize>(
            even: &mut [f32],
            odd: &mut [f32],
            row: &[f32],
        ) -> usize {
            let blocks = row.chunks_exact(PAIRS).zip(even.chunks_exact_mut(L));
            let mut done = 0;
            for ((pairs, even), odd) in blocks.zip(odd.chunks_exact_mut(L)) {
                // Whole arrays first, then one store each: element by element into the
                // slices compiled to scalar moves.
                let Ok(pairs) = <&[f32; PAIRS]>::try_from(pairs) else {
                    continue; // unreachable: the chunks are exact
                };
                let e: [f32; L] = core::array::from_fn(|j| pairs[2 * j]);
                let o: [f32; L] = core::array::from_fn(|j| pairs[2 * j + 1]);
                even.copy_from_slice(&e);
                odd.copy_from_slice(&o);
                done += L;
            }
            done
        }
        /// Phase column `px` holds the input columns `ix` with `(ix + pad) % sx == px`.
        #[inline(always)]
        fn split_by(
            dst: &mut [f32],
            row: &[f32],
            sx: usize,
            pad: usize,
            plane: usize,
            phases: usize,
        ) {
            let w = row.len();
            for px in 0..phases {
                let ix0 = (px + sx - pad % sx) % sx;
                if ix0 >= w {
                    continue;
                }
                let dst = &mut dst[px * plane + (ix0 + pad) / sx..];
                zip_strided(
                    &mut dst[..(w - ix0).div_ceil(sx)],
                    &row[ix0..],
                    sx,
                    |d, v| *d = v,
                );
            }
        }
    }

    /// `out = act(w · unfold(x) + bias)` (plus `out` with `accumulate`) for one group:
    /// `w` is `[filters, taps]`, `out` the group's `[filters, oh, ow]` outputs. The
    /// epilogue is applied as each chunk is copied out, while it is still in cache.
    pub(super) fn product(
        &self,
        x: ArrayView3<'_, f32>,
        w: &[f32],
        epilogue: Epilogue<'_>,
        out: &mut [f32],
        workspace: &mut [f32],
        zeros_kept: bool,
    ) -> Result<()> {
        let (padded, wide) = workspace.split_at_mut(self.padded_len());
        for y0 in (0..self.sizes.output.0).step_by(self.rows) {
            // Padded whole once (at y0 = 0), or each chunk's own band.
            if self.banded || y0 == 0 {
                self.pad(x, y0, padded, zeros_kept);
            }
            self.chunk(y0, padded, w, epilogue, out, wide)?;
        }
        Ok(())
    }

    /// Output rows `y0..y0 + rows` of [`Shifted::product`] for the filters of `w` (whose
    /// planes `out` holds), through `wide`. A large chunk is computed in bands of its
    /// columns, one per thread, then copied out in blocks of filters, one per thread.
    fn chunk(
        &self,
        y0: usize,
        padded: &[f32],
        w: &[f32],
        ep: Epilogue<'_>,
        out: &mut [f32],
        wide: &mut [f32],
    ) -> Result<()> {
        let [wy, wx] = &self.win;
        let taps = self.sizes.channels * wy.kernel * wx.kernel;
        let filters = w.len() / taps.max(1);
        let ((oh, ow), wq) = (self.sizes.output, self.wq);
        let rows = self.rows.min(oh - y0);
        let n = rows * wq;
        let wide = &mut wide[..filters * n];
        // Bands of columns, each `[filters, band]`; with a fused pool, of whole windows
        // of rows.
        let py = self.sizes.pool.0;
        let band = match py {
            1 => n
                .div_ceil(parallel::parts(filters * taps * n, n / 16))
                .next_multiple_of(16),
            _ => match rows / py {
                0 => n, // less than one window: a single band, whose rows are dropped
                windows => {
                    let bands = parallel::parts(filters * taps * n, windows);
                    windows.div_ceil(bands) * py * wq
                }
            },
        };
        let band_len = (filters * band).max(1);
        // A band's planes begin at the chunk's first output row.
        let first = if self.banded { 0 } else { y0 * wq };
        parallel::try_each(wide.chunks_mut(band_len).enumerate(), |(i, wide)| {
            self.compute(first + i * band, padded, w, wide)
        })?;
        let wide = &*wide;
        let (ph, pw) = (oh / py, ow / self.sizes.pool.1);
        if ph * pw == 0 {
            return Ok(()); // no whole window: the pooled output is empty
        }
        let blocks = parallel::parts_of_values(filters * n, filters);
        let per_block = (filters.div_ceil(blocks) * ph * pw).max(1);
        parallel::each(out.chunks_mut(per_block).enumerate(), |(b, out)| {
            let f0 = b * per_block / (ph * pw);
            for (i, wide) in wide.chunks(band_len).enumerate() {
                let columns = wide.len() / filters.max(1);
                self.copy_out((y0, i * band, columns), ep, f0, out, wide);
            }
        });
        Ok(())
    }

    /// The product for the columns from `offset` on (counted from where the planes' first
    /// row starts) of the filters of `w`, into `wide` (`[filters, columns]`).
    fn compute(&self, offset: usize, padded: &[f32], w: &[f32], wide: &mut [f32]) -> Result<()> {
        let [wy, wx] = &self.win;
        let taps = self.sizes.channels * wy.kernel * wx.kernel;
        let filters = w.len() / taps.max(1);
        let n = wide.len() / filters.max(1);
        let starts = |first, starts: &mut [usize]| self.starts(first, offset, starts);
        if filters == 1 && self.sizes.channels == 1 && taps <= DEPTHWISE_TAPS {
            // Depthwise: one filter over one channel is a 1-D convolution of the wide
            // rows, summed directly (a product of one row would copy B into panels).
            let mut offsets = [0usize; DEPTHWISE_TAPS];
            starts(0, &mut offsets[..taps]);
            let reach = offsets[..taps].iter().max().map_or(0, |&o| o + n);
            if reach > padded.len() {
                return Err(Error::Shape(format!(
                    "depthwise rows reach {reach} of a padded plane of {}",
                    padded.len()
                )));
            }
            shifted_taps_sum(padded, &offsets[..taps], &w[..taps], wide);
            return Ok(());
        }
        mat_mul_rows_into(w, padded, starts, wide, (filters, taps, n), false)
    }

    /// Copies one band of a chunk out of `wide` (`[filters, columns]` of all the chunk's
    /// filters, from column `at` of the chunk that starts at output row `y0`), for the
    /// filters from `f0` on (whose planes `out` holds), with the epilogue; pooled if a
    /// pool is fused, when bands are whole windows of rows.
    fn copy_out(
        &self,
        (y0, at, n): (usize, usize, usize),
        ep: Epilogue<'_>,
        f0: usize,
        out: &mut [f32],
        wide: &[f32],
    ) {
        let ((oh, ow), wq) = (self.sizes.output, self.wq);
        let (py, px) = self.sizes.pool;
        let bias = |f: usize| ep.bias.get(f0 + f).copied().unwrap_or(0.0);
        let wide = wide.chunks_exact(n.max(1)).skip(f0);
        if (py, px) != (1, 1) {
            // Bands hold whole windows of rows (`Shifted::new`); a last odd row is dropped.
            let ((ph, pw), y0) = ((oh / py, ow / px), y0 + at / wq);
            let rows = n / wq;
            for (f, (plane, computed)) in out.chunks_exact_mut(ph * pw).zip(wide).enumerate() {
                let rows = PoolOut {
                    dst: &mut plane[y0 / py * pw..][..rows / py * pw],
                    wide: computed,
                    widths: (pw, wq),
                    window: (py, px),
                };
                pool_out(rows, bias(f), ep.act);
            }
            return;
        }
        for (f, (plane, computed)) in out.chunks_exact_mut(oh * ow).zip(wide).enumerate() {
            let rows = CopyOut {
                dst: &mut plane[y0 * ow..],
                wide: computed,
                at,
                widths: (ow, wq),
                accumulate: ep.accumulate,
            };
            if ep.bias.is_empty() && matches!(ep.act, Activation::Identity) {
                rows.run(|v| v);
            } else {
                // In the same pass as the copy: the rows are read and written once.
                copy_out(rows, bias(f), ep.act);
            }
        }
    }
}

/// The most taps (kernel height × width) a depthwise [`Shifted`] chunk sums directly.
const DEPTHWISE_TAPS: usize = 64;

/// `wide[q] = Σ_t taps[t] · padded[offsets[t] + q]`: a depthwise chunk's wide rows,
/// 64 outputs at a time in four independent vector sums (one sum of 16 would wait on
/// each multiply-add before the next), compiled for AVX-512 and AVX2 as well. Every
/// `offsets[t] + wide.len()` lies within `padded` (the caller checked).
#[multiversion(targets("x86_64+avx512f+avx512vl+fma", "x86_64+avx2+fma"))]
fn shifted_taps_sum(padded: &[f32], offsets: &[usize], taps: &[f32], wide: &mut [f32]) {
    // Fused where this version has FMA; the baseline's `mul_add` would call libm.
    const FMA: bool = multiversion::target::selected_target!().supports_feature_str("fma");
    #[inline(always)]
    fn block<const L: usize>(
        padded: &[f32],
        offsets: &[usize],
        taps: &[f32],
        q: usize,
    ) -> [f32; L] {
        let mut acc = [0.0f32; L];
        for (&offset, &tap) in offsets.iter().zip(taps) {
            let Some(src) = padded.get(offset + q..offset + q + L) else {
                continue; // unreachable: the caller checked the reach
            };
            for (a, &v) in acc.iter_mut().zip(src) {
                *a = if FMA {
                    tap.mul_add(v, *a)
                } else {
                    *a + tap * v
                };
            }
        }
        acc
    }
    let n = wide.len();
    let mut q = 0;
    while q + 64 <= n {
        wide[q..q + 64].copy_from_slice(&block::<64>(padded, offsets, taps, q));
        q += 64;
    }
    while q < n && n >= 16 {
        // The last block ends at the row's end and may overlap the one before: it
        // rewrites the same values.
        let at = q.min(n - 16);
        wide[at..at + 16].copy_from_slice(&block::<16>(padded, offsets, taps, at));
        q = at + 16;
    }
    for (q, value) in wide.iter_mut().enumerate().skip(q) {
        *value = block::<1>(padded, offsets, taps, q)[0];
    }
}
