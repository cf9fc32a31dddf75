//! Normalisation: ONNX `BatchNormalization` (inference form) and `Softmax`.
//!
//! Spec: <https://onnx.ai/onnx/operators/onnx__BatchNormalization.html>,
//! <https://onnx.ai/onnx/operators/onnx__Softmax.html> (opset 13 changed the
//! axis semantics; [`softmax_flattened`] keeps the older one).

use crate::{Error, Result};
use ndarray::{ArrayD, ArrayViewD, Axis, Zip};

/// ONNX `BatchNormalization` in inference mode over channel axis 1:
/// `(x - mean) / sqrt(var + epsilon) * scale + bias`.
///
/// ```
/// use ndarray::array;
/// let x = array![[1.0f32, 2.0]].into_dyn(); // [N=1, C=2]
/// let one = array![1.0f32, 1.0].into_dyn();
/// let zero = array![0.0f32, 0.0].into_dyn();
/// let y = onnx2rs_runtime::ops::batch_norm(x.view(), one.view(), zero.view(), zero.view(), one.view(), 0.0).unwrap();
/// assert_eq!(y, x);
/// ```
///
/// # Errors
/// [`Error::Shape`] if a parameter is not `[C]`.
pub fn batch_norm(
    x: ArrayViewD<'_, f32>,
    scale: ArrayViewD<'_, f32>,
    bias: ArrayViewD<'_, f32>,
    mean: ArrayViewD<'_, f32>,
    var: ArrayViewD<'_, f32>,
    epsilon: f32,
) -> Result<ArrayD<f32>> {
    let mut y = x.to_owned();
    batch_norm_inplace(&mut y, scale, bias, mean, var, epsilon)?;
    Ok(y)
}

/// In-place form of [`batch_norm`]: normalises `x` where it is.
///
/// # Errors
/// [`Error::Shape`] if a parameter is not `[C]`; `x` is then unchanged.
pub fn batch_norm_inplace(
    x: &mut ArrayD<f32>,
    scale: ArrayViewD<'_, f32>,
    bias: ArrayViewD<'_, f32>,
    mean: ArrayViewD<'_, f32>,
    var: ArrayViewD<'_, f32>,
    epsilon: f32,
) -> Result<()> {
    let c = *x
        .shape()
        .get(1)
        .ok_or_else(|| Error::Shape("BatchNormalization needs rank >= 2".into()))?;
    for (what, t) in [
        ("scale", &scale),
        ("bias", &bias),
        ("mean", &mean),
        ("var", &var),
    ] {
        if t.shape() != [c] {
            return Err(Error::Shape(format!(
                "BatchNormalization {what} must be [{c}], got {:?}",
                t.shape()
            )));
        }
    }
    for (ch, mut plane) in x.axis_iter_mut(Axis(1)).enumerate() {
        let a = scale[ch] / (var[ch] + epsilon).sqrt();
        let b = bias[ch] - mean[ch] * a;
        plane.mapv_inplace(|v| v * a + b);
    }
    Ok(())
}

fn resolve_axis(axis: i64, rank: usize) -> Result<usize> {
    let r = rank as i64;
    if axis < -r || axis >= r.max(1) {
        return Err(Error::Shape(format!(
            "axis {axis} out of range for rank {rank}"
        )));
    }
    Ok(((axis + r) % r.max(1)) as usize)
}

fn softmax_lanes(y: &mut ArrayD<f32>, axis: usize) {
    for mut lane in y.lanes_mut(Axis(axis)) {
        let max = lane.fold(f32::NEG_INFINITY, |a, &v| a.max(v));
        lane.mapv_inplace(|v| (v - max).exp());
        let sum = lane.sum();
        lane.mapv_inplace(|v| v / sum);
    }
}

/// ONNX `Softmax` (opset 13 and later) along `axis`.
///
/// ```
/// use ndarray::array;
/// let y = onnx2rs_runtime::ops::softmax(array![[0.0f32, 0.0]].into_dyn().view(), -1).unwrap();
/// assert_eq!(y, array![[0.5, 0.5]].into_dyn());
/// ```
///
/// # Errors
/// [`Error::Shape`] if `axis` is out of range.
pub fn softmax(x: ArrayViewD<'_, f32>, axis: i64) -> Result<ArrayD<f32>> {
    let mut y = x.to_owned();
    softmax_inplace(&mut y, axis)?;
    Ok(y)
}

/// In-place form of [`softmax`].
///
/// # Errors
/// [`Error::Shape`] if `axis` is out of range; `x` is then unchanged.
pub fn softmax_inplace(x: &mut ArrayD<f32>, axis: i64) -> Result<()> {
    let axis = resolve_axis(axis, x.ndim())?;
    softmax_lanes(x, axis);
    Ok(())
}

/// ONNX `Softmax` before opset 13: `x` is flattened to 2-D at `axis` and the
/// softmax runs over the whole second part.
///
/// ```
/// use ndarray::array;
/// let y = onnx2rs_runtime::ops::softmax_flattened(array![[[0.0f32], [0.0]]].into_dyn().view(), 1).unwrap();
/// assert_eq!(y, array![[[0.5], [0.5]]].into_dyn());
/// ```
///
/// # Errors
/// [`Error::Shape`] if `axis` is out of range.
pub fn softmax_flattened(x: ArrayViewD<'_, f32>, axis: i64) -> Result<ArrayD<f32>> {
    let axis = if x.ndim() == 0 {
        0
    } else {
        resolve_axis(axis, x.ndim() + 1)?.min(x.ndim())
    };
    let outer: usize = x.shape()[..axis].iter().product();
    let inner: usize = x.shape()[axis..].iter().product();
    let flat = x.to_shape((outer, inner))?;
    let mut y = flat.to_owned().into_dyn();
    softmax_lanes(&mut y, 1);
    let y = y.to_shape(x.raw_dim())?.into_owned();
    Ok(Zip::from(&y).map_collect(|&v| v))
}
