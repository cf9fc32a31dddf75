//! ONNX `ConvTranspose` for 1-D and 2-D inputs, as matrix products and a scatter (col2im).
//!
//! For each group and each tile of input positions, one product gives every (filter, tap)
//! pair's contribution: the rows of `W_g^T` (`[filters · taps, channels]`, packed a strip
//! at a time into a stack tile) times the input positions (`[channels, positions]`, read
//! in place). Each row of the result is then added to the output positions its tap maps
//! to. No workspace: the tiles live on the stack.
//!
//! Spec: <https://onnx.ai/onnx/operators/onnx__ConvTranspose.html>. `output_padding`,
//! `output_shape` and `auto_pad` are resolved at compile time into the output shape and
//! the leading pads.

use super::linalg::mat_mul_rows_into;
use crate::{parallel, Error, Result};
use ndarray::{ArrayViewD, ArrayViewMutD, Axis};

/// Rows of the product per tile: (filter, tap) pairs.
const ROWS: usize = 32;
/// Input channels per packed strip of `W_g^T`.
const DEPTH: usize = 128;
/// Input positions per tile.
const COLUMNS: usize = 256;

/// Attributes of a transposed convolution, per spatial axis (1-D or 2-D).
#[derive(Debug, Clone, Copy)]
pub struct ConvTransposeParams<'a> {
    /// Stride of the input positions in the output.
    pub strides: &'a [usize],
    /// Leading padding removed from the full output (resolved at build time).
    pub pads_begin: &'a [usize],
    /// Kernel dilations.
    pub dilations: &'a [usize],
    /// Channel groups.
    pub group: usize,
}

