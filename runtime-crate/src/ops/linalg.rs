//! The matrix-product kernel behind MatMul, Gemm and Conv: safe Rust, no allocation.
//!
//! Row-major operands take a register-blocked path (four rows of C at a time, in
//! column tiles that stay in L1) whose inner loop the compiler vectorises; a
//! column-major B (Gemm with `transB`) takes a dot-product path; anything else
//! a plain indexed loop.

use crate::{Error, Numeric, Result};
use ndarray::{ArrayView2, ArrayViewMut2, Axis};

/// Columns of C handled per tile: 4 rows × 256 f32 = 4 KiB of C stays in L1.
const TILE: usize = 256;

/// `c = alpha · a·b + beta · c` for `a` `[M, K]`, `b` `[K, N]`, `c` `[M, N]`.
///
/// With `beta == 0`, `c`'s old contents are ignored (as in BLAS).
///
/// ```
/// use ndarray::array;
/// use onnx2rs_runtime::ops::mat_mul_into;
/// let a = array![[1.0f32, 2.0], [3.0, 4.0]];
/// let b = array![[5.0f32, 6.0], [7.0, 8.0]];
/// let mut c = array![[1.0f32, 1.0], [1.0, 1.0]];
/// mat_mul_into(1.0, a.view(), b.view(), 1.0, &mut c.view_mut()).unwrap();
/// assert_eq!(c, array![[20.0, 23.0], [44.0, 51.0]]);
/// ```
///
/// # Errors
/// [`Error::Shape`] if the shapes do not chain.
pub fn mat_mul_into<T: Numeric>(
    alpha: T,
    a: ArrayView2<'_, T>,
    b: ArrayView2<'_, T>,
    beta: T,
    c: &mut ArrayViewMut2<'_, T>,
) -> Result<()> {
    let (m, k) = a.dim();
    let (k2, n) = b.dim();
    if k != k2 || c.dim() != (m, n) {
        return Err(Error::Shape(format!(
            "matrix product {:?} x {:?} does not give {:?}",
            a.dim(),
            b.dim(),
            c.dim()
        )));
    }
    if beta == T::zero() {
        c.fill(T::zero());
    } else if beta != T::one() {
        c.mapv_inplace(|v| v * beta);
    }
    if m == 0 || n == 0 || k == 0 {
        return Ok(());
    }
    let b_rows = b.row(0).as_slice().is_some() || n == 1;
    let c_rows = c.row(0).as_slice().is_some() || n == 1;
    if b_rows && c_rows {
        rows_times_rows(alpha, a, b, c);
    } else if b.column(0).as_slice().is_some() {
        dot_products(alpha, a, b, c);
    } else {
        for ((i, j), cij) in c.indexed_iter_mut() {
            let dot = a
                .row(i)
                .iter()
                .zip(b.column(j))
                .fold(T::zero(), |s, (&x, &y)| s + x * y);
            *cij = *cij + alpha * dot;
        }
    }
    Ok(())
}

/// B and C have contiguous rows: C[i, j..] += A[i, p] · B[p, j..], four rows of C at a time.
fn rows_times_rows<T: Numeric>(
    alpha: T,
    a: ArrayView2<'_, T>,
    b: ArrayView2<'_, T>,
    c: &mut ArrayViewMut2<'_, T>,
) {
    let (m, k) = a.dim();
    let n = b.ncols();
    let b_row = |p: usize, j0: usize, j1: usize| &b.row(p).to_slice().unwrap_or(&[])[j0..j1];
    for j0 in (0..n).step_by(TILE) {
        let j1 = (j0 + TILE).min(n);
        let mut i = 0;
        while i + 4 <= m {
            let mut block = c.slice_axis_mut(Axis(0), (i..i + 4).into());
            let mut rows = block.outer_iter_mut();
            let (Some(mut r0), Some(mut r1), Some(mut r2), Some(mut r3)) =
                (rows.next(), rows.next(), rows.next(), rows.next())
            else {
                break;
            };
            let (Some(c0), Some(c1), Some(c2), Some(c3)) = (
                r0.as_slice_mut(),
                r1.as_slice_mut(),
                r2.as_slice_mut(),
                r3.as_slice_mut(),
            ) else {
                break;
            };
            let (c0, c1, c2, c3) = (
                &mut c0[j0..j1],
                &mut c1[j0..j1],
                &mut c2[j0..j1],
                &mut c3[j0..j1],
            );
            for p in 0..k {
                let (a0, a1, a2, a3) = (
                    alpha * a[[i, p]],
                    alpha * a[[i + 1, p]],
                    alpha * a[[i + 2, p]],
                    alpha * a[[i + 3, p]],
                );
                let bp = b_row(p, j0, j1);
                for ((((x0, x1), x2), x3), &bv) in c0
                    .iter_mut()
                    .zip(c1.iter_mut())
                    .zip(c2.iter_mut())
                    .zip(c3.iter_mut())
                    .zip(bp)
                {
                    *x0 = *x0 + a0 * bv;
                    *x1 = *x1 + a1 * bv;
                    *x2 = *x2 + a2 * bv;
                    *x3 = *x3 + a3 * bv;
                }
            }
            i += 4;
        }
        for i in i..m {
            let mut row = c.row_mut(i);
            let Some(ci) = row.as_slice_mut() else {
                continue;
            };
            let ci = &mut ci[j0..j1];
            for p in 0..k {
                let ap = alpha * a[[i, p]];
                for (x, &bv) in ci.iter_mut().zip(b_row(p, j0, j1)) {
                    *x = *x + ap * bv;
                }
            }
        }
    }
}

/// B has contiguous columns (a transposed matrix): C[i, j] += A[i, ..] · B[.., j].
fn dot_products<T: Numeric>(
    alpha: T,
    a: ArrayView2<'_, T>,
    b: ArrayView2<'_, T>,
    c: &mut ArrayViewMut2<'_, T>,
) {
    for (i, mut c_row) in c.outer_iter_mut().enumerate() {
        let a_row = a.row(i);
        for (j, cij) in c_row.iter_mut().enumerate() {
            let b_col = b.column(j);
            let dot = match (a_row.as_slice(), b_col.as_slice()) {
                (Some(x), Some(y)) => dot(x, y),
                _ => a_row
                    .iter()
                    .zip(b_col)
                    .fold(T::zero(), |s, (&x, &y)| s + x * y),
            };
            *cij = *cij + alpha * dot;
        }
    }
}

/// A dot product with eight independent accumulators, so that it vectorises.
fn dot<T: Numeric>(x: &[T], y: &[T]) -> T {
    let mut acc = [T::zero(); 8];
    let (xc, yc) = (x.chunks_exact(8), y.chunks_exact(8));
    let tail = xc
        .remainder()
        .iter()
        .zip(yc.remainder())
        .fold(T::zero(), |s, (&a, &b)| s + a * b);
    for (xs, ys) in xc.zip(yc) {
        for l in 0..8 {
            acc[l] = acc[l] + xs[l] * ys[l];
        }
    }
    acc.iter().fold(tail, |s, &v| s + v)
}
