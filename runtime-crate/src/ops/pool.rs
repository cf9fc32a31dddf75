//! Pooling: ONNX `MaxPool`, `AveragePool` and `LpPool` (the global pools are in `pool/global.rs`).
//!
//! Spec: <https://onnx.ai/onnx/operators/onnx__MaxPool.html>,
//! <https://onnx.ai/onnx/operators/onnx__AveragePool.html>. 1-D and 2-D windows have
//! a 2-D kernel; 3-D and up a general one. `auto_pad` is resolved into explicit pads
//! at compile time.

use super::variadic::max_nan;
use super::window::{to4, zip_strided, Window};
use crate::{Error, Result};
use multiversion::multiversion;
use ndarray::{ArrayD, ArrayView4, ArrayViewD, ArrayViewMut4, ArrayViewMutD, Axis, Ix4, IxDyn};

mod global;

pub use global::{
    global_average_pool, global_average_pool_into, global_max_pool, global_max_pool_into,
};

/// Pooling attributes, one entry per spatial axis.
#[derive(Debug, Clone, Copy)]
pub struct PoolParams<'a> {
    /// Window size per spatial axis.
    pub kernel: &'a [usize],
    /// Stride per spatial axis.
    pub strides: &'a [usize],
    /// `[begin_0, …, end_0, …]` padding (ignored by max, zeros or excluded for average).
    pub pads: &'a [usize],
    /// Dilation per spatial axis (MaxPool only; 1 for AveragePool).
    pub dilations: &'a [usize],
    /// Round the output length up instead of down.
    pub ceil_mode: bool,
    /// AveragePool: count padded positions in the divisor.
    pub count_include_pad: bool,
}

#[derive(Clone, Copy)]
enum Reduce {
    Max,
    Mean {
        include_pad: bool,
    },
    /// `(Σ |x|^p)^(1/p)`; padding adds nothing.
    Lp {
        p: i32,
    },
}

impl Reduce {
    fn start(self) -> f32 {
        match self {
            Reduce::Max => f32::NEG_INFINITY,
            Reduce::Mean { .. } | Reduce::Lp { .. } => 0.0,
        }
    }

    fn add(self, acc: f32, v: f32) -> f32 {
        match self {
            Reduce::Max => max_nan(acc, v),
            Reduce::Mean { .. } => acc + v,
            Reduce::Lp { p } => acc + v.abs().powi(p),
        }
    }

    /// Two partial results of one window joined.
    fn merge(self, acc: f32, partial: f32) -> f32 {
        match self {
            Reduce::Max => max_nan(acc, partial),
            Reduce::Mean { .. } | Reduce::Lp { .. } => acc + partial,
        }
    }

    /// The result from the accumulator, the taps read, and the taps inside the padded input.
    fn finish(self, acc: f32, count: usize, padded: impl FnOnce() -> usize) -> f32 {
        match self {
            Reduce::Max => acc,
            Reduce::Mean { include_pad: true } => acc / padded() as f32,
            Reduce::Mean { include_pad: false } => acc / count.max(1) as f32,
            Reduce::Lp { p } => libm::powf(acc, 1.0 / p as f32),
        }
    }
}

/// The output shape of pooling an input of shape `x` with `p`.
///
/// # Errors
/// [`Error::Shape`] if the rank or the attributes are wrong.
pub fn pool_shape(x: &[usize], p: PoolParams<'_>) -> Result<Vec<usize>> {
    let plane = Window::plane(p.kernel, p.strides, p.dilations, p.pads)?;
    if x.len() != p.kernel.len() + 2 {
        return Err(Error::Shape(format!(
            "pooling window {:?} does not fit input {x:?}",
            p.kernel
        )));
    }
    let mut shape = x[..2].to_vec();
    for (win, &len) in plane[4 - x.len()..].iter().zip(&x[2..]) {
        shape.push(win.output_len(len, p.ceil_mode)?);
    }
    Ok(shape)
}

