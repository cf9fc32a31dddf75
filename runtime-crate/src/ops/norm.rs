//! Normalisation: ONNX `BatchNormalization` (inference form) and `Softmax`.
//!
//! Spec: <https://onnx.ai/onnx/operators/onnx__BatchNormalization.html>,
//! <https://onnx.ai/onnx/operators/onnx__Softmax.html> (opset 13 changed the
//! axis semantics; [`softmax_flattened`] keeps the older one).

use super::unary::exp_f32;
use crate::{Error, Result};
use multiversion::multiversion;
use ndarray::{ArrayD, ArrayViewD, ArrayViewMutD, Axis, IxDyn};

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
    batch_norm_inplace(y.view_mut(), scale, bias, mean, var, epsilon)?;
    Ok(y)
}

/// [`batch_norm`] into `out`, which must have `x`'s shape.
///
/// # Errors
/// [`Error::Shape`] if a parameter is not `[C]` or `out` has another shape.
pub fn batch_norm_into(
    x: ArrayViewD<'_, f32>,
    scale: ArrayViewD<'_, f32>,
    bias: ArrayViewD<'_, f32>,
    mean: ArrayViewD<'_, f32>,
    var: ArrayViewD<'_, f32>,
    epsilon: f32,
    mut out: ArrayViewMutD<'_, f32>,
) -> Result<()> {
    copy_same_shape(x, out.view_mut())?;
    batch_norm_inplace(out, scale, bias, mean, var, epsilon)
}

fn copy_same_shape(x: ArrayViewD<'_, f32>, mut out: ArrayViewMutD<'_, f32>) -> Result<()> {
    if x.shape() != out.shape() {
        return Err(Error::Shape(format!(
            "expected output {:?}, got {:?}",
            x.shape(),
            out.shape()
        )));
    }
    out.assign(&x);
    Ok(())
}

/// In-place form of [`batch_norm`]: normalises `x` where it is.
///
/// # Errors
/// [`Error::Shape`] if a parameter is not `[C]`; `x` is then unchanged.
pub fn batch_norm_inplace(
    mut x: ArrayViewMutD<'_, f32>,
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

/// Softmax of every lane along `axis`, compiled for AVX-512 and AVX2 as well (its
/// exponentials vectorise: [`exp_f32`]).
#[multiversion(targets("x86_64+avx512f+avx512vl+fma", "x86_64+avx2+fma"))]
fn softmax_lanes<'y>(y: &mut ArrayViewMutD<'y, f32>, axis: usize) {
    for mut lane in y.lanes_mut(Axis(axis)) {
        let max = lane.fold(f32::NEG_INFINITY, |a, &v| a.max(v));
        lane.mapv_inplace(|v| exp_f32(v - max));
        let sum = lane.sum();
        lane.mapv_inplace(|v| v / sum);
    }
}

fn log_softmax_lanes(y: &mut ArrayViewMutD<'_, f32>, axis: usize) {
    for mut lane in y.lanes_mut(Axis(axis)) {
        let max = lane.fold(f32::NEG_INFINITY, |a, &v| a.max(v));
        let log_sum = libm::logf(lane.fold(0.0f32, |s, &v| s + exp_f32(v - max)));
        lane.mapv_inplace(|v| v - max - log_sum);
    }
}

/// ONNX `LogSoftmax` (opset 13 and later) along `axis`, in place: `x - max - ln Σ exp(x - max)`.
///
/// ```
/// use ndarray::array;
/// let mut x = array![[0.0f32, 0.0]].into_dyn();
/// onnx2rs_runtime::ops::log_softmax_inplace(x.view_mut(), 1).unwrap();
/// assert!((x[[0, 0]] - 0.5f32.ln()).abs() < 1e-6);
/// ```
///
/// # Errors
/// [`Error::Shape`] if `axis` is out of range.
pub fn log_softmax_inplace(mut x: ArrayViewMutD<'_, f32>, axis: i64) -> Result<()> {
    let axis = resolve_axis(axis, x.ndim())?;
    log_softmax_lanes(&mut x, axis);
    Ok(())
}

/// [`log_softmax_inplace`] into `out`, which must have `x`'s shape.
///
/// # Errors
/// [`Error::Shape`] if `axis` is out of range or `out` has another shape.
pub fn log_softmax_into(
    x: ArrayViewD<'_, f32>,
    axis: i64,
    mut out: ArrayViewMutD<'_, f32>,
) -> Result<()> {
    copy_same_shape(x, out.view_mut())?;
    log_softmax_inplace(out, axis)
}

