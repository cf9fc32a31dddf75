//! ONNX `Conv` for 1-D and 2-D inputs: one matrix product per group with the unfolded
//! input (the im2col matrix) as its right-hand operand. A small one is built whole in the
//! workspace; a large one is unfolded block by block straight into the product's packed
//! panels, so it never exists whole. Depthwise convolutions with short output rows sum 16
//! channels at a time, interleaved (`conv/interleaved.rs`); others of unit stride sum the
//! taps over shifted rows of their padded plane, strided ones row by row.
//!
//! This file holds the parameters, the workspace sizes and the dispatch between layouts:
//! `conv/shifted.rs` (shifted rows, with `conv/copy_out.rs` for the epilogue and fused pool),
//! `conv/depthwise.rs`, `conv/interleaved.rs` and `conv/unfold.rs` (im2col as packed panels).
//!
//! Spec: <https://onnx.ai/onnx/operators/onnx__Conv.html>. `auto_pad` is resolved
//! into explicit `pads` at compile time, so only explicit pads reach this code.

use super::linalg::{
    mat_mul_into, mat_mul_packed_into, packed_workspace_len, PackB, PACK_COLUMNS, PACK_DEPTH,
};
use super::unary::{bias_then_activation, Activation};
use super::variadic::max_nan;
use super::window::{to4, Window};
use crate::{parallel, Error, Result};
use interleaved::Interleaved;
use ndarray::{
    ArrayD, ArrayView2, ArrayView4, ArrayViewD, ArrayViewMut2, ArrayViewMut3, ArrayViewMut4,
    ArrayViewMutD, Axis, Ix4, IxDyn, Slice,
};

mod copy_out;
mod depthwise;
mod interleaved;
mod shifted;
mod unfold;

use depthwise::depthwise;
use shifted::Shifted;
use unfold::Unfold;

/// Convolution attributes, one entry per spatial axis.
#[derive(Debug, Clone, Copy, Default)]
pub struct ConvParams<'a> {
    /// Stride per spatial axis.
    pub strides: &'a [usize],
    /// `[begin_0, …, end_0, …]` zero padding.
    pub pads: &'a [usize],
    /// Dilation per spatial axis.
    pub dilations: &'a [usize],
    /// Number of channel groups (1 for a plain convolution).
    pub group: usize,
    /// Applied to every output value together with the bias.
    pub activation: Activation,
    /// Whether `out` already holds a tensor to add before the activation (a residual
    /// `Add` fused into the convolution): `out = act(conv(x) + bias + out)`.
    pub accumulate: bool,
    /// A `MaxPool` fused after the activation, as `fuse_conv_pool` makes it: its window,
    /// which is also its stride, per spatial axis, without padding (empty for none).
    /// `out` then holds the pooled output, `floor(conv output / window)` per axis. Where
    /// the convolution is read as shifted rows its own output never exists whole; other
    /// layouts write one sample's whole output into the workspace, then pool it
    /// ([`conv_shapes`] counts it). A fused pool cannot `accumulate`.
    pub pool: &'a [usize],
}

/// ONNX `Conv`: `x` is `[N, C, *spatial]`, `w` is `[M, C / group, *kernel]`,
/// `bias` is `[M]`; 1-D and 2-D spatial shapes are supported.
///
/// ```
/// use ndarray::array;
/// use onnx2rs_runtime::ops::{conv, ConvParams};
/// let x = array![[[1.0f32, 2.0, 3.0, 4.0]]].into_dyn(); // [1, 1, 4]
/// let w = array![[[1.0f32, -1.0]]].into_dyn(); // [1, 1, 2]
/// let p = ConvParams { strides: &[1], pads: &[0, 0], dilations: &[1], group: 1, ..Default::default() };
/// let y = conv(x.view(), w.view(), None, p).unwrap();
/// assert_eq!(y, array![[[-1.0, -1.0, -1.0]]].into_dyn());
/// ```
///
/// # Errors
/// [`Error::Shape`] if ranks, channels, groups or attributes disagree.
pub fn conv(
    x: ArrayViewD<'_, f32>,
    w: ArrayViewD<'_, f32>,
    bias: Option<ArrayViewD<'_, f32>>,
    p: ConvParams<'_>,
) -> Result<ArrayD<f32>> {
    let (shape, workspace) = conv_shapes(x.shape(), w.shape(), p)?;
    let mut out = ArrayD::zeros(IxDyn(&shape));
    let mut ws = vec![0.0; workspace];
    conv_into(x, w, bias, p, out.view_mut(), &mut ws)?;
    Ok(out)
}

