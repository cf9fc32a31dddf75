//! Matrix products: ONNX `MatMul` (numpy semantics, batched) and `Gemm`.
//!
//! Spec: <https://onnx.ai/onnx/operators/onnx__MatMul.html>,
//! <https://onnx.ai/onnx/operators/onnx__Gemm.html>.

use super::broadcast::broadcast_shape;
use super::linalg::{mat_mul_into, mat_mul_prepacked_into, PackedB};
use super::unary::Activation;
use crate::{Error, Numeric, Result};
use ndarray::{Array2, ArrayD, ArrayView2, ArrayViewD, ArrayViewMutD, Axis, Dimension, Ix2, IxDyn};

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
    // Batch dims broadcast; a 1-D operand contributes no batch dims and no output axis.
    let (ra, rb) = (a.ndim().saturating_sub(2), b.ndim().saturating_sub(2));
    let mut shape = broadcast_shape(&a.shape()[..ra], &b.shape()[..rb])?;
    if a.ndim() >= 2 {
        shape.push(a.shape()[a.ndim() - 2]);
    }
    if b.ndim() >= 2 {
        shape.push(b.shape()[b.ndim() - 1]);
    }
    let mut out = ArrayD::zeros(IxDyn(&shape));
    matmul_into(a, b, out.view_mut())?;
    Ok(out)
}

/// [`matmul`] into `out`, which must have the product's shape; allocates nothing for rank <= 4.
///
/// # Errors
/// [`Error::Shape`] if the operands or `out` do not fit together.
pub fn matmul_into<T: Numeric>(
    a: ArrayViewD<'_, T>,
    b: ArrayViewD<'_, T>,
    out: ArrayViewMutD<'_, T>,
) -> Result<()> {
    if a.ndim() == 0 || b.ndim() == 0 {
        return Err(Error::Shape("MatMul operands must have rank >= 1".into()));
    }
    // numpy promotes 1-D operands to matrices; the added axes are added to `out` too.
    let (a_vector, b_vector) = (a.ndim() == 1, b.ndim() == 1);
    let a = if a_vector { a.insert_axis(Axis(0)) } else { a };
    let b = if b_vector { b.insert_axis(Axis(1)) } else { b };
    let mut out = out;
    if b_vector {
        let end = out.ndim();
        out = out.insert_axis(Axis(end));
    }
    if a_vector {
        let before_last = out.ndim() - 1;
        out = out.insert_axis(Axis(before_last));
    }
    let r = out.ndim();
    if r < 2 {
        return Err(Error::Shape("MatMul output has the wrong rank".into()));
    }
    let (m, n) = (out.shape()[r - 2], out.shape()[r - 1]);
    let k = a.shape()[a.ndim() - 1];
    let mismatch = || {
        Error::Shape(format!(
            "MatMul {:?} x {:?} does not give {:?}",
            a.shape(),
            b.shape(),
            out.shape()
        ))
    };
    let mut a_dim = out.raw_dim();
    a_dim[r - 1] = k;
    let mut b_dim = out.raw_dim();
    b_dim[r - 2] = k;
    let a_full = a.broadcast(a_dim).ok_or_else(mismatch)?;
    let b_full = b.broadcast(b_dim).ok_or_else(mismatch)?;
    if a_full.shape()[r - 2] != m || b_full.shape()[r - 1] != n {
        return Err(mismatch());
    }
    let batch = out.raw_dim();
    let batch_dims = &batch.slice()[..r - 2];
    for index in ndarray::indices(IxDyn(batch_dims)) {
        let (mut av, mut bv, mut ov) = (a_full.view(), b_full.view(), out.view_mut());
        for &i in index.slice() {
            av = av.index_axis_move(Axis(0), i);
            bv = bv.index_axis_move(Axis(0), i);
            ov = ov.index_axis_move(Axis(0), i);
        }
        let mut ov = ov.into_dimensionality::<Ix2>()?;
        mat_mul_into(
            T::one(),
            av.into_dimensionality::<Ix2>()?,
            bv.into_dimensionality::<Ix2>()?,
            T::zero(),
            &mut ov,
        )?;
    }
    Ok(())
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
    /// Applied to every output value after the product.
    pub activation: Activation,
}

/// ONNX `Gemm`: `alpha · A'·B' + beta · C`, with `C` broadcast to `[M, N]`.
///
/// ```
/// use ndarray::array;
/// use onnx2rs_runtime::ops::{gemm, GemmParams};
/// let a = array![[1.0f32, 2.0]].into_dyn();
/// let b = array![[1.0f32, 0.0], [0.0, 1.0]].into_dyn();
/// let c = array![10.0f32, 20.0].into_dyn();
/// let p = GemmParams { alpha: 1.0, beta: 1.0, trans_a: false, trans_b: true, activation: Default::default() };
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
    let (ma, mb) = (as_matrix(&a, "Gemm A")?, as_matrix(&b, "Gemm B")?);
    let m = if p.trans_a { ma.ncols() } else { ma.nrows() };
    let n = if p.trans_b { mb.nrows() } else { mb.ncols() };
    let mut y = Array2::zeros((m, n)).into_dyn();
    gemm_into(a, b, c, y.view_mut(), p)?;
    Ok(y)
}

