//! numpy broadcasting: the broadcast shape of two operands, and the zips that every
//! element-wise operator runs on (contiguous operands take one flat loop: equal, a scalar,
//! repeated, or one value per block; others ndarray's `Zip`).
//!
//! Spec: <https://onnx.ai/onnx/repo-docs/Broadcasting.html>. Incompatible shapes are an
//! [`Error::Shape`], never a panic.

use crate::{parallel, Error, Result};
use ndarray::{ArrayD, ArrayViewD, ArrayViewMutD, Dimension, IxDyn, Zip};

/// The shape that numpy broadcasting gives `a` and `b`.
///
/// ```
/// use onnx2rs_runtime::ops::broadcast_shape;
/// assert_eq!(broadcast_shape(&[2, 1, 3], &[4, 1]).unwrap(), vec![2, 4, 3]);
/// assert!(broadcast_shape(&[2], &[3]).is_err());
/// ```
///
/// # Errors
/// [`Error::Shape`] if a dimension pair is neither equal nor 1.
pub fn broadcast_shape(a: &[usize], b: &[usize]) -> Result<Vec<usize>> {
    let rank = a.len().max(b.len());
    let dim = |s: &[usize], i: usize| {
        if i + s.len() >= rank {
            s[i + s.len() - rank]
        } else {
            1
        }
    };
    (0..rank)
        .map(|i| match (dim(a, i), dim(b, i)) {
            (x, y) if x == y => Ok(x),
            (1, y) => Ok(y),
            (x, 1) => Ok(x),
            (x, y) => Err(Error::Shape(format!(
                "cannot broadcast {a:?} with {b:?} (dims {x} and {y})"
            ))),
        })
        .collect()
}

pub(crate) fn broadcast_to<'a, T>(
    x: &'a ArrayViewD<'_, T>,
    shape: &[usize],
) -> Result<ArrayViewD<'a, T>> {
    x.broadcast(IxDyn(shape))
        .ok_or_else(|| Error::Shape(format!("cannot broadcast {:?} to {shape:?}", x.shape())))
}

/// Apply `f` to each pair of broadcast elements of `a` and `b`.
///
/// ```
/// use ndarray::{array, ArrayD};
/// use onnx2rs_runtime::ops::zip_with;
/// let a = array![[1.0f32], [2.0]].into_dyn();
/// let b = array![10.0f32, 20.0].into_dyn();
/// let c: ArrayD<f32> = zip_with(a.view(), b.view(), |x, y| x * y).unwrap();
/// assert_eq!(c, array![[10.0, 20.0], [20.0, 40.0]].into_dyn());
/// ```
///
/// # Errors
/// [`Error::Shape`] if the shapes do not broadcast.
pub fn zip_with<A: Copy + Sync, B: Copy + Sync, O: Copy + Default + Send>(
    a: ArrayViewD<'_, A>,
    b: ArrayViewD<'_, B>,
    f: impl Fn(A, B) -> O + Sync,
) -> Result<ArrayD<O>> {
    let mut out = ArrayD::default(IxDyn(&broadcast_shape(a.shape(), b.shape())?));
    zip_with_into(a, b, out.view_mut(), f)?;
    Ok(out)
}

/// `f` on every element of `x`, in place: one loop over the slice when `x` is in
/// standard layout (what generated code passes; `mapv_inplace` tests n-d views for
/// contiguity in either order, which costs more than a small op).
pub(crate) fn update<T: Copy>(x: &mut ArrayViewMutD<'_, T>, f: impl Fn(T) -> T) {
    match x.as_slice_mut() {
        Some(s) => s.iter_mut().for_each(|v| *v = f(*v)),
        None => x.mapv_inplace(f),
    }
}

/// `out = x` for equal shapes: one copy when both are in standard layout.
pub(crate) fn copy_into<T: Copy>(out: &mut ArrayViewMutD<'_, T>, x: &ArrayViewD<'_, T>) {
    if super::same_shape(out.shape(), x.shape()) {
        if let (Some(o), Some(s)) = (out.as_slice_mut(), x.as_slice()) {
            o.copy_from_slice(s);
            return;
        }
    }
    out.assign(x);
}

/// Whether an operand of shape `part` broadcast to `whole` is `part`'s elements repeated
/// in order: `part` without its leading 1s is `whole`'s trailing axes.
fn repeats_in(part: &[usize], whole: &[usize]) -> bool {
    let first = part.iter().position(|&d| d != 1).unwrap_or(part.len());
    let part = &part[first..];
    part.len() <= whole.len() && whole[whole.len() - part.len()..] == *part
}

