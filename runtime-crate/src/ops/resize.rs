//! ONNX `Resize`: every mode and coordinate transform of the spec, with a fast path for
//! the common case of scaling the last two axes of a contiguous tensor (upsampling in
//! CNN decoders and feature pyramids).
//!
//! Spec: <https://onnx.ai/onnx/operators/onnx__Resize.html>.

use crate::{parallel, Error, Result};
use ndarray::{ArrayViewD, ArrayViewMutD};

/// How [`resize_into`] maps an output coordinate to an input one (ONNX
/// `coordinate_transformation_mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)] // each variant is the ONNX mode of the same name
pub enum ResizeCoordinates {
    HalfPixel,
    HalfPixelSymmetric,
    PytorchHalfPixel,
    AlignCorners,
    Asymmetric,
    /// Uses [`ResizeParams::roi`] and [`ResizeParams::extrapolation_value`].
    TfCropAndResize,
}

/// How [`resize_into`] picks or mixes input values (ONNX `mode` and `nearest_mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)] // each variant is the ONNX mode of the same name
pub enum ResizeMode {
    NearestRoundPreferFloor,
    NearestRoundPreferCeil,
    NearestFloor,
    NearestCeil,
    Linear,
    /// Uses [`ResizeParams::cubic_coeff_a`].
    Cubic,
}

/// The attributes of ONNX `Resize` beyond its scales and axes.
#[derive(Debug, Clone, Copy)]
pub struct ResizeParams<'a> {
    /// `mode` and `nearest_mode`.
    pub mode: ResizeMode,
    /// `coordinate_transformation_mode`.
    pub coordinates: ResizeCoordinates,
    /// The cubic kernel's `a` (ONNX default -0.75).
    pub cubic_coeff_a: f32,
    /// Give taps outside the input weight 0 and renormalise the others.
    pub exclude_outside: bool,
    /// Widen the linear or cubic kernel by `1 / scale` when downsampling.
    pub antialias: bool,
    /// `tf_crop_and_resize` only: `[start_0, …, end_0, …]` normalised to `[0, 1]`, one
    /// pair per axis, or per entry of `axes` when those are given.
    pub roi: &'a [f32],
    /// `tf_crop_and_resize` only: the value of outputs that map outside the input.
    pub extrapolation_value: f32,
}

/// Most axes [`resize_into`] handles.
pub const RESIZE_MAX_RANK: usize = 8;
/// Most input taps per axis for one output value (an antialiased cubic downscale by 16).
const RESIZE_MAX_TAPS: usize = 64;

/// The taps of one output coordinate along one axis: `count` input positions from
/// `start` (possibly outside the input: they read the edge), with their weights.
#[derive(Clone, Copy)]
struct Taps {
    start: isize,
    count: usize,
    weights: [f32; RESIZE_MAX_TAPS],
}

