//! Depthwise convolutions (one input and one output channel per group) summed directly, row by
//! row, where splitting the input into phase planes would cost more than the sums.

use super::copy_row;
use crate::ops::window::{zip_strided, Window};
use multiversion::multiversion;

/// A depthwise convolution (one input and one output channel per group) of `x`
/// (`[C, H, W]`) with `w` (`[C, kh·kw]`), computed directly, one output row at a time.
/// Compiled for AVX-512 and AVX2 as well; the CPU picks at run time.
#[multiversion(targets("x86_64+avx512f+avx512vl+fma", "x86_64+avx2+fma"))]
pub(super) fn depthwise<'x, 'w, 'o>(
    x: ndarray::ArrayView3<'x, f32>,
    w: ndarray::ArrayView2<'w, f32>,
    win: &[Window; 2],
    mut out: ndarray::ArrayViewMut3<'o, f32>,
) {
    let (_, h, wd) = x.dim();
    let ow = out.dim().2;
    let [wy, wx] = win;
    if depthwise_padded(x.view(), w.view(), win, out.view_mut()) {
        return;
    }
    let inner = wx.interior(wd, ow);
    let edges = (0..inner.start).chain(inner.end..ow);
    for ((plane, taps), mut dst) in x.outer_iter().zip(w.outer_iter()).zip(out.outer_iter_mut()) {
        let (Some(src), Some(dst), Some(taps)) =
            (plane.to_slice(), dst.as_slice_mut(), taps.to_slice())
        else {
            continue; // unreachable: the caller checked that all are contiguous
        };
        for (oy, dst_row) in dst.chunks_exact_mut(ow).enumerate() {
            // The kernel rows that read the input, as (input row offset, taps).
            let rows = wy.taps(oy, h).map(|ky| {
                let iy = oy * wy.stride + ky * wy.dilation - wy.pad_begin;
                (iy * wd, &taps[ky * wx.kernel..][..wx.kernel])
            });
            for o in edges.clone() {
                let mut acc = 0.0;
                for (row, row_taps) in rows.clone() {
                    for (k, &tap) in row_taps.iter().enumerate() {
                        if let Some(i) = wx.source(o, k, wd) {
                            acc += tap * src[row + i];
                        }
                    }
                }
                dst_row[o] = acc;
            }
            if inner.is_empty() {
                continue;
            }
            let first = inner.start * wx.stride - wx.pad_begin;
            let rows = rows.map(|(row, row_taps)| (row + first, row_taps));
            let dst = &mut dst_row[inner.clone()];
            match (wx.kernel, wx.stride, wx.dilation) {
                (3, 1, 1) => interior::<3, 1>(dst, src, rows),
                (3, 2, 1) => interior::<3, 2>(dst, src, rows),
                (5, 1, 1) => interior::<5, 1>(dst, src, rows),
                (5, 2, 1) => interior::<5, 2>(dst, src, rows),
                (7, 1, 1) => interior::<7, 1>(dst, src, rows),
                (_, stride, dilation) => {
                    dst.fill(0.0);
                    for (row, row_taps) in rows {
                        for (k, &tap) in row_taps.iter().enumerate() {
                            let src = &src[row + k * dilation..];
                            zip_strided(dst, src, stride, |d, v| *d += tap * v);
                        }
                    }
                }
            }
        }
    }
}

/// Values of the stack buffer [`depthwise_padded`] copies input rows into.
const PADDED_ROWS: usize = 2048;

