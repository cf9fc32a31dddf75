//! 2-D max and average pooling against their definition (computed here in f64), over the
//! window widths and strides that take the vector path (whole blocks of 16 windows, the
//! last few, and padded edges) and those that do not.

use ndarray::{ArrayD, IxDyn};
use onnx2rs_runtime::ops::{average_pool, max_pool, PoolParams};

/// A deterministic input whose values all differ, so a misplaced tap changes the result.
fn input(shape: &[usize], seed: u32) -> ArrayD<f32> {
    let mut state = seed.wrapping_mul(2_654_435_761).wrapping_add(12_345);
    ArrayD::from_shape_simple_fn(IxDyn(shape), || {
        state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        (state >> 8) as f32 / (1 << 24) as f32 * 4.0 - 2.0
    })
}

/// `(sum or max, taps read, taps inside the padded input)` of one window, by definition.
fn window(x: &ArrayD<f32>, at: [usize; 4], p: &PoolParams<'_>, max: bool) -> (f64, usize, usize) {
    let (h, w) = (x.shape()[2] as isize, x.shape()[3] as isize);
    let (mut acc, mut read, mut padded) = (if max { f64::NEG_INFINITY } else { 0.0 }, 0, 0);
    for ky in 0..p.kernel[0] {
        for kx in 0..p.kernel[1] {
            let iy = (at[2] * p.strides[0] + ky * p.dilations[0]) as isize - p.pads[0] as isize;
            let ix = (at[3] * p.strides[1] + kx * p.dilations[1]) as isize - p.pads[1] as isize;
            if iy < h + p.pads[2] as isize && ix < w + p.pads[3] as isize {
                padded += 1;
            }
            if iy < 0 || ix < 0 || iy >= h || ix >= w {
                continue;
            }
            let v = f64::from(x[[at[0], at[1], iy as usize, ix as usize]]);
            acc = if max { acc.max(v) } else { acc + v };
            read += 1;
        }
    }
    (acc, read, padded)
}

/// (kernel, stride, dilation, pads [top, left, bottom, right], input [h, w])
type Case = ([usize; 2], [usize; 2], [usize; 2], [usize; 4], [usize; 2]);

#[test]
fn pools_match_their_definition() {
    let cases: [Case; 12] = [
        ([3, 3], [2, 2], [1, 1], [1, 1, 1, 1], [112, 112]), // ResNet's stem pool
        ([5, 5], [1, 1], [1, 1], [2, 2, 2, 2], [10, 10]),   // YOLO's SPPF, only the last few
        ([5, 5], [1, 1], [1, 1], [2, 2, 2, 2], [9, 41]),    // blocks of 16 and the rest
        ([2, 2], [2, 2], [1, 1], [0, 0, 0, 0], [8, 70]),
        ([3, 3], [1, 1], [1, 1], [1, 1, 1, 1], [7, 37]),
        ([2, 2], [1, 1], [1, 1], [0, 0, 1, 1], [5, 33]),
        ([3, 3], [3, 3], [1, 1], [0, 0, 2, 2], [10, 52]),
        ([3, 3], [2, 2], [1, 1], [0, 0, 0, 0], [15, 69]), // no padding: every window dense
        ([1, 3], [1, 2], [1, 1], [0, 1, 0, 1], [1, 4]),   // a short row of partial windows
        ([3, 3], [2, 2], [2, 2], [2, 2, 2, 2], [13, 40]), // dilated: the tap-by-tap path
        ([4, 4], [3, 3], [1, 1], [1, 2, 0, 1], [17, 35]), // no dense kind
        ([5, 5], [1, 1], [1, 1], [4, 4, 4, 4], [3, 3]),   // padding wider than the input
    ];
    for (i, (kernel, strides, dilations, pads, [h, w])) in cases.into_iter().enumerate() {
        let mut x = input(&[2, 3, h, w], i as u32);
        let plain = PoolParams {
            kernel: &kernel,
            strides: &strides,
            pads: &pads,
            dilations: &dilations,
            ceil_mode: false,
            count_include_pad: false,
        };
        for include_pad in [false, true] {
            let p = PoolParams {
                count_include_pad: include_pad,
                ..plain
            };
            let what =
                format!("{kernel:?}/{strides:?} dilated {dilations:?} pads {pads:?} over {h}x{w}");
            let (maxed, averaged) = (max_pool(x.view(), p).unwrap(), average_pool(x.view(), p));
            for (at, &got) in maxed.indexed_iter() {
                let at = [at[0], at[1], at[2], at[3]];
                let (expected, _, _) = window(&x, at, &p, true);
                assert_eq!(f64::from(got), expected, "max {what} at {at:?}");
            }
            if dilations != [1, 1] {
                continue; // AveragePool has no dilations
            }
            for (at, &got) in averaged.unwrap().indexed_iter() {
                let at = [at[0], at[1], at[2], at[3]];
                let (sum, read, padded) = window(&x, at, &p, false);
                let expected = sum / if include_pad { padded } else { read.max(1) } as f64;
                let err = (f64::from(got) - expected).abs();
                assert!(
                    err <= 1e-5,
                    "average {what} (include_pad {include_pad}) at {at:?}: {got} vs {expected}"
                );
            }
        }
        // NaN anywhere in a window wins, on the vector path as on the others.
        x[[1, 2, h / 2, w / 2]] = f32::NAN;
        let p = plain;
        let maxed = max_pool(x.view(), p).unwrap();
        for (at, &got) in maxed.indexed_iter() {
            let at = [at[0], at[1], at[2], at[3]];
            let (expected, _, _) = window(&x, at, &p, true);
            let reads_nan = (0..kernel[0]).any(|ky| {
                (0..kernel[1]).any(|kx| {
                    let iy = (at[2] * strides[0] + ky * dilations[0]) as isize - pads[0] as isize;
                    let ix = (at[3] * strides[1] + kx * dilations[1]) as isize - pads[1] as isize;
                    at[..2] == [1, 2] && iy == (h / 2) as isize && ix == (w / 2) as isize
                })
            });
            match reads_nan {
                true => assert!(
                    got.is_nan(),
                    "max {kernel:?}/{strides:?} at {at:?} drops NaN"
                ),
                false => assert_eq!(f64::from(got), expected, "max with NaN at {at:?}"),
            }
        }
    }
}
