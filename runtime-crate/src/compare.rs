//! Comparing a model's outputs with reference outputs, as the generated tests do.

use crate::Element;
use ndarray::ArrayViewD;

/// True if `ours` and `expected` have the same shape and every element satisfies
/// `|a - b| <= atol + rtol * |b|` (NaN matches NaN, equal infinities match).
///
/// ```
/// use ndarray::array;
/// use onnx2rs_runtime::compare::allclose;
/// let a = array![1.0f32, f32::NAN].into_dyn();
/// let b = array![1.00001f32, f32::NAN].into_dyn();
/// assert!(allclose(a.view(), b.view(), 1e-4, 1e-4));
/// assert!(!allclose(a.view(), array![2.0f32, f32::NAN].into_dyn().view(), 1e-4, 1e-4));
/// ```
pub fn allclose<T: Element>(
    ours: ArrayViewD<'_, T>,
    expected: ArrayViewD<'_, T>,
    atol: f64,
    rtol: f64,
) -> bool {
    ours.shape() == expected.shape()
        && ours.iter().zip(expected.iter()).all(|(&a, &b)| {
            let (a, b) = (a.to_f64(), b.to_f64());
            a == b || (a.is_nan() && b.is_nan()) || (a - b).abs() <= atol + rtol * b.abs()
        })
}