/// ONNX `ConvTranspose` into `out`, whose (static) shape fixes the output size:
/// every input value scatters `x · w` into the output window it maps to.
///
/// ```
/// use onnx2rs_runtime::ndarray::{Array, ArrayD, IxDyn};
/// use onnx2rs_runtime::ops::{conv_transpose_into, ConvTransposeParams};
/// let x = Array::from_shape_vec(IxDyn(&[1, 1, 2]), vec![1.0f32, 2.0]).unwrap();
/// let w = Array::from_shape_vec(IxDyn(&[1, 1, 2]), vec![1.0f32, 10.0]).unwrap();
/// let mut y = ArrayD::<f32>::zeros(IxDyn(&[1, 1, 3]));
/// let p = ConvTransposeParams { strides: &[1], pads_begin: &[0], dilations: &[1], group: 1 };
/// conv_transpose_into(x.view(), w.view(), None, p, y.view_mut()).unwrap();
/// assert_eq!(y.as_slice().unwrap(), &[1.0, 12.0, 20.0]);
/// ```
///
/// # Errors
/// [`Error::Shape`] if ranks, channels, groups or attributes disagree.
pub fn conv_transpose_into(
    x: ArrayViewD<'_, f32>,
    w: ArrayViewD<'_, f32>,
    bias: Option<ArrayViewD<'_, f32>>,
    p: ConvTransposeParams<'_>,
    out: ArrayViewMutD<'_, f32>,
) -> Result<()> {
    let spatial = x.ndim().saturating_sub(2);
    let attrs_fit = [p.strides.len(), p.pads_begin.len(), p.dilations.len()] == [spatial; 3];
    if !(1..=2).contains(&spatial) || w.ndim() != x.ndim() || out.ndim() != x.ndim() || !attrs_fit {
        return Err(Error::Shape(format!(
            "ConvTranspose supports 1-D and 2-D inputs, got x {:?} and w {:?}",
            x.shape(),
            w.shape()
        )));
    }
    // A 1-D transposed convolution is a 2-D one over an axis of height 1.
    let lift = |a: &[usize], one: usize| {
        if spatial == 1 {
            [one, a[0]]
        } else {
            [a[0], a[1]]
        }
    };
    let (strides, pads, dilations) = (
        lift(p.strides, 1),
        lift(p.pads_begin, 0),
        lift(p.dilations, 1),
    );
    let as4 = |s: &[usize]| {
        if spatial == 1 {
            [s[0], s[1], 1, s[2]]
        } else {
            [s[0], s[1], s[2], s[3]]
        }
    };
    let (x_shape, w_shape) = (as4(x.shape()), as4(w.shape()));
    let x = x.into_shape_with_order(x_shape)?;
    let w = w.into_shape_with_order(w_shape)?;
    let shape4 = as4(out.shape());
    let mut out = out
        .into_shape_with_order(shape4)
        .map_err(|_| Error::Shape("ConvTranspose output must be contiguous".into()))?;
    let [n, c, h, wd] = x_shape;
    let [cw, mg, kh, kw] = w_shape;
    let [on, m, oh, ow] = shape4;
    let g = p.group;
    if g == 0 || cw != c || c % g != 0 || m != mg * g || on != n {
        return Err(Error::Shape(format!(
            "ConvTranspose channels disagree: input {c}, weight {cw}x{mg}, output {m}, {g} groups"
        )));
    }
    match &bias {
        Some(b) if b.len() == m => {
            for (mut plane, &v) in out.axis_iter_mut(Axis(1)).zip(b.iter()) {
                plane.fill(v);
            }
        }
        Some(b) => {
            return Err(Error::Shape(format!(
                "ConvTranspose bias has {} values for {m} channels",
                b.len()
            )))
        }
        None => out.fill(0.0),
    }
    let (Some(xs), Some(ws), Some(os)) = (x.as_slice(), w.as_slice(), out.as_slice_mut()) else {
        return Err(Error::Shape(
            "ConvTranspose needs contiguous operands".into(),
        ));
    };
    let geometry = Geometry {
        input: [h, wd],
        output: [oh, ow],
        kernel: [kh, kw],
        strides,
        pads,
        dilations,
    };
    let (cg, rows_all, hw) = (c / g, mg * kh * kw, h * wd);
    // Blocks of filters, one per thread: each scatters into its own output planes.
    let per = mg.div_ceil(parallel::parts(rows_all * cg * hw, mg)).max(1);
    for b in 0..n {
        for gi in 0..g {
            let x_g = &xs[(b * c + gi * cg) * hw..][..cg * hw];
            let w_g = &ws[gi * cg * rows_all..][..cg * rows_all];
            let out_g = &mut os[(b * m + gi * mg) * oh * ow..][..mg * oh * ow];
            let blocks = out_g.chunks_mut((per * oh * ow).max(1)).enumerate();
            parallel::try_each(blocks, |(i, out)| {
                let (first, rows_here) = (i * per * kh * kw, out.len() / (oh * ow) * kh * kw);
                let mut a_tile = [0.0f32; ROWS * DEPTH];
                let mut c_tile = [0.0f32; ROWS * COLUMNS];
                for col0 in (0..hw).step_by(COLUMNS) {
                    let cols = (hw - col0).min(COLUMNS);
                    for r0 in (0..rows_here).step_by(ROWS) {
                        let rows = (rows_here - r0).min(ROWS);
                        let tile = &mut c_tile[..rows * cols];
                        for d0 in (0..cg).step_by(DEPTH) {
                            let depth = (cg - d0).min(DEPTH);
                            let a = &mut a_tile[..rows * depth];
                            // A's rows are W_g's columns: (filter, tap) over this strip of
                            // channels.
                            for d in 0..depth {
                                let w_row = &w_g[(d0 + d) * rows_all + first + r0..][..rows];
                                for (r, &v) in w_row.iter().enumerate() {
                                    a[r * depth + d] = v;
                                }
                            }
                            let starts = move |first: usize, starts: &mut [usize]| {
                                for (p, s) in (first..).zip(starts) {
                                    *s = (d0 + p) * hw + col0;
                                }
                            };
                            let dims = (rows, depth, cols);
                            mat_mul_rows_into(a, x_g, starts, tile, dims, d0 > 0)?;
                        }
                        geometry.scatter(tile, cols, r0, col0, out);
                    }
                }
                Ok(())
            })?;
        }
    }
    Ok(())
}

/// The sizes that place a product tile's values in the output.
struct Geometry {
    input: [usize; 2],
    output: [usize; 2],
    kernel: [usize; 2],
    strides: [usize; 2],
    pads: [usize; 2],
    dilations: [usize; 2],
}