/// ONNX `LayerNormalization`: each slice over axes `axis..` normalised to mean 0 and
/// variance 1 (plus `epsilon`), then scaled and shifted (`scale`, `bias` broadcast to it).
///
/// ```
/// use ndarray::{array, ArrayD, IxDyn};
/// let x = array![[1.0f32, 3.0]].into_dyn();
/// let one = array![1.0f32].into_dyn();
/// let mut out = ArrayD::<f32>::zeros(IxDyn(&[1, 2]));
/// onnx2rs_runtime::ops::layer_norm_into(x.view(), one.view(), None, 1, 0.0, out.view_mut(), None, None).unwrap();
/// assert_eq!(out, array![[-1.0, 1.0]].into_dyn());
/// ```
///
/// # Errors
/// [`Error::Shape`] if `axis` is out of range, `scale`/`bias` do not broadcast, or `out` does not fit.
#[allow(clippy::too_many_arguments)] // the op's three inputs, three outputs and two attributes
pub fn layer_norm_into(
    x: ArrayViewD<'_, f32>,
    scale: ArrayViewD<'_, f32>,
    bias: Option<ArrayViewD<'_, f32>>,
    axis: usize,
    epsilon: f32,
    out: ArrayViewMutD<'_, f32>,
    mean_out: Option<ArrayViewMutD<'_, f32>>,
    inv_std_dev_out: Option<ArrayViewMutD<'_, f32>>,
) -> Result<()> {
    if axis > x.ndim() || out.shape() != x.shape() {
        return Err(Error::Shape(format!(
            "LayerNormalization of {:?} at axis {axis} cannot give {:?}",
            x.shape(),
            out.shape()
        )));
    }
    let inner_shape = IxDyn(&x.shape()[axis..]);
    let scale = scale.broadcast(inner_shape.clone()).ok_or_else(|| {
        Error::Shape(format!(
            "LayerNormalization scale {:?} does not broadcast",
            scale.shape()
        ))
    })?;
    let bias = match &bias {
        Some(b) => Some(
            b.broadcast(inner_shape)
                .ok_or_else(|| Error::Shape("LayerNormalization bias does not broadcast".into()))?,
        ),
        None => None,
    };
    let inner: usize = x.shape()[axis..].iter().product();
    let outer = x.len() / inner.max(1);
    let rows = x.to_shape((outer, inner))?;
    let mut out = out
        .into_shape_with_order((outer, inner))
        .map_err(|_| Error::Shape("LayerNormalization output must be contiguous".into()))?;
    // The optional statistics: one value per row, in row order.
    let mut stats = [mean_out, inv_std_dev_out].map(|o| o.map(|o| o.into_iter()));
    if stats.iter().flatten().any(|o| o.len() != outer) {
        return Err(Error::Shape(format!(
            "LayerNormalization statistics must hold {outer} values"
        )));
    }
    for (row, mut dst) in rows.outer_iter().zip(out.outer_iter_mut()) {
        let mean = row.sum() / inner as f32;
        let var = row.fold(0.0f32, |s, &v| s + (v - mean) * (v - mean)) / inner as f32;
        let inv = 1.0 / (var + epsilon).sqrt();
        for (stat, v) in stats.iter_mut().zip([mean, inv]) {
            if let Some(slot) = stat.as_mut().and_then(Iterator::next) {
                *slot = v;
            }
        }
        let normalized = row
            .iter()
            .zip(scale.iter())
            .map(|(&v, &s)| (v - mean) * inv * s);
        match &bias {
            Some(b) => dst
                .iter_mut()
                .zip(normalized)
                .zip(b.iter())
                .for_each(|((d, n), &b)| *d = n + b),
            None => dst.iter_mut().zip(normalized).for_each(|(d, n)| *d = n),
        }
    }
    Ok(())
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
    softmax_inplace(y.view_mut(), axis)?;
    Ok(y)
}

/// [`softmax`] into `out`, which must have `x`'s shape.
///
/// # Errors
/// [`Error::Shape`] if `axis` is out of range or `out` has another shape.
pub fn softmax_into(
    x: ArrayViewD<'_, f32>,
    axis: i64,
    mut out: ArrayViewMutD<'_, f32>,
) -> Result<()> {
    copy_same_shape(x, out.view_mut())?;
    softmax_inplace(out, axis)
}