/// [`gemm`] into `out` (`[M, N]`).
///
/// # Errors
/// [`Error::Shape`] if the operands or `out` do not fit together.
pub fn gemm_into<T: Numeric>(
    a: ArrayViewD<'_, T>,
    b: ArrayViewD<'_, T>,
    c: Option<ArrayViewD<'_, T>>,
    out: ArrayViewMutD<'_, T>,
    p: GemmParams<T>,
) -> Result<()> {
    let a = as_matrix(&a, "Gemm A")?;
    let b = as_matrix(&b, "Gemm B")?;
    let a = if p.trans_a { a.reversed_axes() } else { a };
    let b = if p.trans_b { b.reversed_axes() } else { b };
    let mut y = out.into_dimensionality::<Ix2>()?;
    let (m, k) = a.dim();
    let (k2, n) = b.dim();
    if k != k2 || y.dim() != (m, n) {
        return Err(Error::Shape(format!(
            "Gemm {:?} x {:?} does not give {:?}",
            a.dim(),
            b.dim(),
            y.dim()
        )));
    }
    if !start_with_c(c, &mut y, p.beta)? {
        y.fill(T::zero());
    }
    mat_mul_into(p.alpha, a, b, p.beta, &mut y)?;
    apply_activation(&mut y, p.activation);
    Ok(())
}

/// [`gemm_into`] with B stored as panels ([`PackedB`]; `p.trans_b` must be false): the
/// weight streams contiguously instead of being copied tile by tile on every call. A
/// transposed or non-contiguous A is copied first.
///
/// ```
/// use ndarray::{array, Array2};
/// use onnx2rs_runtime::ops::{gemm_prepacked_into, GemmParams, PackedB};
/// let b = PackedB::new(array![[1.0f32, 0.0], [0.0, 1.0]].view());
/// let (a, c) = (array![[1.0f32, 2.0]].into_dyn(), array![10.0f32, 20.0].into_dyn());
/// let mut y = Array2::<f32>::zeros((1, 2)).into_dyn();
/// let p = GemmParams { alpha: 1.0, beta: 1.0, trans_a: false, trans_b: false, activation: Default::default() };
/// gemm_prepacked_into(a.view(), &b, Some(c.view()), y.view_mut(), p).unwrap();
/// assert_eq!(y, array![[11.0, 22.0]].into_dyn());
/// ```
///
/// # Errors
/// [`Error::Shape`] if the operands or `out` do not fit together, `out` is not
/// contiguous, or `p.trans_b` is set.
pub fn gemm_prepacked_into<T: Numeric>(
    a: ArrayViewD<'_, T>,
    b: &PackedB<'_, T>,
    c: Option<ArrayViewD<'_, T>>,
    out: ArrayViewMutD<'_, T>,
    p: GemmParams<T>,
) -> Result<()> {
    let a = as_matrix(&a, "Gemm A")?;
    let a = if p.trans_a { a.reversed_axes() } else { a };
    let mut y = out.into_dimensionality::<Ix2>()?;
    let ((m, k), (k2, n)) = (a.dim(), b.dim());
    if k != k2 || y.dim() != (m, n) || p.trans_b || !y.is_standard_layout() {
        return Err(Error::Shape(format!(
            "Gemm {:?} x packed {:?} does not give a contiguous {:?}",
            a.dim(),
            b.dim(),
            y.dim()
        )));
    }
    let accumulate = start_with_c(c, &mut y, p.beta)?;
    if accumulate && p.beta != T::one() {
        y.mapv_inplace(|v| v * p.beta);
    }
    let a = a.as_standard_layout();
    let (a, values) = (
        a.as_slice().unwrap_or(&[]),
        y.as_slice_mut().unwrap_or(&mut []),
    );
    mat_mul_prepacked_into(p.alpha, a, b, values, accumulate)?;
    apply_activation(&mut y, p.activation);
    Ok(())
}

