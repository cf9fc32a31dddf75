//! ONNX `Conv` for 1-D and 2-D inputs: one matrix product per group with the unfolded
//! input (the im2col matrix) as its right-hand operand. A small one is built whole in the
//! workspace; a large one is unfolded block by block straight into the product's packed
//! panels, so it never exists whole. Depthwise convolutions with short output rows sum 16
//! channels at a time, interleaved (`conv/interleaved.rs`); others of unit stride sum the
//! taps over shifted rows of their padded plane, strided ones row by row.
//!
//! Spec: <https://onnx.ai/onnx/operators/onnx__Conv.html>. `auto_pad` is resolved
//! into explicit `pads` at compile time, so only explicit pads reach this code.

use super::elementwise::max_nan;
use super::linalg::{
    mat_mul_into, mat_mul_packed_into, mat_mul_rows_into, packed_workspace_len, PackB,
    PACK_COLUMNS, PACK_DEPTH,
};
use super::unary::{bias_then_activation, Activation, EpiloguePass};
use super::window::{to4, zip_strided, Window};
use crate::{parallel, Error, Result};
use interleaved::Interleaved;
use multiversion::multiversion;
use ndarray::{
    ArrayD, ArrayView1, ArrayView2, ArrayView3, ArrayView4, ArrayViewD, ArrayViewMut2,
    ArrayViewMut3, ArrayViewMut4, ArrayViewMutD, Axis, Ix4, IxDyn, Slice,
};

mod interleaved;

/// Convolution attributes, one entry per spatial axis.
#[derive(Debug, Clone, Copy, Default)]
pub struct ConvParams<'a> {
    /// Stride per spatial axis.
    pub strides: &'a [usize],
    /// `[begin_0, …, end_0, …]` zero padding.
    pub pads: &'a [usize],
    /// Dilation per spatial axis.
    pub dilations: &'a [usize],
    /// Number of channel groups (1 for a plain convolution).
    pub group: usize,
    /// Applied to every output value together with the bias.
    pub activation: Activation,
    /// Whether `out` already holds a tensor to add before the activation (a residual
    /// `Add` fused into the convolution): `out = act(conv(x) + bias + out)`.
    pub accumulate: bool,
    /// A `MaxPool` fused after the activation, as `fuse_conv_pool` makes it: its window,
    /// which is also its stride, per spatial axis, without padding (empty for none).
    /// `out` then holds the pooled output, `floor(conv output / window)` per axis. Where
    /// the convolution is read as shifted rows its own output never exists whole; other
    /// layouts write one sample's whole output into the workspace, then pool it
    /// ([`conv_shapes`] counts it). A fused pool cannot `accumulate`.
    pub pool: &'a [usize],
}

/// ONNX `Conv`: `x` is `[N, C, *spatial]`, `w` is `[M, C / group, *kernel]`,
/// `bias` is `[M]`; 1-D and 2-D spatial shapes are supported.
///
/// ```
/// use ndarray::array;
/// use onnx2rs_runtime::ops::{conv, ConvParams};
/// let x = array![[[1.0f32, 2.0, 3.0, 4.0]]].into_dyn(); // [1, 1, 4]
/// let w = array![[[1.0f32, -1.0]]].into_dyn(); // [1, 1, 2]
/// let p = ConvParams { strides: &[1], pads: &[0, 0], dilations: &[1], group: 1, ..Default::default() };
/// let y = conv(x.view(), w.view(), None, p).unwrap();
/// assert_eq!(y, array![[[-1.0, -1.0, -1.0]]].into_dyn());
/// ```
///
/// # Errors
/// [`Error::Shape`] if ranks, channels, groups or attributes disagree.
pub fn conv(
    x: ArrayViewD<'_, f32>,
    w: ArrayViewD<'_, f32>,
    bias: Option<ArrayViewD<'_, f32>>,
    p: ConvParams<'_>,
) -> Result<ArrayD<f32>> {
    let (shape, workspace) = conv_shapes(x.shape(), w.shape(), p)?;
    let mut out = ArrayD::zeros(IxDyn(&shape));
    let mut ws = vec![0.0; workspace];
    conv_into(x, w, bias, p, out.view_mut(), &mut ws)?;
    Ok(out)
}

/// The output shape of [`conv`] and the workspace length [`conv_into`] needs.
///
/// # Errors
/// [`Error::Shape`] if ranks or attributes disagree.
pub fn conv_shapes(x: &[usize], w: &[usize], p: ConvParams<'_>) -> Result<(Vec<usize>, usize)> {
    if !(3..=4).contains(&x.len()) || w.len() != x.len() {
        return Err(Error::Shape(format!(
            "Conv supports 1-D and 2-D inputs, got x {x:?} and w {w:?}"
        )));
    }
    let plane = Window::plane(&w[2..], p.strides, p.dilations, p.pads)?;
    let mut shape = vec![x[0], w[0]];
    for (win, &len) in plane[4 - x.len()..].iter().zip(&x[2..]) {
        shape.push(win.output_len(len, false)?);
    }
    // A 1-D convolution is a 2-D one over an axis of height 1.
    let (input, output) = match x.len() {
        4 => ((x[2], x[3]), (shape[2], shape[3])),
        _ => ((1, x[2]), (1, shape[2])),
    };
    let sizes = Sizes {
        channels: w[1],
        filters: w[0] / p.group.max(1),
        input,
        output,
        pool: pool_window(p, x.len() - 2)?,
    };
    let (py, px) = sizes.pool;
    match &mut shape[..] {
        [_, _, oh, ow] => (*oh, *ow) = (*oh / py, *ow / px),
        [_, _, ow] => *ow /= px,
        _ => {}
    }
    check_pool(sizes, p.accumulate)?;
    Ok((shape, conv_workspace_len(sizes, &plane, p.group)))
}