/// In-place form of [`softmax`].
///
/// # Errors
/// [`Error::Shape`] if `axis` is out of range; `x` is then unchanged.
pub fn softmax_inplace(mut x: ArrayViewMutD<'_, f32>, axis: i64) -> Result<()> {
    let axis = resolve_axis(axis, x.ndim())?;
    softmax_lanes(&mut x, axis);
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
    let mut y = ArrayD::zeros(x.raw_dim());
    softmax_flattened_into(x, axis, y.view_mut())?;
    Ok(y)
}

/// [`softmax_flattened`] into `out`, which must have `x`'s shape and be contiguous.
///
/// # Errors
/// [`Error::Shape`] if `axis` is out of range or `out` does not fit.
pub fn softmax_flattened_into(
    x: ArrayViewD<'_, f32>,
    axis: i64,
    mut out: ArrayViewMutD<'_, f32>,
) -> Result<()> {
    copy_same_shape(x.view(), out.view_mut())?;
    softmax_flattened_inplace(out, axis)
}

/// In-place form of [`softmax_flattened`]; `x` must be contiguous.
///
/// # Errors
/// [`Error::Shape`] if `axis` is out of range or `x` is not contiguous.
pub fn softmax_flattened_inplace(out: ArrayViewMutD<'_, f32>, axis: i64) -> Result<()> {
    let x = out.view();
    let axis = if x.ndim() == 0 {
        0
    } else {
        resolve_axis(axis, x.ndim() + 1)?.min(x.ndim())
    };
    let outer: usize = x.shape()[..axis].iter().product();
    let inner: usize = x.shape()[axis..].iter().product();
    let flat = out
        .into_shape_with_order(IxDyn(&[outer, inner]))
        .map_err(|_| Error::Shape("Softmax output must be contiguous".into()))?;
    softmax_lanes(&mut flat.into_dyn(), 1);
    Ok(())
}

/// ONNX `InstanceNormalization`: each `(n, c)` plane of `x` (`[N, C, *spatial]`)
/// normalised over its spatial axes, then `* scale[c] + bias[c]`.
///
/// ```
/// use ndarray::{array, ArrayD, IxDyn};
/// let x = array![[[1.0f32, 3.0]]].into_dyn();
/// let (s, b) = (array![2.0f32].into_dyn(), array![1.0f32].into_dyn());
/// let mut out = ArrayD::<f32>::zeros(IxDyn(&[1, 1, 2]));
/// onnx2rs_runtime::ops::instance_norm_into(x.view(), s.view(), b.view(), 0.0, out.view_mut()).unwrap();
/// assert_eq!(out, array![[[-1.0, 3.0]]].into_dyn());
/// ```
///
/// # Errors
/// [`Error::Shape`] if `scale`/`bias` are not `[C]` or `out` does not have `x`'s shape.
pub fn instance_norm_into(
    x: ArrayViewD<'_, f32>,
    scale: ArrayViewD<'_, f32>,
    bias: ArrayViewD<'_, f32>,
    epsilon: f32,
    mut out: ArrayViewMutD<'_, f32>,
) -> Result<()> {
    let c = *x
        .shape()
        .get(1)
        .ok_or_else(|| Error::Shape("InstanceNormalization needs rank >= 3".into()))?;
    if scale.shape() != [c] || bias.shape() != [c] || out.shape() != x.shape() {
        return Err(Error::Shape(format!(
            "InstanceNormalization of {:?} with scale {:?}",
            x.shape(),
            scale.shape()
        )));
    }
    for (x_n, mut out_n) in x.outer_iter().zip(out.outer_iter_mut()) {
        for (ch, (plane, mut dst)) in x_n.outer_iter().zip(out_n.outer_iter_mut()).enumerate() {
            let n = plane.len().max(1) as f32;
            let mean = plane.sum() / n;
            let var = plane.fold(0.0f32, |s, &v| s + (v - mean) * (v - mean)) / n;
            let (a, b) = (scale[ch] / (var + epsilon).sqrt(), bias[ch]);
            dst.zip_mut_with(&plane, |d, &v| *d = (v - mean) * a + b);
        }
    }
    Ok(())
}

