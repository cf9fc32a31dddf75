//! Pooling: ONNX `MaxPool`, `AveragePool`, `GlobalMaxPool` and `GlobalAveragePool`.
//!
//! Spec: <https://onnx.ai/onnx/operators/onnx__MaxPool.html>,
//! <https://onnx.ai/onnx/operators/onnx__AveragePool.html>. 1-D and 2-D windows;
//! `auto_pad` is resolved into explicit pads at compile time.

use super::conv::to4;
use super::window::Window;
use crate::{Error, Result};
use ndarray::{ArrayD, ArrayView4, ArrayViewD, ArrayViewMut4, ArrayViewMutD, Axis, Ix4, IxDyn};

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
    Mean { include_pad: bool },
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

fn pool(
    x: ArrayViewD<'_, f32>,
    p: PoolParams<'_>,
    op: Reduce,
    out: ArrayViewMutD<'_, f32>,
) -> Result<()> {
    let plane = Window::plane(p.kernel, p.strides, p.dilations, p.pads)?;
    match (x.ndim(), p.kernel.len(), out.ndim()) {
        (3, 1, 3) => pool2d(
            to4(x.insert_axis(Axis(2)))?,
            plane,
            p.ceil_mode,
            op,
            out.insert_axis(Axis(2)).into_dimensionality::<Ix4>()?,
        ),
        (4, 2, 4) => pool2d(
            to4(x)?,
            plane,
            p.ceil_mode,
            op,
            out.into_dimensionality::<Ix4>()?,
        ),
        (r, ..) => Err(Error::Shape(format!(
            "pooling supports 1-D and 2-D inputs, got rank {r} for window {:?}",
            p.kernel
        ))),
    }
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
    for ((b, ch, oy, ox), y) in out.indexed_iter_mut() {
        let (mut acc, mut count) = match op {
            Reduce::Max => (f32::NEG_INFINITY, 0usize),
            Reduce::Mean { .. } => (0.0, 0usize),
        };
        for ki in 0..win[0].kernel {
            let Some(iy) = win[0].source(oy, ki, h) else {
                continue;
            };
            for kj in 0..win[1].kernel {
                let Some(ix) = win[1].source(ox, kj, w) else {
                    continue;
                };
                let v = x[[b, ch, iy, ix]];
                count += 1;
                acc = match op {
                    // NaN must win, as in ONNX Runtime: `max` would drop it.
                    Reduce::Max => {
                        if v > acc || v.is_nan() {
                            v
                        } else {
                            acc
                        }
                    }
                    Reduce::Mean { .. } => acc + v,
                };
            }
        }
        *y = match op {
            Reduce::Max => acc,
            Reduce::Mean { include_pad: true } => acc / padded_count(&win, (oy, ox), (h, w)) as f32,
            Reduce::Mean { include_pad: false } => acc / count.max(1) as f32,
        };
    }
    Ok(())
}

/// Window size clipped to the padded input, as the divisor of `count_include_pad`.
fn padded_count(win: &[Window; 2], (oy, ox): (usize, usize), (h, w): (usize, usize)) -> usize {
    let axis = |wn: &Window, o: usize, len: usize| {
        let start = o * wn.stride;
        let end = (start + wn.span()).min(len + wn.pad_begin + wn.pad_end);
        end - start
    };
    axis(&win[0], oy, h) * axis(&win[1], ox, w)
}

fn max_of(p: ArrayViewD<'_, f32>) -> f32 {
    p.fold(
        f32::NEG_INFINITY,
        |a, &v| if v > a || v.is_nan() { v } else { a },
    )
}

fn mean_of(p: ArrayViewD<'_, f32>) -> f32 {
    p.sum() / p.len().max(1) as f32
}

fn global_shape(x: &[usize]) -> Result<Vec<usize>> {
    if x.len() < 3 {
        return Err(Error::Shape(format!(
            "global pooling needs rank >= 3, got {x:?}"
        )));
    }
    Ok(x.iter()
        .enumerate()
        .map(|(i, &d)| if i < 2 { d } else { 1 })
        .collect())
}

fn global_into(
    x: ArrayViewD<'_, f32>,
    mut out: ArrayViewMutD<'_, f32>,
    f: impl Fn(ArrayViewD<'_, f32>) -> f32,
) -> Result<()> {
    let ok = x.ndim() >= 3
        && out.ndim() == x.ndim()
        && out.shape()[..2] == x.shape()[..2]
        && out.shape()[2..].iter().all(|&d| d == 1);
    if !ok {
        return Err(Error::Shape(format!(
            "global pooling of {:?} cannot give {:?}",
            x.shape(),
            out.shape()
        )));
    }
    for (b, mut out_b) in out.outer_iter_mut().enumerate() {
        let x_b = x.index_axis(Axis(0), b);
        for (ch, mut cell) in out_b.outer_iter_mut().enumerate() {
            cell.fill(f(x_b.index_axis(Axis(0), ch)));
        }
    }
    Ok(())
}

/// ONNX `GlobalMaxPool`: the maximum over all spatial axes, kept as size-1 axes.
///
/// ```
/// use ndarray::array;
/// let x = array![[[1.0f32, 7.0, 2.0]]].into_dyn();
/// assert_eq!(onnx2rs_runtime::ops::global_max_pool(x.view()).unwrap(), array![[[7.0]]].into_dyn());
/// ```
///
/// # Errors
/// [`Error::Shape`] if `x` has rank below 3.
pub fn global_max_pool(x: ArrayViewD<'_, f32>) -> Result<ArrayD<f32>> {
    let mut out = ArrayD::zeros(IxDyn(&global_shape(x.shape())?));
    global_into(x, out.view_mut(), max_of)?;
    Ok(out)
}

/// [`global_max_pool`] into `out` (`[N, C, 1, ...]`).
///
/// # Errors
/// [`Error::Shape`] if `out` does not have the pooled shape.
pub fn global_max_pool_into(x: ArrayViewD<'_, f32>, out: ArrayViewMutD<'_, f32>) -> Result<()> {
    global_into(x, out, max_of)
}

/// ONNX `GlobalAveragePool`: the mean over all spatial axes, kept as size-1 axes.
///
/// ```
/// use ndarray::array;
/// let x = array![[[1.0f32, 2.0, 6.0]]].into_dyn();
/// assert_eq!(onnx2rs_runtime::ops::global_average_pool(x.view()).unwrap(), array![[[3.0]]].into_dyn());
/// ```
///
/// # Errors
/// [`Error::Shape`] if `x` has rank below 3.
pub fn global_average_pool(x: ArrayViewD<'_, f32>) -> Result<ArrayD<f32>> {
    let mut out = ArrayD::zeros(IxDyn(&global_shape(x.shape())?));
    global_into(x, out.view_mut(), mean_of)?;
    Ok(out)
}

/// [`global_average_pool`] into `out` (`[N, C, 1, ...]`).
///
/// # Errors
/// [`Error::Shape`] if `out` does not have the pooled shape.
pub fn global_average_pool_into(x: ArrayViewD<'_, f32>, out: ArrayViewMutD<'_, f32>) -> Result<()> {
    global_into(x, out, mean_of)
}
