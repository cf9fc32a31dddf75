//! Views into the preallocated arena that holds a generated model's intermediates.
//!
//! The compiler gives every intermediate a range in one buffer per element type.
//! Ranges whose values are live at the same time never overlap; [`split`] turns
//! that promise into disjoint borrows without `unsafe`, and fails (rather than
//! aliasing) if it is ever broken.

use crate::{Error, Result};
use ndarray::{ArrayViewD, ArrayViewMutD, IxDyn};
use std::ops::Range;

/// Borrow `out` mutably and each `(start, end)` of `ins` immutably from `buf`.
///
/// ```
/// use onnx2rs_runtime::arena::split;
/// let mut buf = [0.0f32, 1.0, 2.0, 3.0, 4.0, 5.0];
/// let (out, [a, b]) = split(&mut buf, 2..4, [(0, 2), (4, 6)]).unwrap();
/// out[0] = a[1] + b[0];
/// assert_eq!(buf[2], 5.0);
/// assert!(split(&mut buf, 2..4, [(3, 5)]).is_err()); // overlaps the output
/// ```
///
/// # Errors
/// [`Error::Shape`] if a range is out of bounds or an input overlaps `out`.
pub fn split<T, const N: usize>(
    buf: &mut [T],
    out: Range<usize>,
    ins: [(usize, usize); N],
) -> Result<(&mut [T], [&[T]; N])> {
    // The common case of `split_many`, written out: it runs once per generated node.
    let (start, end) = (out.start, out.end);
    if end < start || end > buf.len() {
        return Err(Error::Shape(format!(
            "arena output range {start}..{end} is out of bounds"
        )));
    }
    let (before, tail) = buf.split_at_mut(start);
    let (out, after) = tail.split_at_mut(end - start);
    let (before, after): (&[T], &[T]) = (before, after);
    let mut views: [&[T]; N] = [&[]; N];
    for (view, (lo, hi)) in views.iter_mut().zip(ins) {
        *view = match (lo <= hi, hi <= start, lo >= end) {
            (true, true, _) => &before[lo..hi],
            (true, _, true) if hi - end <= after.len() => &after[lo - end..hi - end],
            _ => {
                return Err(Error::Shape(format!(
                    "arena range {lo}..{hi} is reversed, overlaps the output or is out of bounds"
                )))
            }
        };
    }
    Ok((out, views))
}

