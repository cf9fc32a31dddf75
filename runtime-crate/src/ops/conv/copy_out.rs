//! How a [`Shifted`](super::shifted::Shifted) chunk's product is copied out: bias, activation
//! and (when fused) the max pool applied on the way, while the values are still in cache.

use crate::ops::unary::{Activation, EpiloguePass};
use crate::ops::variadic::max_nan;
use multiversion::multiversion;

/// The output values of one filter in a band of a [`Shifted`] chunk: of each `wq`-wide
/// row of the product, `ow` values go to `dst` (the plane from the chunk's first row on),
/// added to what it holds with `accumulate`. `wide` holds the chunk's columns from `at`
/// on, so a band may begin and end within a row.
pub(super) struct CopyOut<'a> {
    pub(super) dst: &'a mut [f32],
    pub(super) wide: &'a [f32],
    pub(super) at: usize,
    pub(super) widths: (usize, usize),
    pub(super) accumulate: bool,
}

impl EpiloguePass<f32> for CopyOut<'_> {
    #[inline(always)]
    fn run(self, f: impl Fn(f32) -> f32) {
        let (ow, wq) = self.widths;
        let (start, end) = (self.at, self.at + self.wide.len());
        let mut q = start;
        while q < end {
            let (row, x) = (q / wq, q % wq);
            let stop = (row * wq + ow).min(end);
            if x < ow {
                let src = &self.wide[q - start..stop - start];
                let dst = &mut self.dst[row * ow + x..][..src.len()];
                match self.accumulate {
                    true => dst.iter_mut().zip(src).for_each(|(d, &v)| *d = f(*d + v)),
                    false => dst.iter_mut().zip(src).for_each(|(d, &v)| *d = f(v)),
                }
            }
            q = (row + 1) * wq;
        }
    }
}

/// `act(v + bias)` of a chunk's rows as they are copied out (`act((out + v) + bias)`
/// with `accumulate`), compiled for AVX-512 and AVX2 as well.
#[multiversion(targets("x86_64+avx512f+avx512vl+fma", "x86_64+avx2+fma"))]
pub(super) fn copy_out<'a>(rows: CopyOut<'a>, bias: f32, act: Activation) {
    act.with_epilogue(bias, rows);
}

/// The pooled output rows of one filter in a [`Shifted`] chunk: each value of `dst` is the
/// largest of its `window` of the product's `wq`-wide rows, after the epilogue.
pub(super) struct PoolOut<'a> {
    pub(super) dst: &'a mut [f32],
    pub(super) wide: &'a [f32],
    /// Pooled values per output row, and the product's row width.
    pub(super) widths: (usize, usize),
    /// The pool's window (rows, columns), which is also its stride.
    pub(super) window: (usize, usize),
}

impl EpiloguePass<f32> for PoolOut<'_> {
    #[inline(always)]
    fn run(self, f: impl Fn(f32) -> f32) {
        let ((pw, wq), (py, px)) = (self.widths, self.window);
        for (r, dst) in self.dst.chunks_exact_mut(pw).enumerate() {
            let rows = &self.wide[r * py * wq..];
            if (py, px) == (2, 2) {
                // The common 2×2: blocks of 16 outputs, each pair of rows reduced down, then
                // across after splitting even and odd columns (fixed sizes, so that both
                // compile to vector instructions); the rest of the row as below.
                let (top, bottom) = (&rows[..2 * pw], &rows[wq..][..2 * pw]);
                let pairs = top.chunks_exact(32).zip(bottom.chunks_exact(32));
                for (dst, (top, bottom)) in dst.chunks_exact_mut(16).zip(pairs) {
                    let down: [f32; 32] =
                        core::array::from_fn(|i| max_nan(f(top[i]), f(bottom[i])));
                    let even: [f32; 16] = core::array::from_fn(|j| down[2 * j]);
                    let odd: [f32; 16] = core::array::from_fn(|j| down[2 * j + 1]);
                    for (d, (&e, &o)) in dst.iter_mut().zip(even.iter().zip(&odd)) {
                        *d = max_nan(e, o);
                    }
                }
                let done = pw / 16 * 16;
                for (j, d) in dst.iter_mut().enumerate().skip(done) {
                    let (t, b) = (&top[2 * j..][..2], &bottom[2 * j..][..2]);
                    *d = max_nan(max_nan(f(t[0]), f(t[1])), max_nan(f(b[0]), f(b[1])));
                }
                continue;
            }
            for (j, d) in dst.iter_mut().enumerate() {
                let mut m = f32::NEG_INFINITY;
                for dy in 0..py {
                    for &v in &rows[dy * wq + j * px..][..px] {
                        m = max_nan(m, f(v));
                    }
                }
                *d = m;
            }
        }
    }
}

/// `max(act(v + bias))` over each pooling window of a chunk's rows as they are copied
/// out, compiled for AVX-512 and AVX2 as well.
#[multiversion(targets("x86_64+avx512f+avx512vl+fma", "x86_64+avx2+fma"))]
pub(super) fn pool_out<'a>(rows: PoolOut<'a>, bias: f32, act: Activation) {
    act.with_epilogue(bias, rows);
}
