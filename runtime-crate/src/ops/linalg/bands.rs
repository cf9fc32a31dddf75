//! How a row-major product is split between threads: into bands of C's rows, or into
//! bands of its columns, whichever reads the smaller operand more than once.
//!
//! A band of rows reads all of B; a band of columns reads all of A. With one thread per
//! band, a transformer's products at a short sequence (`[128, 768] · [768, 3072]`: B is
//! 24 times A) split by rows stream B from memory once per thread, and the two threads then
//! wait on memory together. Split by columns, each thread streams only its half of B.
//! Without the `threads` feature every product is one band of rows: the plain kernel.

use super::{blocked_on, row_stride, Dims, InPlace, Isa};
use crate::{parallel, Numeric};
use std::sync::{Mutex, PoisonError};

/// The most rows of C a product may have to be split by columns: each band of columns is
/// computed in pieces of at least [`COLUMN_PIECE`] columns in a thread's scratch memory (at
/// most [`PIECE_VALUES`] values) before it is copied into C, and more rows would make the
/// pieces too narrow. A product with more rows reads B from cache for many rows anyway.
const COLUMN_SPLIT_MAX_ROWS: usize = 256;

/// Values of C that a thread computes in its scratch memory at once (256 KiB of f32: L2).
const PIECE_VALUES: usize = 1 << 16;

/// Width of a piece of a column band, and the alignment of bands: whole register tiles
/// and cache lines.
const COLUMN_PIECE: usize = 64;

/// `c = alpha · a·b` (`c += alpha · a·b` with `accumulate`) for row-major slices, spread
/// over the threads in bands of rows or of columns (see the module docs).
pub(super) fn product<T: Numeric>(
    isa: Isa,
    alpha: T,
    (a, b, c): (&[T], &[T], &mut [T]),
    Dims { m, k, n }: Dims,
    accumulate: bool,
) {
    let dims = Dims { m, k, n };
    if n > m && m <= COLUMN_SPLIT_MAX_ROWS {
        let parts = parallel::parts(m * n * k, n.div_ceil(COLUMN_PIECE));
        let scale = T::as_f32(std::slice::from_ref(&alpha)).and_then(|s| s.first());
        if let (true, Some(a), Some(b), Some(c), Some(&alpha)) = (
            parts > 1,
            T::as_f32(a),
            T::as_f32(b),
            T::as_f32_mut(c),
            scale,
        ) {
            column_bands(isa, alpha, (a, b, c), dims, accumulate, parts);
            return;
        }
    }
    // Bands of rows of C, one per thread, each a whole number of register tiles.
    let rows = m
        .div_ceil(parallel::parts(m * n * k, m.div_ceil(8)))
        .next_multiple_of(8);
    parallel::each(c.chunks_mut(rows * n).zip(a.chunks(rows * k)), |(c, a)| {
        let b = InPlace {
            values: b,
            starts: row_stride(n),
        };
        let m = a.len() / k;
        blocked_on(isa, alpha, a, b, c, Dims { m, k, n }, accumulate);
    });
}

/// [`product`] in `parts` bands of C's columns. Each thread computes its band piece by
/// piece in its scratch memory (C's rows are not split into disjoint slices by columns)
/// and copies each piece into C under a lock: `m × w` values copied against `m × w × k`
/// multiply-adds, so the threads seldom wait for each other.
fn column_bands(
    isa: Isa,
    alpha: f32,
    (a, b, c): (&[f32], &[f32], &mut [f32]),
    Dims { m, k, n }: Dims,
    accumulate: bool,
    parts: usize,
) {
    let band = n.div_ceil(parts).next_multiple_of(COLUMN_PIECE);
    let piece = (PIECE_VALUES / m.max(1) / COLUMN_PIECE * COLUMN_PIECE).max(COLUMN_PIECE);
    let c = Mutex::new(c);
    parallel::each((0..n).step_by(band), |first| {
        let end = (first + band).min(n);
        for j0 in (first..end).step_by(piece) {
            let w = (end - j0).min(piece);
            parallel::with_scratch(m * w, |scratch| {
                if accumulate {
                    let c = c.lock().unwrap_or_else(PoisonError::into_inner);
                    for (to, row) in scratch.chunks_exact_mut(w).zip(c.chunks_exact(n)) {
                        to.copy_from_slice(&row[j0..j0 + w]);
                    }
                }
                // Row p of this piece of B starts at p · n + j0 of B.
                let b = InPlace {
                    values: &b[j0..],
                    starts: row_stride(n),
                };
                blocked_on(isa, alpha, a, b, scratch, Dims { m, k, n: w }, accumulate);
                let mut c = c.lock().unwrap_or_else(PoisonError::into_inner);
                for (row, from) in c.chunks_exact_mut(n).zip(scratch.chunks_exact(w)) {
                    row[j0..j0 + w].copy_from_slice(from);
                }
            });
        }
    });
}