/// The fused max pool's window as (rows, columns): (1, 1) for none, (1, k) in 1-D.
fn pool_window(p: ConvParams<'_>, spatial: usize) -> Result<(usize, usize)> {
    match p.pool {
        [] => Ok((1, 1)),
        &[k] if spatial == 1 && k > 0 => Ok((1, k)),
        &[ky, kx] if spatial == 2 && ky > 0 && kx > 0 => Ok((ky, kx)),
        other => Err(Error::Shape(format!(
            "a fused max pool needs one positive window size per spatial axis ({spatial}), got {other:?}"
        ))),
    }
}

/// Refuse a fused max pool that would also accumulate: `out` holds the pooled output, so
/// there is no unpooled residual to add.
fn check_pool(sizes: Sizes, accumulate: bool) -> Result<()> {
    if sizes.pool != (1, 1) && accumulate {
        return Err(Error::Shape(
            "a fused max pool cannot accumulate onto its output".into(),
        ));
    }
    Ok(())
}

/// [`conv`] into `out`, using `workspace` (at least [`conv_shapes`]' length) for the
/// matrix product's packed panels.
///
/// # Errors
/// [`Error::Shape`] if shapes, attributes, `out` or the workspace do not fit.
pub fn conv_into(
    x: ArrayViewD<'_, f32>,
    w: ArrayViewD<'_, f32>,
    bias: Option<ArrayViewD<'_, f32>>,
    p: ConvParams<'_>,
    out: ArrayViewMutD<'_, f32>,
    workspace: &mut [f32],
) -> Result<()> {
    let spatial = x.ndim().saturating_sub(2);
    if !(1..=2).contains(&spatial) || w.ndim() != x.ndim() || out.ndim() != x.ndim() {
        return Err(Error::Shape(format!(
            "Conv supports 1-D and 2-D inputs, got x {:?} and w {:?}",
            x.shape(),
            w.shape()
        )));
    }
    let plane = Window::plane(&w.shape()[2..], p.strides, p.dilations, p.pads)?;
    let pool = pool_window(p, spatial)?;
    if spatial == 1 {
        // A 1-D convolution is a 2-D one over an axis of height 1.
        return conv2d(
            to4(x.insert_axis(Axis(2)))?,
            to4(w.insert_axis(Axis(2)))?,
            bias,
            plane,
            (p, pool),
            out.insert_axis(Axis(2)).into_dimensionality::<Ix4>()?,
            workspace,
        );
    }
    conv2d(
        to4(x)?,
        to4(w)?,
        bias,
        plane,
        (p, pool),
        out.into_dimensionality::<Ix4>()?,
        workspace,
    )
}

/// An unfolded input of at most this many values is built whole and multiplied in
/// place; packing block by block only pays for itself on larger ones.
const PACKED_BLOCK: usize = PACK_DEPTH * PACK_COLUMNS;

/// One group of a convolution: input channels and filters per group, input and output
/// height and width (height 1 for 1-D).
#[derive(Debug, Clone, Copy)]
struct Sizes {
    channels: usize,
    filters: usize,
    input: (usize, usize),
    output: (usize, usize),
    /// The fused max pool's window (rows, columns); (1, 1) for none.
    pool: (usize, usize),
}

/// The workspace a convolution of `group` groups needs: its layout's ([`layout_workspace_len`]),
/// and, for a fused max pool that the layout cannot apply as it copies out (anything not
/// read as [`Shifted`] rows), one sample's whole unpooled output after it.
fn conv_workspace_len(sizes: Sizes, win: &[Window; 2], group: usize) -> usize {
    if let Some(blocks) = Interleaved::new(sizes, win, group) {
        return blocks.len();
    }
    if sizes.pool == (1, 1) || Shifted::new(sizes, win).is_some() {
        return layout_workspace_len(sizes, win);
    }
    let unpooled = Sizes {
        pool: (1, 1),
        ..sizes
    };
    let (oh, ow) = sizes.output;
    layout_workspace_len(unpooled, win) + group * sizes.filters * oh * ow
}

/// The workspace of one group's layout: none for a 1×1 window that reads its input as it
/// lies; the padded input and a chunk of wide output when it is read as [`Shifted`] rows;
/// else the whole unfolded matrix when it is small, one packed block otherwise.
fn layout_workspace_len(sizes: Sizes, win: &[Window; 2]) -> usize {
    let [wy, wx] = win;
    let taps = sizes.channels * wy.kernel * wx.kernel;
    let pixels = sizes.output.0 * sizes.output.1;
    match Shifted::new(sizes, win) {
        _ if pointwise(win) => 0,
        Some(shifted) => shifted.len(),
        None if taps * pixels <= PACKED_BLOCK => taps * pixels,
        None => packed_workspace_len(taps, pixels),
    }
}