/// ONNX `Hardmax` (opset 13 and later): 1 at the first maximum along `axis`, 0 elsewhere.
///
/// ```
/// use ndarray::{array, ArrayD, IxDyn};
/// let mut out = ArrayD::<f32>::zeros(IxDyn(&[1, 3]));
/// onnx2rs_runtime::ops::hardmax_into(array![[1.0f32, 4.0, 4.0]].into_dyn().view(), -1, out.view_mut()).unwrap();
/// assert_eq!(out, array![[0.0, 1.0, 0.0]].into_dyn());
/// ```
///
/// # Errors
/// [`Error::Shape`] if `axis` is out of range or `out` has another shape.
pub fn hardmax_into(
    x: ArrayViewD<'_, f32>,
    axis: i64,
    mut out: ArrayViewMutD<'_, f32>,
) -> Result<()> {
    let axis = resolve_axis(axis, x.ndim())?;
    if out.shape() != x.shape() {
        return Err(Error::Shape(format!(
            "Hardmax output must be {:?}",
            x.shape()
        )));
    }
    for (lane, mut dst) in x
        .lanes(Axis(axis))
        .into_iter()
        .zip(out.lanes_mut(Axis(axis)))
    {
        let best = lane
            .iter()
            .enumerate()
            .fold(0, |b, (i, &v)| if v > lane[b] { i } else { b });
        dst.iter_mut()
            .enumerate()
            .for_each(|(i, d)| *d = if i == best { 1.0 } else { 0.0 });
    }
    Ok(())
}

/// ONNX `LRN`: each value divided by `(bias + alpha / size · Σ x²)^beta`, the sum
/// over `size` neighbouring channels (axis 1) centred on its own.
///
/// ```
/// use onnx2rs_runtime::ndarray::{Array, ArrayD, IxDyn};
/// let x = Array::from_shape_vec(IxDyn(&[1, 2, 1]), vec![1.0f32, 2.0]).unwrap();
/// let mut y = ArrayD::<f32>::zeros(IxDyn(&[1, 2, 1]));
/// onnx2rs_runtime::ops::lrn_into(x.view(), 3, 1.0, 1.0, 1.0, y.view_mut()).unwrap();
/// assert!((y[[0, 0, 0]] - 1.0 / (1.0 + 5.0 / 3.0)).abs() < 1e-6);
/// ```
///
/// # Errors
/// [`Error::Shape`] if `x` has rank < 3 or `out` another shape.
pub fn lrn_into(
    x: ArrayViewD<'_, f32>,
    size: usize,
    alpha: f32,
    beta: f32,
    bias: f32,
    mut out: ArrayViewMutD<'_, f32>,
) -> Result<()> {
    if x.ndim() < 3 || out.shape() != x.shape() || size == 0 {
        return Err(Error::Shape(format!(
            "LRN of {:?} (size {size}) cannot give {:?}",
            x.shape(),
            out.shape()
        )));
    }
    let channels = x.shape()[1];
    let (before, after) = ((size - 1) / 2, size.div_ceil(2) - 1);
    for c in 0..channels {
        let window = c.saturating_sub(before)..(c + after + 1).min(channels);
        let mut dst = out.index_axis_mut(Axis(1), c);
        dst.fill(0.0);
        for k in window {
            let src = x.index_axis(Axis(1), k);
            dst.zip_mut_with(&src, |d, &v| *d += v * v);
        }
        let src = x.index_axis(Axis(1), c);
        dst.zip_mut_with(&src, |d, &v| {
            *d = v / libm::powf(bias + alpha / size as f32 * *d, beta);
        });
    }
    Ok(())
}

/// ONNX `LpNormalization`: `x` divided by its L1 or L2 norm along `axis` (0 stays 0).
///
/// # Errors
/// [`Error::Shape`] if `axis` is out of range or `out` has another shape.
pub fn lp_normalize_into(
    x: ArrayViewD<'_, f32>,
    axis: usize,
    p: u8,
    mut out: ArrayViewMutD<'_, f32>,
) -> Result<()> {
    if axis >= x.ndim() || out.shape() != x.shape() {
        return Err(Error::Shape(format!(
            "LpNormalization of {:?} over axis {axis} cannot give {:?}",
            x.shape(),
            out.shape()
        )));
    }
    for (src, mut dst) in x
        .lanes(Axis(axis))
        .into_iter()
        .zip(out.lanes_mut(Axis(axis)))
    {
        let norm = if p == 1 {
            src.iter().map(|v| f64::from(v.abs())).sum::<f64>()
        } else {
            src.iter()
                .map(|&v| f64::from(v) * f64::from(v))
                .sum::<f64>()
                .sqrt()
        };
        dst.zip_mut_with(&src, |d, &v| {
            *d = if norm == 0.0 {
                0.0
            } else {
                (f64::from(v) / norm) as f32
            }
        });
    }
    Ok(())
}
