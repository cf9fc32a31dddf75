//! ONNX `Cast` and `BitCast`: values converted, or bits reinterpreted, between element types.
//!
//! Spec: <https://onnx.ai/onnx/operators/onnx__Cast.html>,
//! <https://onnx.ai/onnx/operators/onnx__BitCast.html>.

use super::elementwise::map_into;
use crate::{Element, Error, Result};
use ndarray::{ArrayD, ArrayViewD, ArrayViewMutD};

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

/// ONNX `Cast` into `out` (see [`cast`]).
///
/// # Errors
/// [`Error::Shape`] if `out` has another shape.
pub fn cast_into<T: Element, U: Element>(
    x: ArrayViewD<'_, T>,
    out: ArrayViewMutD<'_, U>,
) -> Result<()> {
    map_into(x, out, |v| U::from_f64(v.to_f64()))
}

/// ONNX `Cast` with `saturate=0` into `out`: out-of-range values become infinity or NaN
/// in the float8 types instead of their largest value (other types ignore the flag).
///
/// ```
/// use ndarray::{array, ArrayD, IxDyn};
/// use onnx2rs_runtime::{Element, F8E5M2};
/// let mut out = ArrayD::<F8E5M2>::default(IxDyn(&[2]));
/// onnx2rs_runtime::ops::cast_unsaturated_into(array![1e6f32, 3.0].into_dyn().view(), out.view_mut()).unwrap();
/// assert_eq!(out.mapv(|v| v.to_f64()), array![f64::INFINITY, 3.0].into_dyn());
/// ```
///
/// # Errors
/// [`Error::Shape`] if `out` has another shape.
pub fn cast_unsaturated_into<T: Element, U: Element>(
    x: ArrayViewD<'_, T>,
    out: ArrayViewMutD<'_, U>,
) -> Result<()> {
    map_into(x, out, |v| U::from_f64_unsaturated(v.to_f64()))
}

/// ONNX `BitCast` into `out`: each element's bytes reinterpreted as `U`, which must
/// have the width of `T`.
///
/// ```
/// use ndarray::{array, ArrayD, IxDyn};
/// let mut out = ArrayD::<u32>::zeros(IxDyn(&[2]));
/// onnx2rs_runtime::ops::bit_cast_into(array![1.0f32, -0.0].into_dyn().view(), out.view_mut()).unwrap();
/// assert_eq!(out, array![0x3f80_0000u32, 0x8000_0000].into_dyn());
/// ```
///
/// # Errors
/// [`Error::Shape`] if `out` has another shape, or `U` another width than `T`.
pub fn bit_cast_into<T: Element, U: Element>(
    x: ArrayViewD<'_, T>,
    out: ArrayViewMutD<'_, U>,
) -> Result<()> {
    let width = std::mem::size_of::<T>();
    if width != std::mem::size_of::<U>() || width > 8 {
        return Err(Error::Shape(format!(
            "BitCast between types of {width} and {} bytes",
            std::mem::size_of::<U>()
        )));
    }
    map_into(x, out, |v| {
        let mut bytes = [0u8; 8];
        v.write_le_bytes(&mut bytes[..width]);
        U::from_le_bytes(&bytes[..width])
    })
}
