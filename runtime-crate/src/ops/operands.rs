//! Shape operands a model computes at run time: Reshape's shape, Squeeze and Unsqueeze's
//! axes, Expand's shape, Tile's repeats, Slice's starts/ends/axes/steps, Pad's pads; and the
//! plain readers of a run-time operand's values ([`values`]) or its one value ([`scalar`]).
//!
//! The compiler fixes every output shape at build time, so these operands cannot change
//! a shape; they can only choose which elements move where. Each function here reads one
//! kind of operand, checks that it agrees with the static shapes (an [`Error::Shape`]
//! otherwise, never a wrong answer), and returns what the kernel needs. None allocates.

use super::reduce::Axes;
use crate::{Error, IndexElement, Result};
use ndarray::ArrayViewD;

/// Most axes an operand here describes.
pub const OPERAND_MAX_RANK: usize = 8;

fn mismatch(op: &str, operand: &[i64], input: &[usize], output: &[usize]) -> Error {
    Error::Shape(format!(
        "{op} operand {operand:?} does not turn {input:?} into the compiled {output:?}"
    ))
}

/// Up to `N` operand values as `i64`, on the stack.
struct Values<const N: usize = OPERAND_MAX_RANK> {
    list: [i64; N],
    len: usize,
}

impl<const N: usize> Values<N> {
    fn read<I: IndexElement>(x: &ArrayViewD<'_, I>) -> Result<Self> {
        if x.ndim() > 1 || x.len() > N {
            return Err(Error::Shape(format!(
                "operand of shape {:?}: expected at most {N} values",
                x.shape()
            )));
        }
        let mut list = [0; N];
        for (slot, v) in list.iter_mut().zip(x.iter()) {
            *slot = v.as_i64();
        }
        Ok(Self { list, len: x.len() })
    }

    fn as_slice(&self) -> &[i64] {
        &self.list[..self.len]
    }
}

/// Check Reshape's run-time `shape` (0 copies the input dim unless `allowzero`, -1 is
/// inferred) against the compiled `input` and `output` shapes.
///
/// ```
/// use ndarray::array;
/// use onnx2rs_runtime::ops::check_reshape;
/// assert!(check_reshape(&array![0i64, -1].into_dyn().view(), &[2, 3, 4], &[2, 12], false).is_ok());
/// assert!(check_reshape(&array![4i64, -1].into_dyn().view(), &[2, 3, 4], &[2, 12], false).is_err());
/// ```
///
/// # Errors
/// [`Error::Shape`] if the operand gives another shape.
pub fn check_reshape<I: IndexElement>(
    shape: &ArrayViewD<'_, I>,
    input: &[usize],
    output: &[usize],
    allowzero: bool,
) -> Result<()> {
    let values: Values = Values::read(shape)?;
    let v = values.as_slice();
    let bad = || mismatch("Reshape", v, input, output);
    if v.len() != output.len() {
        return Err(bad());
    }
    let size: usize = input.iter().product();
    let (mut known, mut inferred) = (1usize, None);
    for (i, &d) in v.iter().enumerate() {
        match d {
            -1 if inferred.is_none() => inferred = Some(i),
            0 if !allowzero => known *= *input.get(i).ok_or_else(bad)?,
            d if d >= 0 => known *= d as usize,
            _ => return Err(bad()),
        }
    }
    for (i, (&d, &o)) in v.iter().zip(output).enumerate() {
        let dim = match d {
            -1 if known > 0 && size.is_multiple_of(known) => size / known,
            -1 => return Err(bad()),
            0 if !allowzero => input[i],
            d => d as usize,
        };
        if dim != o {
            return Err(bad());
        }
    }
    if output.iter().product::<usize>() != size {
        return Err(bad());
    }
    Ok(())
}

/// Check Squeeze's (`squeeze`) or Unsqueeze's run-time `axes` against the compiled shapes.
///
/// ```
/// use ndarray::array;
/// use onnx2rs_runtime::ops::check_squeeze;
/// assert!(check_squeeze(&array![-1i64].into_dyn().view(), &[3, 1], &[3], true).is_ok());
/// assert!(check_squeeze(&array![0i64, 2].into_dyn().view(), &[3], &[1, 3, 1], false).is_ok());
/// ```
///
/// # Errors
/// [`Error::Shape`] if the axes give another shape.
pub fn check_squeeze<I: IndexElement>(
    axes: &ArrayViewD<'_, I>,
    input: &[usize],
    output: &[usize],
    squeeze: bool,
) -> Result<()> {
    let values: Values = Values::read(axes)?;
    let bad = || {
        mismatch(
            if squeeze { "Squeeze" } else { "Unsqueeze" },
            values.as_slice(),
            input,
            output,
        )
    };
    // Squeeze names axes of the input, Unsqueeze of the output; the other side lacks them.
    let (full, short) = if squeeze {
        (input, output)
    } else {
        (output, input)
    };
    let axes = Axes::read(axes, full.len()).map_err(|_| bad())?;
    if full.len() != short.len() + axes.as_slice().len() {
        return Err(bad());
    }
    let mut rest = short.iter();
    for (i, &d) in full.iter().enumerate() {
        let named = axes.as_slice().contains(&i);
        if (named && d != 1) || (!named && rest.next() != Some(&d)) {
            return Err(bad());
        }
    }
    Ok(())
}