/// Whether a window is 1×1 with unit strides and no padding: the convolution then reads
/// its input as it lies, as B of the product.
fn pointwise(win: &[Window; 2]) -> bool {
    win.iter()
        .all(|w| w.kernel == 1 && w.stride == 1 && w.pad_begin == 0 && w.pad_end == 0)
}

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
struct Shifted {
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
    fn new(sizes: Sizes, win: &[Window; 2]) -> Option<Shifted> {
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
    fn padded_len(&self) -> usize {
        self.planes_len() + self.wq
    }

    /// Values of the padded input's (or band's) phase planes.
    fn planes_len(&self) -> usize {
        self.sizes.channels * self.phases.0 * self.phases.1 * self.hb * self.wq
    }

    /// The workspace: the padded input, then one chunk of `filters × rows × wq` outputs.
    fn len(&self) -> usize {
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
    fn product(
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

/// The output values of one filter in a band of a [`Shifted`] chunk: of each `wq`-wide
/// row of the product, `ow` values go to `dst` (the plane from the chunk's first row on),
/// added to what it holds with `accumulate`. `wide` holds the chunk's columns from `at`
/// on, so a band may begin and end within a row.
struct CopyOut<'a> {
    dst: &'a mut [f32],
    wide: &'a [f32],
    at: usize,
    widths: (usize, usize),
    accumulate: bool,
}

impl EpiloguePass<f32> for CopyOut<'_> {
    #[inline(always)]
    fn run(self, f: impl Fn(f32) -> f32) {
        let (ow, wq) = self.widths;
        let (start, end) = (self.at, self.at + self.wide.len());
        let mut q = start;
        while q < end {
            let (row, x) = (q / wq, q % wq);
            let stop = (row * wq + ow).min(end);
            if x < ow {
                let src = &self.wide[q - start..stop - start];
                let dst = &mut self.dst[row * ow + x..][..src.len()];
                match self.accumulate {
                    true => dst.iter_mut().zip(src).for_each(|(d, &v)| *d = f(*d + v)),
                    false => dst.iter_mut().zip(src).for_each(|(d, &v)| *d = f(v)),
                }
            }
            q = (row + 1) * wq;
        }
    }
}

/// `act(v + bias)` of a chunk's rows as they are copied out (`act((out + v) + bias)`
/// with `accumulate`), compiled for AVX-512 and AVX2 as well.
#[multiversion(targets("x86_64+avx512f+avx512vl+fma", "x86_64+avx2+fma"))]
fn copy_out<'a>(rows: CopyOut<'a>, bias: f32, act: Activation) {
    act.with_epilogue(bias, rows);
}

/// The pooled output rows of one filter in a [`Shifted`] chunk: each value of `dst` is the
/// largest of its `window` of the product's `wq`-wide rows, after the epilogue.
struct PoolOut<'a> {
    dst: &'a mut [f32],
    wide: &'a [f32],
    /// Pooled values per output row, and the product's row width.
    widths: (usize, usize),
    /// The pool's window (rows, columns), which is also its stride.
    window: (usize, usize),
}

impl EpiloguePass<f32> for PoolOut<'_> {
    #[inline(always)]
    fn run(self, f: impl Fn(f32) -> f32) {
        let ((pw, wq), (py, px)) = (self.widths, self.window);
        for (r, dst) in self.dst.chunks_exact_mut(pw).enumerate() {
            let rows = &self.wide[r * py * wq..];
            if (py, px) == (2, 2) {
                // The common 2×2: blocks of 16 outputs, each pair of rows reduced down, then
                // across after splitting even and odd columns (fixed sizes, so that both
                // compile to vector instructions); the rest of the row as below.
                let (top, bottom) = (&rows[..2 * pw], &rows[wq..][..2 * pw]);
                let pairs = top.chunks_exact(32).zip(bottom.chunks_exact(32));
                for (dst, (top, bottom)) in dst.chunks_exact_mut(16).zip(pairs) {
                    let down: [f32; 32] =
                        core::array::from_fn(|i| max_nan(f(top[i]), f(bottom[i])));
                    let even: [f32; 16] = core::array::from_fn(|j| down[2 * j]);
                    let odd: [f32; 16] = core::array::from_fn(|j| down[2 * j + 1]);
                    for (d, (&e, &o)) in dst.iter_mut().zip(even.iter().zip(&odd)) {
                        *d = max_nan(e, o);
                    }
                }
                let done = pw / 16 * 16;
                for (j, d) in dst.iter_mut().enumerate().skip(done) {
                    let (t, b) = (&top[2 * j..][..2], &bottom[2 * j..][..2]);
                    *d = max_nan(max_nan(f(t[0]), f(t[1])), max_nan(f(b[0]), f(b[1])));
                }
                continue;
            }
            for (j, d) in dst.iter_mut().enumerate() {
                let mut m = f32::NEG_INFINITY;
                for dy in 0..py {
                    for &v in &rows[dy * wq + j * px..][..px] {
                        m = max_nan(m, f(v));
                    }
                }
                *d = m;
            }
        }
    }
}

/// `max(act(v + bias))` over each pooling window of a chunk's rows as they are copied
/// out, compiled for AVX-512 and AVX2 as well.
#[multiversion(targets("x86_64+avx512f+avx512vl+fma", "x86_64+avx2+fma"))]
fn pool_out<'a>(rows: PoolOut<'a>, bias: f32, act: Activation) {
    act.with_epilogue(bias, rows);
}

