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
    dims: Dims,
    accumulate: bool,
) {
    let n = dims.n;
    let scale = T::as_f32(std::slice::from_ref(&alpha)).and_then(|s| s.first().copied());
    if let (Some(a32), Some(b32), Some(alpha32)) = (T::as_f32(a), T::as_f32(b), scale) {
        if let Some(c) = T::as_f32_mut(c) {
            let piece = |scratch: &mut [f32], j0: usize, w: usize| {
                // Row p of this piece of B starts at p · n + j0 of B.
                let b = InPlace {
                    values: &b32[j0..],
                    starts: row_stride(n),
                };
                blocked_on(
                    isa,
                    alpha32,
                    a32,
                    b,
                    scratch,
                    Dims { n: w, ..dims },
                    accumulate,
                );
            };
            if let Err(c) = column_bands(c, dims, accumulate, piece) {
                by_rows(isa, alpha32, (a32, b32, c), dims, accumulate);
            }
            return;
        }
    }
    by_rows(isa, alpha, (a, b, c), dims, accumulate);
}

/// [`product`] in bands of C's rows.
fn by_rows<T: Numeric>(
    isa: Isa,
    alpha: T,
    (a, b, c): (&[T], &[T], &mut [T]),
    dims: Dims,
    accumulate: bool,
) {
    row_bands(a, c, dims, |a, c, m| {
        let b = InPlace {
            values: b,
            starts: row_stride(dims.n),
        };
        blocked_on(isa, alpha, a, b, c, Dims { m, ..dims }, accumulate);
    });
}

/// `compute(a, c, m)` over bands of C's rows (and the matching rows of A), one per
/// thread, each a whole number of register tiles.
pub(super) fn row_bands<T: Numeric>(
    a: &[T],
    c: &mut [T],
    Dims { m, k, n }: Dims,
    compute: impl Fn(&[T], &mut [T], usize) + Sync,
) {
    let rows = m
        .div_ceil(parallel::parts(m * n * k, m.div_ceil(8)))
        .next_multiple_of(8);
    parallel::each(c.chunks_mut(rows * n).zip(a.chunks(rows * k)), |(c, a)| {
        compute(a, c, a.len() / k);
    });
}

/// The product in bands of C's columns, when its shape asks for that (B wider than A is
/// tall, at most [`COLUMN_SPLIT_MAX_ROWS`] rows) and there is more than one thread;
/// otherwise C is handed back untouched. Each thread computes its band piece by piece:
/// `piece(scratch, j0, w)` writes C's columns `j0..j0 + w` (all `m` rows, row stride `w`;
/// with `accumulate` they hold C's values first). C's rows are not split into disjoint
/// slices by columns, so each piece is copied into C under a lock: `m × w` values copied
/// against `m × w × k` multiply-adds, so the threads seldom wait for each other.
pub(super) fn column_bands(
    c: &mut [f32],
    Dims { m, k, n }: Dims,
    accumulate: bool,
    piece: impl Fn(&mut [f32], usize, usize) + Sync,
) -> Result<(), &mut [f32]> {
    let parts = parallel::parts(m * n * k, n.div_ceil(COLUMN_PIECE));
    if n <= m || m > COLUMN_SPLIT_MAX_ROWS || parts < 2 {
        return Err(c);
    }
    let band = n.div_ceil(parts).next_multiple_of(COLUMN_PIECE);
    let width = (PIECE_VALUES / m.max(1) / COLUMN_PIECE * COLUMN_PIECE).max(COLUMN_PIECE);
    let c = Mutex::new(c);
    parallel::each((0..n).step_by(band), |first| {
        let end = (first + band).min(n);
        for j0 in (first..end).step_by(width) {
            let w = (end - j0).min(width);
            parallel::with_scratch(m * w, |scratch| {
                if accumulate {
                    let c = c.lock().unwrap_or_else(PoisonError::into_inner);
                    for (to, row) in scratch.chunks_exact_mut(w).zip(c.chunks_exact(n)) {
                        to.copy_from_slice(&row[j0..j0 + w]);
                    }
                }
                piece(scratch, j0, w);
                let mut c = c.lock().unwrap_or_else(PoisonError::into_inner);
                for (row, from) in c.chunks_exact_mut(n).zip(scratch.chunks_exact(w)) {
                    row[j0..j0 + w].copy_from_slice(from);
                }
            });
        }
    });
    Ok(())
}