/// Check Expand's run-time `shape` against the compiled shapes (numpy broadcasting).
///
/// # Errors
/// [`Error::Shape`] if broadcasting gives another shape.
pub fn check_expand<I: IndexElement>(
    shape: &ArrayViewD<'_, I>,
    input: &[usize],
    output: &[usize],
) -> Result<()> {
    let values: Values = Values::read(shape)?;
    let v = values.as_slice();
    let bad = || mismatch("Expand", v, input, output);
    let rank = v.len().max(input.len());
    if output.len() != rank {
        return Err(bad());
    }
    for (k, &o) in output.iter().enumerate() {
        // Align from the right; a missing dim counts as 1.
        let from_end = rank - 1 - k;
        let a = if from_end < input.len() {
            input[input.len() - 1 - from_end]
        } else {
            1
        };
        let b = if from_end < v.len() {
            v[v.len() - 1 - from_end]
        } else {
            1
        };
        let b = usize::try_from(b).map_err(|_| bad())?;
        let dim = match (a, b) {
            (a, b) if a == b => a,
            (1, b) => b,
            (a, 1) => a,
            _ => return Err(bad()),
        };
        if dim != o {
            return Err(bad());
        }
    }
    Ok(())
}

/// Check Tile's run-time `repeats` against the compiled shapes.
///
/// # Errors
/// [`Error::Shape`] if the repeats give another shape.
pub fn check_tile<I: IndexElement>(
    repeats: &ArrayViewD<'_, I>,
    input: &[usize],
    output: &[usize],
) -> Result<()> {
    let values: Values = Values::read(repeats)?;
    let v = values.as_slice();
    let fits = v.len() == input.len()
        && input.len() == output.len()
        && v.iter()
            .zip(input.iter().zip(output))
            .all(|(&r, (&i, &o))| r >= 0 && (r as usize) * i == o);
    if fits {
        Ok(())
    } else {
        Err(mismatch("Tile", v, input, output))
    }
}

/// Per axis `(lo, hi, step)` in ndarray's convention, as [`crate::ops::slice_into`] takes.
#[derive(Debug, Clone, Copy)]
pub struct SliceRanges {
    list: [(usize, usize, isize); OPERAND_MAX_RANK],
    len: usize,
}

impl SliceRanges {
    /// Slice's run-time operands resolved with numpy's clamping rules for an input of
    /// shape `input`; `axes` and `steps` may be absent.
    ///
    /// ```
    /// use ndarray::array;
    /// use onnx2rs_runtime::ops::SliceRanges;
    /// let starts = array![1i64].into_dyn();
    /// let ends = array![i64::MAX].into_dyn();
    /// let r = SliceRanges::read(&starts.view(), &ends.view(), None, None, &[4, 5]).unwrap();
    /// assert_eq!(r.as_slice(), &[(1, 4, 1), (0, 5, 1)]);
    /// ```
    ///
    /// # Errors
    /// [`Error::Shape`] if the operands disagree in length, an axis is out of range, a
    /// step is zero, or the input has more than [`OPERAND_MAX_RANK`] axes.
    pub fn read<I: IndexElement>(
        starts: &ArrayViewD<'_, I>,
        ends: &ArrayViewD<'_, I>,
        axes: Option<ArrayViewD<'_, I>>,
        steps: Option<ArrayViewD<'_, I>>,
        input: &[usize],
    ) -> Result<Self> {
        let rank = input.len();
        let (starts, ends): (Values, Values) = (Values::read(starts)?, Values::read(ends)?);
        let steps: Option<Values> = steps.as_ref().map(Values::read).transpose()?;
        let axes = axes.as_ref().map(|a| Axes::read(a, rank)).transpose()?;
        let n = starts.len;
        let lengths_agree = ends.len == n
            && steps.as_ref().is_none_or(|s| s.len == n)
            && axes.as_ref().is_none_or(|a| a.as_slice().len() == n);
        if !lengths_agree || rank > OPERAND_MAX_RANK || (axes.is_none() && n > rank) {
            return Err(Error::Shape(format!(
                "Slice operands disagree for an input of shape {input:?}"
            )));
        }
        let mut list = [(0, 0, 1); OPERAND_MAX_RANK];
        for (axis, slot) in list.iter_mut().enumerate().take(rank) {
            *slot = (0, input[axis], 1);
        }
        for k in 0..n {
            let axis = axes.as_ref().map_or(k, |a| a.as_slice()[k]);
            let step = steps.as_ref().map_or(1, |s| s.list[k]);
            if step == 0 {
                return Err(Error::Shape("Slice step 0".into()));
            }
            let dim = input[axis] as i64;
            // Python's slice.indices: negatives count from the end, then clamp.
            let clamp = |v: i64| {
                let v = if v < 0 { v.saturating_add(dim) } else { v };
                if step > 0 {
                    v.clamp(0, dim)
                } else {
                    v.clamp(-1, dim - 1)
                }
            };
            let (lo, hi) = (clamp(starts.list[k]), clamp(ends.list[k]));
            list[axis] = if step > 0 {
                (lo as usize, lo.max(hi) as usize, step as isize)
            } else {
                // numpy walks lo, lo+step, … > hi; ndarray walks (hi, lo] from its end.
                (
                    (hi + 1) as usize,
                    (hi + 1).max(lo + 1) as usize,
                    step as isize,
                )
            };
        }
        Ok(Self { list, len: rank })
    }