/// What a [`Shifted`] chunk does to its values as it copies them out.
#[derive(Clone, Copy)]
struct Epilogue<'b> {
    /// One value per filter of the group, or empty.
    bias: &'b [f32],
    act: Activation,
    /// Add to what `out` holds instead of overwriting it.
    accumulate: bool,
}

/// `c = a·b + beta·c` for row-major slices, B read in place.
fn product(
    a: &[f32],
    b: &[f32],
    beta: f32,
    c: &mut [f32],
    (m, k, n): (usize, usize, usize),
) -> Result<()> {
    let a = ArrayView2::from_shape((m, k), a)?;
    let b = ArrayView2::from_shape((k, n), b)?;
    mat_mul_into(1.0, a, b, beta, &mut ArrayViewMut2::from_shape((m, n), c)?)
}

fn conv2d(
    x: ArrayView4<'_, f32>,
    w: ArrayView4<'_, f32>,
    bias: Option<ArrayViewD<'_, f32>>,
    win: [Window; 2],
    (p, pool): (ConvParams<'_>, (usize, usize)),
    mut out: ArrayViewMut4<'_, f32>,
    workspace: &mut [f32],
) -> Result<()> {
    let (group, act, accumulate) = (p.group, p.activation, p.accumulate);
    // What is already in `out` counts once, in the product or as a chunk is copied out.
    let beta = if accumulate { 1.0 } else { 0.0 };
    let (n, c, h, wd) = x.dim();
    let (m, cg, kh, kw) = w.dim();
    if group == 0 || c != cg * group || m % group != 0 {
        return Err(Error::Shape(format!(
            "Conv channels disagree: input {c}, weight {cg} per group, {m} filters, {group} groups"
        )));
    }
    if let Some(b) = &bias {
        if b.shape() != [m] {
            return Err(Error::Shape(format!(
                "Conv bias must be [{m}], got {:?}",
                b.shape()
            )));
        }
    }
    let (oh, ow) = (win[0].output_len(h, false)?, win[1].output_len(wd, false)?);
    let pooled = (oh / pool.0, ow / pool.1);
    if out.dim() != (n, m, pooled.0, pooled.1) {
        return Err(Error::Shape(format!(
            "Conv output must be {:?}, got {:?}",
            (n, m, pooled.0, pooled.1),
            out.dim()
        )));
    }
    let taps = cg * kh * kw;
    let pixels = oh * ow;
    let sizes = Sizes {
        channels: cg,
        filters: m / group,
        input: (h, wd),
        output: (oh, ow),
        pool,
    };
    check_pool(sizes, accumulate)?;
    let needed = conv_workspace_len(sizes, &win, group);
    let shifted = Shifted::new(sizes, &win);
    let whole = taps * pixels <= PACKED_BLOCK;
    if workspace.len() < needed {
        return Err(Error::Shape(format!(
            "Conv workspace needs {needed} elements, got {}",
            workspace.len()
        )));
    }
    let mg = m / group;
    let weights = w
        .into_shape_with_order((m, taps))
        .map_err(|_| Error::Shape("Conv weights must be contiguous".into()))?;
    let pointwise = pointwise(&win);
    // Strided depthwise convolutions sum their rows directly: splitting each input
    // row into phase planes for a shifted product cost more than the sums (mobilenet's
    // 3×3 of stride 2 over 112², 63 µs against 94); unit strides take the shifted rows.
    let direct_depthwise = (shifted.is_none() || win.iter().any(|w| w.stride != 1))
        && cg == 1
        && mg == 1
        && !accumulate
        && pool == (1, 1)
        && x.is_standard_layout()
        && out.is_standard_layout();
    // Shifted products apply the bias and activation as they copy their output out.
    let bias_values = bias.as_ref().map(|b| b.as_slice());
    let fused = shifted.is_some() && !direct_depthwise && !matches!(bias_values, Some(None));
    let interleaved = Interleaved::new(sizes, &win, group).filter(|_| x.is_standard_layout());
    if let (Some(blocks), Some(w), Some(bias)) = (
        interleaved,
        weights.as_slice(),
        bias_values.unwrap_or(Some(&[])),
    ) {
        for (x, mut out) in x.outer_iter().zip(out.outer_iter_mut()) {
            let out = out
                .as_slice_mut()
                .ok_or_else(|| Error::Shape("Conv output must be contiguous".into()))?;
            blocks.run(x, w, bias, act, accumulate, out, workspace)?;
        }
        return Ok(());
    }
    if pool != (1, 1) && !fused {
        // Only shifted rows pool as they are copied out: the rest pool afterwards.
        let unpooled = Sizes {
            pool: (1, 1),
            ..sizes
        };
        let ws = workspace.split_at_mut(layout_workspace_len(unpooled, &win));
        return conv_then_pool(x, w, bias, win, p, pool, out, ws);
    }
    let epilogue = |g: usize| {
        let (bias, act) = match bias_values.flatten() {
            _ if !fused => (&[][..], Activation::Identity),
            Some(b) => (&b[g * mg..][..mg], act),
            None => (&[][..], act),
        };
        Epilogue {
            bias,
            act,
            accumulate,
        }
    };
    for b in 0..n {
        if direct_depthwise {
            // Blocks of channels, one per thread.
            let per = m.div_ceil(parallel::parts(m * taps * pixels, m));
            let x = x.index_axis(Axis(0), b);
            let mut out = out.index_axis_mut(Axis(0), b);
            let blocks = x
                .axis_chunks_iter(Axis(0), per)
                .zip(weights.axis_chunks_iter(Axis(0), per));
            parallel::each(
                blocks.zip(out.axis_chunks_iter_mut(Axis(0), per)),
                |((x, w), out)| depthwise(x, w, &win, out),
            );
            continue;
        }
        if let (Some(shifted), true) = (&shifted, group > 1) {
            // Blocks of groups, one per thread, each with a workspace of its own.
            let per = group.div_ceil(parallel::parts(m * taps * pixels, group));
            let src = x.index_axis(Axis(0), b);
            let mut dst = out.index_axis_mut(Axis(0), b);
            let (dst, w) = match (dst.as_slice_mut(), weights.as_slice()) {
                (Some(dst), Some(w)) => (dst, w),
                _ => {
                    return Err(Error::Shape(
                        "Conv output and weights must be contiguous".into(),
                    ))
                }
            };
            let group_len = mg * pooled.0 * pooled.1;
            let mut own = Some(&mut *workspace);
            let blocks = dst.chunks_mut((per * group_len).max(1)).enumerate();
            let blocks = blocks.map(|(i, dst)| (i, dst, if i == 0 { own.take() } else { None }));
            parallel::try_each(blocks, |(i, dst, workspace)| {
                // The caller's workspace keeps the zeros of the batch's sample before.
                let mut groups = |workspace: &mut [f32], kept: bool| {
                    for (j, dst) in dst.chunks_mut(group_len.max(1)).enumerate() {
                        let g = i * per + j;
                        let src = src.slice_axis(Axis(0), Slice::from(g * cg..(g + 1) * cg));
                        let wg = &w[g * mg * taps..][..mg * taps];
                        // Every group pads to the same layout: the first one's zeros stay.
                        shifted.product(src, wg, epilogue(g), dst, workspace, kept || j > 0)?;
                    }
                    Ok(())
                };
                match workspace {
                    Some(workspace) => groups(workspace, b > 0),
                    None => parallel::with_scratch(needed, |w| groups(w, false)),
                }
            })?;
            continue;
        }
        for g in 0..group {
            let src = x.index_axis(Axis(0), b);
            let src = src.slice_axis(Axis(0), Slice::from(g * cg..(g + 1) * cg));
            let mut dst = out.index_axis_mut(Axis(0), b);
            let mut dst = dst.slice_axis_mut(Axis(0), Slice::from(g * mg..(g + 1) * mg));
            let dst = dst
                .as_slice_mut()
                .ok_or_else(|| Error::Shape("Conv output must be contiguous".into()))?;
            let wg = weights.slice_axis(Axis(0), Slice::from(g * mg..(g + 1) * mg));
            let wg = wg
                .as_slice()
                .ok_or_else(|| Error::Shape("Conv weights must be contiguous".into()))?;
            let dims = (mg, taps, pixels);
            if let Some(shifted) = &shifted {
                // Every sample pads to the same layout: the first one's zeros stay.
                shifted.product(src, wg, epilogue(g), dst, workspace, b > 0)?;
                continue;
            }
            if pointwise {
                // The input is B as it lies; a strided one takes a product per row.
                match src.as_slice() {
                    Some(values) => product(wg, values, beta, dst, dims)?,
                    None => {
                        let wg = ArrayView2::from_shape((mg, taps), wg)?;
                        let mut dst = ArrayViewMut3::from_shape((mg, oh, ow), dst)?;
                        for (y, row) in src.axis_iter(Axis(1)).enumerate() {
                            let mut out = dst.index_axis_mut(Axis(1), y);
                            mat_mul_into(1.0, wg, row, beta, &mut out)?;
                        }
                    }
                }
                continue;
            }
            let unfolded = Unfold::new(src, &win, (oh, ow));
            match (src.as_slice(), whole) {
                // Small products: unfolded whole, no packing pass.
                (_, true) => {
                    let col = &mut workspace[..taps * pixels];
                    for (row, line) in col.chunks_exact_mut(pixels).enumerate() {
                        unfolded.segment(row, 0, line);
                    }
                    product(wg, col, beta, dst, dims)?;
                }
                (_, false) => mat_mul_packed_into(wg, &unfolded, dst, dims, workspace, accumulate)?,
            }
        }
    }
    // One pass over each output plane applies the bias and the fused activation.
    if fused {
        return Ok(());
    }
    let bias_of = |c: usize| bias.as_ref().map_or(0.0, |b| b[c]);
    if let (Some(values), true) = (out.as_slice_mut(), pixels > 0) {
        // Blocks of whole planes, one per thread.
        parallel::spans(values, pixels, |at, planes| {
            for (i, plane) in planes.chunks_mut(pixels).enumerate() {
                bias_then_activation(plane, bias_of((at / pixels + i) % m), act);
            }
        });
        return Ok(());
    }
    for (c, mut plane) in out.axis_iter_mut(Axis(1)).enumerate() {
        let bv = bias_of(c);
        match plane.as_slice_mut() {
            Some(values) => bias_then_activation(values, bv, act),
            None => plane.mapv_inplace(|v| act.apply_to(v + bv)),
        }
    }
    Ok(())
}

/// [`conv2d`] with a max pool of window (and stride) `pool` after it, for layouts that do
/// not pool as they copy out: each sample's whole output goes to `whole` (the rest of the
/// workspace, after the layout's own `workspace`), and its windows' maxima to `out`.
#[allow(clippy::too_many_arguments)]
fn conv_then_pool(
    x: ArrayView4<'_, f32>,
    w: ArrayView4<'_, f32>,
    bias: Option<ArrayViewD<'_, f32>>,
    win: [Window; 2],
    p: ConvParams<'_>,
    (py, px): (usize, usize),
    mut out: ArrayViewMut4<'_, f32>,
    (workspace, whole): (&mut [f32], &mut [f32]),
) -> Result<()> {
    let (full_oh, full_ow) = (
        win[0].output_len(x.dim().2, false)?,
        win[1].output_len(x.dim().3, false)?,
    );
    let m = w.dim().0;
    let len = m * full_oh * full_ow;
    if whole.len() < len {
        return Err(Error::Shape(format!(
            "Conv workspace lacks room for the {len} values it pools"
        )));
    }
    let whole = &mut whole[..len];
    for (x, mut out) in x.axis_chunks_iter(Axis(0), 1).zip(out.outer_iter_mut()) {
        let unpooled = ArrayViewMut4::from_shape((1, m, full_oh, full_ow), &mut *whole)?;
        conv2d(x, w, bias.clone(), win, (p, (1, 1)), unpooled, workspace)?;
        // A last partial window is dropped, as the fused pool's floor says.
        let planes = whole.chunks_exact(full_oh * full_ow);
        for (plane, mut pooled) in planes.zip(out.outer_iter_mut()) {
            for ((y, x), v) in pooled.indexed_iter_mut() {
                let rows = plane[y * py * full_ow..].chunks(full_ow).take(py);
                *v = rows
                    .flat_map(|row| &row[x * px..x * px + px])
                    .fold(f32::NEG_INFINITY, |acc, &v| max_nan(acc, v));
            }
        }
    }
    Ok(())
}

/// A depthwise convolution (one input and one output channel per group) of `x`
/// (`[C, H, W]`) with `w` (`[C, kh·kw]`), computed directly, one output row at a time.
/// Compiled for AVX-512 and AVX2 as well; the CPU picks at run time.
#[multiversion(targets("x86_64+avx512f+avx512vl+fma", "x86_64+avx2+fma"))]
fn depthwise<'x, 'w, 'o>(
    x: ndarray::ArrayView3<'x, f32>,
    w: ndarray::ArrayView2<'w, f32>,
    win: &[Window; 2],
    mut out: ndarray::ArrayViewMut3<'o, f32>,
) {
    let (_, h, wd) = x.dim();
    let ow = out.dim().2;
    let [wy, wx] = win;
    if depthwise_padded(x.view(), w.view(), win, out.view_mut()) {
        return;
    }
    let inner = wx.interior(wd, ow);
    let edges = (0..inner.start).chain(inner.end..ow);
    for ((plane, taps), mut dst) in x.outer_iter().zip(w.outer_iter()).zip(out.outer_iter_mut()) {
        let (Some(src), Some(dst), Some(taps)) =
            (plane.to_slice(), dst.as_slice_mut(), taps.to_slice())
        else {
            continue; // unreachable: the caller checked that all are contiguous
        };
        for (oy, dst_row) in dst.chunks_exact_mut(ow).enumerate() {
            // The kernel rows that read the input, as (input row offset, taps).
            let rows = wy.taps(oy, h).map(|ky| {
                let iy = oy * wy.stride + ky * wy.dilation - wy.pad_begin;
                (iy * wd, &taps[ky * wx.kernel..][..wx.kernel])
            });
            for o in edges.clone() {
                let mut acc = 0.0;
                for (row, row_taps) in rows.clone() {
                    for (k, &tap) in row_taps.iter().enumerate() {
                        if let Some(i) = wx.source(o, k, wd) {
                            acc += tap * src[row + i];
                        }
                    }
                }
                dst_row[o] = acc;
            }
            if inner.is_empty() {
                continue;
            }
            let first = inner.start * wx.stride - wx.pad_begin;
            let rows = rows.map(|(row, row_taps)| (row + first, row_taps));
            let dst = &mut dst_row[inner.clone()];
            match (wx.kernel, wx.stride, wx.dilation) {
                (3, 1, 1) => interior::<3, 1>(dst, src, rows),
                (3, 2, 1) => interior::<3, 2>(dst, src, rows),
                (5, 1, 1) => interior::<5, 1>(dst, src, rows),
                (5, 2, 1) => interior::<5, 2>(dst, src, rows),
                (7, 1, 1) => interior::<7, 1>(dst, src, rows),
                (_, stride, dilation) => {
                    dst.fill(0.0);
                    for (row, row_taps) in rows {
                        for (k, &tap) in row_taps.iter().enumerate() {
                            let src = &src[row + k * dilation..];
                            zip_strided(dst, src, stride, |d, v| *d += tap * v);
                        }
                    }
                }
            }
        }
    }
}