/// ONNX `MaxPool` over `[N, C, *spatial]` (1-D or 2-D); NaN propagates.
///
/// ```
/// use ndarray::array;
/// use onnx2rs_runtime::ops::{max_pool, PoolParams};
/// let x = array![[[1.0f32, 3.0, 2.0, 5.0]]].into_dyn();
/// let p = PoolParams { kernel: &[2], strides: &[2], pads: &[0, 0], dilations: &[1], ceil_mode: false, count_include_pad: false };
/// assert_eq!(max_pool(x.view(), p).unwrap(), array![[[3.0, 5.0]]].into_dyn());
/// ```
///
/// # Errors
/// [`Error::Shape`] if the rank or the attributes are wrong.
pub fn max_pool(x: ArrayViewD<'_, f32>, p: PoolParams<'_>) -> Result<ArrayD<f32>> {
    let mut out = ArrayD::zeros(IxDyn(&pool_shape(x.shape(), p)?));
    max_pool_into(x, p, out.view_mut())?;
    Ok(out)
}

/// [`max_pool`] into `out`.
///
/// # Errors
/// [`Error::Shape`] if the rank, the attributes or `out`'s shape are wrong.
pub fn max_pool_into(
    x: ArrayViewD<'_, f32>,
    p: PoolParams<'_>,
    out: ArrayViewMutD<'_, f32>,
) -> Result<()> {
    pool(x, p, Reduce::Max, out)
}

/// ONNX `AveragePool` over `[N, C, *spatial]` (1-D or 2-D).
///
/// ```
/// use ndarray::array;
/// use onnx2rs_runtime::ops::{average_pool, PoolParams};
/// let x = array![[[1.0f32, 3.0, 2.0]]].into_dyn();
/// let p = PoolParams { kernel: &[2], strides: &[2], pads: &[0, 1], dilations: &[1], ceil_mode: false, count_include_pad: false };
/// assert_eq!(average_pool(x.view(), p).unwrap(), array![[[2.0, 2.0]]].into_dyn());
/// ```
///
/// # Errors
/// [`Error::Shape`] if the rank or the attributes are wrong.
pub fn average_pool(x: ArrayViewD<'_, f32>, p: PoolParams<'_>) -> Result<ArrayD<f32>> {
    let mut out = ArrayD::zeros(IxDyn(&pool_shape(x.shape(), p)?));
    average_pool_into(x, p, out.view_mut())?;
    Ok(out)
}

/// [`average_pool`] into `out`.
///
/// # Errors
/// [`Error::Shape`] if the rank, the attributes or `out`'s shape are wrong.
pub fn average_pool_into(
    x: ArrayViewD<'_, f32>,
    p: PoolParams<'_>,
    out: ArrayViewMutD<'_, f32>,
) -> Result<()> {
    let op = Reduce::Mean {
        include_pad: p.count_include_pad,
    };
    pool(x, p, op, out)
}

/// ONNX `MaxPool` with its `Indices` output: each maximum's flat position in `x`, with the
/// spatial axes numbered row-major, or column-major with `column_major` (`storage_order=1`).
///
/// ```
/// use ndarray::{array, ArrayD, IxDyn};
/// use onnx2rs_runtime::ops::{max_pool_with_indices_into, PoolParams};
/// let x = array![[[3.0f32, 9.0, 1.0, 4.0]]].into_dyn();
/// let p = PoolParams { kernel: &[2], strides: &[2], pads: &[0, 0], dilations: &[1], ceil_mode: false, count_include_pad: false };
/// let (mut out, mut indices) = (ArrayD::zeros(IxDyn(&[1, 1, 2])), ArrayD::<i64>::zeros(IxDyn(&[1, 1, 2])));
/// max_pool_with_indices_into(x.view(), p, false, out.view_mut(), indices.view_mut()).unwrap();
/// assert_eq!(indices.as_slice().unwrap(), &[1, 3]);
/// ```
///
/// # Errors
/// [`Error::Shape`] if the rank, the attributes or the outputs' shapes are wrong.
pub fn max_pool_with_indices_into(
    x: ArrayViewD<'_, f32>,
    p: PoolParams<'_>,
    column_major: bool,
    out: ArrayViewMutD<'_, f32>,
    mut indices: ArrayViewMutD<'_, i64>,
) -> Result<()> {
    if indices.shape() != out.shape()
        || p.kernel.len() > MAX_SPATIAL
        || x.ndim() != p.kernel.len() + 2
    {
        return Err(Error::Shape(format!(
            "MaxPool indices {:?} do not match output {:?}",
            indices.shape(),
            out.shape()
        )));
    }
    let slots = indices
        .as_slice_mut()
        .ok_or_else(|| Error::Shape("MaxPool indices are not contiguous".into()))?;
    pool_nd(x, p, Reduce::Max, out, Some((slots, column_major)))
}

