//! Reductions: every ONNX `Reduce*` op as one function over a [`Reduce`] table,
//! plus `ArgMax` and `ArgMin`.
//!
//! Spec: <https://onnx.ai/onnx/operators/onnx__ReduceSum.html> and siblings (axes
//! moved from attribute to input in opset 13/18; the compiler resolves them).
//! Values accumulate in `f64`.

use crate::{Element, Error, IndexElement, Result};
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
            Reduce::LogSum => libm::log(values.sum::<f64>()),
            Reduce::LogSumExp => {
                let max = values.clone().fold(f64::NEG_INFINITY, nan_max);
                if !max.is_finite() {
                    return libm::log(values.map(libm::exp).sum::<f64>());
                }
                max + libm::log(values.map(|v| libm::exp(v - max)).sum::<f64>())
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
    let finish = |v: f64| {
        // The max of nothing is the type's least value: false for bool (Cast would say true).
        if v == f64::NEG_INFINITY && T::DTYPE == safetensors::Dtype::BOOL {
            T::from_f64(0.0)
        } else {
            T::from_f64(v)
        }
    };
    // One run of axes over a contiguous input: x is [outer, reduced, inner] and each
    // output reads a strided lane of its slice, with no index arithmetic per element.
    let (lo, hi) = (axes.iter().min().copied(), axes.iter().max().copied());
    if let (Some(xs), Some(os), Some(lo), Some(hi)) = (x.as_slice(), out.as_slice_mut(), lo, hi) {
        if hi - lo + 1 == axes.len() {
            let reduced: usize = x.shape()[lo..=hi].iter().product();
            let inner: usize = x.shape()[hi + 1..].iter().product();
            if inner <= 1 && reduced > 0 && matches!(op, Reduce::Sum | Reduce::Mean) {
                // Each output sums one contiguous run (a global average pool): split the
                // sum so that it vectorises instead of waiting on one chain of adds.
                for (o, lane) in os.iter_mut().zip(xs.chunks_exact(reduced)) {
                    let sum = contiguous_sum(lane);
                    *o = T::from_f64(match op {
                        Reduce::Mean => sum / reduced as f64,
                        _ => sum,
                    });
                }
                return Ok(());
            }
            for (j, o) in os.iter_mut().enumerate() {
                let (outer, i) = (j / inner.max(1), j % inner.max(1));
                let lane = xs.get(outer * reduced * inner + i..).unwrap_or_default();
                let lane = lane.iter().step_by(inner.max(1));
                *o = finish(op.over(lane.take(reduced).map(|v| v.to_f64())));
            }
            return Ok(());
        }
    }
    for (index, o) in out.indexed_iter_mut() {
        let block = x.slice_each_axis(|ax| {
            let i = ax.axis.index();
            if axes.contains(&i) {
                Slice::from(..)
            } else {
                Slice::from(index[i]..index[i] + 1)
            }
        });
        *o = finish(op.over(block.iter().map(|v| v.to_f64())));
    }
    Ok(())
}

