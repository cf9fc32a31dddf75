//! Writing by run-time indices: ONNX `ScatterElements` (and the older `Scatter`) and
//! `ScatterND`, the inverses of `GatherElements` and `GatherND`.
//!
//! The output starts as a copy of the data; each update then lands where its index says, in
//! the order the updates come (so with `reduction = none`, the last of two updates to one
//! place wins, as in ONNX Runtime). Indices may be negative (counted from the end); one out of
//! range is an [`Error::Index`], never a panic.

use super::operands::OPERAND_MAX_RANK;
use crate::{Error, IndexElement, Numeric, Result};
use ndarray::{ArrayViewD, ArrayViewMutD};

/// How an update combines with the value it lands on (ONNX's `reduction` attribute).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScatterReduction {
    /// The update replaces the value.
    None,
    /// `value + update`.
    Add,
    /// `value × update`.
    Mul,
    /// The larger of the two.
    Max,
    /// The smaller of the two.
    Min,
}

impl ScatterReduction {
    #[inline]
    fn apply<T: Numeric>(self, value: T, update: T) -> T {
        match self {
            Self::None => update,
            Self::Add => value + update,
            Self::Mul => value * update,
            // `std::max` and `std::min`, as ONNX Runtime: the value stays unless the update
            // is strictly beyond it.
            Self::Max if value < update => update,
            Self::Min if update < value => update,
            Self::Max | Self::Min => value,
        }
    }
}

/// `i` as a position along an axis of `len`, counting negative values from the end.
fn position(i: i64, len: usize, op: &str) -> Result<usize> {
    let k = if i < 0 { i + len as i64 } else { i };
    usize::try_from(k)
        .ok()
        .filter(|&k| k < len)
        .ok_or_else(|| Error::Index(format!("{op} index {i} outside -{len}..{len}")))
}

/// ONNX `ScatterElements` along `axis`: `out` is `data` with `out[.., indices[p], ..] =
/// updates[p]` (the index replacing position `p`'s coordinate on `axis`) for every position
/// `p` of `indices`, combined by `reduction`.
///
/// ```
/// use ndarray::{array, ArrayD, IxDyn};
/// use onnx2rs_runtime::ops::{scatter_elements_into, ScatterReduction};
/// let data = array![[1.0f32, 2.0, 3.0], [4.0, 5.0, 6.0]].into_dyn();
/// let indices = array![[2i64], [-3]].into_dyn();
/// let updates = array![[10.0f32], [20.0]].into_dyn();
/// let mut out = ArrayD::zeros(IxDyn(&[2, 3]));
/// scatter_elements_into(data.view(), indices.view(), updates.view(), 1, ScatterReduction::Add, out.view_mut())
///     .unwrap();
/// assert_eq!(out, array![[1.0, 2.0, 13.0], [24.0, 5.0, 6.0]].into_dyn());
/// ```
///
/// # Errors
/// [`Error::Shape`] if the shapes disagree, the rank exceeds [`OPERAND_MAX_RANK`] or `out` is not
/// contiguous; [`Error::Index`] for an index out of range.
pub fn scatter_elements_into<T: Numeric, I: IndexElement>(
    data: ArrayViewD<'_, T>,
    indices: ArrayViewD<'_, I>,
    updates: ArrayViewD<'_, T>,
    axis: usize,
    reduction: ScatterReduction,
    mut out: ArrayViewMutD<'_, T>,
) -> Result<()> {
    let rank = data.ndim();
    let fits = axis < rank
        && rank <= OPERAND_MAX_RANK
        && indices.ndim() == rank
        && updates.shape() == indices.shape()
        && out.shape() == data.shape()
        && (0..rank).all(|d| d == axis || indices.shape()[d] <= data.shape()[d]);
    if !fits {
        return Err(Error::Shape(format!(
            "ScatterElements into {:?} along axis {axis} with indices {:?} and updates {:?} \
             cannot give {:?}",
            data.shape(),
            indices.shape(),
            updates.shape(),
            out.shape()
        )));
    }
    out.assign(&data);
    let out = out
        .as_slice_mut()
        .ok_or_else(|| Error::Shape("ScatterElements' output must be contiguous".into()))?;
    let (shape, ishape) = (data.shape(), indices.shape());
    // Row-major strides of the output, and the position in `indices`: no allocation per call.
    let mut strides = [1usize; OPERAND_MAX_RANK];
    for d in (0..rank.saturating_sub(1)).rev() {
        strides[d] = strides[d + 1] * shape[d + 1];
    }
    let mut at = [0usize; OPERAND_MAX_RANK];
    for (&i, &u) in indices.iter().zip(updates.iter()) {
        let k = position(i.as_i64(), shape[axis], "ScatterElements")?;
        let offset: usize = (0..rank)
            .map(|d| if d == axis { k } else { at[d] } * strides[d])
            .sum();
        out[offset] = reduction.apply(out[offset], u);
        for d in (0..rank).rev() {
            at[d] += 1;
            if at[d] < ishape[d] {
                break;
            }
            at[d] = 0;
        }
    }
    Ok(())
}