/// Borrow each `(start, end)` of `outs` mutably and each of `ins` immutably from
/// `buf`: the borrows of a node with several outputs. Allocation-free.
///
/// ```
/// use onnx2rs_runtime::arena::split_many;
/// let mut buf = [0i64, 1, 2, 3, 4, 5];
/// let ([hi, lo], [x]) = split_many(&mut buf, [(4, 6), (0, 2)], [(2, 4)]).unwrap();
/// lo.copy_from_slice(x);
/// hi[0] = 9;
/// assert_eq!(buf, [2, 3, 2, 3, 9, 5]);
/// assert!(split_many(&mut buf, [(0, 3), (2, 4)], []).is_err()); // outputs overlap
/// ```
///
/// # Errors
/// [`Error::Shape`] if a range is out of bounds or reversed, or an output
/// overlaps another output or an input.
#[allow(clippy::type_complexity)] // the borrows themselves: M mutable and N shared slices
pub fn split_many<'a, T, const M: usize, const N: usize>(
    buf: &'a mut [T],
    outs: [(usize, usize); M],
    ins: [(usize, usize); N],
) -> Result<([&'a mut [T]; M], [&'a [T]; N])> {
    let mut order: [usize; M] = std::array::from_fn(|i| i);
    order.sort_unstable_by_key(|&i| outs[i].0);
    let mut mutable: [&'a mut [T]; M] = std::array::from_fn(|_| <&mut [T]>::default());
    // The read-only stretches between outputs, each with its start in `buf`.
    let mut gaps: [(usize, &'a [T]); M] = [(0, &[]); M];
    let (mut rest, mut at) = (buf, 0);
    for (gap, &i) in gaps.iter_mut().zip(&order) {
        let (start, end) = outs[i];
        if start < at || end < start || end - at > rest.len() {
            return Err(Error::Shape(format!(
                "arena output range {start}..{end} is out of bounds or overlaps another output"
            )));
        }
        let (before, tail) = std::mem::take(&mut rest).split_at_mut(start - at);
        let (out, tail) = tail.split_at_mut(end - start);
        *gap = (at, before);
        mutable[i] = out;
        (rest, at) = (tail, end);
    }
    let last: (usize, &'a [T]) = (at, rest);
    let mut views: [&'a [T]; N] = [&[]; N];
    for (view, (start, end)) in views.iter_mut().zip(ins) {
        if start > end {
            return Err(Error::Shape(format!(
                "arena range {start}..{end} is reversed"
            )));
        }
        *view = gaps
            .iter()
            .chain(std::iter::once(&last))
            .find(|(from, gap)| *from <= start && end <= from + gap.len())
            .map(|(from, gap)| &gap[start - from..end - from])
            .ok_or_else(|| {
                Error::Shape(format!(
                    "arena range {start}..{end} overlaps an output or is out of bounds"
                ))
            })?;
    }
    Ok((mutable, views))
}

/// An n-d view of `data` with `shape` (row-major).
///
/// # Errors
/// [`Error::Shape`] if `data` has fewer elements than `shape` needs.
pub fn view<'a, T>(data: &'a [T], shape: &[usize]) -> Result<ArrayViewD<'a, T>> {
    let len = shape.iter().product::<usize>();
    let data = data
        .get(..len)
        .ok_or_else(|| Error::Shape(format!("arena slice too short for {shape:?}")))?;
    // Fixed-rank views compute and check their strides inline; ndarray's IxDyn path
    // costs more than a small kernel (it dominated unrolled RNNs).
    Ok(match *shape {
        [a] => ndarray::ArrayView1::from_shape(a, data)?.into_dyn(),
        [a, b] => ndarray::ArrayView2::from_shape((a, b), data)?.into_dyn(),
        [a, b, c] => ndarray::ArrayView3::from_shape((a, b, c), data)?.into_dyn(),
        [a, b, c, d] => ndarray::ArrayView4::from_shape((a, b, c, d), data)?.into_dyn(),
        _ => ArrayViewD::from_shape(IxDyn(shape), data)?,
    })
}

/// A mutable n-d view of `data` with `shape` (row-major).
///
/// # Errors
/// [`Error::Shape`] if `data` has fewer elements than `shape` needs.
pub fn view_mut<'a, T>(data: &'a mut [T], shape: &[usize]) -> Result<ArrayViewMutD<'a, T>> {
    let len = shape.iter().product::<usize>();
    let data = data
        .get_mut(..len)
        .ok_or_else(|| Error::Shape(format!("arena slice too short for {shape:?}")))?;
    Ok(match *shape {
        [a] => ndarray::ArrayViewMut1::from_shape(a, data)?.into_dyn(),
        [a, b] => ndarray::ArrayViewMut2::from_shape((a, b), data)?.into_dyn(),
        [a, b, c] => ndarray::ArrayViewMut3::from_shape((a, b, c), data)?.into_dyn(),
        [a, b, c, d] => ndarray::ArrayViewMut4::from_shape((a, b, c, d), data)?.into_dyn(),
        _ => ArrayViewMutD::from_shape(IxDyn(shape), data)?,
    })
}

/// The elements `range` of `buf`, or an error instead of a panic.
///
/// # Errors
/// [`Error::Shape`] if `range` is out of bounds.
pub fn slice<T>(buf: &[T], range: Range<usize>) -> Result<&[T]> {
    let len = buf.len();
    buf.get(range.clone())
        .ok_or_else(|| Error::Shape(format!("arena range {range:?} outside 0..{len}")))
}

/// The elements `range` of `buf`, mutably, or an error instead of a panic.
///
/// # Errors
/// [`Error::Shape`] if `range` is out of bounds.
pub fn slice_mut<T>(buf: &mut [T], range: Range<usize>) -> Result<&mut [T]> {
    let len = buf.len();
    buf.get_mut(range.clone())
        .ok_or_else(|| Error::Shape(format!("arena range {range:?} outside 0..{len}")))
}
