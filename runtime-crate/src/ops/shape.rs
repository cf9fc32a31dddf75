//! Data movement: ONNX `Reshape` (and `Flatten`, `Squeeze`, `Unsqueeze`), `Transpose`,
//! `Concat`, `Slice`, `Expand`, `Tile` and `Pad` (generators are in `generators.rs`).
//!
//! Shapes are static in generated code: the compiler resolves `Reshape`'s
//! `0`/`-1`, `Flatten`'s axis and the axes of `Squeeze`/`Unsqueeze` into the
//! final shape, so all four lower to [`reshape`].

use super::broadcast::copy_into;
use crate::{Element, Error, Result};
use ndarray::{ArrayD, ArrayViewD, ArrayViewMutD, Axis, IxDyn, Slice};
use std::ops::Range;

/// Reshape `x` to `shape` in row-major order (what ONNX `Reshape` means).
///
/// ```
/// use ndarray::array;
/// let y = onnx2rs_runtime::ops::reshape(array![[1, 2], [3, 4]].into_dyn().view(), &[4]).unwrap();
/// assert_eq!(y, array![1, 2, 3, 4].into_dyn());
/// ```
///
/// # Errors
/// [`Error::Shape`] if the element counts differ.
pub fn reshape<T: Element>(x: ArrayViewD<'_, T>, shape: &[usize]) -> Result<ArrayD<T>> {
    if x.len() != shape.iter().product::<usize>() {
        return Err(Error::Shape(format!(
            "cannot reshape {:?} to {shape:?}",
            x.shape()
        )));
    }
    Ok(x.to_shape(IxDyn(shape))?.into_owned())
}

/// ONNX `Transpose`: permute the axes by `perm`.
///
/// ```
/// use ndarray::array;
/// let y = onnx2rs_runtime::ops::transpose(array![[1, 2, 3]].into_dyn().view(), &[1, 0]).unwrap();
/// assert_eq!(y, array![[1], [2], [3]].into_dyn());
/// ```
///
/// # Errors
/// [`Error::Shape`] if `perm` is not a permutation of the axes.
pub fn transpose<T: Element>(x: ArrayViewD<'_, T>, perm: &[usize]) -> Result<ArrayD<T>> {
    check_permutation(perm, x.ndim())?;
    Ok(x.permuted_axes(IxDyn(perm))
        .as_standard_layout()
        .into_owned())
}

/// [`transpose`] into `out`, which must have the permuted shape.
///
/// # Errors
/// [`Error::Shape`] if `perm` is not a permutation or `out` has another shape.
pub fn transpose_into<T: Element>(
    x: ArrayViewD<'_, T>,
    perm: &[usize],
    mut out: ArrayViewMutD<'_, T>,
) -> Result<()> {
    check_permutation(perm, x.ndim())?;
    let y = x.permuted_axes(IxDyn(perm));
    if y.shape() != out.shape() {
        return Err(Error::Shape(format!(
            "Transpose gives {:?}, not {:?}",
            y.shape(),
            out.shape()
        )));
    }
    out.assign(&y);
    Ok(())
}

fn check_permutation(perm: &[usize], rank: usize) -> Result<()> {
    let mut seen = [false; 16];
    let ok = perm.len() == rank
        && rank <= seen.len()
        && perm
            .iter()
            .all(|&p| p < rank && !std::mem::replace(&mut seen[p], true));
    if ok {
        Ok(())
    } else {
        Err(Error::Shape(format!(
            "{perm:?} is not a permutation of {rank} axes"
        )))
    }
}

