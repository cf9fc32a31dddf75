//! ONNX `GlobalMaxPool` and `GlobalAveragePool`: one value per plane, over planes of any rank.
//!
//! Spec: <https://onnx.ai/onnx/operators/onnx__GlobalMaxPool.html>,
//! <https://onnx.ai/onnx/operators/onnx__GlobalAveragePool.html>.

use crate::{Error, Result};
use ndarray::{ArrayD, ArrayViewD, ArrayViewMutD, IxDyn};

/// The maximum of `plane` (NaN if it holds one), in 16 independent lanes so it vectorises.
fn max_of(plane: &[f32]) -> f32 {
    let mut lanes = [f32::NEG_INFINITY; 16];
    let mut nan = false;
    for chunk in plane.chunks(16) {
        for (lane, &v) in lanes.iter_mut().zip(chunk) {
            *lane = if v > *lane { v } else { *lane };
            nan |= v.is_nan();
        }
    }
    match nan {
        true => f32::NAN,
        false => lanes.iter().fold(f32::NEG_INFINITY, |a, &v| a.max(v)),
    }
}

/// The mean of `plane`, accumulated in `f64` as `ReduceMean` does.
fn mean_of(plane: &[f32]) -> f32 {
    (crate::ops::reduce::contiguous_sum(plane) / plane.len().max(1) as f64) as f32
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
    f: fn(&[f32]) -> f32,
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
    let plane: usize = x.shape()[2..].iter().product();
    let x = x.as_standard_layout(); // a copy only for a strided input
    let xs = x.as_slice().unwrap_or_default();
    // `out` is [N, C, 1, ...]: its elements are the planes in order.
    if plane == 0 {
        out.fill(f(&[]));
    }
    for (cell, values) in out.iter_mut().zip(xs.chunks_exact(plane.max(1))) {
        *cell = f(values);
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