/// The output shape of [`conv`] and the workspace length [`conv_into`] needs.
///
/// # Errors
/// [`Error::Shape`] if ranks or attributes disagree.
pub fn conv_shapes(x: &[usize], w: &[usize], p: ConvParams<'_>) -> Result<(Vec<usize>, usize)> {
    if !(3..=4).contains(&x.len()) || w.len() != x.len() {
        return Err(Error::Shape(format!(
            "Conv supports 1-D and 2-D inputs, got x {x:?} and w {w:?}"
        )));
    }
    let plane = Window::plane(&w[2..], p.strides, p.dilations, p.pads)?;
    let mut shape = vec![x[0], w[0]];
    for (win, &len) in plane[4 - x.len()..].iter().zip(&x[2..]) {
        shape.push(win.output_len(len, false)?);
    }
    // A 1-D convolution is a 2-D one over an axis of height 1.
    let (input, output) = match x.len() {
        4 => ((x[2], x[3]), (shape[2], shape[3])),
        _ => ((1, x[2]), (1, shape[2])),
    };
    let sizes = Sizes {
        channels: w[1],
        filters: w[0] / p.group.max(1),
        input,
        output,
        pool: pool_window(p, x.len() - 2)?,
    };
    let (py, px) = sizes.pool;
    match &mut shape[..] {
        [_, _, oh, ow] => (*oh, *ow) = (*oh / py, *ow / px),
        [_, _, ow] => *ow /= px,
        _ => {}
    }
    check_pool(sizes, p.accumulate)?;
    Ok((shape, conv_workspace_len(sizes, &plane, p.group)))
}

/// The fused max pool's window as (rows, columns): (1, 1) for none, (1, k) in 1-D.
fn pool_window(p: ConvParams<'_>, spatial: usize) -> Result<(usize, usize)> {
    match p.pool {
        [] => Ok((1, 1)),
        &[k] if spatial == 1 && k > 0 => Ok((1, k)),
        &[ky, kx] if spatial == 2 && ky > 0 && kx > 0 => Ok((ky, kx)),
        other => Err(Error::Shape(format!(
            "a fused max pool needs one positive window size per spatial axis ({spatial}), got {other:?}"
        ))),
    }
}

/// Refuse a fused max pool that would also accumulate: `out` holds the pooled output, so
/// there is no unpooled residual to add.
fn check_pool(sizes: Sizes, accumulate: bool) -> Result<()> {
    if sizes.pool != (1, 1) && accumulate {
        return Err(Error::Shape(
            "a fused max pool cannot accumulate onto its output".into(),
        ));
    }
    Ok(())
}

/// [`conv`] into `out`, using `workspace` (at least [`conv_shapes`]' length) for the
/// matrix product's packed panels.
///
/// # Errors
/// [`Error::Shape`] if shapes, attributes, `out` or the workspace do not fit.
pub fn conv_into(
    x: ArrayViewD<'_, f32>,
    w: ArrayViewD<'_, f32>,
    bias: Option<ArrayViewD<'_, f32>>,
    p: ConvParams<'_>,
    out: ArrayViewMutD<'_, f32>,
    workspace: &mut [f32],
) -> Result<()> {
    let spatial = x.ndim().saturating_sub(2);
    if !(1..=2).contains(&spatial) || w.ndim() != x.ndim() || out.ndim() != x.ndim() {
        return Err(Error::Shape(format!(
            "Conv supports 1-D and 2-D inputs, got x {:?} and w {:?}",
            x.shape(),
            w.shape()
        )));
    }
    let plane = Window::plane(&w.shape()[2..], p.strides, p.dilations, p.pads)?;
    let pool = pool_window(p, spatial)?;
    if spatial == 1 {
        // A 1-D convolution is a 2-D one over an axis of height 1.
        return conv2d(
            to4(x.insert_axis(Axis(2)))?,
            to4(w.insert_axis(Axis(2)))?,
            bias,
            plane,
            (p, pool),
            out.insert_axis(Axis(2)).into_dimensionality::<Ix4>()?,
            workspace,
        );
    }
    conv2d(
        to4(x)?,
        to4(w)?,
        bias,
        plane,
        (p, pool),
        out.into_dimensionality::<Ix4>()?,
        workspace,
    )
}

