//! ONNX `Max`, `Min`, `Sum` and `Mean` of any number of inputs, broadcast together, and the
//! NaN-propagating maximum that Max, max pooling and the pool fused into a convolution share.

use super::broadcast::broadcast_to;
use crate::{Element, Error, Numeric, Result};
use ndarray::{ArrayViewD, ArrayViewMutD, Dimension, Zip};

/// Fold `inputs` (all broadcast to `out`'s shape) into `out` with `f`, left to right.
fn fold_into<T: Element>(
    inputs: &[ArrayViewD<'_, T>],
    mut out: ArrayViewMutD<'_, T>,
    f: impl Fn(T, T) -> T,
) -> Result<()> {
    let shape = out.raw_dim();
    let Some((first, rest)) = inputs.split_first() else {
        return Err(Error::Shape(
            "a variadic op needs at least one input".into(),
        ));
    };
    out.assign(&broadcast_to(first, shape.slice())?);
    for x in rest {
        let x = broadcast_to(x, shape.slice())?;
        Zip::from(&mut out).and(&x).for_each(|o, &v| *o = f(*o, v));
    }
    Ok(())
}

/// The larger of `acc` and `v`, where a NaN on either side wins, as numpy's `maximum` and
/// ONNX Runtime's Max and MaxPool (`f32::max` would drop it). One rule for Max, max pooling
/// and the max pool fused into a convolution.
#[inline(always)]
#[allow(clippy::eq_op)] // `v != v` is the generic NaN test
pub(crate) fn max_nan<T: PartialOrd + Copy>(acc: T, v: T) -> T {
    if v > acc || v != v {
        v
    } else {
        acc
    }
}

#[allow(clippy::eq_op)]
fn min_nan<T: Element>(a: T, b: T) -> T {
    if a != a || b < a {
        if a != a {
            a
        } else {
            b
        }
    } else if b != b {
        b
    } else {
        a
    }
}

/// ONNX `Max` of any number of inputs, broadcast, into `out`; NaN propagates.
///
/// ```
/// use ndarray::{array, ArrayD, IxDyn};
/// let mut out = ArrayD::<f32>::zeros(IxDyn(&[2]));
/// let (a, b) = (array![1.0f32, 5.0].into_dyn(), array![3.0f32].into_dyn());
/// onnx2rs_runtime::ops::max_into(&[a.view(), b.view()], out.view_mut()).unwrap();
/// assert_eq!(out, array![3.0, 5.0].into_dyn());
/// ```
///
/// # Errors
/// [`Error::Shape`] if the shapes do not broadcast to `out`.
pub fn max_into<T: Element>(inputs: &[ArrayViewD<'_, T>], out: ArrayViewMutD<'_, T>) -> Result<()> {
    fold_into(inputs, out, max_nan)
}

/// ONNX `Min` of any number of inputs, broadcast, into `out`; NaN propagates.
///
/// # Errors
/// [`Error::Shape`] if the shapes do not broadcast to `out`.
pub fn min_into<T: Element>(inputs: &[ArrayViewD<'_, T>], out: ArrayViewMutD<'_, T>) -> Result<()> {
    fold_into(inputs, out, min_nan)
}

/// ONNX `Sum` of any number of inputs, broadcast, into `out`.
///
/// # Errors
/// [`Error::Shape`] if the shapes do not broadcast to `out`.
pub fn sum_into<T: Numeric>(inputs: &[ArrayViewD<'_, T>], out: ArrayViewMutD<'_, T>) -> Result<()> {
    fold_into(inputs, out, |a, b| a + b)
}

/// ONNX `Mean` of any number of inputs, broadcast, into `out`.
///
/// # Errors
/// [`Error::Shape`] if the shapes do not broadcast to `out`.
pub fn mean_into<T: Numeric>(
    inputs: &[ArrayViewD<'_, T>],
    mut out: ArrayViewMutD<'_, T>,
) -> Result<()> {
    fold_into(inputs, out.view_mut(), |a, b| a + b)?;
    let n = T::from_f64(inputs.len() as f64);
    out.mapv_inplace(|v| v.div_onnx(n));
    Ok(())
}