/// ONNX `LpPool` over `[N, C, *spatial]`: the `p`-norm of each window (padding adds nothing).
///
/// ```
/// use ndarray::{array, ArrayD, IxDyn};
/// use onnx2rs_runtime::ops::{lp_pool_into, PoolParams};
/// let x = array![[[3.0f32, -4.0, 1.0]]].into_dyn();
/// let p = PoolParams { kernel: &[2], strides: &[1], pads: &[0, 0], dilations: &[1], ceil_mode: false, count_include_pad: false };
/// let mut out = ArrayD::zeros(IxDyn(&[1, 1, 2]));
/// lp_pool_into(x.view(), p, 2, out.view_mut()).unwrap();
/// assert_eq!(out[[0, 0, 0]], 5.0);
/// ```
///
/// # Errors
/// [`Error::Shape`] if the rank, the attributes or `out`'s shape are wrong.
pub fn lp_pool_into(
    x: ArrayViewD<'_, f32>,
    params: PoolParams<'_>,
    p: i32,
    out: ArrayViewMutD<'_, f32>,
) -> Result<()> {
    pool(x, params, Reduce::Lp { p }, out)
}

fn pool(
    x: ArrayViewD<'_, f32>,
    p: PoolParams<'_>,
    op: Reduce,
    out: ArrayViewMutD<'_, f32>,
) -> Result<()> {
    let plane = || Window::plane(p.kernel, p.strides, p.dilations, p.pads);
    match (x.ndim(), p.kernel.len(), out.ndim()) {
        (3, 1, 3) => pool2d(
            to4(x.insert_axis(Axis(2)))?,
            plane()?,
            p.ceil_mode,
            op,
            out.insert_axis(Axis(2)).into_dimensionality::<Ix4>()?,
        ),
        (4, 2, 4) => pool2d(
            to4(x)?,
            plane()?,
            p.ceil_mode,
            op,
            out.into_dimensionality::<Ix4>()?,
        ),
        (r, k, o) if r == k + 2 && o == r && k <= MAX_SPATIAL => pool_nd(x, p, op, out, None),
        (r, ..) => Err(Error::Shape(format!(
            "pooling supports 1-D to {MAX_SPATIAL}-D inputs, got rank {r} for window {:?}",
            p.kernel
        ))),
    }
}

/// The most spatial axes the general pooling kernel takes (its index arrays live on the stack).
const MAX_SPATIAL: usize = 6;