/// When each value of `part` covers one contiguous block of `whole` (a per-channel
/// scale `[1, C, 1, 1]` against `[1, C, H, W]`): the block's length.
fn block_per_value(part: &[usize], whole: &[usize]) -> Option<usize> {
    let lead = whole.len().checked_sub(part.len())?;
    let last = part.iter().rposition(|&d| d != 1)? + lead;
    let leading_match = (0..=last).all(|i| i.checked_sub(lead).map_or(1, |j| part[j]) == whole[i]);
    let block: usize = whole[last + 1..].iter().product();
    (leading_match && block > 0).then_some(block)
}

/// Write `f(a, b)` of the broadcast operands into `out`, which must have the broadcast shape.
///
/// ```
/// use ndarray::{array, ArrayD, IxDyn};
/// use onnx2rs_runtime::ops::zip_with_into;
/// let mut out = ArrayD::<i32>::zeros(IxDyn(&[2]));
/// zip_with_into(array![1, 2].into_dyn().view(), array![10].into_dyn().view(), out.view_mut(), |x, y| x + y).unwrap();
/// assert_eq!(out, array![11, 12].into_dyn());
/// ```
///
/// # Errors
/// [`Error::Shape`] if the shapes do not broadcast to `out`'s shape.
pub fn zip_with_into<A: Copy + Sync, B: Copy + Sync, O: Send>(
    a: ArrayViewD<'_, A>,
    b: ArrayViewD<'_, B>,
    mut out: ArrayViewMutD<'_, O>,
    f: impl Fn(A, B) -> O + Sync,
) -> Result<()> {
    if let (Some(xa), Some(xb)) = (a.as_slice(), b.as_slice()) {
        // What generated code passes: contiguous operands, equal or repeating (a scalar,
        // or a trailing block such as a bias row).
        let (a_full, b_full) = (
            super::same_shape(a.shape(), out.shape()),
            super::same_shape(b.shape(), out.shape()),
        );
        let b_repeats = a_full && repeats_in(b.shape(), out.shape());
        let a_repeats = b_full && repeats_in(a.shape(), out.shape());
        let blocks = match (b_repeats || a_repeats, a_full, b_full) {
            (false, true, _) => (block_per_value(b.shape(), out.shape()), None),
            (false, _, true) => (None, block_per_value(a.shape(), out.shape())),
            _ => (None, None),
        };
        let flat = match (xa, xb) {
            _ if a_full && b_full => Flat::Same,
            (_, [_]) if a_full => Flat::ScalarB,
            ([_], _) if b_full => Flat::ScalarA,
            _ if b_repeats => Flat::RepeatsB,
            _ if a_repeats => Flat::RepeatsA,
            _ => match blocks {
                (Some(block), _) => Flat::BlockB(block),
                (_, Some(block)) => Flat::BlockA(block),
                _ => return zip_broadcast(a, b, out, f),
            },
        };
        if let Some(os) = out.as_slice_mut() {
            let align = match flat {
                Flat::RepeatsB => xb.len(),
                Flat::RepeatsA => xa.len(),
                Flat::BlockA(block) | Flat::BlockB(block) => block,
                Flat::Same | Flat::ScalarA | Flat::ScalarB => 1,
            };
            let swapped = |y, x| f(x, y);
            parallel::spans(os, align, |at, os| match flat {
                Flat::Same => os
                    .iter_mut()
                    .zip(xa[at..].iter().zip(&xb[at..]))
                    .for_each(|(o, (&x, &y))| *o = f(x, y)),
                Flat::ScalarB => os
                    .iter_mut()
                    .zip(&xa[at..])
                    .for_each(|(o, &x)| *o = f(x, xb[0])),
                Flat::ScalarA => os
                    .iter_mut()
                    .zip(&xb[at..])
                    .for_each(|(o, &y)| *o = f(xa[0], y)),
                Flat::RepeatsB => repeating(os, &xa[at..], xb, &f),
                Flat::RepeatsA => repeating(os, &xb[at..], xa, &swapped),
                Flat::BlockB(block) => per_block(os, &xa[at..], &xb[at / block..], block, &f),
                Flat::BlockA(block) => per_block(os, &xb[at..], &xa[at / block..], block, &swapped),
            });
            return Ok(());
        }
    }
    zip_broadcast(a, b, out, f)
}

/// How two contiguous operands of [`zip_with_into`] line up with its output.
#[derive(Clone, Copy)]
enum Flat {
    /// Both have the output's shape.
    Same,
    /// `a` has the output's shape, `b` is one value (`ScalarA`: the other way round).
    ScalarB,
    ScalarA,
    /// `b` repeats along `a`, which has the output's shape (`RepeatsA`: the other way).
    RepeatsB,
    RepeatsA,
    /// Each value of `b` covers one block of `a`, of this length (`BlockA`: the other way).
    BlockB(usize),
    BlockA(usize),
}