/// ONNX `Resize` into `out`, whose static shape is the target size; `scales` are the
/// scales the coordinate transform uses, one per axis of `axes` (all axes when `axes` is
/// empty; the others keep scale 1). Allocation-free for rank 4 and less.
///
/// Follows the ONNX reference implementation: for each output coordinate, the input
/// taps nearest the mapped position (edge-padded), weighted by the mode's kernel.
///
/// ```
/// use ndarray::{array, ArrayD, IxDyn};
/// use onnx2rs_runtime::ops::{resize_into, ResizeCoordinates, ResizeMode, ResizeParams};
/// let x = array![[1.0f32, 2.0]].into_dyn();
/// let mut out = ArrayD::<f32>::zeros(IxDyn(&[1, 4]));
/// let p = ResizeParams {
///     mode: ResizeMode::Linear,
///     coordinates: ResizeCoordinates::HalfPixel,
///     cubic_coeff_a: -0.75,
///     exclude_outside: false,
///     antialias: false,
///     roi: &[],
///     extrapolation_value: 0.0,
/// };
/// resize_into(x.view(), &[1.0, 2.0], &[], p, out.view_mut()).unwrap();
/// assert_eq!(out.as_slice().unwrap(), &[1.0, 1.25, 1.75, 2.0]);
/// ```
///
/// # Errors
/// [`Error::Shape`] if ranks disagree or exceed [`RESIZE_MAX_RANK`], `x` is empty, `roi`
/// has the wrong length, or an antialiased kernel would need more than 64 taps per axis.
pub fn resize_into(
    x: ArrayViewD<'_, f32>,
    scales: &[f32],
    axes: &[usize],
    p: ResizeParams<'_>,
    mut out: ArrayViewMutD<'_, f32>,
) -> Result<()> {
    let rank = x.ndim();
    let scaled = if axes.is_empty() { rank } else { axes.len() };
    let crop = p.coordinates == ResizeCoordinates::TfCropAndResize;
    if out.ndim() != rank
        || scales.len() != scaled
        || axes.iter().any(|&a| a >= rank)
        || rank > RESIZE_MAX_RANK
        || x.is_empty()
        || (crop && p.roi.len() != 2 * scaled)
    {
        return Err(Error::Shape(format!(
            "Resize of {:?} with {} scales cannot give {:?}",
            x.shape(),
            scales.len(),
            out.shape()
        )));
    }
    let mut scale_of = [1.0f32; RESIZE_MAX_RANK];
    if axes.is_empty() {
        scale_of[..rank].copy_from_slice(scales);
    } else {
        for (&axis, &scale) in axes.iter().zip(scales) {
            scale_of[axis] = scale;
        }
    }
    if !crop && resize_planes(x.view(), &scale_of[..rank], &p, out.view_mut())? {
        return Ok(());
    }
    let out_shape: [usize; RESIZE_MAX_RANK] =
        std::array::from_fn(|a| out.shape().get(a).copied().unwrap_or(0));
    let mut taps: [Taps; RESIZE_MAX_RANK] = std::array::from_fn(|_| Taps {
        start: 0,
        count: 1,
        weights: [0.0; RESIZE_MAX_TAPS],
    });
    let mut at = [0usize; RESIZE_MAX_RANK];
    for (index, o) in out.indexed_iter_mut() {
        let mut outside = false;
        for axis in 0..rank {
            let len_in = x.shape()[axis];
            // The roi pair of this axis: its own, or the full range for an axis not in `axes`.
            let roi = match axes.iter().position(|&a| a == axis) {
                _ if !crop => (0.0, 1.0),
                None if axes.is_empty() => (p.roi[axis], p.roi[rank + axis]),
                Some(k) => (p.roi[k], p.roi[scaled + k]),
                None => (0.0, 1.0),
            };
            let src = source_coordinate(
                &p,
                index[axis],
                len_in,
                out_shape[axis],
                scale_of[axis],
                roi,
            );
            if crop && !(0.0..=(len_in - 1) as f32).contains(&src) {
                outside = true;
                break;
            }
            resize_taps(&p, src, len_in, scale_of[axis], &mut taps[axis])?;
        }
        if outside {
            *o = p.extrapolation_value;
            continue;
        }
        // Sum over every combination of taps (an odometer over the axes).
        let total: usize = taps[..rank].iter().map(|t| t.count).product();
        let mut value = 0.0f32;
        for combo in 0..total {
            let (mut rest, mut w) = (combo, 1.0f32);
            for axis in (0..rank).rev() {
                let t = &taps[axis];
                let k = rest % t.count;
                rest /= t.count;
                w *= t.weights[k];
                let last = x.shape()[axis] as isize - 1;
                at[axis] = (t.start + k as isize).clamp(0, last) as usize;
            }
            if w != 0.0 {
                value += w * x[&at[..rank]];
            }
        }
        *o = value;
    }
    Ok(())
}

/// The input coordinate that output index `i` maps to along one axis.
fn source_coordinate(
    p: &ResizeParams<'_>,
    i: usize,
    len_in: usize,
    len_out: usize,
    scale: f32,
    (start, end): (f32, f32),
) -> f32 {
    // As the ONNX reference: the scaled length, not the rounded output size.
    let n_out = scale * len_in as f32;
    let i = i as f32;
    let last = len_in as f32 - 1.0;
    match p.coordinates {
        ResizeCoordinates::HalfPixel => (i + 0.5) / scale - 0.5,
        ResizeCoordinates::HalfPixelSymmetric => {
            let offset = len_in as f32 / 2.0 * (1.0 - len_out as f32 / n_out);
            offset + (i + 0.5) / scale - 0.5
        }
        ResizeCoordinates::PytorchHalfPixel if n_out > 1.0 => (i + 0.5) / scale - 0.5,
        ResizeCoordinates::PytorchHalfPixel => -0.5,
        ResizeCoordinates::AlignCorners if n_out != 1.0 => i * last / (n_out - 1.0),
        ResizeCoordinates::AlignCorners => 0.0,
        ResizeCoordinates::Asymmetric => i / scale,
        ResizeCoordinates::TfCropAndResize => {
            let span = if n_out != 1.0 {
                i * (end - start) * last / (n_out - 1.0)
            } else {
                (end - start) * last / 2.0
            };
            span + start * last
        }
    }
}