/// Pooling over any number of spatial axes, for inputs in standard layout.
fn pool_nd(
    x: ArrayViewD<'_, f32>,
    p: PoolParams<'_>,
    op: Reduce,
    mut out: ArrayViewMutD<'_, f32>,
    mut indices: Option<(&mut [i64], bool)>,
) -> Result<()> {
    let n = p.kernel.len();
    let mut win = [Window::UNIT; MAX_SPATIAL];
    Window::fill(p.kernel, p.strides, p.dilations, p.pads, &mut win[..n])?;
    let win = &win[..n];
    let shape = x.shape();
    let (spatial, out_spatial) = (&shape[2..], &out.shape()[2..]);
    for (a, w) in win.iter().enumerate() {
        if out_spatial[a] != w.output_len(spatial[a], p.ceil_mode)?
            || out.shape()[..2] != shape[..2]
        {
            return Err(Error::Shape(format!(
                "pooling output {:?} does not fit input {shape:?}",
                out.shape()
            )));
        }
    }
    let mut in_strides = [0usize; MAX_SPATIAL];
    let mut stride = 1;
    for a in (0..n).rev() {
        in_strides[a] = stride;
        stride *= spatial[a];
    }
    // MaxPool's storage_order=1 numbers the spatial positions column-major.
    let mut index_strides = in_strides;
    if let Some((_, true)) = indices {
        let mut stride = 1;
        for a in 0..n {
            index_strides[a] = stride;
            stride *= spatial[a];
        }
    }
    let (in_plane, out_plane): (usize, usize) =
        (spatial.iter().product(), out_spatial.iter().product());
    let taps: usize = win.iter().map(|w| w.kernel).product();
    let x = x.as_standard_layout();
    let xs = x
        .as_slice()
        .ok_or_else(|| Error::Shape("pooling input layout".into()))?;
    let mut out_spatial_dims = [0usize; MAX_SPATIAL];
    out_spatial_dims[..n].copy_from_slice(out_spatial);
    let ys = out
        .as_slice_mut()
        .ok_or_else(|| Error::Shape("pooling output is not contiguous".into()))?;
    for (i, y) in ys.iter_mut().enumerate() {
        let mut o = [0usize; MAX_SPATIAL];
        let mut rest = i % out_plane;
        for a in (0..n).rev() {
            o[a] = rest % out_spatial_dims[a];
            rest /= out_spatial_dims[a];
        }
        let base = (i / out_plane) * in_plane;
        let (mut acc, mut count, mut argmax) = (op.start(), 0usize, base);
        'taps: for tap in 0..taps {
            let (mut k, mut offset, mut index) = (tap, base, base);
            for a in (0..n).rev() {
                let Some(src) = win[a].source(o[a], k % win[a].kernel, spatial[a]) else {
                    continue 'taps;
                };
                k /= win[a].kernel;
                offset += src * in_strides[a];
                index += src * index_strides[a];
            }
            let next = op.add(acc, xs[offset]);
            if count == 0 || next.to_bits() != acc.to_bits() {
                argmax = index;
            }
            acc = next;
            count += 1;
        }
        *y = op.finish(acc, count, || {
            (0..n)
                .map(|a| win[a].padded_taps(o[a], spatial[a]))
                .product()
        });
        if let Some((indices, _)) = indices.as_mut() {
            indices[i] = argmax as i64;
        }
    }
    Ok(())
}

fn pool2d(
    x: ArrayView4<'_, f32>,
    win: [Window; 2],
    ceil: bool,
    op: Reduce,
    mut out: ArrayViewMut4<'_, f32>,
) -> Result<()> {
    let (n, c, h, w) = x.dim();
    let (oh, ow) = (win[0].output_len(h, ceil)?, win[1].output_len(w, ceil)?);
    if out.dim() != (n, c, oh, ow) {
        return Err(Error::Shape(format!(
            "pooling output must be {:?}, got {:?}",
            (n, c, oh, ow),
            out.dim()
        )));
    }
    let x = x.as_standard_layout(); // a copy only for a strided input
    let (Some(src), Some(dst)) = (x.as_slice(), out.as_slice_mut()) else {
        return Err(Error::Shape("pooling output must be contiguous".into()));
    };
    pool_planes(src, (h, w), &win, op, dst, (oh, ow));
    Ok(())
}

/// [`pool_plane`] over every `[h, w]` plane of `src`, compiled for AVX-512 and AVX2 as
/// well; the CPU picks at run time.
#[multiversion(targets("x86_64+avx512f+avx512vl+fma", "x86_64+avx2+fma"))]
fn pool_planes(
    src: &[f32],
    (h, w): (usize, usize),
    win: &[Window; 2],
    op: Reduce,
    dst: &mut [f32],
    (oh, ow): (usize, usize),
) {
    let columns = Columns::new(&win[1], w, ow);
    // One copy of the plane loop per reduction, so the inner loops hold no `match`.
    for (i, dst) in dst.chunks_exact_mut((oh * ow).max(1)).enumerate() {
        let src = &src[i * h * w..][..h * w];
        match op {
            Reduce::Max => pool_plane(src, (h, w), win, Reduce::Max, dst, &columns),
            mean @ Reduce::Mean { .. } => pool_plane(src, (h, w), win, mean, dst, &columns),
            lp @ Reduce::Lp { .. } => pool_plane(src, (h, w), win, lp, dst, &columns),
        }
    }
}