/// An unfolded input of at most this many values is built whole and multiplied in
/// place; packing block by block only pays for itself on larger ones.
const PACKED_BLOCK: usize = PACK_DEPTH * PACK_COLUMNS;

/// One group of a convolution: input channels and filters per group, input and output
/// height and width (height 1 for 1-D).
#[derive(Debug, Clone, Copy)]
struct Sizes {
    channels: usize,
    filters: usize,
    input: (usize, usize),
    output: (usize, usize),
    /// The fused max pool's window (rows, columns); (1, 1) for none.
    pool: (usize, usize),
}

/// The workspace a convolution of `group` groups needs: its layout's ([`layout_workspace_len`]),
/// and, for a fused max pool that the layout cannot apply as it copies out (anything not
/// read as [`Shifted`] rows), one sample's whole unpooled output after it.
fn conv_workspace_len(sizes: Sizes, win: &[Window; 2], group: usize) -> usize {
    if let Some(blocks) = Interleaved::new(sizes, win, group) {
        return blocks.len();
    }
    if sizes.pool == (1, 1) || Shifted::new(sizes, win).is_some() {
        return layout_workspace_len(sizes, win);
    }
    let unpooled = Sizes {
        pool: (1, 1),
        ..sizes
    };
    let (oh, ow) = sizes.output;
    layout_workspace_len(unpooled, win) + group * sizes.filters * oh * ow
}

/// The workspace of one group's layout: none for a 1×1 window that reads its input as it
/// lies; the padded input and a chunk of wide output when it is read as [`Shifted`] rows;
/// else the whole unfolded matrix when it is small, one packed block otherwise.
fn layout_workspace_len(sizes: Sizes, win: &[Window; 2]) -> usize {
    let [wy, wx] = win;
    let taps = sizes.channels * wy.kernel * wx.kernel;
    let pixels = sizes.output.0 * sizes.output.1;
    match Shifted::new(sizes, win) {
        _ if pointwise(win) => 0,
        Some(shifted) => shifted.len(),
        None if taps * pixels <= PACKED_BLOCK => taps * pixels,
        None => packed_workspace_len(taps, pixels),
    }
}

/// Whether a window is 1×1 with unit strides and no padding: the convolution then reads
/// its input as it lies, as B of the product.
fn pointwise(win: &[Window; 2]) -> bool {
    win.iter()
        .all(|w| w.kernel == 1 && w.stride == 1 && w.pad_begin == 0 && w.pad_end == 0)
}

/// What a [`Shifted`] chunk does to its values as it copies them out.
#[derive(Clone, Copy)]
struct Epilogue<'b> {
    /// One value per filter of the group, or empty.
    bias: &'b [f32],
    act: Activation,
    /// Add to what `out` holds instead of overwriting it.
    accumulate: bool,
}

/// `c = a·b + beta·c` for row-major slices, B read in place.
fn product(
    a: &[f32],
    b: &[f32],
    beta: f32,
    c: &mut [f32],
    (m, k, n): (usize, usize, usize),
) -> Result<()> {
    let a = ArrayView2::from_shape((m, k), a)?;
    let b = ArrayView2::from_shape((k, n), b)?;
    mat_mul_into(1.0, a, b, beta, &mut ArrayViewMut2::from_shape((m, n), c)?)
}