impl Geometry {
    /// Add a tile of the product (rows `r0..` are (filter, tap) pairs, columns `col0..`
    /// input positions) to the output positions each tap maps to (col2im).
    fn scatter(&self, tile: &[f32], cols: usize, r0: usize, col0: usize, out: &mut [f32]) {
        let [_, wd] = self.input;
        let [oh, ow] = self.output;
        let [kh, kw] = self.kernel;
        let [s0, s1] = self.strides;
        for (rr, values) in tile.chunks_exact(cols).enumerate() {
            let r = r0 + rr;
            let (filter, tap) = (r / (kh * kw), r % (kh * kw));
            let (ki, kj) = (tap / kw, tap % kw);
            let plane = &mut out[filter * oh * ow..][..oh * ow];
            // Output column of input column j: j·s1 + shift, where that lies in 0..ow.
            let shift = (kj * self.dilations[1]) as isize - self.pads[1] as isize;
            let (mut i, mut j, mut k) = (col0 / wd, col0 % wd, 0);
            while k < cols {
                let run = (wd - j).min(cols - k);
                let oi = (i * s0 + ki * self.dilations[0]) as isize - self.pads[0] as isize;
                if (0..oh as isize).contains(&oi) {
                    let row = &mut plane[oi as usize * ow..][..ow];
                    // The input columns j..j + run whose output column lies in 0..ow.
                    let first = ((-shift).max(0) as usize).div_ceil(s1).max(j);
                    let end =
                        ((ow as isize - 1 - shift).div_euclid(s1 as isize) + 1).max(0) as usize;
                    let end = end.min(j + run);
                    if first < end {
                        let start = (first as isize * s1 as isize + shift) as usize;
                        let given = &values[k + first - j..k + end - j];
                        for (o, &v) in row[start..].iter_mut().step_by(s1).zip(given) {
                            *o += v;
                        }
                    }
                }
                (i, j, k) = (i + 1, 0, k + run);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{conv_transpose_into, ConvTransposeParams};
    use ndarray::{ArrayD, IxDyn};

    /// Every input value scattered into its output window, one at a time: the definition.
    fn direct(x: &ArrayD<f32>, w: &ArrayD<f32>, p: ConvTransposeParams<'_>, out: &mut ArrayD<f32>) {
        let (c, g, mg) = (x.shape()[1], p.group, w.shape()[1]);
        let (kh, kw) = (w.shape()[2], w.shape()[3]);
        let (oh, ow) = (out.shape()[2], out.shape()[3]);
        let x4 = x.view().into_dimensionality::<ndarray::Ix4>().unwrap();
        for ((b, ci, i, j), &v) in x4.indexed_iter() {
            for mi in 0..mg {
                let mo = ci / (c / g) * mg + mi;
                for ki in 0..kh {
                    for kj in 0..kw {
                        let oi = (i * p.strides[0] + ki * p.dilations[0]) as isize
                            - p.pads_begin[0] as isize;
                        let oj = (j * p.strides[1] + kj * p.dilations[1]) as isize
                            - p.pads_begin[1] as isize;
                        if (0..oh as isize).contains(&oi) && (0..ow as isize).contains(&oj) {
                            out[[b, mo, oi as usize, oj as usize]] += v * w[[ci, mi, ki, kj]];
                        }
                    }
                }
            }
        }
    }

    fn values(shape: &[usize], seed: u32) -> ArrayD<f32> {
        let n: usize = shape.iter().product();
        let v = (0..n).map(|i| {
            ((i as u32).wrapping_mul(2654435761).wrapping_add(seed) % 1000) as f32 / 500.0 - 1.0
        });
        ArrayD::from_shape_vec(IxDyn(shape), v.collect()).unwrap()
    }

    #[test]
    fn matches_the_definition_across_strides_pads_dilations_and_groups() {
        // (c, h, w, filters per group, kernel, stride, pad, dilation, groups); big enough
        // for several row, depth and column tiles.
        let cases = [
            (24, 16, 20, 24, [2, 2], [2, 2], [0, 0], [1, 1], 1),
            (6, 5, 7, 4, [3, 3], [2, 1], [1, 2], [1, 2], 2),
            (200, 3, 90, 3, [3, 1], [1, 3], [2, 0], [2, 1], 1),
            (4, 9, 9, 1, [4, 4], [3, 3], [3, 1], [1, 1], 4),
            // Over the `threads` feature's split size: blocks of filters per thread.
            (16, 24, 24, 12, [3, 3], [2, 2], [1, 1], [1, 1], 1),
        ];
        for (c, h, wd, mg, k, s, pads, d, g) in cases {
            let x = values(&[2, c, h, wd], 1);
            let w = values(&[c, mg, k[0], k[1]], 7);
            let full = |a: usize| {
                (([h, wd][a] - 1) * s[a] + (k[a] - 1) * d[a] + 1).saturating_sub(pads[a])
            };
            let shape = [2, mg * g, full(0), full(1)];
            let p = ConvTransposeParams {
                strides: &s,
                pads_begin: &pads,
                dilations: &d,
                group: g,
            };
            let mut ours = ArrayD::<f32>::zeros(IxDyn(&shape));
            conv_transpose_into(x.view(), w.view(), None, p, ours.view_mut()).unwrap();
            let mut theirs = ArrayD::<f32>::zeros(IxDyn(&shape));
            direct(&x, &w, p, &mut theirs);
            let worst = (&ours - &theirs).iter().fold(0.0f32, |m, v| m.max(v.abs()));
            assert!(
                worst < 1e-4,
                "case {:?}: off by {worst}",
                (c, h, wd, mg, k, s, pads, d, g)
            );
        }
    }
}