/// Values of the stack buffer [`depthwise_padded`] copies input rows into.
const PADDED_ROWS: usize = 2048;

/// [`depthwise`] for the kernels `interior` specialises, when the input rows a window
/// reads fit [`PADDED_ROWS`] with their padding: each output row's input rows are copied
/// between zeros, so the whole row (edges included) is summed in registers. Returns
/// whether it ran.
#[inline(always)]
fn depthwise_padded(
    x: ndarray::ArrayView3<'_, f32>,
    w: ndarray::ArrayView2<'_, f32>,
    win: &[Window; 2],
    mut out: ndarray::ArrayViewMut3<'_, f32>,
) -> bool {
    let (_, h, wd) = x.dim();
    let ow = out.dim().2;
    let [wy, wx] = win;
    let specialised = matches!(
        (wx.kernel, wx.stride, wx.dilation),
        (3, 1, 1) | (3, 2, 1) | (5, 1, 1) | (5, 2, 1) | (7, 1, 1) | (7, 2, 1)
    );
    // Every window of the row, padding included: what `interior` reads from each row.
    let span = ow.saturating_sub(1) * wx.stride + wx.kernel;
    // Short rows too (a 7×7 plane): the general path's edge loop checks every tap.
    if !specialised || span * wy.kernel > PADDED_ROWS {
        return false;
    }
    let mut buf = [0.0f32; PADDED_ROWS];
    // Input column i sits at `pad_begin + i` of its row's slot; the rest stays zero.
    let copied = wd.min(span.saturating_sub(wx.pad_begin));
    for ((plane, taps), mut dst) in x.outer_iter().zip(w.outer_iter()).zip(out.outer_iter_mut()) {
        let (Some(src), Some(dst), Some(taps)) =
            (plane.to_slice(), dst.as_slice_mut(), taps.to_slice())
        else {
            return false; // unreachable: the caller checked that all are contiguous
        };
        for (oy, dst_row) in dst.chunks_exact_mut(ow).enumerate() {
            let kys = wy.taps(oy, h);
            for (slot, ky) in kys.clone().enumerate() {
                let iy = oy * wy.stride + ky * wy.dilation - wy.pad_begin;
                copy_row(
                    &mut buf[slot * span + wx.pad_begin..][..copied],
                    &src[iy * wd..][..copied],
                );
            }
            let rows = kys
                .enumerate()
                .map(|(slot, ky)| (slot * span, &taps[ky * wx.kernel..][..wx.kernel]));
            match (wx.kernel, wx.stride) {
                (3, 1) => interior::<3, 1>(dst_row, &buf, rows),
                (3, 2) => interior::<3, 2>(dst_row, &buf, rows),
                (5, 1) => interior::<5, 1>(dst_row, &buf, rows),
                (5, 2) => interior::<5, 2>(dst_row, &buf, rows),
                (7, 1) => interior::<7, 1>(dst_row, &buf, rows),
                _ => interior::<7, 2>(dst_row, &buf, rows),
            }
        }
    }
    true
}

