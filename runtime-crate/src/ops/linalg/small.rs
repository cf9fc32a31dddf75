//! Products too narrow or too transposed for tiles: a few columns of B summed row by row,
//! rows of C as sums of B's rows, and dot products for a transposed B.

use super::{Dims, InPlace, KC, TILE};
use crate::Numeric;
use multiversion::multiversion;
use ndarray::{ArrayView2, ArrayViewMut2, Axis};

/// Products with at most this many columns take [`narrow_rows_into`]: a tile 32 columns
/// wide would compute mostly padding (silero-vad's convolutions over 4, 2 and 1 frames).
pub(super) const NARROW_COLUMNS: usize = 8;

/// Values of the stack buffer [`narrow_rows_into`] gathers B's columns into.
pub(super) const NARROW_VALUES: usize = 4096;

/// [`mat_mul_rows_into`] for a narrow B (checked by the caller): its columns are gathered
/// into a contiguous buffer, and each value of C is one dot product of a row of A and a
/// column.
pub(super) fn narrow_rows_into<T: Numeric, S: Fn(usize, &mut [usize]) + Copy>(
    a: &[T],
    InPlace { values: b, starts }: InPlace<'_, T, S>,
    c: &mut [T],
    Dims { m, k, n }: Dims,
    accumulate: bool,
) {
    let mut buffer = [T::zero(); NARROW_VALUES];
    let columns = &mut buffer[..k * n];
    let mut block = [0usize; KC];
    for first in (0..k).step_by(KC) {
        let block = &mut block[..(k - first).min(KC)];
        starts(first, block);
        for (p, &start) in (first..).zip(block.iter()) {
            for (j, &v) in b[start..start + n].iter().enumerate() {
                columns[j * k + p] = v;
            }
        }
    }
    narrow_products(a, columns, c, (m, k, n), accumulate);
}

/// `c (+)= a · columnsᵀ` for row-major `a` (`[m, k]`), `columns` (`[n, k]`) and `c`
/// (`[m, n]`): one dot product per value of C, compiled for AVX-512 and AVX2 as well.
#[multiversion(targets("x86_64+avx512f+avx512vl+fma", "x86_64+avx2+fma"))]
pub(super) fn narrow_products<T: Numeric>(
    a: &[T],
    columns: &[T],
    c: &mut [T],
    (m, k, n): (usize, usize, usize),
    accumulate: bool,
) {
    for (a_row, c_row) in a.chunks_exact(k).zip(c.chunks_exact_mut(n)).take(m) {
        for (cij, column) in c_row.iter_mut().zip(columns.chunks_exact(k)) {
            let d = dot(a_row, column);
            *cij = if accumulate { *cij + d } else { d };
        }
    }
}

/// B and C have contiguous rows: C[i, j..] += A[i, p] · B[p, j..], four rows of C at a time.
pub(super) fn rows_times_rows<T: Numeric>(
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
#[multiversion(targets("x86_64+avx512f+avx512vl+fma", "x86_64+avx2+fma"))]
pub(super) fn dot_products<T: Numeric>(
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

/// A dot product with 64 independent accumulators (four AVX-512 registers of f32, so
/// that the additions' latency overlaps), then 8 for the rest, so that it vectorises.
#[inline(always)]
pub(super) fn dot<T: Numeric>(x: &[T], y: &[T]) -> T {
    let (x, y) = (&x[..x.len().min(y.len())], &y[..x.len().min(y.len())]);
    let mut wide = [T::zero(); 64];
    let (xc, yc) = (x.chunks_exact(64), y.chunks_exact(64));
    let (x, y) = (xc.remainder(), yc.remainder());
    for (xs, ys) in xc.zip(yc) {
        for l in 0..64 {
            wide[l] = wide[l] + xs[l] * ys[l];
        }
    }
    let mut acc = [T::zero(); 8];
    for part in wide.chunks_exact(8) {
        for l in 0..8 {
            acc[l] = acc[l] + part[l];
        }
    }
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