/// Fill `taps` for input coordinate `src` on an axis of length `len_in`.
fn resize_taps(
    p: &ResizeParams<'_>,
    src: f32,
    len_in: usize,
    scale: f32,
    taps: &mut Taps,
) -> Result<()> {
    let floor = src.floor();
    // Nearest modes pick one tap.
    let nearest = match p.mode {
        ResizeMode::NearestRoundPreferFloor if src - floor == 0.5 => Some(floor),
        ResizeMode::NearestRoundPreferCeil if src - floor == 0.5 => Some(floor + 1.0),
        ResizeMode::NearestRoundPreferFloor | ResizeMode::NearestRoundPreferCeil => {
            Some(src.round())
        }
        ResizeMode::NearestFloor => Some(floor),
        ResizeMode::NearestCeil => Some(src.ceil()),
        ResizeMode::Linear | ResizeMode::Cubic => None,
    };
    if let Some(n) = nearest {
        (taps.start, taps.count, taps.weights[0]) = (n as isize, 1, 1.0);
        return Ok(());
    }
    // The reference's `ratio` lies in (0, 1]: an integer position counts from the tap before.
    let base = src.ceil() - 1.0;
    let ratio = src - base;
    let (radius, kernel): (f32, fn(f32, f32) -> f32) = match p.mode {
        ResizeMode::Cubic => (2.0, cubic_weight),
        _ => (1.0, |d, _| (1.0 - d.abs()).max(0.0)),
    };
    let stretch = if p.antialias { scale.min(1.0) } else { 1.0 };
    // Taps from `base + first` to `base - first + 1`, as the reference's kernel footprint.
    let first = (-radius / stretch).floor() as isize + 1;
    let count = (2 - 2 * first) as usize;
    if count > RESIZE_MAX_TAPS {
        return Err(Error::Shape(format!(
            "Resize needs {count} taps per axis, more than {RESIZE_MAX_TAPS}"
        )));
    }
    taps.start = base as isize + first;
    taps.count = count;
    let mut sum = 0.0;
    for k in 0..count {
        let offset = (first + k as isize) as f32;
        let pos = taps.start + k as isize;
        let w = if p.exclude_outside && (pos < 0 || pos >= len_in as isize) {
            0.0
        } else {
            kernel(stretch * (offset - ratio), p.cubic_coeff_a)
        };
        taps.weights[k] = w;
        sum += w;
    }
    // Plain linear and cubic kernels sum to 1 already; antialiased and excluded ones are renormalised.
    if (p.antialias || p.exclude_outside) && sum != 0.0 {
        for w in &mut taps.weights[..count] {
            *w /= sum;
        }
    }
    Ok(())
}

/// The cubic convolution kernel (Keys) with parameter `a`, at distance `d`.
fn cubic_weight(d: f32, a: f32) -> f32 {
    let x = d.abs();
    if x <= 1.0 {
        ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0
    } else if x < 2.0 {
        ((a * x - 5.0 * a) * x + 8.0 * a) * x - 4.0 * a
    } else {
        0.0
    }
}

/// Output columns the plane fast path takes (its column taps live on the stack).
const PLANE_MAX_COLUMNS: usize = 2048;
/// Taps per axis the plane fast path takes (cubic needs 4).
const PLANE_MAX_TAPS: usize = 4;

/// One output row's or column's taps in the fast path: input positions (clamped) and
/// weights.
#[derive(Clone, Copy, Default, PartialEq)]
struct AxisTaps {
    at: [u32; PLANE_MAX_TAPS],
    weights: [f32; PLANE_MAX_TAPS],
    count: u32,
}

impl AxisTaps {
    /// The taps of output index `i` along an axis of `(len_in, len_out)`, or `None` if it
    /// needs more than [`PLANE_MAX_TAPS`].
    fn new(
        p: &ResizeParams<'_>,
        i: usize,
        (len_in, len_out): (usize, usize),
        scale: f32,
    ) -> Result<Option<AxisTaps>> {
        let mut taps = Taps {
            start: 0,
            count: 1,
            weights: [0.0; RESIZE_MAX_TAPS],
        };
        let src = source_coordinate(p, i, len_in, len_out, scale, (0.0, 1.0));
        resize_taps(p, src, len_in, scale, &mut taps)?;
        if taps.count > PLANE_MAX_TAPS {
            return Ok(None);
        }
        let mut axis = AxisTaps {
            count: taps.count as u32,
            ..AxisTaps::default()
        };
        for k in 0..taps.count {
            axis.at[k] = (taps.start + k as isize).clamp(0, len_in as isize - 1) as u32;
            axis.weights[k] = taps.weights[k];
        }
        Ok(Some(axis))
    }
}

