//! The im2col matrix of a convolution's input as a [`PackB`]: unfolded block by block straight
//! into the product's packed panels, so it never exists whole.

use crate::ops::linalg::PackB;
use crate::ops::window::{zip_strided, Window};
use ndarray::ArrayView3;

/// The im2col matrix of a contiguous `[C, H, W]` input, as a [`PackB`]: row
/// `(c, ki, kj)` holds tap `(ki, kj)` of every output position's window over channel
/// `c` (zero where the tap falls in the padding). Rows are unfolded on demand, a stretch
/// of one row at a time.
pub(super) struct Unfolded<'a> {
    src: &'a [f32],
    /// Input height and width.
    hw: (usize, usize),
    win: &'a [Window; 2],
    /// Output height and width.
    out: (usize, usize),
}

impl PackB<f32> for Unfolded<'_> {
    fn covers(&self, rows: usize, cols: usize) -> bool {
        let ((h, w), [wy, wx]) = (self.hw, self.win);
        let channels = self.src.len() / (h * w).max(1);
        rows <= channels * wy.kernel * wx.kernel && cols <= self.out.0 * self.out.1
    }

    #[inline(always)]
    fn segment(&self, row: usize, col: usize, dst: &mut [f32]) {
        let ((h, w), (oh, ow)) = (self.hw, self.out);
        let [wy, wx] = self.win;
        let taps = wy.kernel * wx.kernel;
        let (c, ki, kj) = (row / taps, row / wx.kernel % wy.kernel, row % wx.kernel);
        let plane = &self.src[c * h * w..][..h * w];
        let (rows, cols) = (wy.windows(ki, h, oh), wx.windows(kj, w, ow));
        let (mut oy, mut ox, mut dst) = (col / ow, col % ow, dst);
        // Output positions run along rows of the output; each row's stretch of `dst`
        // copies a strided run of one input row, with zeros for taps in the padding.
        while !dst.is_empty() {
            let run = (ow - ox).min(dst.len());
            let (out, rest) = dst.split_at_mut(run);
            if rows.contains(&oy) {
                let lo = cols.start.clamp(ox, ox + run);
                let hi = cols.end.clamp(lo, ox + run);
                out[..lo - ox].fill(0.0);
                out[hi - ox..].fill(0.0);
                if hi > lo {
                    let iy = oy * wy.stride + ki * wy.dilation - wy.pad_begin;
                    let ix = lo * wx.stride + kj * wx.dilation - wx.pad_begin;
                    let src = &plane[iy * w + ix..(iy + 1) * w];
                    zip_strided(&mut out[lo - ox..hi - ox], src, wx.stride, |d, v| *d = v);
                }
            } else {
                out.fill(0.0);
            }
            (oy, ox, dst) = (oy + 1, 0, rest);
        }
    }
}

/// The unfolded input of one group, over a contiguous or a strided view.
pub(super) enum Unfold<'a> {
    Contiguous(Unfolded<'a>),
    Strided(UnfoldedStrided<'a, 'a>),
}

impl<'a> Unfold<'a> {
    pub(super) fn new(x: ArrayView3<'a, f32>, win: &'a [Window; 2], out: (usize, usize)) -> Self {
        let (_, h, w) = x.dim();
        match x.to_slice() {
            Some(src) => Unfold::Contiguous(Unfolded {
                src,
                hw: (h, w),
                win,
                out,
            }),
            None => Unfold::Strided(UnfoldedStrided { x, win, out }),
        }
    }
}

impl PackB<f32> for Unfold<'_> {
    fn covers(&self, rows: usize, cols: usize) -> bool {
        match self {
            Unfold::Contiguous(u) => u.covers(rows, cols),
            Unfold::Strided(u) => u.covers(rows, cols),
        }
    }

    #[inline(always)]
    fn segment(&self, row: usize, col: usize, dst: &mut [f32]) {
        match self {
            Unfold::Contiguous(u) => u.segment(row, col, dst),
            Unfold::Strided(u) => u.segment(row, col, dst),
        }
    }
}

/// [`Unfolded`] for a strided input view: element by element.
pub(super) struct UnfoldedStrided<'a, 'x> {
    x: ArrayView3<'x, f32>,
    win: &'a [Window; 2],
    out: (usize, usize),
}

impl PackB<f32> for UnfoldedStrided<'_, '_> {
    fn covers(&self, rows: usize, cols: usize) -> bool {
        let [wy, wx] = self.win;
        rows <= self.x.dim().0 * wy.kernel * wx.kernel && cols <= self.out.0 * self.out.1
    }

    fn segment(&self, row: usize, col: usize, dst: &mut [f32]) {
        let (_, h, w) = self.x.dim();
        let [wy, wx] = self.win;
        let taps = wy.kernel * wx.kernel;
        let (c, ki, kj) = (row / taps, row / wx.kernel % wy.kernel, row % wx.kernel);
        for (p, d) in (col..).zip(dst) {
            let (oy, ox) = (p / self.out.1, p % self.out.1);
            *d = match (wy.source(oy, ki, h), wx.source(ox, kj, w)) {
                (Some(iy), Some(ix)) => self.x[[c, iy, ix]],
                _ => 0.0,
            };
        }
    }
}