/// The output columns of a row and which of them each tap reads: the same for every row
/// and plane, so found once per call rather than once per row (each costs two divisions).
struct Columns {
    out_len: usize,
    /// The windows read whole as vectors, and how (none if too few to fill a block).
    dense: std::ops::Range<usize>,
    kind: Option<Dense>,
    /// For the first [`Columns::TAPS`] taps, the windows whose tap reads the input.
    windows: [std::ops::Range<usize>; Columns::TAPS],
    win: Window,
    input: usize,
}

impl Columns {
    const TAPS: usize = 16;

    fn new(win: &Window, input: usize, out_len: usize) -> Columns {
        let interior = win.interior(input, out_len);
        let kind = Dense::of(win).filter(|_| interior.len() >= 16);
        let windows = std::array::from_fn(|k| match k < win.kernel {
            true => win.windows(k, input, out_len),
            false => 0..0,
        });
        Columns {
            out_len,
            dense: if kind.is_some() { interior } else { 0..0 },
            kind,
            windows,
            win: *win,
            input,
        }
    }

    fn windows(&self, k: usize) -> std::ops::Range<usize> {
        match self.windows.get(k) {
            Some(cols) => cols.clone(),
            None => self.win.windows(k, self.input, self.out_len),
        }
    }

    /// `out[i] = op(out[i], window i of row)` for the output columns `span` (`out` holds
    /// exactly those); padding is never read.
    #[inline(always)]
    fn reduce(&self, row: &[f32], span: std::ops::Range<usize>, op: Reduce, out: &mut [f32]) {
        let wx = &self.win;
        let dense = self.dense.start.max(span.start)..self.dense.end.min(span.end);
        let dense = if dense.is_empty() {
            span.start..span.start
        } else {
            dense
        };
        for kx in 0..wx.kernel {
            let cols = self.windows(kx);
            let cols = cols.start.max(span.start)..cols.end.min(span.end);
            // The windows before and after the dense ones (all of `cols` without them).
            let parts = [
                cols.start..cols.end.min(dense.start),
                cols.start.max(dense.end)..cols.end,
            ];
            for cols in parts.into_iter().filter(|part| !part.is_empty()) {
                let ix0 = cols.start * wx.stride + kx * wx.dilation - wx.pad_begin;
                let cols = cols.start - span.start..cols.end - span.start;
                zip_strided(&mut out[cols], &row[ix0..], wx.stride, |y, v| {
                    *y = op.add(*y, v)
                });
            }
        }
        if let (Some(kind), false) = (self.kind, dense.is_empty()) {
            let src = &row[dense.start * wx.stride - wx.pad_begin..];
            kind.combine(
                &mut out[dense.start - span.start..dense.end - span.start],
                src,
                op,
            );
        }
    }
}

/// Pool one `[h, w]` plane into `out`. Input row by input row: each row's windows are
/// reduced once, across ([`Columns::reduce`]), into a row on the stack, which then joins
/// every output row whose windows read that input row. So a 5×5 window with stride 1
/// reads each row across once, not five times.
#[inline(always)]
fn pool_plane(
    x: &[f32],
    (h, w): (usize, usize),
    win: &[Window; 2],
    op: Reduce,
    out: &mut [f32],
    columns: &Columns,
) {
    /// Output columns per pass: a row of partial results on the stack.
    const SPAN: usize = 512;
    let [wy, wx] = win;
    let ow = columns.out_len;
    let oh = out.len() / ow.max(1);
    out.fill(op.start());
    let mut across = [0.0f32; SPAN];
    for start in (0..ow).step_by(SPAN) {
        let span = start..(start + SPAN).min(ow);
        let across = &mut across[..span.len()];
        for iy in 0..h {
            // The output rows whose window reads input row `iy`, by tap.
            let at = iy + wy.pad_begin;
            let readers = (0..wy.kernel).filter_map(|ky| {
                let from = at.checked_sub(ky * wy.dilation)?;
                (from % wy.stride == 0 && from / wy.stride < oh).then_some(from / wy.stride)
            });
            if readers.clone().next().is_none() {
                continue;
            }
            across.fill(op.start());
            columns.reduce(&x[iy * w..][..w], span.clone(), op, across);
            for oy in readers {
                let out_row = &mut out[oy * ow..][span.clone()];
                for (y, &v) in out_row.iter_mut().zip(across.iter()) {
                    *y = op.merge(*y, v);
                }
            }
        }
    }
    if !matches!(op, Reduce::Max) {
        for (oy, out_row) in out.chunks_exact_mut(ow.max(1)).enumerate() {
            let rows = wy.taps(oy, h).len();
            for (ox, y) in out_row.iter_mut().enumerate() {
                let count = rows * wx.taps(ox, w).len();
                *y = op.finish(*y, count, || wy.padded_taps(oy, h) * wx.padded_taps(ox, w));
            }
        }
    }
}