/// [`matmul_into`] with a 2-D B stored as panels ([`PackedB`]): A's leading axes are one
/// run of rows, so the whole product is one call that streams the weight once. A
/// non-contiguous A is copied first.
///
/// ```
/// use ndarray::{array, ArrayD, IxDyn};
/// use onnx2rs_runtime::ops::{matmul_prepacked_into, PackedB};
/// let b = PackedB::new(array![[1.0f32, 2.0], [3.0, 4.0]].view());
/// let a = array![[[1.0f32, 0.0]], [[0.0, 1.0]]].into_dyn(); // [2, 1, 2]
/// let mut y = ArrayD::<f32>::zeros(IxDyn(&[2, 1, 2]));
/// matmul_prepacked_into(a.view(), &b, y.view_mut()).unwrap();
/// assert_eq!(y, array![[[1.0, 2.0]], [[3.0, 4.0]]].into_dyn());
/// ```
///
/// # Errors
/// [`Error::Shape`] if A's last axis is not B's depth, or `out` is not contiguous with
/// A's shape but B's width last.
pub fn matmul_prepacked_into<T: Numeric>(
    a: ArrayViewD<'_, T>,
    b: &PackedB<'_, T>,
    mut out: ArrayViewMutD<'_, T>,
) -> Result<()> {
    let (k, n) = b.dim();
    // Compared in place: a run allocates nothing.
    let fits = match (a.shape().split_last(), out.shape().split_last()) {
        (Some((&depth, lead)), Some((&width, out_lead))) => {
            depth == k && width == n && lead == out_lead
        }
        _ => false,
    };
    if !fits || !out.is_standard_layout() {
        return Err(Error::Shape(format!(
            "MatMul {:?} x packed [{k}, {n}] does not give a contiguous {:?}",
            a.shape(),
            out.shape()
        )));
    }
    let a = a.as_standard_layout();
    let (a, values) = (
        a.as_slice().unwrap_or(&[]),
        out.as_slice_mut().unwrap_or(&mut []),
    );
    mat_mul_prepacked_into(T::one(), a, b, values, false)
}

/// `C` broadcast into `y` when Gemm adds it (`beta != 0`); whether it did.
fn start_with_c<T: Numeric>(
    c: Option<ArrayViewD<'_, T>>,
    y: &mut ndarray::ArrayViewMut2<'_, T>,
    beta: T,
) -> Result<bool> {
    let Some(c) = c.filter(|_| beta != T::zero()) else {
        return Ok(false);
    };
    let (m, n) = y.dim();
    let c = c.broadcast((m, n)).ok_or_else(|| {
        Error::Shape(format!(
            "Gemm C {:?} does not broadcast to [{m}, {n}]",
            c.shape()
        ))
    })?;
    y.assign(&c);
    Ok(true)
}

/// Gemm's fused epilogue over its output.
fn apply_activation<T: Numeric>(y: &mut ndarray::ArrayViewMut2<'_, T>, act: Activation) {
    if act != Activation::Identity {
        match y.as_slice_mut() {
            Some(values) => super::unary::bias_then_activation(values, T::zero(), act),
            None => y.mapv_inplace(|v| act.apply_to(v)),
        }
    }
}

/// Most distinct index letters an [`einsum_into`] equation may use.
pub const EINSUM_MAX_LABELS: usize = 16;

/// ONNX `Einsum` with the equation resolved at build time: `labels[i][d]` is the
/// index letter (as a number below `sizes.len()`) of axis `d` of input `i`, and
/// `out_labels` those of the output. Every combination of letters is visited once:
/// products of the inputs accumulate into the output (sums over the missing letters,
/// diagonals for repeated ones). Allocation-free; meant for the small contractions
/// exporters emit, not as a GEMM.
///
/// ```
/// use ndarray::{array, ArrayD, IxDyn};
/// let a = array![[1.0f32, 2.0], [3.0, 4.0]].into_dyn();
/// let mut trace = ArrayD::<f32>::zeros(IxDyn(&[]));
/// onnx2rs_runtime::ops::einsum_into(&[a.view()], &[&[0, 0]], &[], &[2], trace.view_mut()).unwrap(); // "ii->"
/// assert_eq!(trace[[]], 5.0);
/// ```
///
/// # Errors
/// [`Error::Shape`] if the labels do not match the operands' ranks and sizes.
pub fn einsum_into<T: Numeric>(
    inputs: &[ArrayViewD<'_, T>],
    labels: &[&[usize]],
    out_labels: &[usize],
    sizes: &[usize],
    mut out: ArrayViewMutD<'_, T>,
) -> Result<()> {
    let fits = |shape: &[usize], ls: &[usize]| {
        shape.len() == ls.len()
            && ls
                .iter()
                .zip(shape)
                .all(|(&l, &d)| sizes.get(l) == Some(&d))
    };
    if sizes.len() > EINSUM_MAX_LABELS
        || inputs.len() != labels.len()
        || !inputs.iter().zip(labels).all(|(x, ls)| fits(x.shape(), ls))
        || !fits(out.shape(), out_labels)
    {
        return Err(Error::Shape(
            "Einsum operands do not match the equation".into(),
        ));
    }
    out.fill(T::zero());
    let total: usize = sizes.iter().product();
    let mut index = [0usize; EINSUM_MAX_LABELS];
    let mut at = [0usize; EINSUM_MAX_LABELS];
    for _ in 0..total {
        let mut product = T::one();
        for (x, ls) in inputs.iter().zip(labels) {
            for (slot, &l) in at.iter_mut().zip(ls.iter()) {
                *slot = index[l];
            }
            product = product * x[&at[..ls.len()]];
        }
        for (slot, &l) in at.iter_mut().zip(out_labels) {
            *slot = index[l];
        }
        let o = &mut out[&at[..out_labels.len()]];
        *o = *o + product;
        // Next combination, last letter fastest.
        for l in (0..sizes.len()).rev() {
            index[l] += 1;
            if index[l] < sizes[l] {
                break;
            }
            index[l] = 0;
        }
    }
    Ok(())
}