/// [`resize_into`] when only the last two axes change, both operands are contiguous and
/// the kernel needs few taps: each output column's taps are computed once per call and
/// each output row's once per plane, and an output row with the same taps as the row
/// above it (nearest upsampling) is a copy of it. The values are the generic path's,
/// summed in the same order. Returns whether it ran.
fn resize_planes(
    x: ArrayViewD<'_, f32>,
    scales: &[f32],
    p: &ResizeParams<'_>,
    mut out: ArrayViewMutD<'_, f32>,
) -> Result<bool> {
    let rank = x.ndim();
    if rank < 2 || out.shape()[rank - 1] > PLANE_MAX_COLUMNS || p.antialias {
        return Ok(false);
    }
    // An unscaled axis maps each index to itself, except that pytorch_half_pixel maps an
    // axis of length 1 to -0.5, which a linear or cubic kernel mixes from several taps.
    let odd_unit = matches!(p.mode, ResizeMode::Linear | ResizeMode::Cubic)
        && p.coordinates == ResizeCoordinates::PytorchHalfPixel;
    let same_outer = (0..rank - 2).all(|a| {
        scales[a] == 1.0 && x.shape()[a] == out.shape()[a] && !(odd_unit && x.shape()[a] == 1)
    });
    let (oh, ow) = (out.shape()[rank - 2], out.shape()[rank - 1]);
    let (Some(xs), Some(os)) = (x.as_slice(), out.as_slice_mut()) else {
        return Ok(false);
    };
    if !same_outer {
        return Ok(false);
    }
    let (ih, iw) = (x.shape()[rank - 2], x.shape()[rank - 1]);
    let mut columns = [AxisTaps::default(); PLANE_MAX_COLUMNS];
    for (j, column) in columns[..ow].iter_mut().enumerate() {
        match AxisTaps::new(p, j, (iw, ow), scales[rank - 1])? {
            Some(taps) => *column = taps,
            None => return Ok(false),
        }
    }
    // The rows' taps, found once per call too (those past the array, once per plane).
    let mut rows = [AxisTaps::default(); PLANE_MAX_COLUMNS];
    for (i, row) in rows[..oh.min(PLANE_MAX_COLUMNS)].iter_mut().enumerate() {
        match AxisTaps::new(p, i, (ih, oh), scales[rank - 2])? {
            Some(taps) => *row = taps,
            None => return Ok(false),
        }
    }
    let nearest = columns[..ow].iter().all(|c| c.count == 1);
    // Nearest upsampling by a whole factor: each input column repeated `factor` times.
    let repeat = (nearest && ow % iw == 0)
        .then_some(ow / iw)
        .filter(|&factor| (0..ow).all(|j| columns[j].at[0] as usize == j / factor));
    let (axes, plane_in, plane_out) = ((&rows, &columns), ih * iw, oh * ow);
    // Blocks of planes, one per thread.
    let planes = os.len() / plane_out.max(1);
    let per = planes
        .div_ceil(parallel::parts_of_values(os.len(), planes))
        .max(1);
    let blocks = xs
        .chunks(per * plane_in)
        .zip(os.chunks_mut((per * plane_out).max(1)));
    parallel::try_each(blocks, |(xs, os)| {
        resize_block(xs, os, (ih, iw, oh, ow), (nearest, repeat), axes, scales, p)
    })?;
    Ok(true)
}

/// The planes of `xs` resized into those of `os`, for [`resize_planes`].
fn resize_block(
    xs: &[f32],
    os: &mut [f32],
    (ih, iw, oh, ow): (usize, usize, usize, usize),
    (nearest, repeat): (bool, Option<usize>),
    (rows, columns): (
        &[AxisTaps; PLANE_MAX_COLUMNS],
        &[AxisTaps; PLANE_MAX_COLUMNS],
    ),
    scales: &[f32],
    p: &ResizeParams<'_>,
) -> Result<()> {
    let rank = scales.len();
    for (plane, dst) in xs.chunks_exact(ih * iw).zip(os.chunks_exact_mut(oh * ow)) {
        for i in 0..oh {
            let taps = match rows.get(i) {
                Some(taps) => *taps,
                None => AxisTaps::new(p, i, (ih, oh), scales[rank - 2])?
                    .ok_or_else(|| Error::Shape("Resize row taps".into()))?,
            };
            let (done, row) = dst.split_at_mut(i * ow);
            let row = &mut row[..ow];
            // A row with the same taps as the row above it (nearest upsampling) copies it.
            if i > 0 && rows.get(i - 1).is_some_and(|above| *above == taps) {
                row.copy_from_slice(&done[(i - 1) * ow..]);
                continue;
            }
            let input_row = |k: usize| &plane[taps.at[k] as usize * iw..][..iw];
            if let (Some(factor), 1) = (repeat, taps.count) {
                match factor {
                    2 => repeat_each::<2>(row, input_row(0)),
                    _ => row
                        .chunks_exact_mut(factor)
                        .zip(input_row(0))
                        .for_each(|(o, &v)| o.fill(v)),
                }
                continue;
            }
            if nearest && taps.count == 1 {
                let from = input_row(0);
                for (o, c) in row.iter_mut().zip(&columns[..ow]) {
                    *o = from[c.at[0] as usize];
                }
                continue;
            }
            for (o, c) in row.iter_mut().zip(&columns[..ow]) {
                let mut value = 0.0f32;
                for r in 0..taps.count as usize {
                    let from = input_row(r);
                    for k in 0..c.count as usize {
                        let w = c.weights[k] * taps.weights[r];
                        if w != 0.0 {
                            value += w * from[c.at[k] as usize];
                        }
                    }
                }
                *o = value;
            }
        }
    }
    Ok(())
}