/// `out[i] = f(full[i], part[i % part.len()])`: `part` repeated along `full`.
#[inline(always)]
fn repeating<X: Copy, Y: Copy, O>(out: &mut [O], full: &[X], part: &[Y], f: &impl Fn(X, Y) -> O) {
    let n = part.len().max(1);
    for (o_block, x_block) in out.chunks_mut(n).zip(full.chunks(n)) {
        for ((o, &x), &y) in o_block.iter_mut().zip(x_block).zip(part) {
            *o = f(x, y);
        }
    }
}

/// `out[i] = f(full[i], part[i / block])`: each value of `part` over one block of `full`.
#[inline(always)]
fn per_block<X: Copy, Y: Copy, O>(
    out: &mut [O],
    full: &[X],
    part: &[Y],
    block: usize,
    f: &impl Fn(X, Y) -> O,
) {
    for ((o_block, x_block), &y) in out.chunks_mut(block).zip(full.chunks(block)).zip(part) {
        o_block
            .iter_mut()
            .zip(x_block)
            .for_each(|(o, &x)| *o = f(x, y));
    }
}

/// `a = f(a, b)` with `b` broadcast to `a`'s shape: [`zip_with_into`] writing over its
/// first operand, as in-place nodes do. Contiguous operands take one loop (`b` equal,
/// a scalar, repeated, or one value per block of `a`); others ndarray's `Zip`.
///
/// ```
/// use ndarray::array;
/// let mut a = array![[1, 2], [3, 4]].into_dyn();
/// onnx2rs_runtime::ops::add_inplace(a.view_mut(), array![10, 20].into_dyn().view()).unwrap();
/// assert_eq!(a, array![[11, 22], [13, 24]].into_dyn());
/// ```
///
/// # Errors
/// [`Error::Shape`] if `b` does not broadcast to `a`'s shape.
pub fn zip_with_inplace<A: Copy + Send, B: Copy + Sync>(
    mut a: ArrayViewMutD<'_, A>,
    b: ArrayViewD<'_, B>,
    f: impl Fn(A, B) -> A + Sync,
) -> Result<()> {
    let fits = b.ndim() <= a.ndim();
    let repeats = fits && repeats_in(b.shape(), a.shape());
    let block = if fits {
        block_per_value(b.shape(), a.shape())
    } else {
        None
    };
    if let (Some(xa), Some(xb)) = (a.as_slice_mut(), b.as_slice()) {
        if fits && !xa.is_empty() {
            let align = match (xb, block) {
                ([_], _) => 1,
                _ if repeats && xb.len() == xa.len() => 1,
                _ if repeats => xb.len(),
                (_, Some(block)) => block,
                _ => return zip_broadcast_inplace(a, b, f),
            };
            let same = xb.len() == xa.len();
            parallel::spans(xa, align, |at, xa| match (xb, block) {
                ([y], _) => xa.iter_mut().for_each(|x| *x = f(*x, *y)),
                _ if repeats && same => {
                    (xa.iter_mut().zip(&xb[at..])).for_each(|(x, &y)| *x = f(*x, y))
                }
                _ if repeats => xa.chunks_mut(xb.len()).for_each(|xs| {
                    xs.iter_mut().zip(xb).for_each(|(x, &y)| *x = f(*x, y));
                }),
                (_, Some(block)) => {
                    (xa.chunks_mut(block).zip(&xb[at / block..])).for_each(|(xs, &y)| {
                        xs.iter_mut().for_each(|x| *x = f(*x, y));
                    })
                }
                _ => {} // unreachable: taken above
            });
            return Ok(());
        }
    }
    zip_broadcast_inplace(a, b, f)
}

/// [`zip_with_inplace`] for any layout.
fn zip_broadcast_inplace<A: Copy, B: Copy>(
    mut a: ArrayViewMutD<'_, A>,
    b: ArrayViewD<'_, B>,
    f: impl Fn(A, B) -> A,
) -> Result<()> {
    let b = broadcast_to(&b, a.shape())?;
    Zip::from(&mut a).and(&b).for_each(|x, &y| *x = f(*x, y));
    Ok(())
}

/// [`zip_with_into`] for any layout: ndarray's broadcasting `Zip`.
fn zip_broadcast<A: Copy, B: Copy, O>(
    a: ArrayViewD<'_, A>,
    b: ArrayViewD<'_, B>,
    mut out: ArrayViewMutD<'_, O>,
    f: impl Fn(A, B) -> O,
) -> Result<()> {
    let shape = out.raw_dim();
    let (a, b) = (
        broadcast_to(&a, shape.slice())?,
        broadcast_to(&b, shape.slice())?,
    );
    Zip::from(&mut out)
        .and(&a)
        .and(&b)
        .for_each(|o, &x, &y| *o = f(x, y));
    Ok(())
}