/// The window widths and strides (without dilation) whose windows are read whole, as
/// vectors: 3×3 stride 2 (ResNet's stem), 5×5 stride 1 (YOLO's SPPF), 2×2 stride 2, ...
#[derive(Clone, Copy)]
enum Dense {
    Stride1Width2,
    Stride1Width3,
    Stride1Width5,
    Stride2Width2,
    Stride2Width3,
    Stride3Width3,
}

impl Dense {
    /// The input values a block of 16 windows reads, at most: `15·S + K` for the widest
    /// kind (stride 3, or width 5). A new kind wider than these must raise it.
    const MAX_BLOCK_SPAN: usize = 15 * 3 + 5;

    fn of(w: &Window) -> Option<Dense> {
        match (w.dilation, w.stride, w.kernel) {
            (1, 1, 2) => Some(Dense::Stride1Width2),
            (1, 1, 3) => Some(Dense::Stride1Width3),
            (1, 1, 5) => Some(Dense::Stride1Width5),
            (1, 2, 2) => Some(Dense::Stride2Width2),
            (1, 2, 3) => Some(Dense::Stride2Width3),
            (1, 3, 3) => Some(Dense::Stride3Width3),
            _ => None,
        }
    }

    /// `out[i] = op(out[i], src[i·stride..i·stride + width])`, every window inside `src`.
    #[inline(always)]
    fn combine(self, out: &mut [f32], src: &[f32], op: Reduce) {
        match self {
            Dense::Stride1Width2 => windows_in_row::<1, 2>(out, src, op),
            Dense::Stride1Width3 => windows_in_row::<1, 3>(out, src, op),
            Dense::Stride1Width5 => windows_in_row::<1, 5>(out, src, op),
            Dense::Stride2Width2 => windows_in_row::<2, 2>(out, src, op),
            Dense::Stride2Width3 => windows_in_row::<2, 3>(out, src, op),
            Dense::Stride3Width3 => windows_in_row::<3, 3>(out, src, op),
        }
    }
}

/// Windows `K` wide every `S` values along a row: `out[i] = op(out[i], src[i·S..i·S + K])`.
#[inline(always)]
fn windows_in_row<const S: usize, const K: usize>(out: &mut [f32], src: &[f32], op: Reduce) {
    // Blocks of 16 windows of fixed span, so the loads stay in vector registers.
    let span = 15 * S + K;
    let blocks = out.len() / 16;
    for (b, ys) in out.chunks_exact_mut(16).enumerate() {
        windows_in_block::<S, K>(ys.try_into().unwrap(), &src[b * 16 * S..][..span], op);
    }
    // The last few windows through a block padded with the reduction's identity.
    let rest = &mut out[blocks * 16..];
    if !rest.is_empty() {
        let start = blocks * 16 * S;
        let used = (rest.len() - 1) * S + K;
        let mut block = [op.start(); Dense::MAX_BLOCK_SPAN];
        block[..used].copy_from_slice(&src[start..start + used]);
        let mut ys = [op.start(); 16];
        ys[..rest.len()].copy_from_slice(rest);
        windows_in_block::<S, K>(&mut ys, &block[..span], op);
        rest.copy_from_slice(&ys[..rest.len()]);
    }
}

#[inline(always)]
fn windows_in_block<const S: usize, const K: usize>(ys: &mut [f32; 16], src: &[f32], op: Reduce) {
    for k in 0..K {
        for (l, y) in ys.iter_mut().enumerate() {
            *y = op.add(*y, src[l * S + k]);
        }
    }
}
