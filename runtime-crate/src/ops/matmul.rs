//! Matrix products: ONNX `MatMul` (numpy semantics, batched) and `Gemm`.
//!
//! Spec: <https://onnx.ai/onnx/operators/onnx__MatMul.html>,
//! <https://onnx.ai/onnx/operators/onnx__Gemm.html>.

use super::elementwise::broadcast_shape;
use crate::{Error, Numeric, Result};
use ndarray::linalg::general_mat_mul;
use ndarray::{Array2, Array3, ArrayD, ArrayView2, ArrayViewD, Axis, Ix2, IxDyn};

fn as_matrix<'a, T>(x: &'a ArrayViewD<'_, T>, what: &str) -> Result<ArrayView2<'a, T>> {
    x.view()
        .into_dimensionality::<Ix2>()
        .map_err(|_| Error::Shape(format!("{what} must be 2-D, got {:?}", x.shape())))
}

/// ONNX `MatMul`: the matrix product with numpy's rules (1-D promotion, broadcast batch dims).
///
/// ```
/// use ndarray::array;
/// let a = array![[1.0f32, 2.0], [3.0, 4.0]].into_dyn();
/// let b = array![1.0f32, 1.0].into_dyn();
/// let y = onnx2rs_runtime::ops::matmul(a.view(), b.view()).unwrap();
/// assert_eq!(y, array![3.0, 7.0].into_dyn());
/// ```
///
/// # Errors
/// [`Error::Shape`] if the inner dimensions differ or batch dims do not broadcast.
pub fn matmul<T: Numeric>(a: ArrayViewD<'_, T>, b: ArrayViewD<'_, T>) -> Result<ArrayD<T>> {
    if a.ndim() == 0 || b.ndim() == 0 {
        return Err(Error::Shape("MatMul operands must have rank >= 1".into()));
    }
    // numpy promotes 1-D operands to matrices and drops the added axis afterwards.
    let a_was_vector = a.ndim() == 1;
    let a = if a_was_vector {
        a.insert_axis(Axis(0))
    } else {
        a
    };
    let b_was_vector = b.ndim() == 1;
    let b = if b_was_vector {
        b.insert_axis(Axis(1))
    } else {
        b
    };
    let (ra, rb) = (a.ndim(), b.ndim());
    let (m, k) = (a.shape()[ra - 2], a.shape()[ra - 1]);
    let (k2, n) = (b.shape()[rb - 2], b.shape()[rb - 1]);
    if k != k2 {
        return Err(Error::Shape(format!(
            "MatMul inner dims differ: {:?} x {:?}",
            a.shape(),
            b.shape()
        )));
    }
    let batch = broadcast_shape(&a.shape()[..ra - 2], &b.shape()[..rb - 2])?;
    let count: usize = batch.iter().product();
    let stack = |x: &ArrayViewD<'_, T>, r: usize, c: usize| -> Result<Array3<T>> {
        let mut full = batch.clone();
        full.extend([r, c]);
        let view = x
            .broadcast(IxDyn(&full))
            .ok_or_else(|| Error::Shape(format!("cannot broadcast {:?}", x.shape())))?;
        Ok(view.to_shape((count, r, c))?.into_owned())
    };
    let (a3, b3) = (stack(&a, m, k)?, stack(&b, k, n)?);
    let mut out = Array3::<T>::zeros((count, m, n));
    for i in 0..count {
        general_mat_mul(
            T::one(),
            &a3.index_axis(Axis(0), i),
            &b3.index_axis(Axis(0), i),
            T::zero(),
            &mut out.index_axis_mut(Axis(0), i),
        );
    }
    let mut shape = batch;
    if !a_was_vector {
        shape.push(m);
    }
    if !b_was_vector {
        shape.push(n);
    }
    Ok(out.into_shape_with_order(IxDyn(&shape))?)
}

/// Options of ONNX `Gemm`.
#[derive(Debug, Clone, Copy)]
pub struct GemmParams<T> {
    /// Scale of `A·B`.
    pub alpha: T,
    /// Scale of `C`.
    pub beta: T,
    /// Use `Aᵀ`.
    pub trans_a: bool,
    /// Use `Bᵀ`.
    pub trans_b: bool,
}

/// ONNX `Gemm`: `alpha · A'·B' + beta · C`, with `C` broadcast to `[M, N]`.
///
/// ```
/// use ndarray::array;
/// use onnx2rs_runtime::ops::{gemm, GemmParams};
/// let a = array![[1.0f32, 2.0]].into_dyn();
/// let b = array![[1.0f32, 0.0], [0.0, 1.0]].into_dyn();
/// let c = array![10.0f32, 20.0].into_dyn();
/// let p = GemmParams { alpha: 1.0, beta: 1.0, trans_a: false, trans_b: true };
/// let y = gemm(a.view(), b.view(), Some(c.view()), p).unwrap();
/// assert_eq!(y, array![[11.0, 22.0]].into_dyn());
/// ```
///
/// # Errors
/// [`Error::Shape`] if the operands are not matrices of matching sizes.
pub fn gemm<T: Numeric>(
    a: ArrayViewD<'_, T>,
    b: ArrayViewD<'_, T>,
    c: Option<ArrayViewD<'_, T>>,
    p: GemmParams<T>,
) -> Result<ArrayD<T>> {
    let a = as_matrix(&a, "Gemm A")?;
    let b = as_matrix(&b, "Gemm B")?;
    let a = if p.trans_a { a.reversed_axes() } else { a };
    let b = if p.trans_b { b.reversed_axes() } else { b };
    let (m, k) = a.dim();
    let (k2, n) = b.dim();
    if k != k2 {
        return Err(Error::Shape(format!(
            "Gemm inner dims differ: {k} and {k2}"
        )));
    }
    let mut y = match c {
        Some(c) if p.beta != T::zero() => c
            .broadcast(IxDyn(&[m, n]))
            .ok_or_else(|| {
                Error::Shape(format!(
                    "Gemm C {:?} does not broadcast to [{m}, {n}]",
                    c.shape()
                ))
            })?
            .into_dimensionality::<Ix2>()?
            .to_owned(),
        _ => Array2::zeros((m, n)),
    };
    general_mat_mul(p.alpha, &a, &b, p.beta, &mut y);
    Ok(y.into_dyn())
}