/// One output row's interior windows (every tap inside the input), for a kernel `K`
/// wide with stride `S`: `dst[i] = Σ_rows Σ_k taps[k] · src[row + i·S + k]`.
#[inline(always)]
fn interior<'a, const K: usize, const S: usize>(
    dst: &mut [f32],
    src: &[f32],
    rows: impl Iterator<Item = (usize, &'a [f32])> + Clone,
) {
    match dst.len() {
        n if n >= 16 => interior_chunks::<K, S, 16>(dst, src, rows),
        n if n >= 8 => interior_chunks::<K, S, 8>(dst, src, rows),
        // A short row (a 7×7 plane) as one block of 8 whose extra outputs are dropped,
        // where the input has room for their windows (the padded rows do).
        n if rows.clone().all(|(row, _)| row + 7 * S + K <= src.len()) => {
            let mut block = [0.0f32; 8];
            interior_chunks::<K, S, 8>(&mut block, src, rows);
            dst.copy_from_slice(&block[..n]);
        }
        _ => {
            for (i, d) in dst.iter_mut().enumerate() {
                *d = rows.clone().fold(0.0, |acc, (row, taps)| {
                    let window = &src[row + i * S..][..K];
                    taps.iter().zip(window).fold(acc, |a, (&t, &v)| a + t * v)
                });
            }
        }
    }
}

