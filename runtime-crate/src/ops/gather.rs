//! Indexing by run-time indices: ONNX `Gather` and `GatherElements`. Indices may be negative
//! (counted from the end); one out of range is an [`Error::Index`], never a panic.

use crate::{Element, Error, IndexElement, Result};
use ndarray::{ArrayD, ArrayViewD, ArrayViewMutD, Axis, IxDyn, Slice};

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
    if axis >= data.ndim() {
        return Err(Error::Shape(format!(
            "Gather axis {axis} out of range for {:?}",
            data.shape()
        )));
    }
    let mut shape = data.shape()[..axis].to_vec();
    shape.extend_from_slice(indices.shape());
    shape.extend_from_slice(&data.shape()[axis + 1..]);
    let mut out = ArrayD::default(IxDyn(&shape));
    gather_into(data, indices, axis, out.view_mut())?;
    Ok(out)
}

/// [`gather`] into `out`, which must have the gathered shape and be contiguous.
///
/// # Errors
/// [`Error::Index`] if an index is out of range; [`Error::Shape`] if `out` does not fit.
pub fn gather_into<T: Element, I: IndexElement>(
    data: ArrayViewD<'_, T>,
    indices: ArrayViewD<'_, I>,
    axis: usize,
    out: ArrayViewMutD<'_, T>,
) -> Result<()> {
    let len = *data.shape().get(axis).ok_or_else(|| {
        Error::Shape(format!(
            "Gather axis {axis} out of range for {:?}",
            data.shape()
        ))
    })?;
    let outer: usize = data.shape()[..axis].iter().product();
    let inner: usize = data.shape()[axis + 1..].iter().product();
    let fits = out.ndim() == data.ndim() + indices.ndim() - 1
        && out.shape()[..axis] == data.shape()[..axis]
        && out.shape()[axis..axis + indices.ndim()] == *indices.shape()
        && out.shape()[axis + indices.ndim()..] == data.shape()[axis + 1..];
    if !fits {
        return Err(Error::Shape(format!(
            "Gather output {:?} does not fit",
            out.shape()
        )));
    }
    let mut out = out
        .into_shape_with_order(IxDyn(&[outer, indices.len(), inner]))
        .map_err(|_| Error::Shape("Gather output must be contiguous".into()))?;
    let row = |i: I| {
        let i = i.as_i64();
        usize::try_from(if i < 0 { i + len as i64 } else { i })
            .ok()
            .filter(|&k| k < len)
            .ok_or_else(|| Error::Index(format!("Gather index {i} outside 0..{len}")))
    };
    // Contiguous operands (what generated code passes): one slice copy per index.
    if let (Some(src), Some(dst), Some(idx)) =
        (data.as_slice(), out.as_slice_mut(), indices.as_slice())
    {
        let mut dst = dst.chunks_exact_mut(inner.max(1));
        for o in 0..outer {
            for &i in idx {
                let k = row(i)?;
                if let Some(d) = dst.next() {
                    d.copy_from_slice(&src[(o * len + k) * inner..][..inner]);
                }
            }
        }
        return Ok(());
    }
    for (j, &i) in indices.iter().enumerate() {
        let src = data.index_axis(Axis(axis), row(i)?);
        out.index_axis_mut(Axis(1), j)
            .iter_mut()
            .zip(src.iter())
            .for_each(|(o, &v)| *o = v);
    }
    Ok(())
}

/// ONNX `GatherElements`: `out[.., i, ..] = data[.., indices[.., i, ..], ..]` along `axis`.
///
/// ```
/// use ndarray::{array, ArrayD, IxDyn};
/// let mut out = ArrayD::<i32>::zeros(IxDyn(&[2, 2]));
/// let data = array![[1, 2], [3, 4]].into_dyn();
/// let indices = array![[0i64, 0], [1, 0]].into_dyn();
/// onnx2rs_runtime::ops::gather_elements_into(data.view(), indices.view(), 1, out.view_mut()).unwrap();
/// assert_eq!(out, array![[1, 1], [4, 3]].into_dyn());
/// ```
///
/// # Errors
/// [`Error::Shape`] if shapes disagree; [`Error::Index`] for an index out of range.
pub fn gather_elements_into<T: Element, I: IndexElement>(
    data: ArrayViewD<'_, T>,
    indices: ArrayViewD<'_, I>,
    axis: usize,
    mut out: ArrayViewMutD<'_, T>,
) -> Result<()> {
    let fits = axis < data.ndim()
        && indices.ndim() == data.ndim()
        && out.shape() == indices.shape()
        && (0..data.ndim()).all(|d| d == axis || indices.shape()[d] <= data.shape()[d]);
    if !fits {
        return Err(Error::Shape(format!(
            "GatherElements of {:?} with indices {:?} cannot give {:?}",
            data.shape(),
            indices.shape(),
            out.shape()
        )));
    }
    let len = data.shape()[axis] as i64;
    // Cut `data` to the extent of `indices` on the other axes, so that their lanes pair up.
    let data = data.slice_each_axis(|ax| {
        let d = ax.axis.index();
        Slice::from(
            0..if d == axis {
                ax.len
            } else {
                indices.shape()[d]
            },
        )
    });
    let (o_lanes, i_lanes) = (out.lanes_mut(Axis(axis)), indices.lanes(Axis(axis)));
    for ((mut o, idx), src) in o_lanes.into_iter().zip(i_lanes).zip(data.lanes(Axis(axis))) {
        for (o, &i) in o.iter_mut().zip(idx.iter()) {
            let i = i.as_i64();
            let k = if i < 0 { i + len } else { i };
            if !(0..len).contains(&k) {
                return Err(Error::Index(format!(
                    "GatherElements index {i} outside 0..{len}"
                )));
            }
            *o = src[k as usize];
        }
    }
    Ok(())
}