/// ONNX `Concat` along `axis` (already made non-negative).
///
/// ```
/// use ndarray::array;
/// let a = array![[1, 2]].into_dyn();
/// let b = array![[3, 4]].into_dyn();
/// let y = onnx2rs_runtime::ops::concat(&[a.view(), b.view()], 0).unwrap();
/// assert_eq!(y, array![[1, 2], [3, 4]].into_dyn());
/// ```
///
/// # Errors
/// [`Error::Shape`] if the inputs differ outside `axis`.
pub fn concat<T: Element>(inputs: &[ArrayViewD<'_, T>], axis: usize) -> Result<ArrayD<T>> {
    if inputs.first().is_some_and(|x| axis >= x.ndim()) {
        return Err(Error::Shape(format!("Concat axis {axis} out of range")));
    }
    Ok(ndarray::concatenate(Axis(axis), inputs)?)
}

/// [`concat()`] into `out`, which must have the concatenated shape.
///
/// # Errors
/// [`Error::Shape`] if the inputs do not tile `out` along `axis`.
pub fn concat_into<T: Element>(
    inputs: &[ArrayViewD<'_, T>],
    axis: usize,
    mut out: ArrayViewMutD<'_, T>,
) -> Result<()> {
    if axis >= out.ndim() {
        return Err(Error::Shape(format!("Concat axis {axis} out of range")));
    }
    let mut start = 0;
    for x in inputs {
        let len = x.shape().get(axis).copied().unwrap_or(0);
        let end = start + len;
        if end > out.shape()[axis] {
            return Err(Error::Shape("Concat inputs exceed the output".into()));
        }
        let mut part = out.slice_axis_mut(Axis(axis), Slice::from(start..end));
        if part.shape() != x.shape() {
            return Err(Error::Shape(format!(
                "Concat input {:?} does not fit {:?}",
                x.shape(),
                part.shape()
            )));
        }
        part.assign(x);
        start = end;
    }
    if start != out.shape()[axis] {
        return Err(Error::Shape("Concat inputs do not fill the output".into()));
    }
    Ok(())
}

/// ONNX `Slice` with the ranges resolved at compile time: one `(lo, hi, step)` per axis,
/// in ndarray's convention (elements `lo..hi`; a negative step walks them from the end).
///
/// ```
/// use ndarray::{array, ArrayD, IxDyn};
/// let x = array![[0, 1, 2, 3], [4, 5, 6, 7]].into_dyn();
/// let mut out = ArrayD::<i32>::zeros(IxDyn(&[2, 2]));
/// onnx2rs_runtime::ops::slice_into(x.view(), &[(0, 2, 1), (1, 4, -2)], out.view_mut()).unwrap();
/// assert_eq!(out, array![[3, 1], [7, 5]].into_dyn());
/// ```
///
/// # Errors
/// [`Error::Shape`] if a range is invalid for `x` or the result does not fit `out`.
pub fn slice_into<T: Element>(
    x: ArrayViewD<'_, T>,
    ranges: &[(usize, usize, isize)],
    mut out: ArrayViewMutD<'_, T>,
) -> Result<()> {
    let valid = ranges.len() == x.ndim()
        && ranges
            .iter()
            .zip(x.shape())
            .all(|(&(lo, hi, step), &dim)| lo <= hi && hi <= dim && step != 0);
    if !valid {
        return Err(Error::Shape(format!(
            "invalid slice {ranges:?} of {:?}",
            x.shape()
        )));
    }
    let fits = out.ndim() == ranges.len()
        && out
            .shape()
            .iter()
            .zip(ranges)
            .all(|(&d, &(lo, hi, _))| d == hi - lo);
    if let (Some(range), true) = (contiguous_range(x.shape(), ranges), fits) {
        if let (Some(src), Some(dst)) = (x.as_slice(), out.as_slice_mut()) {
            dst.copy_from_slice(&src[range]);
            return Ok(());
        }
    }
    let y = x.slice_each_axis(|ax| {
        let (lo, hi, step) = ranges[ax.axis.index()];
        Slice::new(lo as isize, Some(hi as isize), step)
    });
    if !super::same_shape(y.shape(), out.shape()) {
        return Err(Error::Shape(format!(
            "Slice gives {:?}, not {:?}",
            y.shape(),
            out.shape()
        )));
    }
    copy_into(&mut out, &y);
    Ok(())
}

/// The values a slice of a row-major array of `shape` selects, as one range of its values,
/// when they are contiguous: unit steps, every axis before the first partly taken one
/// taken at a single index, and every axis after it whole (a Split's part along the last axis).
fn contiguous_range(shape: &[usize], ranges: &[(usize, usize, isize)]) -> Option<Range<usize>> {
    let partial = ranges
        .iter()
        .zip(shape)
        .position(|(&(lo, hi, _), &dim)| (lo, hi) != (0, dim))
        .unwrap_or(shape.len());
    let before_single = ranges[..partial].iter().all(|&(lo, hi, _)| hi - lo == 1);
    let after_whole = ranges
        .iter()
        .zip(shape)
        .skip(partial + 1)
        .all(|(&(lo, hi, _), &dim)| (lo, hi) == (0, dim));
    if !(before_single && after_whole && ranges.iter().all(|r| r.2 == 1)) {
        return None;
    }
    // Row-major offset of the first value, and the number of values taken.
    let (mut offset, mut len) = (0, 1);
    for (axis, (&(lo, hi, _), &dim)) in ranges.iter().zip(shape).enumerate() {
        offset = offset * dim + lo;
        if axis >= partial {
            len *= hi - lo;
        }
    }
    Some(offset..offset + len)
}

/// ONNX `Expand`: `x` broadcast to `out`'s shape.
///
/// ```
/// use ndarray::{array, ArrayD, IxDyn};
/// let mut out = ArrayD::<i64>::zeros(IxDyn(&[2, 3]));
/// onnx2rs_runtime::ops::expand_into(array![[1], [2]].into_dyn().view(), out.view_mut()).unwrap();
/// assert_eq!(out, array![[1, 1, 1], [2, 2, 2]].into_dyn());
/// ```
///
/// # Errors
/// [`Error::Shape`] if `x` does not broadcast to `out`.
pub fn expand_into<T: Element>(x: ArrayViewD<'_, T>, mut out: ArrayViewMutD<'_, T>) -> Result<()> {
    let shape = out.raw_dim();
    let x = x.broadcast(shape).ok_or_else(|| {
        Error::Shape(format!(
            "cannot expand {:?} to {:?}",
            x.shape(),
            out.shape()
        ))
    })?;
    out.assign(&x);
    Ok(())
}

/// ONNX `Tile`: `out` (whose dims are multiples of `x`'s) filled with repeated copies of `x`.
///
/// ```
/// use ndarray::{array, ArrayD, IxDyn};
/// let mut out = ArrayD::<i32>::zeros(IxDyn(&[2, 4]));
/// onnx2rs_runtime::ops::tile_into(array![[1, 2]].into_dyn().view(), out.view_mut()).unwrap();
/// assert_eq!(out, array![[1, 2, 1, 2], [1, 2, 1, 2]].into_dyn());
/// ```
///
/// # Errors
/// [`Error::Shape`] if `out`'s dims are not multiples of `x`'s.
pub fn tile_into<T: Element>(x: ArrayViewD<'_, T>, mut out: ArrayViewMutD<'_, T>) -> Result<()> {
    let fits = out.ndim() == x.ndim()
        && out
            .shape()
            .iter()
            .zip(x.shape())
            .all(|(&o, &d)| d > 0 && o % d == 0 || o == 0);
    if !fits || x.ndim() > MAX_RANK {
        return Err(Error::Shape(format!(
            "cannot tile {:?} to {:?}",
            x.shape(),
            out.shape()
        )));
    }
    let mut src = [0usize; MAX_RANK];
    for (index, o) in out.indexed_iter_mut() {
        for (axis, s) in src.iter_mut().enumerate().take(x.ndim()) {
            *s = index[axis] % x.shape()[axis];
        }
        *o = x[&src[..x.ndim()]];
    }
    Ok(())
}

/// The largest rank the index-mapping kernels (Tile, Pad) handle without allocating.
const MAX_RANK: usize = 8;

/// How ONNX `Pad` fills the border.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PadMode {
    /// A constant value.
    Constant,
    /// Mirror without repeating the edge: `3 2 | 1 2 3 | 2 1`.
    Reflect,
    /// Repeat the edge value.
    Edge,
    /// Wrap around: `2 3 | 1 2 3 | 1 2`.
    Wrap,
}

/// ONNX `Pad`: `out` is `x` with `begin[axis]` elements before it on each axis (negative
/// pads crop), the border filled as `mode` says (`value` for [`PadMode::Constant`]).
///
/// ```
/// use ndarray::{array, ArrayD, IxDyn};
/// use onnx2rs_runtime::ops::{pad_into, PadMode};
/// let mut out = ArrayD::<f32>::zeros(IxDyn(&[5]));
/// pad_into(array![1.0f32, 2.0, 3.0].into_dyn().view(), &[1], PadMode::Reflect, 0.0, out.view_mut()).unwrap();
/// assert_eq!(out, array![2.0, 1.0, 2.0, 3.0, 2.0].into_dyn());
/// ```
///
/// # Errors
/// [`Error::Shape`] if the ranks differ, or a non-constant mode pads an empty axis.
pub fn pad_into<T: Element>(
    x: ArrayViewD<'_, T>,
    begin: &[isize],
    mode: PadMode,
    value: T,
    mut out: ArrayViewMutD<'_, T>,
) -> Result<()> {
    let rank = x.ndim();
    if out.ndim() != rank || begin.len() != rank || rank > MAX_RANK {
        return Err(Error::Shape(format!(
            "cannot pad {:?} to {:?}",
            x.shape(),
            out.shape()
        )));
    }
    if mode != PadMode::Constant && x.shape().contains(&0) {
        return Err(Error::Shape(
            "Pad: only constant mode can pad an empty axis".into(),
        ));
    }
    let Some(last) = rank.checked_sub(1) else {
        out.assign(&x);
        return Ok(()); // a scalar: nothing to pad
    };
    let (len, at) = (x.shape()[last], begin[last]);
    let outer = IxDyn(&out.shape()[..last]);
    let mut src = [0usize; MAX_RANK];
    // Row by row along the last axis: the source row found once, not per value.
    for (index, mut row) in ndarray::indices(outer)
        .into_iter()
        .zip(out.lanes_mut(Axis(last)))
    {
        let mut inside = true;
        for axis in 0..last {
            match pad_source(index[axis] as isize - begin[axis], x.shape()[axis], mode) {
                Some(j) => src[axis] = j,
                None => inside = false,
            }
        }
        if !inside {
            row.fill(value);
            continue;
        }
        let source = x.slice_each_axis(|ax| match ax.axis.index() {
            axis if axis < last => Slice::from(src[axis]..src[axis] + 1),
            _ => Slice::from(..),
        });
        let Some(source) = source.lanes(Axis(last)).into_iter().next() else {
            continue; // unreachable: the slice holds one lane
        };
        for (j, o) in row.iter_mut().enumerate() {
            *o = pad_source(j as isize - at, len, mode).map_or(value, |i| source[i]);
        }
    }
    Ok(())
}

/// The index along an axis of `len` values that padded position `i` (counted from the
/// axis's first value) reads, or `None` for the constant value.
#[inline]
fn pad_source(i: isize, len: usize, mode: PadMode) -> Option<usize> {
    let len = len as isize;
    let j = match mode {
        _ if (0..len).contains(&i) => i,
        PadMode::Constant => return None,
        PadMode::Edge => i.clamp(0, len - 1),
        PadMode::Wrap => i.rem_euclid(len),
        PadMode::Reflect if len == 1 => 0,
        PadMode::Reflect => {
            let period = 2 * (len - 1);
            let k = i.rem_euclid(period);
            if k < len {
                k
            } else {
                period - k
            }
        }
    };
    Some(j as usize)
}

/// ONNX `ReverseSequence`: for each batch entry `b`, the first `lens[b]` steps along
/// `time_axis` in reverse order; the steps after them unchanged.
///
/// ```
/// use ndarray::{array, ArrayD, IxDyn};
/// let x = array![[1, 2, 3], [4, 5, 6]].into_dyn(); // batch 0, time 1
/// let mut out = ArrayD::<i32>::zeros(IxDyn(&[2, 3]));
/// let lens = array![2i64, 3].into_dyn();
/// onnx2rs_runtime::ops::reverse_sequence_into(x.view(), lens.view(), 0, 1, out.view_mut()).unwrap();
/// assert_eq!(out, array![[2, 1, 3], [6, 5, 4]].into_dyn());
/// ```
///
/// # Errors
/// [`Error::Shape`] if shapes or axes disagree; [`Error::Index`] if a length exceeds the time axis.
pub fn reverse_sequence_into<T: Element>(
    x: ArrayViewD<'_, T>,
    lens: ArrayViewD<'_, i64>,
    batch_axis: usize,
    time_axis: usize,
    mut out: ArrayViewMutD<'_, T>,
) -> Result<()> {
    let axes_ok = batch_axis != time_axis && batch_axis < x.ndim() && time_axis < x.ndim();
    if !axes_ok || out.shape() != x.shape() || lens.len() != x.shape()[batch_axis] {
        return Err(Error::Shape(format!(
            "ReverseSequence of {:?} (batch axis {batch_axis}, time axis {time_axis}) with {} lengths",
            x.shape(),
            lens.len()
        )));
    }
    out.assign(&x);
    let steps = x.shape()[time_axis];
    // The time axis of one batch entry's view.
    let time = if time_axis > batch_axis {
        time_axis - 1
    } else {
        time_axis
    };
    for (b, &len) in lens.iter().enumerate() {
        let len = usize::try_from(len)
            .ok()
            .filter(|&n| n <= steps)
            .ok_or_else(|| Error::Index(format!("sequence length {len} outside 0..={steps}")))?;
        let src = x.index_axis(Axis(batch_axis), b);
        let mut dst = out.index_axis_mut(Axis(batch_axis), b);
        for t in 0..len {
            dst.index_axis_mut(Axis(time), t)
                .assign(&src.index_axis(Axis(time), len - 1 - t));
        }
    }
    Ok(())
}