/// [`interior`] in blocks of `L` outputs summed in registers from fixed-length windows
/// of `src` (so the loops unroll and vectorise with no bounds checks inside). The
/// last block ends at the row's end and may overlap the one before: it rewrites the
/// same values.
#[inline(always)]
fn interior_chunks<'a, const K: usize, const S: usize, const L: usize>(
    dst: &mut [f32],
    src: &[f32],
    rows: impl Iterator<Item = (usize, &'a [f32])> + Clone,
) {
    let n = dst.len();
    let starts = (0..n - L).step_by(L).chain(std::iter::once(n - L));
    for start in starts {
        let mut acc = [0.0f32; L];
        for (row, taps) in rows.clone() {
            let at = row + start * S;
            let (Some(window), Some(taps)) = (src.get(at..at + (L - 1) * S + K), taps.get(..K))
            else {
                return; // unreachable: interior windows lie inside the input
            };
            for (k, &tap) in taps.iter().enumerate() {
                for (l, a) in acc.iter_mut().enumerate() {
                    *a += tap * window[l * S + k];
                }
            }
        }
        dst[start..start + L].copy_from_slice(&acc);
    }
}

/// The im2col matrix of a contiguous `[C, H, W]` input, as a [`PackB`]: row
/// `(c, ki, kj)` holds tap `(ki, kj)` of every output position's window over channel
/// `c` (zero where the tap falls in the padding). Rows are unfolded on demand, a stretch
/// of one row at a time.
struct Unfolded<'a> {
    src: &'a [f32],
    /// Input height and width.
    hw: (usize, usize),
    win: &'a [Window; 2],
    /// Output height and width.
    out: (usize, usize),
}

