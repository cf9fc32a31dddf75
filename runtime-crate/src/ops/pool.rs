//! Pooling: ONNX `MaxPool`, `AveragePool`, `GlobalMaxPool` and `GlobalAveragePool`.
//!
//! Spec: <https://onnx.ai/onnx/operators/onnx__MaxPool.html>,
//! <https://onnx.ai/onnx/operators/onnx__AveragePool.html>. 1-D and 2-D windows;
//! `auto_pad` is resolved into explicit pads at compile time.

use super::conv::to4;
use super::window::Window;
use crate::{Error, Result};
use ndarray::{Array4, ArrayD, ArrayView4, ArrayViewD, Axis, IxDyn};

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
    pool(x, p, Reduce::Max)
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
    pool(
        x,
        p,
        Reduce::Mean {
            include_pad: p.count_include_pad,
        },
    )
}

fn pool(x: ArrayViewD<'_, f32>, p: PoolParams<'_>, op: Reduce) -> Result<ArrayD<f32>> {
    let windows = Window::from_onnx(p.kernel, p.strides, p.dilations, p.pads)?;
    match x.ndim() {
        3 => {
            let y = pool2d(
                to4(x.insert_axis(Axis(2)))?,
                [Window::UNIT, windows[0]],
                p.ceil_mode,
                op,
            )?;
            Ok(y.index_axis_move(Axis(2), 0).into_dyn())
        }
        4 => Ok(pool2d(to4(x)?, [windows[0], windows[1]], p.ceil_mode, op)?.into_dyn()),
        r => Err(Error::Shape(format!(
            "pooling supports 1-D and 2-D inputs, got rank {r}"
        ))),
    }
}

fn pool2d(x: ArrayView4<'_, f32>, win: [Window; 2], ceil: bool, op: Reduce) -> Result<Array4<f32>> {
    let (n, c, h, w) = x.dim();
    let (oh, ow) = (win[0].output_len(h, ceil)?, win[1].output_len(w, ceil)?);
    let mut out = Array4::<f32>::zeros((n, c, oh, ow));
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
    Ok(out)
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

fn global(x: ArrayViewD<'_, f32>, f: impl Fn(ArrayViewD<'_, f32>) -> f32) -> Result<ArrayD<f32>> {
    if x.ndim() < 3 {
        return Err(Error::Shape(format!(
            "global pooling needs rank >= 3, got {:?}",
            x.shape()
        )));
    }
    let (n, c) = (x.shape()[0], x.shape()[1]);
    let mut shape = vec![n, c];
    shape.resize(x.ndim(), 1);
    let mut out = ArrayD::<f32>::zeros(IxDyn(&shape));
    for b in 0..n {
        for ch in 0..c {
            let plane = x.index_axis(Axis(0), b);
            let v = f(plane.index_axis_move(Axis(0), ch));
            out.index_axis_mut(Axis(0), b)
                .index_axis_mut(Axis(0), ch)
                .fill(v);
        }
    }
    Ok(out)
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
    global(x, |p| {
        p.fold(
            f32::NEG_INFINITY,
            |a, &v| if v > a || v.is_nan() { v } else { a },
        )
    })
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
    global(x, |p| p.sum() / p.len().max(1) as f32)
}