/// The `f64` sum of `values` in eight interleaved partial sums (which compile to vector adds).
pub(crate) fn contiguous_sum<T: Element>(values: &[T]) -> f64 {
    let mut partial = [0.0f64; 8];
    let chunks = values.chunks_exact(8);
    let tail: f64 = chunks.remainder().iter().map(|v| v.to_f64()).sum();
    for chunk in chunks {
        for (p, v) in partial.iter_mut().zip(chunk) {
            *p += v.to_f64();
        }
    }
    partial.iter().sum::<f64>() + tail
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

/// The `k` largest (or smallest) elements along `axis` and their indices (ONNX TopK).
///
/// Results come sorted, ties broken by the lower index; NaN counts as the largest
/// value. Allocation-free: pick `j` is the best element ranked after pick `j - 1`.
///
/// ```
/// use onnx2rs_runtime::ndarray::{arr1, Array1};
/// use onnx2rs_runtime::ops::topk_into;
/// let x = arr1(&[1.0f32, 4.0, 2.0, 4.0]).into_dyn();
/// let (mut v, mut i) = (Array1::<f32>::zeros(3).into_dyn(), Array1::<i64>::zeros(3).into_dyn());
/// topk_into(x.view(), None, 0, true, v.view_mut(), i.view_mut()).unwrap();
/// assert_eq!(v.as_slice().unwrap(), &[4.0, 4.0, 2.0]);
/// assert_eq!(i.as_slice().unwrap(), &[1, 3, 2]);
/// ```
///
/// `k` is the run-time K operand when the model computes it; it must agree
/// with the outputs' static shape.
///
/// # Errors
/// [`Error::Shape`] if the outputs do not have `x`'s shape with `k` along `axis`.
pub fn topk_into<T: Element>(
    x: ArrayViewD<'_, T>,
    k: Option<ArrayViewD<'_, i64>>,
    axis: usize,
    largest: bool,
    mut values: ArrayViewMutD<'_, T>,
    mut indices: ArrayViewMutD<'_, i64>,
) -> Result<()> {
    let fits = |shape: &[usize]| {
        axis < x.ndim()
            && shape.len() == x.ndim()
            && shape[axis] <= x.shape()[axis]
            && (0..x.ndim()).all(|d| d == axis || shape[d] == x.shape()[d])
    };
    let k_agrees = k.as_ref().is_none_or(|k| {
        k.len() == 1
            && k.iter()
                .all(|&k| usize::try_from(k).ok() == values.shape().get(axis).copied())
    });
    if !fits(values.shape()) || values.shape() != indices.shape() || !k_agrees {
        return Err(Error::Shape(format!(
            "TopK over axis {axis} of {:?} cannot give {:?} (K = {:?})",
            x.shape(),
            values.shape(),
            k.map(|k| k.iter().copied().collect::<Vec<_>>())
        )));
    }
    // `a` ranks before `b`: better value first, then the lower index.
    let before = |(i, a): (usize, f64), (j, b): (usize, f64)| {
        let order = if largest {
            b.total_cmp_nan_high(a)
        } else {
            a.total_cmp_nan_high(b)
        };
        order.then(i.cmp(&j)).is_lt()
    };
    let lanes = x
        .lanes(Axis(axis))
        .into_iter()
        .zip(values.lanes_mut(Axis(axis)))
        .zip(indices.lanes_mut(Axis(axis)));
    for ((lane, mut v_out), mut i_out) in lanes {
        let mut previous: Option<(usize, f64)> = None;
        for (v, i) in v_out.iter_mut().zip(i_out.iter_mut()) {
            let mut best: Option<(usize, f64)> = None;
            for (j, x) in lane.iter().enumerate() {
                let candidate = (j, x.to_f64());
                let after_previous = previous.is_none_or(|p| before(p, candidate));
                if after_previous && best.is_none_or(|b| before(candidate, b)) {
                    best = Some(candidate);
                }
            }
            let (j, _) = best.ok_or_else(|| Error::Shape("TopK k exceeds the axis".into()))?;
            *v = lane[j];
            *i = j as i64;
            previous = best;
        }
    }
    Ok(())
}

/// `f64` ordering in which NaN is above every number (as ONNX Runtime's TopK sorts).
trait NanHigh {
    fn total_cmp_nan_high(&self, other: f64) -> std::cmp::Ordering;
}

impl NanHigh for f64 {
    fn total_cmp_nan_high(&self, other: f64) -> std::cmp::Ordering {
        match (self.is_nan(), other.is_nan()) {
            (true, true) => std::cmp::Ordering::Equal,
            (true, false) => std::cmp::Ordering::Greater,
            (false, true) => std::cmp::Ordering::Less,
            (false, false) => self
                .partial_cmp(&other)
                .unwrap_or(std::cmp::Ordering::Equal),
        }
    }
}

/// Axes read at run time (an ONNX `axes` operand): non-negative, at most 8.
#[derive(Debug, Clone, Copy)]
pub struct Axes {
    list: [usize; 8],
    len: usize,
}

impl Axes {
    /// Normalise `values` (negative ones count from the end) for a tensor of rank `rank`.
    ///
    /// ```
    /// use ndarray::array;
    /// let axes = onnx2rs_runtime::ops::Axes::read(&array![-1i64, 0].into_dyn().view(), 3).unwrap();
    /// assert_eq!(axes.as_slice(), &[2, 0]);
    /// ```
    ///
    /// # Errors
    /// [`Error::Shape`] if an axis is out of range or there are more than 8.
    pub fn read<I: IndexElement>(values: &ArrayViewD<'_, I>, rank: usize) -> Result<Self> {
        let mut axes = Self {
            list: [0; 8],
            len: values.len(),
        };
        if values.len() > axes.list.len() {
            return Err(Error::Shape(format!("{} axes", values.len())));
        }
        for (slot, a) in axes.list.iter_mut().zip(values.iter()) {
            let (a, r) = (a.as_i64(), rank as i64);
            *slot = usize::try_from(if a < 0 { a + r } else { a })
                .ok()
                .filter(|&a| a < rank)
                .ok_or_else(|| Error::Shape(format!("axis {a} out of range for rank {rank}")))?;
        }
        Ok(axes)
    }

    /// The one axis of a single-axis operand (CumSum's).
    ///
    /// # Errors
    /// [`Error::Shape`] if `values` does not hold exactly one axis in range.
    pub fn one<I: IndexElement>(values: &ArrayViewD<'_, I>, rank: usize) -> Result<usize> {
        match Self::read(values, rank)?.as_slice() {
            [axis] => Ok(*axis),
            more => Err(Error::Shape(format!(
                "expected one axis, got {}",
                more.len()
            ))),
        }
    }

    /// The axes, in the order given.
    #[must_use]
    pub fn as_slice(&self) -> &[usize] {
        &self.list[..self.len]
    }
}