fn conv2d(
    x: ArrayView4<'_, f32>,
    w: ArrayView4<'_, f32>,
    bias: Option<ArrayViewD<'_, f32>>,
    win: [Window; 2],
    (p, pool): (ConvParams<'_>, (usize, usize)),
    mut out: ArrayViewMut4<'_, f32>,
    workspace: &mut [f32],
) -> Result<()> {
    let (group, act, accumulate) = (p.group, p.activation, p.accumulate);
    // What is already in `out` counts once, in the product or as a chunk is copied out.
    let beta = if accumulate { 1.0 } else { 0.0 };
    let (n, c, h, wd) = x.dim();
    let (m, cg, kh, kw) = w.dim();
    if group == 0 || c != cg * group || m % group != 0 {
        return Err(Error::Shape(format!(
            "Conv channels disagree: input {c}, weight {cg} per group, {m} filters, {group} groups"
        )));
    }
    if let Some(b) = &bias {
        if b.shape() != [m] {
            return Err(Error::Shape(format!(
                "Conv bias must be [{m}], got {:?}",
                b.shape()
            )));
        }
    }
    let (oh, ow) = (win[0].output_len(h, false)?, win[1].output_len(wd, false)?);
    let pooled = (oh / pool.0, ow / pool.1);
    if out.dim() != (n, m, pooled.0, pooled.1) {
        return Err(Error::Shape(format!(
            "Conv output must be {:?}, got {:?}",
            (n, m, pooled.0, pooled.1),
            out.dim()
        )));
    }
    let taps = cg * kh * kw;
    let pixels = oh * ow;
    let sizes = Sizes {
        channels: cg,
        filters: m / group,
        input: (h, wd),
        output: (oh, ow),
        pool,
    };
    check_pool(sizes, accumulate)?;
    let needed = conv_workspace_len(sizes, &win, group);
    let shifted = Shifted::new(sizes, &win);
    let whole = taps * pixels <= PACKED_BLOCK;
    if workspace.len() < needed {
        return Err(Error::Shape(format!(
            "Conv workspace needs {needed} elements, got {}",
            workspace.len()
        )));
    }
    let mg = m / group;
    let weights = w
        .into_shape_with_order((m, taps))
        .map_err(|_| Error::Shape("Conv weights must be contiguous".into()))?;
    let pointwise = pointwise(&win);
    // Strided depthwise convolutions sum their rows directly: splitting each input
    // row into phase planes for a shifted product cost more than the sums (mobilenet's
    // 3×3 of stride 2 over 112², 63 µs against 94); unit strides take the shifted rows.
    let direct_depthwise = (shifted.is_none() || win.iter().any(|w| w.stride != 1))
        && cg == 1
        && mg == 1
        && !accumulate
        && pool == (1, 1)
        && x.is_standard_layout()
        && out.is_standard_layout();
    // Shifted products apply the bias and activation as they copy their output out.
    let bias_values = bias.as_ref().map(|b| b.as_slice());
    let fused = shifted.is_some() && !direct_depthwise && !matches!(bias_values, Some(None));
    let interleaved = Interleaved::new(sizes, &win, group).filter(|_| x.is_standard_layout());
    if let (Some(blocks), Some(w), Some(bias)) = (
        interleaved,
        weights.as_slice(),
        bias_values.unwrap_or(Some(&[])),
    ) {
        for (x, mut out) in x.outer_iter().zip(out.outer_iter_mut()) {
            let out = out
                .as_slice_mut()
                .ok_or_else(|| Error::Shape("Conv output must be contiguous".into()))?;
            blocks.run(x, w, bias, act, accumulate, out, workspace)?;
        }
        return Ok(());
    }
    if pool != (1, 1) && !fused {
        // Only shifted rows pool as they are copied out: the rest pool afterwards.
        let unpooled = Sizes {
            pool: (1, 1),
            ..sizes
        };
        let ws = workspace.split_at_mut(layout_workspace_len(unpooled, &win));
        return conv_then_pool(x, w, bias, win, p, pool, out, ws);
    }
    let epilogue = |g: usize| {
        let (bias, act) = match bias_values.flatten() {
            _ if !fused => (&[][..], Activation::Identity),
            Some(b) => (&b[g * mg..][..mg], act),
            None => (&[][..], act),
        };
        Epilogue {
            bias,
            act,
            accumulate,
        }
    };
    for b in 0..n {
        if direct_depthwise {
            // Blocks of channels, one per thread.
            let per = m.div_ceil(parallel::parts(m * taps * pixels, m));
            let x = x.index_axis(Axis(0), b);
            let mut out = out.index_axis_mut(Axis(0), b);
            let blocks = x
                .axis_chunks_iter(Axis(0), per)
                .zip(weights.axis_chunks_iter(Axis(0), per));
            parallel::each(
                blocks.zip(out.axis_chunks_iter_mut(Axis(0), per)),
                |((x, w), out)| depthwise(x, w, &win, out),
            );
            continue;
        }
        if let (Some(shifted), true) = (&shifted, group > 1) {
            // Blocks of groups, one per thread, each with a workspace of its own.
            let per = group.div_ceil(parallel::parts(m * taps * pixels, group));
            let src = x.index_axis(Axis(0), b);
            let mut dst = out.index_axis_mut(Axis(0), b);
            let (dst, w) = match (dst.as_slice_mut(), weights.as_slice()) {
                (Some(dst), Some(w)) => (dst, w),
                _ => {
                    return Err(Error::Shape(
                        "Conv output and weights must be contiguous".into(),
                    ))
                }
            };
            let group_len = mg * pooled.0 * pooled.1;
            let mut own = Some(&mut *workspace);
            let blocks = dst.chunks_mut((per * group_len).max(1)).enumerate();
            let blocks = blocks.map(|(i, dst)| (i, dst, if i == 0 { own.take() } else { None }));
            parallel::try_each(blocks, |(i, dst, workspace)| {
                // The caller's workspace keeps the zeros of the batch's sample before.
                let mut groups = |workspace: &mut [f32], kept: bool| {
                    for (j, dst) in dst.chunks_mut(group_len.max(1)).enumerate() {
                        let g = i * per + j;
                        let src = src.slice_axis(Axis(0), Slice::from(g * cg..(g + 1) * cg));
                        let wg = &w[g * mg * taps..][..mg * taps];
                        // Every group pads to the same layout: the first one's zeros stay.
                        shifted.product(src, wg, epilogue(g), dst, workspace, kept || j > 0)?;
                    }
                    Ok(())
                };
                match workspace {
                    Some(workspace) => groups(workspace, b > 0),
                    None => parallel::with_scratch(needed, |w| groups(w, false)),
                }
            })?;
            continue;
        }
        for g in 0..group {
            let src = x.index_axis(Axis(0), b);
            let src = src.slice_axis(Axis(0), Slice::from(g * cg..(g + 1) * cg));
            let mut dst = out.index_axis_mut(Axis(0), b);
            let mut dst = dst.slice_axis_mut(Axis(0), Slice::from(g * mg..(g + 1) * mg));
            let dst = dst
                .as_slice_mut()
                .ok_or_else(|| Error::Shape("Conv output must be contiguous".into()))?;
            let wg = weights.slice_axis(Axis(0), Slice::from(g * mg..(g + 1) * mg));
            let wg = wg
                .as_slice()
                .ok_or_else(|| Error::Shape("Conv weights must be contiguous".into()))?;
            let dims = (mg, taps, pixels);
            if let Some(shifted) = &shifted {
                // Every sample pads to the same layout: the first one's zeros stay.
                shifted.product(src, wg, epilogue(g), dst, workspace, b > 0)?;
                continue;
            }
            if pointwise {
                // The input is B as it lies; a strided one takes a product per row.
                match src.as_slice() {
                    Some(values) => product(wg, values, beta, dst, dims)?,
                    None => {
                        let wg = ArrayView2::from_shape((mg, taps), wg)?;
                        let mut dst = ArrayViewMut3::from_shape((mg, oh, ow), dst)?;
                        for (y, row) in src.axis_iter(Axis(1)).enumerate() {
                            let mut out = dst.index_axis_mut(Axis(1), y);
                            mat_mul_into(1.0, wg, row, beta, &mut out)?;
                        }
                    }
                }
                continue;
            }
            let unfolded = Unfold::new(src, &win, (oh, ow));
            match (src.as_slice(), whole) {
                // Small products: unfolded whole, no packing pass.
                (_, true) => {
                    let col = &mut workspace[..taps * pixels];
                    for (row, line) in col.chunks_exact_mut(pixels).enumerate() {
                        unfolded.segment(row, 0, line);
                    }
                    product(wg, col, beta, dst, dims)?;
                }
                (_, false) => mat_mul_packed_into(wg, &unfolded, dst, dims, workspace, accumulate)?,
            }
        }
    }
    // One pass over each output plane applies the bias and the fused activation.
    if fused {
        return Ok(());
    }
    let bias_of = |c: usize| bias.as_ref().map_or(0.0, |b| b[c]);
    if let (Some(values), true) = (out.as_slice_mut(), pixels > 0) {
        // Blocks of whole planes, one per thread.
        parallel::spans(values, pixels, |at, planes| {
            for (i, plane) in planes.chunks_mut(pixels).enumerate() {
                bias_then_activation(plane, bias_of((at / pixels + i) % m), act);
            }
        });
        return Ok(());
    }
    for (c, mut plane) in out.axis_iter_mut(Axis(1)).enumerate() {
        let bv = bias_of(c);
        match plane.as_slice_mut() {
            Some(values) => bias_then_activation(values, bv, act),
            None => plane.mapv_inplace(|v| act.apply_to(v + bv)),
        }
    }
    Ok(())
}

/// [`conv2d`] with a max pool of window (and stride) `pool` after it, for layouts that do
/// not pool as they copy out: each sample's whole output goes to `whole` (the rest of the
/// workspace, after the layout's own `workspace`), and its windows' maxima to `out`.
#[allow(clippy::too_many_arguments)]
fn conv_then_pool(
    x: ArrayView4<'_, f32>,
    w: ArrayView4<'_, f32>,
    bias: Option<ArrayViewD<'_, f32>>,
    win: [Window; 2],
    p: ConvParams<'_>,
    (py, px): (usize, usize),
    mut out: ArrayViewMut4<'_, f32>,
    (workspace, whole): (&mut [f32], &mut [f32]),
) -> Result<()> {
    let (full_oh, full_ow) = (
        win[0].output_len(x.dim().2, false)?,
        win[1].output_len(x.dim().3, false)?,
    );
    let m = w.dim().0;
    let len = m * full_oh * full_ow;
    if whole.len() < len {
        return Err(Error::Shape(format!(
            "Conv workspace lacks room for the {len} values it pools"
        )));
    }
    let whole = &mut whole[..len];
    for (x, mut out) in x.axis_chunks_iter(Axis(0), 1).zip(out.outer_iter_mut()) {
        let unpooled = ArrayViewMut4::from_shape((1, m, full_oh, full_ow), &mut *whole)?;
        conv2d(x, w, bias.clone(), win, (p, (1, 1)), unpooled, workspace)?;
        // A last partial window is dropped, as the fused pool's floor says.
        let planes = whole.chunks_exact(full_oh * full_ow);
        for (plane, mut pooled) in planes.zip(out.outer_iter_mut()) {
            for ((y, x), v) in pooled.indexed_iter_mut() {
                let rows = plane[y * py * full_ow..].chunks(full_ow).take(py);
                *v = rows
                    .flat_map(|row| &row[x * px..x * px + px])
                    .fold(f32::NEG_INFINITY, |acc, &v| max_nan(acc, v));
            }
        }
    }
    Ok(())
}

/// `dst.copy_from_slice(src)` inlined: for rows of a few dozen values a call to `memcpy`
/// costs more than the copy.
#[inline(always)]
fn copy_row(dst: &mut [f32], src: &[f32]) {
    let mut blocks = dst.chunks_exact_mut(8).zip(src.chunks_exact(8));
    for (d, s) in &mut blocks {
        if let (Ok(d), Ok(s)) = (<&mut [f32; 8]>::try_from(d), <&[f32; 8]>::try_from(s)) {
            *d = *s;
        }
    }
    let done = dst.len() / 8 * 8;
    for (d, &s) in dst[done..].iter_mut().zip(&src[done..]) {
        *d = s;
    }
}