impl PackB<f32> for Unfolded<'_> {
    fn covers(&self, rows: usize, cols: usize) -> bool {
        let ((h, w), [wy, wx]) = (self.hw, self.win);
        let channels = self.src.len() / (h * w).max(1);
        rows <= channels * wy.kernel * wx.kernel && cols <= self.out.0 * self.out.1
    }

    #[inline(always)]
    fn segment(&self, row: usize, col: usize, dst: &mut [f32]) {
        let ((h, w), (oh, ow)) = (self.hw, self.out);
        let [wy, wx] = self.win;
        let taps = wy.kernel * wx.kernel;
        let (c, ki, kj) = (row / taps, row / wx.kernel % wy.kernel, row % wx.kernel);
        let plane = &self.src[c * h * w..][..h * w];
        let (rows, cols) = (wy.windows(ki, h, oh), wx.windows(kj, w, ow));
        let (mut oy, mut ox, mut dst) = (col / ow, col % ow, dst);
        // Output positions run along rows of the output; each row's stretch of `dst`
        // copies a strided run of one input row, with zeros for taps in the padding.
        while !dst.is_empty() {
            let run = (ow - ox).min(dst.len());
            let (out, rest) = dst.split_at_mut(run);
            if rows.contains(&oy) {
                let lo = cols.start.clamp(ox, ox + run);
                let hi = cols.end.clamp(lo, ox + run);
                out[..lo - ox].fill(0.0);
                out[hi - ox..].fill(0.0);
                if hi > lo {
                    let iy = oy * wy.stride + ki * wy.dilation - wy.pad_begin;
                    let ix = lo * wx.stride + kj * wx.dilation - wx.pad_begin;
                    let src = &plane[iy * w + ix..(iy + 1) * w];
                    zip_strided(&mut out[lo - ox..hi - ox], src, wx.stride, |d, v| *d = v);
                }
            } else {
                out.fill(0.0);
            }
            (oy, ox, dst) = (oy + 1, 0, rest);
        }
    }
}

/// The unfolded input of one group, over a contiguous or a strided view.
enum Unfold<'a> {
    Contiguous(Unfolded<'a>),
    Strided(UnfoldedStrided<'a, 'a>),
}

impl<'a> Unfold<'a> {
    fn new(x: ArrayView3<'a, f32>, win: &'a [Window; 2], out: (usize, usize)) -> Self {
        let (_, h, w) = x.dim();
        match x.to_slice() {
            Some(src) => Unfold::Contiguous(Unfolded {
                src,
                hw: (h, w),
                win,
                out,
            }),
            None => Unfold::Strided(UnfoldedStrided { x, win, out }),
        }
    }
}

impl PackB<f32> for Unfold<'_> {
    fn covers(&self, rows: usize, cols: usize) -> bool {
        match self {
            Unfold::Contiguous(u) => u.covers(rows, cols),
            Unfold::Strided(u) => u.covers(rows, cols),
        }
    }

    #[inline(always)]
    fn segment(&self, row: usize, col: usize, dst: &mut [f32]) {
        match self {
            Unfold::Contiguous(u) => u.segment(row, col, dst),
            Unfold::Strided(u) => u.segment(row, col, dst),
        }
    }
}

/// [`Unfolded`] for a strided input view: element by element.
struct UnfoldedStrided<'a, 'x> {
    x: ArrayView3<'x, f32>,
    win: &'a [Window; 2],
    out: (usize, usize),
}

impl PackB<f32> for UnfoldedStrided<'_, '_> {
    fn covers(&self, rows: usize, cols: usize) -> bool {
        let [wy, wx] = self.win;
        rows <= self.x.dim().0 * wy.kernel * wx.kernel && cols <= self.out.0 * self.out.1
    }

    fn segment(&self, row: usize, col: usize, dst: &mut [f32]) {
        let (_, h, w) = self.x.dim();
        let [wy, wx] = self.win;
        let taps = wy.kernel * wx.kernel;
        let (c, ki, kj) = (row / taps, row / wx.kernel % wy.kernel, row % wx.kernel);
        for (p, d) in (col..).zip(dst) {
            let (oy, ox) = (p / self.out.1, p % self.out.1);
            *d = match (wy.source(oy, ki, h), wx.source(ox, kj, w)) {
                (Some(iy), Some(ix)) => self.x[[c, iy, ix]],
                _ => 0.0,
            };
        }
    }
}

/// `dst.copy_from_slice(src)` inlined: for rows of a few dozen values a call to `memcpy`
/// costs more than the copy.
#[inline(always)]
fn copy_row(dst: &mut [f32], src: &[f32]) {
    let mut blocks = dst.chunks_exact_mut(8).zip(src.chunks_exact(8));
    for (d, s) in &mut blocks {
        if let (Ok(d), Ok(s)) = (<&mut [f32; 8]>::try_from(d), <&[f32; 8]>::try_from(s)) {
            *d = *s;
        }
    }
    let done = dst.len() / 8 * 8;
    for (d, &s) in dst[done..].iter_mut().zip(&src[done..]) {
        *d = s;
    }
}
