//! Generators: ONNX `Trilu`, `CumSum`, `Range` and `EyeLike`, and the constant fill
//! behind `ConstantOfShape`; each writes a tensor computed from its position (and, for
//! `Trilu` and `CumSum`, its input).

use crate::{Element, Error, Result};
use ndarray::{ArrayViewD, ArrayViewMutD, Axis};

/// ONNX `Trilu`: keep the upper (`upper`) or lower triangle of the last two axes,
/// offset by diagonal `k`; zero elsewhere.
///
/// ```
/// use ndarray::{array, ArrayD, IxDyn};
/// let mut out = ArrayD::<i32>::zeros(IxDyn(&[2, 2]));
/// onnx2rs_runtime::ops::trilu_into(array![[1, 2], [3, 4]].into_dyn().view(), 0, true, out.view_mut()).unwrap();
/// assert_eq!(out, array![[1, 2], [0, 4]].into_dyn());
/// ```
///
/// # Errors
/// [`Error::Shape`] if `x` has rank below 2 or `out` has another shape.
pub fn trilu_into<T: Element>(
    x: ArrayViewD<'_, T>,
    k: i64,
    upper: bool,
    mut out: ArrayViewMutD<'_, T>,
) -> Result<()> {
    let r = x.ndim();
    if r < 2 || out.shape() != x.shape() {
        return Err(Error::Shape(format!(
            "Trilu needs rank >= 2 and equal shapes, got {:?}",
            x.shape()
        )));
    }
    for (index, o) in out.indexed_iter_mut() {
        let (i, j) = (index[r - 2] as i64, index[r - 1] as i64);
        let keep = if upper { j - i >= k } else { j - i <= k };
        *o = if keep { x[&index] } else { T::default() };
    }
    Ok(())
}

/// ONNX `CumSum` along `axis`: inclusive or `exclusive`, forwards or in `reverse`.
///
/// ```
/// use ndarray::{array, ArrayD, IxDyn};
/// let mut out = ArrayD::<i64>::zeros(IxDyn(&[3]));
/// onnx2rs_runtime::ops::cumsum_into(array![1i64, 2, 3].into_dyn().view(), 0, true, false, out.view_mut()).unwrap();
/// assert_eq!(out, array![0, 1, 3].into_dyn());
/// ```
///
/// # Errors
/// [`Error::Shape`] if `axis` is out of range or `out` has another shape.
pub fn cumsum_into<T: crate::Numeric>(
    x: ArrayViewD<'_, T>,
    axis: usize,
    exclusive: bool,
    reverse: bool,
    mut out: ArrayViewMutD<'_, T>,
) -> Result<()> {
    if axis >= x.ndim() || out.shape() != x.shape() {
        return Err(Error::Shape(format!(
            "CumSum over axis {axis} of {:?}",
            x.shape()
        )));
    }
    for (lane, mut dst) in x
        .lanes(Axis(axis))
        .into_iter()
        .zip(out.lanes_mut(Axis(axis)))
    {
        let n = lane.len();
        let mut acc = T::zero();
        for step in 0..n {
            let i = if reverse { n - 1 - step } else { step };
            if exclusive {
                dst[i] = acc;
                acc = acc + lane[i];
            } else {
                acc = acc + lane[i];
                dst[i] = acc;
            }
        }
    }
    Ok(())
}

/// ONNX `Range` into `out`: `start, start + delta, ...`; the static length of `out`
/// is the count, which the run-time operands must agree with.
///
/// ```
/// use ndarray::{arr0, array, ArrayD, IxDyn};
/// let mut out = ArrayD::<i64>::zeros(IxDyn(&[3]));
/// let (start, limit, delta) = (arr0(1i64).into_dyn(), arr0(7i64).into_dyn(), arr0(2i64).into_dyn());
/// onnx2rs_runtime::ops::range_into(start.view(), limit.view(), delta.view(), out.view_mut()).unwrap();
/// assert_eq!(out, array![1, 3, 5].into_dyn());
/// ```
///
/// # Errors
/// [`Error::Shape`] if the operands are not scalars or give another count than `out` holds.
pub fn range_into<T: crate::Numeric>(
    start: ArrayViewD<'_, T>,
    limit: ArrayViewD<'_, T>,
    delta: ArrayViewD<'_, T>,
    mut out: ArrayViewMutD<'_, T>,
) -> Result<()> {
    let scalar = |a: &ArrayViewD<'_, T>| {
        a.iter()
            .next()
            .copied()
            .filter(|_| a.len() == 1)
            .ok_or_else(|| Error::Shape("Range operands must be scalars".into()))
    };
    let (start, limit, delta) = (scalar(&start)?, scalar(&limit)?, scalar(&delta)?);
    let count = ((limit.to_f64() - start.to_f64()) / delta.to_f64())
        .ceil()
        .max(0.0);
    if count != out.len() as f64 {
        return Err(Error::Shape(format!(
            "Range({start:?}, {limit:?}, {delta:?}) has {count} elements, the model declares {}",
            out.len()
        )));
    }
    let mut v = start;
    for o in out.iter_mut() {
        *o = v;
        v = v + delta;
    }
    Ok(())
}

/// ONNX `EyeLike` into `out` (2-D): ones on diagonal `k`, zeros elsewhere.
///
/// # Errors
/// [`Error::Shape`] if `out` is not 2-D.
pub fn eye_into<T: crate::Numeric>(k: i64, mut out: ArrayViewMutD<'_, T>) -> Result<()> {
    if out.ndim() != 2 {
        return Err(Error::Shape("EyeLike output must be 2-D".into()));
    }
    for ((i, j), o) in out.indexed_iter_mut().map(|(d, o)| ((d[0], d[1]), o)) {
        *o = if j as i64 - i as i64 == k {
            T::one()
        } else {
            T::zero()
        };
    }
    Ok(())
}

/// Set every element of `out` to `value` (ONNX `ConstantOfShape` with a static output shape).
pub fn fill_into<T: Element>(value: T, mut out: ArrayViewMutD<'_, T>) {
    out.fill(value);
}