/// [`depthwise`] for the kernels `interior` specialises, when the input rows a window
/// reads fit [`PADDED_ROWS`] with their padding: each output row's input rows are copied
/// between zeros, so the whole row (edges included) is summed in registers. Returns
/// whether it ran.
#[inline(always)]
fn depthwise_padded(
    x: ndarray::ArrayView3<'_, f32>,
    w: ndarray::ArrayView2<'_, f32>,
    win: &[Window; 2],
    mut out: ndarray::ArrayViewMut3<'_, f32>,
) -> bool {
    let (_, h, wd) = x.dim();
    let ow = out.dim().2;
    let [wy, wx] = win;
    let specialised = matches!(
        (wx.kernel, wx.stride, wx.dilation),
        (3, 1, 1) | (3, 2, 1) | (5, 1, 1) | (5, 2, 1) | (7, 1, 1) | (7, 2, 1)
    );
    // Every window of the row, padding included: what `interior` reads from each row.
    let span = ow.saturating_sub(1) * wx.stride + wx.kernel;
    // Short rows too (a 7×7 plane): the general path's edge loop checks every tap.
    if !specialised || span * wy.kernel > PADDED_ROWS {
        return false;
    }
    let mut buf = [0.0f32; PADDED_ROWS];
    // Input column i sits at `pad_begin + i` of its row's slot; the rest stays zero.
    let copied = wd.min(span.saturating_sub(wx.pad_begin));
    for ((plane, taps), mut dst) in x.outer_iter().zip(w.outer_iter()).zip(out.outer_iter_mut()) {
        let (Some(src), Some(dst), Some(taps)) =
            (plane.to_slice(), dst.as_slice_mut(), taps.to_slice())
        else {
            return false; // unreachable: the caller checked that all are contiguous
        };
        for (oy, dst_row) in dst.chunks_exact_mut(ow).enumerate() {
            let kys = wy.taps(oy, h);
            for (slot, ky) in kys.clone().enumerate() {
                let iy = oy * wy.stride + ky * wy.dilation - wy.pad_begin;
                copy_row(
                    &mut buf[slot * span + wx.pad_begin..][..copied],
                    &src[iy * wd..][..copied],
                );
            }
            let rows = kys
                .enumerate()
                .map(|(slot, ky)| (slot * span, &taps[ky * wx.kernel..][..wx.kernel]));
            match (wx.kernel, wx.stride) {
                (3, 1) => interior::<3, 1>(dst_row, &buf, rows),
                (3, 2) => interior::<3, 2>(dst_row, &buf, rows),
                (5, 1) => interior::<5, 1>(dst_row, &buf, rows),
                (5, 2) => interior::<5, 2>(dst_row, &buf, rows),
                (7, 1) => interior::<7, 1>(dst_row, &buf, rows),
                _ => interior::<7, 2>(dst_row, &buf, rows),
            }
        }
    }
    true
}

/// One output row's interior windows (every tap inside the input), for a kernel `K`
/// wide with stride `S`: `dst[i] = Σ_rows Σ_k taps[k] · src[row + i·S + k]`.
#[inline(always)]
fn interior<'a, const K: usize, const S: usize>(
    dst: &mut [f32],
    src: &[f32],
    rows: impl Iterator<Item = (usize, &'a [f32])> + Clone,
) {
    match dst.len() {
        n if n >= 16 => interior_chunks::<K, S, 16>(dst, src, rows),
        n if n >= 8 => interior_chunks::<K, S, 8>(dst, src, rows),
        // A short row (a 7×7 plane) as one block of 8 whose extra outputs are dropped,
        // where the input has room for their windows (the padded rows do).
        n if rows.clone().all(|(row, _)| row + 7 * S + K <= src.len()) => {
            let mut block = [0.0f32; 8];
            interior_chunks::<K, S, 8>(&mut block, src, rows);
            dst.copy_from_slice(&block[..n]);
        }
        _ => {
            for (i, d) in dst.iter_mut().enumerate() {
                *d = rows.clone().fold(0.0, |acc, (row, taps)| {
                    let window = &src[row + i * S..][..K];
                    taps.iter().zip(window).fold(acc, |a, (&t, &v)| a + t * v)
                });
            }
        }
    }
}

/// [`interior`] in blocks of `L` outputs summed in registers from fixed-length windows
/// of `src` (so the loops unroll and vectorise with no bounds checks inside). The
/// last block ends at the row's end and may overlap the one before: it rewrites the
/// same values.
#[inline(always)]
fn interior_chunks<'a, const K: usize, const S: usize, const L: usize>(
    dst: &mut [f32],
    src: &[f32],
    rows: impl Iterator<Item = (usize, &'a [f32])> + Clone,
) {
    let n = dst.len();
    let starts = (0..n - L).step_by(L).chain(std::iter::once(n - L));
    for start in starts {
        let mut acc = [0.0f32; L];
        for (row, taps) in rows.clone() {
            let at = row + start * S;
            let (Some(window), Some(taps)) = (src.get(at..at + (L - 1) * S + K), taps.get(..K))
            else {
                return; // unreachable: interior windows lie inside the input
            };
            for (k, &tap) in taps.iter().enumerate() {
                for (l, a) in acc.iter_mut().enumerate() {
                    *a += tap * window[l * S + k];
                }
            }
        }
        dst[start..start + L].copy_from_slice(&acc);
    }
}
