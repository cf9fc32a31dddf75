//! Data movement: ONNX `Reshape` (and `Flatten`, `Squeeze`, `Unsqueeze`), `Transpose`,
//! `Concat`, `Gather` and `Cast`.
//!
//! Shapes are static in generated code: the compiler resolves `Reshape`'s
//! `0`/`-1`, `Flatten`'s axis and the axes of `Squeeze`/`Unsqueeze` into the
//! final shape, so all four lower to [`reshape`].

use crate::{Element, Error, IndexElement, Result};
use ndarray::{ArrayD, ArrayViewD, Axis, IxDyn};

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
    let mut seen = vec![false; x.ndim()];
    if perm.len() != x.ndim()
        || !perm
            .iter()
            .all(|&p| p < seen.len() && !std::mem::replace(&mut seen[p], true))
    {
        return Err(Error::Shape(format!(
            "{perm:?} is not a permutation of {} axes",
            x.ndim()
        )));
    }
    Ok(x.permuted_axes(IxDyn(perm))
        .as_standard_layout()
        .into_owned())
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

/// ONNX `Gather` along `axis`: the output has shape
/// `data.shape[..axis] ++ indices.shape ++ data.shape[axis + 1..]`.
/// Negative indices count from the end.
///
/// ```
/// use ndarray::array;
/// let table = array![[0.0f32, 0.1], [1.0, 1.1], [2.0, 2.1]].into_dyn();
/// let ids = array![[2i64, -3]].into_dyn();
/// let y = onnx2rs_runtime::ops::gather(table.view(), ids.view(), 0).unwrap();
/// assert_eq!(y, array![[[2.0, 2.1], [0.0, 0.1]]].into_dyn());
/// assert!(onnx2rs_runtime::ops::gather(table.view(), array![3i64].into_dyn().view(), 0).is_err());
/// ```
///
/// # Errors
/// [`Error::Index`] if an index is out of range; [`Error::Shape`] for a bad axis.
pub fn gather<T: Element, I: IndexElement>(
    data: ArrayViewD<'_, T>,
    indices: ArrayViewD<'_, I>,
    axis: usize,
) -> Result<ArrayD<T>> {
    let len = *data.shape().get(axis).ok_or_else(|| {
        Error::Shape(format!(
            "Gather axis {axis} out of range for {:?}",
            data.shape()
        ))
    })?;
    let flat = indices
        .iter()
        .map(|&i| {
            let i = i.as_i64();
            let j = if i < 0 { i + len as i64 } else { i };
            usize::try_from(j)
                .ok()
                .filter(|&j| j < len)
                .ok_or_else(|| Error::Index(format!("Gather index {i} outside 0..{len}")))
        })
        .collect::<Result<Vec<usize>>>()?;
    let picked = data.select(Axis(axis), &flat);
    let mut shape = data.shape()[..axis].to_vec();
    shape.extend_from_slice(indices.shape());
    shape.extend_from_slice(&data.shape()[axis + 1..]);
    Ok(picked.to_shape(IxDyn(&shape))?.into_owned())
}

/// ONNX `Cast` between element types: floats truncate toward zero and saturate
/// when cast to integers, non-zero becomes `true`, `true` becomes 1.
///
/// ```
/// use ndarray::array;
/// let y: ndarray::ArrayD<i32> = onnx2rs_runtime::ops::cast(array![-1.7f32, 2.9].into_dyn().view());
/// assert_eq!(y, array![-1, 2].into_dyn());
/// ```
pub fn cast<T: Element, U: Element>(x: ArrayViewD<'_, T>) -> ArrayD<U> {
    x.mapv(|v| U::from_f64(v.to_f64()))
}