    /// The ranges, one per input axis.
    #[must_use]
    pub fn as_slice(&self) -> &[(usize, usize, isize)] {
        &self.list[..self.len]
    }
}

/// Pad's leading pad per axis (negative crops), read from its run-time `pads` (and
/// `axes`), after checking the trailing pads against the compiled shapes.
#[derive(Debug, Clone, Copy)]
pub struct PadBegin {
    list: [isize; OPERAND_MAX_RANK],
    len: usize,
}

impl PadBegin {
    /// Read `pads` (`[begin…, end…]` over `axes`, or over every axis).
    ///
    /// ```
    /// use ndarray::array;
    /// use onnx2rs_runtime::ops::PadBegin;
    /// let pads = array![0i64, 2, 0, 1].into_dyn();
    /// let begin = PadBegin::read(&pads.view(), None, &[3, 4], &[3, 7]).unwrap();
    /// assert_eq!(begin.as_slice(), &[0, 2]);
    /// ```
    ///
    /// # Errors
    /// [`Error::Shape`] if the pads do not turn `input` into `output`.
    pub fn read<I: IndexElement>(
        pads: &ArrayViewD<'_, I>,
        axes: Option<ArrayViewD<'_, I>>,
        input: &[usize],
        output: &[usize],
    ) -> Result<Self> {
        let rank = input.len();
        let pads: Values<{ 2 * OPERAND_MAX_RANK }> = Values::read(pads)?;
        let axes = axes.as_ref().map(|a| Axes::read(a, rank)).transpose()?;
        let n = axes.as_ref().map_or(rank, |a| a.as_slice().len());
        let bad = || mismatch("Pad", pads.as_slice(), input, output);
        if pads.len != 2 * n || output.len() != rank || rank > OPERAND_MAX_RANK {
            return Err(bad());
        }
        let (mut begin, mut end) = ([0isize; OPERAND_MAX_RANK], [0isize; OPERAND_MAX_RANK]);
        for k in 0..n {
            let axis = axes.as_ref().map_or(k, |a| a.as_slice()[k]);
            begin[axis] = pads.list[k] as isize;
            end[axis] = pads.list[n + k] as isize;
        }
        for axis in 0..rank {
            if input[axis] as isize + begin[axis] + end[axis] != output[axis] as isize {
                return Err(bad());
            }
        }
        Ok(Self {
            list: begin,
            len: rank,
        })
    }

    /// The leading pads, one per axis.
    #[must_use]
    pub fn as_slice(&self) -> &[isize] {
        &self.list[..self.len]
    }
}

/// The elements of a contiguous view, for kernels that take run-time operands as slices.
///
/// # Errors
/// [`Error::Shape`] if `x` is not contiguous.
pub fn values<'a, T>(x: &'a ArrayViewD<'_, T>) -> Result<&'a [T]> {
    x.as_slice()
        .ok_or_else(|| Error::Shape("operand must be contiguous".into()))
}

/// The one element of a run-time scalar operand (Trilu's k, Clip's bounds).
///
/// ```
/// use ndarray::arr0;
/// assert_eq!(onnx2rs_runtime::ops::scalar(&arr0(3i64).into_dyn().view()).unwrap(), 3);
/// ```
///
/// # Errors
/// [`Error::Shape`] if `x` does not hold exactly one element.
pub fn scalar<T: Copy>(x: &ArrayViewD<'_, T>) -> Result<T> {
    match (x.len(), x.iter().next()) {
        (1, Some(&v)) => Ok(v),
        _ => Err(Error::Shape(format!(
            "expected a scalar, got shape {:?}",
            x.shape()
        ))),
    }
}