/// ONNX `ScatterND`: `indices` is `[.., k]`, each of its rows the first `k` coordinates of
/// a slice of `data` (of shape `data.shape[k..]`), which the matching block of `updates`
/// (shape `indices.shape[..-1] ++ data.shape[k..]`) replaces, combined by `reduction`.
///
/// ```
/// use ndarray::{array, ArrayD, IxDyn};
/// use onnx2rs_runtime::ops::{scatter_nd_into, ScatterReduction};
/// let data = array![[1, 2], [3, 4], [5, 6]].into_dyn();
/// let indices = array![[2i64], [0]].into_dyn();
/// let updates = array![[7, 8], [9, 10]].into_dyn();
/// let mut out = ArrayD::zeros(IxDyn(&[3, 2]));
/// scatter_nd_into(data.view(), indices.view(), updates.view(), ScatterReduction::None, out.view_mut())
///     .unwrap();
/// assert_eq!(out, array![[9, 10], [3, 4], [7, 8]].into_dyn());
/// ```
///
/// # Errors
/// [`Error::Shape`] if the shapes disagree or `out` is not contiguous; [`Error::Index`] for an
/// index out of range.
pub fn scatter_nd_into<T: Numeric, I: IndexElement>(
    data: ArrayViewD<'_, T>,
    indices: ArrayViewD<'_, I>,
    updates: ArrayViewD<'_, T>,
    reduction: ScatterReduction,
    mut out: ArrayViewMutD<'_, T>,
) -> Result<()> {
    let (shape, ishape) = (data.shape(), indices.shape());
    let k = ishape.last().copied().unwrap_or(usize::MAX);
    let q = ishape.len().saturating_sub(1);
    let fits = !ishape.is_empty()
        && k <= shape.len()
        && out.shape() == shape
        && updates.ndim() == q + shape.len() - k
        && updates.shape()[..q] == ishape[..q]
        && updates.shape()[q..] == shape[k..];
    if !fits {
        return Err(Error::Shape(format!(
            "ScatterND into {shape:?} with indices {ishape:?} and updates {:?} cannot give {:?}",
            updates.shape(),
            out.shape()
        )));
    }
    out.assign(&data);
    let out = out
        .as_slice_mut()
        .ok_or_else(|| Error::Shape("ScatterND's output must be contiguous".into()))?;
    let block: usize = shape[k..].iter().product();
    let mut updates = updates.iter();
    let mut coordinates = indices.iter();
    for _ in 0..ishape[..q].iter().product::<usize>() {
        let mut start = 0;
        for &len in &shape[..k] {
            let i = coordinates.next().map_or(0, |i| i.as_i64());
            start = start * len + position(i, len, "ScatterND")?;
        }
        for (slot, &u) in out[start * block..][..block].iter_mut().zip(&mut updates) {
            *slot = reduction.apply(*slot, u);
        }
    }
    Ok(())
}
