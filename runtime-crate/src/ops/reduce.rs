//! Reductions: every ONNX `Reduce*` op as one function over a [`Reduce`] table,
//! plus `ArgMax` and `ArgMin`.
//!
//! Spec: <https://onnx.ai/onnx/operators/onnx__ReduceSum.html> and siblings (axes
//! moved from attribute to input in opset 13/18; the compiler resolves them).
//! Values accumulate in `f64`.

use crate::{Element, Error, Result};
use ndarray::{ArrayViewD, ArrayViewMutD, Axis, Slice};

/// Which reduction to apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)] // each variant is the ONNX op `Reduce<Variant>`
pub enum Reduce {
    Sum,
    Mean,
    Max,
    Min,
    Prod,
    L1,
    L2,
    LogSum,
    LogSumExp,
    SumSquare,
}

impl Reduce {
    fn over(self, values: impl Iterator<Item = f64> + Clone) -> f64 {
        let nan_max = |a: f64, b: f64| {
            if a.is_nan() || b > a {
                if a.is_nan() {
                    a
                } else {
                    b
                }
            } else if b.is_nan() {
                b
            } else {
                a
            }
        };
        let nan_min = |a: f64, b: f64| {
            if a.is_nan() || b < a {
                if a.is_nan() {
                    a
                } else {
                    b
                }
            } else if b.is_nan() {
                b
            } else {
                a
            }
        };
        match self {
            Reduce::Sum => values.sum(),
            Reduce::Mean => {
                let (sum, n) = values.fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
                sum / n as f64
            }
            Reduce::Max => values.fold(f64::NEG_INFINITY, nan_max),
            Reduce::Min => values.fold(f64::INFINITY, nan_min),
            Reduce::Prod => values.product(),
            Reduce::L1 => values.map(f64::abs).sum(),
            Reduce::L2 => values.map(|v| v * v).sum::<f64>().sqrt(),
            Reduce::LogSum => values.sum::<f64>().ln(),
            Reduce::LogSumExp => {
                let max = values.clone().fold(f64::NEG_INFINITY, nan_max);
                if !max.is_finite() {
                    return values.map(f64::exp).sum::<f64>().ln();
                }
                max + values.map(|v| (v - max).exp()).sum::<f64>().ln()
            }
            Reduce::SumSquare => values.map(|v| v * v).sum(),
        }
    }
}

/// Reduce `x` over `axes` into `out`, whose element count is `x`'s with those axes removed
/// (`keepdims` only changes `out`'s shape, not its elements).
///
/// ```
/// use ndarray::{array, ArrayD, IxDyn};
/// use onnx2rs_runtime::ops::{reduce_into, Reduce};
/// let x = array![[1.0f32, 2.0], [3.0, 4.0]].into_dyn();
/// let mut out = ArrayD::<f32>::zeros(IxDyn(&[2, 1]));
/// reduce_into(x.view(), &[1], Reduce::Sum, out.view_mut()).unwrap();
/// assert_eq!(out, array![[3.0], [7.0]].into_dyn());
/// ```
///
/// # Errors
/// [`Error::Shape`] if an axis is out of range or `out` has the wrong size or is not contiguous.
pub fn reduce_into<T: Element>(
    x: ArrayViewD<'_, T>,
    axes: &[usize],
    op: Reduce,
    out: ArrayViewMutD<'_, T>,
) -> Result<()> {
    if axes.iter().any(|&a| a >= x.ndim()) {
        return Err(Error::Shape(format!(
            "reduction axes {axes:?} out of range for {:?}",
            x.shape()
        )));
    }
    let mut kept = x.raw_dim();
    for &a in axes {
        kept[a] = 1;
    }
    let mut out = out.into_shape_with_order(kept).map_err(|_| {
        Error::Shape("reduction output has the wrong size or is not contiguous".into())
    })?;
    for (index, o) in out.indexed_iter_mut() {
        let block = x.slice_each_axis(|ax| {
            let i = ax.axis.index();
            if axes.contains(&i) {
                Slice::from(..)
            } else {
                Slice::from(index[i]..index[i] + 1)
            }
        });
        *o = T::from_f64(op.over(block.iter().map(|v| v.to_f64())));
    }
    Ok(())
}

/// ONNX `ArgMax` (`max`) or `ArgMin` along `axis` into `out` (`i64`, the lanes' count of elements);
/// ties go to the first index, or the last with `last`. NaN counts as the extreme.
///
/// ```
/// use ndarray::{array, ArrayD, IxDyn};
/// let x = array![[1.0f32, 5.0, 5.0], [7.0, 0.0, 2.0]].into_dyn();
/// let mut out = ArrayD::<i64>::zeros(IxDyn(&[2]));
/// onnx2rs_runtime::ops::arg_extreme_into(x.view(), 1, true, false, out.view_mut()).unwrap();
/// assert_eq!(out, array![1, 0].into_dyn());
/// ```
///
/// # Errors
/// [`Error::Shape`] if `axis` is out of range or `out` has the wrong size.
pub fn arg_extreme_into<T: Element>(
    x: ArrayViewD<'_, T>,
    axis: usize,
    max: bool,
    last: bool,
    mut out: ArrayViewMutD<'_, i64>,
) -> Result<()> {
    if axis >= x.ndim() || out.len() * x.shape()[axis] != x.len() {
        return Err(Error::Shape(format!(
            "ArgMax/ArgMin over axis {axis} of {:?} cannot give {:?}",
            x.shape(),
            out.shape()
        )));
    }
    for (o, lane) in out.iter_mut().zip(x.lanes(Axis(axis))) {
        let mut values = lane.iter().map(|v| v.to_f64()).enumerate();
        let (mut best, mut best_v) = values.next().unwrap_or((0, f64::NAN));
        for (i, v) in values {
            let better = if best_v.is_nan() {
                last && v.is_nan() // the first NaN wins, or the last with `last`
            } else {
                v.is_nan() || (if max { v > best_v } else { v < best_v }) || (last && v == best_v)
            };
            if better {
                best = i;
                best_v = v;
            }
        }
        *o = best as i64;
    }
    Ok(())
}
