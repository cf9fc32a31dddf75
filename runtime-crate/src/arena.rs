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
pub fn split<'a, T, const N: usize>(
    buf: &'a mut [T],
    out: Range<usize>,
    ins: [(usize, usize); N],
) -> Result<(&'a mut [T], [&'a [T]; N])> {
    if out.start > out.end || out.end > buf.len() {
        return Err(Error::Shape(format!(
            "arena range {out:?} outside 0..{}",
            buf.len()
        )));
    }
    let (left, rest) = buf.split_at_mut(out.start);
    let (mid, right) = rest.split_at_mut(out.end - out.start);
    let (left, right): (&'a [T], &'a [T]) = (left, right);
    let mut views: [&'a [T]; N] = [&[]; N];
    for (view, (start, end)) in views.iter_mut().zip(ins) {
        let r = start..end;
        *view = if r.start > r.end {
            return Err(Error::Shape(format!("arena range {r:?} is reversed")));
        } else if r.end <= out.start {
            &left[r]
        } else if r.start >= out.end && r.end - out.end <= right.len() {
            &right[r.start - out.end..r.end - out.end]
        } else {
            return Err(Error::Shape(format!(
                "arena range {r:?} overlaps output {out:?}"
            )));
        };
    }
    Ok((mid, views))
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
    Ok(ArrayViewD::from_shape(IxDyn(shape), data)?)
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
    Ok(ArrayViewMutD::from_shape(IxDyn(shape), data)?)
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