/// `row[i·K + k] = from[i]`: each value of `from` repeated `K` times.
#[inline(always)]
fn repeat_each<const K: usize>(row: &mut [f32], from: &[f32]) {
    for (o, &v) in row.chunks_exact_mut(K).zip(from) {
        o.copy_from_slice(&[v; K]);
    }
}

#[cfg(test)]
mod tests {
    use super::{resize_into, ResizeCoordinates, ResizeMode, ResizeParams};
    use ndarray::{ArrayD, IxDyn};

    #[test]
    fn plane_fast_path_gives_the_generic_paths_values() {
        let modes = [
            ResizeMode::NearestFloor,
            ResizeMode::NearestRoundPreferFloor,
            ResizeMode::NearestCeil,
            ResizeMode::Linear,
            ResizeMode::Cubic,
        ];
        let coordinates = [
            ResizeCoordinates::Asymmetric,
            ResizeCoordinates::HalfPixel,
            ResizeCoordinates::AlignCorners,
            ResizeCoordinates::PytorchHalfPixel,
            ResizeCoordinates::HalfPixelSymmetric,
        ];
        // (input shape, scales, output shape): up, down, uneven, a rank-3 input, and one
        // large enough that the `threads` feature shares its planes out (for the modes
        // of the first two coordinate rules: its generic path is slow in a debug build).
        let cases: [(&[usize], &[f32], &[usize]); 5] = [
            (&[1, 3, 5, 6], &[1.0, 1.0, 2.0, 2.0], &[1, 3, 10, 12]),
            (&[2, 2, 9, 8], &[1.0, 1.0, 0.5, 0.75], &[2, 2, 4, 6]),
            (&[1, 1, 4, 7], &[1.0, 1.0, 2.5, 1.5], &[1, 1, 10, 10]),
            (&[2, 5, 6], &[1.0, 1.0, 3.0], &[2, 5, 18]),
            (&[1, 3, 40, 48], &[1.0, 1.0, 4.0, 4.0], &[1, 3, 160, 192]),
        ];
        let mut checked = 0;
        for (shape, scales, out_shape) in cases {
            let n: usize = shape.iter().product();
            let x =
                ArrayD::from_shape_vec(IxDyn(shape), (0..n).map(|i| (i * 7 % 13) as f32).collect())
                    .unwrap();
            let large = out_shape.iter().product::<usize>() > 1 << 16;
            for mode in modes {
                for coords in &coordinates[..if large { 2 } else { coordinates.len() }] {
                    let coords = *coords;
                    let p = ResizeParams {
                        mode,
                        coordinates: coords,
                        cubic_coeff_a: -0.75,
                        exclude_outside: false,
                        antialias: false,
                        roi: &[],
                        extrapolation_value: 0.0,
                    };
                    let mut fast = ArrayD::<f32>::zeros(IxDyn(out_shape));
                    resize_into(x.view(), scales, &[], p, fast.view_mut()).unwrap();
                    // A reversed-axes output is not contiguous: the generic path runs.
                    let reversed: Vec<usize> = out_shape.iter().rev().copied().collect();
                    let mut generic = ArrayD::<f32>::zeros(IxDyn(&reversed));
                    resize_into(x.view(), scales, &[], p, generic.view_mut().reversed_axes())
                        .unwrap();
                    assert_eq!(
                        fast,
                        generic.reversed_axes(),
                        "{mode:?} {coords:?} {shape:?} -> {out_shape:?}"
                    );
                    checked += 1;
                }
            }
        }
        assert_eq!(checked, 110);
    }
}
