//! A convolution over a strided (non-contiguous) input view gives what it gives over the
//! same values laid out contiguously, which tests/ops checks against ONNX Runtime.

use ndarray::{Array4, ArrayD, Dimension, IxDyn};
use onnx2rs_runtime::ops::{conv_into, conv_shapes, ConvParams, Unary};

fn run(
    x: ndarray::ArrayViewD<'_, f32>,
    w: &ArrayD<f32>,
    bias: Option<&ArrayD<f32>>,
    p: ConvParams<'_>,
) -> ArrayD<f32> {
    run_with(x, w, bias, p, f32::NAN)
}

/// [`run`] with every value of the workspace set to `fill` first: NaN shows a kernel that
/// reads a slot it did not write (generated crates share one workspace between nodes).
fn run_with(
    x: ndarray::ArrayViewD<'_, f32>,
    w: &ArrayD<f32>,
    bias: Option<&ArrayD<f32>>,
    p: ConvParams<'_>,
    fill: f32,
) -> ArrayD<f32> {
    let (shape, workspace) = conv_shapes(x.shape(), w.shape(), p).unwrap();
    let mut out = ArrayD::zeros(IxDyn(&shape));
    let mut ws = vec![fill; workspace];
    conv_into(
        x,
        w.view(),
        bias.map(|b| b.view()),
        p,
        out.view_mut(),
        &mut ws,
    )
    .unwrap();
    out
}

#[test]
fn strided_inputs_match_contiguous_ones() {
    // [1, C, W, H] with its last two axes swapped: a view whose rows are strided.
    let stored = Array4::from_shape_fn((1, 6, 9, 7), |(_, c, x, y)| {
        ((c * 31 + x * 7 + y * 3) % 17) as f32 * 0.25 - 2.0
    });
    let strided = stored.view().permuted_axes([0, 1, 3, 2]).into_dyn();
    let contiguous = strided.as_standard_layout().into_owned();
    for (kernel, stride, pads) in [
        (1, 1, [0, 0, 0, 0]),
        (3, 1, [1, 1, 1, 1]),
        (3, 2, [1, 0, 1, 2]),
    ] {
        let w = ArrayD::from_shape_fn(IxDyn(&[4, 6, kernel, kernel]), |i| {
            ((i[0] * 5 + i[1] * 3 + i[2] + i[3]) % 7) as f32 * 0.5 - 1.5
        });
        let p = ConvParams {
            strides: &[stride, stride],
            pads: &pads,
            dilations: &[1, 1],
            group: 1,
            ..Default::default()
        };
        let expected = run(contiguous.view(), &w, None, p);
        let got = run(strided.view(), &w, None, p);
        let worst = (&got - &expected)
            .iter()
            .fold(0.0f32, |m, d| m.max(d.abs()));
        assert!(
            worst < 1e-4,
            "{kernel}x{kernel} stride {stride}: error {worst}"
        );
    }
}

/// Every value of `got` within 1e-5 of `expected`, relative to its largest magnitude (or 1);
/// a NaN where `expected` has a number fails (`f32::max` would pass over it).
fn assert_close(got: &ArrayD<f32>, expected: &ArrayD<f32>, what: &str) {
    let nan = got
        .iter()
        .zip(expected)
        .filter(|(g, e)| g.is_nan() && !e.is_nan())
        .count();
    assert_eq!(nan, 0, "{what}: {nan} NaN values");
    let worst = (got - expected).iter().fold(0.0f32, |m, d| m.max(d.abs()));
    let scale = expected.iter().fold(1.0f32, |m, v| m.max(v.abs()));
    assert!(worst < 1e-5 * scale, "{what}: error {worst}");
}

/// The convolution as its definition's sum, in f64: the reference for the fast paths
/// (over plain slices, so that it stays quick in a debug build).
fn direct(x: &ArrayD<f32>, w: &ArrayD<f32>, stride: usize, pad: usize) -> ArrayD<f32> {
    let (c, h, wd) = (x.shape()[1], x.shape()[2], x.shape()[3]);
    let (m, k) = (w.shape()[0], w.shape()[2]);
    let (oh, ow) = (
        (h + 2 * pad - k) / stride + 1,
        (wd + 2 * pad - k) / stride + 1,
    );
    let (xs, ws) = (x.as_slice().unwrap(), w.as_slice().unwrap());
    let mut out = vec![0.0f64; m * oh * ow];
    for (f, plane) in out.chunks_exact_mut(oh * ow).enumerate() {
        for ci in 0..c {
            for ky in 0..k {
                for kx in 0..k {
                    let tap = ws[((f * c + ci) * k + ky) * k + kx] as f64;
                    for (y, row) in plane.chunks_exact_mut(ow).enumerate() {
                        let Some(iy) = (y * stride + ky).checked_sub(pad).filter(|&iy| iy < h)
                        else {
                            continue;
                        };
                        let input = &xs[(ci * h + iy) * wd..][..wd];
                        for (xo, v) in row.iter_mut().enumerate() {
                            if let Some(ix) =
                                (xo * stride + kx).checked_sub(pad).filter(|&ix| ix < wd)
                            {
                                *v += tap * input[ix] as f64;
                            }
                        }
                    }
                }
            }
        }
    }
    ArrayD::from_shape_vec(
        IxDyn(&[1, m, oh, ow]),
        out.into_iter().map(|v| v as f32).collect(),
    )
    .unwrap()
}

/// A `[1, c, size, size]` input and `[m, c, k, k]` weights of varied values.
fn image_and_filters(m: usize, c: usize, size: usize, k: usize) -> (ArrayD<f32>, ArrayD<f32>) {
    let x = ArrayD::from_shape_fn(IxDyn(&[1, c, size, size]), |i| {
        ((i[1] * 13 + i[2] * 7 + i[3] * 3) % 19) as f32 * 0.125 - 1.0
    });
    let w = ArrayD::from_shape_fn(IxDyn(&[m, c, k, k]), |i| {
        ((i[0] * 5 + i[1] * 3 + i[2] * 2 + i[3]) % 11) as f32 * 0.0625 - 0.3
    });
    (x, w)
}

/// One group, no dilation, no epilogue.
fn plain<'a>(strides: &'a [usize], pads: &'a [usize]) -> ConvParams<'a> {
    ConvParams {
        strides,
        pads,
        dilations: &[1, 1],
        group: 1,
        ..Default::default()
    }
}

/// Padded whole, padded band by band (strided, and at unit stride), and read in place.
/// All are large enough that with the `threads` feature their work is shared out: bands
/// of columns that begin and end within output rows, and rows of the read-in-place product.
#[test]
fn large_convolutions_match_the_direct_sum() {
    for (m, c, size, k, stride) in [
        (32, 16, 28, 3, 1),
        (16, 3, 150, 7, 2),
        (16, 8, 120, 5, 1),
        (64, 64, 32, 1, 1),
    ] {
        let (x, w) = image_and_filters(m, c, size, k);
        let (strides, pads) = ([stride, stride], [k / 2; 4]);
        let p = plain(&strides, &pads);
        let bias = ArrayD::from_shape_fn(IxDyn(&[m]), |i| i[0] as f32 * 0.1 - 1.0);
        let mut expected = direct(&x, &w, stride, k / 2);
        for (mut plane, &b) in expected.axis_iter_mut(ndarray::Axis(1)).zip(&bias) {
            plane += b;
        }
        let got = run(x.view(), &w, Some(&bias), p);
        assert_close(
            &got,
            &expected,
            &format!("{m}x{c}x{size}² {k}x{k}/{stride}"),
        );
    }
}

/// With `accumulate`, `out` holds a residual that is added before the activation, on every
/// path: the input read in place (contiguous and strided), shifted rows (padded whole, band
/// by band, strided), the packed product and a depthwise convolution.
#[test]
fn accumulating_adds_what_out_holds_before_the_activation() {
    // (channels, filters, group, spatial, kernel, stride)
    type Case = (usize, usize, usize, &'static [usize], usize, usize);
    let cases: [Case; 6] = [
        (6, 4, 1, &[9, 7], 1, 1),
        (6, 4, 1, &[9, 7], 3, 1),
        (8, 12, 1, &[130, 131], 3, 1),
        (3, 8, 1, &[40, 40], 3, 2),
        (64, 5, 1, &[1100], 3, 1),
        (6, 6, 6, &[9, 7], 3, 1),
    ];
    for (c, m, group, spatial, k, stride) in cases {
        let n = spatial.len();
        let stored = ArrayD::from_shape_fn(IxDyn(&[[1, c].as_slice(), spatial].concat()), |i| {
            (i.slice()
                .iter()
                .enumerate()
                .map(|(a, v)| (a + 3) * v)
                .sum::<usize>()
                % 13) as f32
                * 0.25
                - 1.5
        });
        // The 1×1 case also reads a strided view of its input.
        let strided = n == 2 && k == 1;
        let x = match strided {
            true => stored
                .view()
                .permuted_axes(IxDyn(&[0, 1, 3, 2]))
                .as_standard_layout()
                .into_owned(),
            false => stored.clone(),
        };
        let w_shape = [[m, c / group].as_slice(), &vec![k; n]].concat();
        let w = ArrayD::from_shape_fn(IxDyn(&w_shape), |i| {
            (i.slice().iter().sum::<usize>() % 7) as f32 * 0.25 - 0.6
        });
        let bias = ArrayD::from_shape_fn(IxDyn(&[m]), |i| i[0] as f32 * 0.2 - 0.5);
        let (strides, pads, dilations) = (vec![stride; n], vec![k / 2; 2 * n], vec![1; n]);
        let plain = ConvParams {
            strides: &strides,
            pads: &pads,
            dilations: &dilations,
            group,
            ..Default::default()
        };
        let conv = run(x.view(), &w, Some(&bias), plain);
        let residual = conv.mapv(|v| 1.0 - v * 0.5) + 0.125;
        let expected = (&conv + &residual).mapv(|v| v.max(0.0));
        let (_, workspace) = conv_shapes(x.shape(), w.shape(), plain).unwrap();
        let mut got = residual.clone();
        let input = match strided {
            true => stored.view().permuted_axes(IxDyn(&[0, 1, 3, 2])),
            false => x.view(),
        };
        let fused = ConvParams {
            activation: Unary::Relu,
            accumulate: true,
            ..plain
        };
        let mut ws = vec![f32::NAN; workspace];
        conv_into(
            input,
            w.view(),
            Some(bias.view()),
            fused,
            got.view_mut(),
            &mut ws,
        )
        .unwrap();
        let what = format!("{c}->{m} /{group} {spatial:?} {k}x{k}/{stride}");
        assert_close(&got, &expected, &what);
    }
}

/// Padding that differs on each side, at unit stride and strided, 2-D and 1-D: a workspace
/// full of NaN gives what a zeroed one gives, so every padding slot is written.
#[test]
fn uneven_padding_writes_every_slot_of_the_workspace() {
    for (spatial, kernel, strides, pads) in [
        (
            &[9usize, 11][..],
            &[3usize, 3][..],
            &[1usize, 1][..],
            &[1usize, 0, 2, 3][..],
        ),
        (&[9, 11], &[3, 2], &[2, 1], &[0, 2, 1, 1]),
        (&[17], &[5], &[1], &[3, 1]),
    ] {
        let (c, m) = (3, 4);
        let mut xs = vec![1, c];
        xs.extend_from_slice(spatial);
        let mut ws = vec![m, c];
        ws.extend_from_slice(kernel);
        let x = ArrayD::from_shape_fn(IxDyn(&xs), |i| {
            (i.slice().iter().sum::<usize>() % 7) as f32 * 0.25 - 0.7
        });
        let w = ArrayD::from_shape_fn(IxDyn(&ws), |i| {
            (i.slice()
                .iter()
                .enumerate()
                .map(|(a, v)| (a + 1) * v)
                .sum::<usize>()
                % 5) as f32
                * 0.2
                - 0.4
        });
        let ones = vec![1; spatial.len()];
        let p = ConvParams {
            strides,
            pads,
            dilations: &ones,
            group: 1,
            ..Default::default()
        };
        let zeroed = run_with(x.view(), &w, None, p, 0.0);
        let poisoned = run(x.view(), &w, None, p);
        assert!(zeroed.iter().all(|v| v.is_finite()));
        assert_close(
            &poisoned,
            &zeroed,
            &format!("{spatial:?} {kernel:?} /{strides:?} pads {pads:?}"),
        );
    }
}

/// A max pool fused into the convolution (window = stride) gives the pool of the
/// convolution's activated output, with a trailing row or column the window does not
/// fill dropped: padded whole, band by band (each band whole windows of rows), strided,
/// and where no window fits at all; and pooled after the product, for a 1×1 window read
/// in place and a stride too large for shifted rows.
#[test]
fn fused_max_pools_match_pooling_the_direct_sum() {
    // (filters, channels, size, kernel, stride, pool)
    for (m, c, size, k, stride, pool) in [
        (8, 4, 27, 3, 1, [2, 2]),
        (8, 4, 27, 3, 1, [3, 2]),
        (16, 3, 150, 7, 2, [2, 2]),
        (16, 8, 121, 5, 1, [2, 2]),
        (4, 2, 9, 3, 2, [1, 3]),
        (4, 2, 3, 3, 1, [4, 4]),  // no whole window: an empty output
        (8, 4, 21, 1, 1, [2, 2]), // read in place, then pooled
        (6, 3, 31, 3, 3, [2, 3]), // unfolded (nine phase planes), then pooled
    ] {
        let (x, w) = image_and_filters(m, c, size, k);
        let bias = ArrayD::from_shape_fn(IxDyn(&[m]), |i| i[0] as f32 * 0.1 - 0.4);
        let (strides, pads) = ([stride, stride], [k / 2; 4]);
        let p = ConvParams {
            activation: Unary::Relu,
            pool: &pool,
            ..plain(&strides, &pads)
        };
        let full = direct(&x, &w, stride, k / 2);
        let (oh, ow) = (full.shape()[2], full.shape()[3]);
        let expected = ArrayD::from_shape_fn(IxDyn(&[1, m, oh / pool[0], ow / pool[1]]), |i| {
            let mut best = f32::NEG_INFINITY;
            for dy in 0..pool[0] {
                for dx in 0..pool[1] {
                    let v = full[[0, i[1], i[2] * pool[0] + dy, i[3] * pool[1] + dx]] + bias[i[1]];
                    best = best.max(v.max(0.0));
                }
            }
            best
        });
        let got = run(x.view(), &w, Some(&bias), p);
        assert_eq!(got.shape(), expected.shape());
        let what = format!("{m}x{c}x{size}² {k}x{k}/{stride} pooled {pool:?}");
        assert_close(&got, &expected, &what);
    }
}

/// Depthwise convolutions (one channel per group) over planes from 5×5 to 30×30, every
/// kernel the direct path specialises and one it does not, with a bias and a HardSwish
/// epilogue: each channel is [`direct`]'s sum over that channel alone.
#[test]
fn depthwise_convolutions_match_the_direct_sum_per_channel() {
    for (c, size, k, stride) in [
        (8, 7, 5, 1),
        (8, 7, 3, 2),
        (4, 5, 7, 1),
        (4, 14, 5, 2),
        (4, 14, 7, 2),
        (4, 9, 3, 1),
        (4, 30, 3, 2),
        (4, 12, 4, 1),
        // Blocks of 16 channels, the last one partial.
        (20, 7, 5, 1),
        (33, 9, 5, 2),
        (16, 11, 3, 2),
        // A plane too large to interleave.
        (24, 70, 3, 1),
        // Over the `threads` feature's split size: blocks of channels on each path.
        (40, 48, 3, 1),
        (40, 48, 5, 2),
    ] {
        let pad = k / 2;
        let (x, w) = image_and_filters(c, 1, size, k);
        let x = ArrayD::from_shape_fn(IxDyn(&[1, c, size, size]), |i| {
            x[[0, 0, i[2], i[3]]] * (1.0 + i[1] as f32 * 0.25)
        });
        let bias = ArrayD::from_shape_fn(IxDyn(&[c]), |i| i[0] as f32 * 0.5 - 1.0);
        let p = ConvParams {
            strides: &[stride, stride],
            pads: &[pad, pad, pad, pad],
            dilations: &[1, 1],
            group: c,
            activation: Unary::HardSwish,
            ..Default::default()
        };
        let got = run(x.view(), &w, Some(&bias), p);
        let channels: Vec<_> = (0..c)
            .map(|ch| {
                let xc = x
                    .slice(ndarray::s![.., ch..ch + 1, .., ..])
                    .to_owned()
                    .into_dyn();
                let wc = w
                    .slice(ndarray::s![ch..ch + 1, .., .., ..])
                    .to_owned()
                    .into_dyn();
                direct(&xc, &wc, stride, pad).mapv(|v| {
                    let t = f64::from(v) + f64::from(bias[[ch]]);
                    (t * (t / 6.0 + 0.5).clamp(0.0, 1.0)) as f32
                })
            })
            .collect();
        let views: Vec<_> = channels.iter().map(|a| a.view()).collect();
        let expected = ndarray::concatenate(ndarray::Axis(1), &views).unwrap();
        assert_close(
            &got,
            &expected,
            &format!("depthwise {c}x{size}x{size} {k}x{k}/{stride}"),
        );
    }
}

/// `residual` with the convolution of `x` by `w` and `b` added (`p` accumulates), computed
/// in a workspace full of NaN.
fn added_to(
    residual: &ArrayD<f32>,
    x: &ArrayD<f32>,
    w: &ArrayD<f32>,
    b: &ArrayD<f32>,
    p: ConvParams<'_>,
) -> ArrayD<f32> {
    let (_, len) = conv_shapes(x.shape(), w.shape(), p).unwrap();
    let mut got = residual.clone();
    conv_into(
        x.view(),
        w.view(),
        Some(b.view()),
        p,
        got.view_mut(),
        &mut vec![f32::NAN; len],
    )
    .unwrap();
    got
}

/// The convolution's definition in f64 for one sample of `[c, h, w]` and `[m, c, kh, kw]`
/// weights, with any strides, `[top, left, bottom, right]` pads and dilations, plus `bias`.
fn definition(
    x: &ArrayD<f32>,
    w: &ArrayD<f32>,
    bias: &[f32],
    strides: [usize; 2],
    pads: [usize; 4],
    dilations: [usize; 2],
) -> ArrayD<f32> {
    let (c, h, wd) = (x.shape()[1], x.shape()[2], x.shape()[3]);
    let (m, kh, kw) = (w.shape()[0], w.shape()[2], w.shape()[3]);
    let out_len = |len: usize, k: usize, a: usize| {
        (len + pads[a] + pads[a + 2] - dilations[a] * (k - 1) - 1) / strides[a] + 1
    };
    let (oh, ow) = (out_len(h, kh, 0), out_len(wd, kw, 1));
    ArrayD::from_shape_fn(IxDyn(&[1, m, oh, ow]), |i| {
        let (f, y, xo) = (i[1], i[2], i[3]);
        let mut sum = f64::from(bias[f]);
        for ci in 0..c {
            for ky in 0..kh {
                for kx in 0..kw {
                    let iy = (y * strides[0] + ky * dilations[0]).checked_sub(pads[0]);
                    let ix = (xo * strides[1] + kx * dilations[1]).checked_sub(pads[1]);
                    if let (Some(iy), Some(ix)) = (iy.filter(|&v| v < h), ix.filter(|&v| v < wd)) {
                        sum += f64::from(w[[f, ci, ky, kx]]) * f64::from(x[[0, ci, iy, ix]]);
                    }
                }
            }
        }
        sum as f32
    })
}

/// Dense convolutions of every layout the runtime picks (tiles cut at every width, partial
/// filter blocks, column strides 1 and 2, dilations, uneven pads, an input taller than one
/// block, a deep 256-channel input, a 3-channel stem, a 1-D row): each is its definition's
/// sum with a bias and a ReLU, and with a residual added before the ReLU; a workspace full
/// of NaN changes nothing.
#[test]
fn dense_convolutions_match_the_definition() {
    // (filters, channels, height, width, kernel, strides, pads, dilations)
    type Case = (
        usize,
        usize,
        usize,
        usize,
        [usize; 2],
        [usize; 2],
        [usize; 4],
        [usize; 2],
    );
    let cases: [Case; 7] = [
        (48, 8, 23, 37, [3, 3], [1, 1], [1, 1, 1, 1], [1, 1]),
        (32, 16, 17, 29, [3, 3], [2, 2], [1, 0, 0, 1], [1, 1]),
        (16, 6, 21, 19, [3, 5], [1, 2], [2, 3, 1, 0], [2, 1]),
        (24, 16, 190, 60, [3, 3], [1, 1], [1, 1, 1, 1], [1, 1]),
        (70, 256, 7, 9, [3, 3], [1, 1], [1, 1, 1, 1], [1, 1]),
        (20, 3, 45, 41, [7, 7], [2, 2], [3, 3, 3, 3], [1, 1]),
        (16, 4, 1, 50, [1, 3], [1, 1], [0, 1, 0, 1], [1, 1]),
    ];
    for (m, c, h, wd, kernel, strides, pads, dilations) in cases {
        let x = ArrayD::from_shape_fn(IxDyn(&[1, c, h, wd]), |i| {
            ((i[1] * 13 + i[2] * 7 + i[3] * 3) % 19) as f32 * 0.125 - 1.0
        });
        let w = ArrayD::from_shape_fn(IxDyn(&[m, c, kernel[0], kernel[1]]), |i| {
            ((i[0] * 5 + i[1] * 3 + i[2] * 2 + i[3]) % 11) as f32 * 0.0625 - 0.3
        });
        let bias: Vec<f32> = (0..m).map(|f| f as f32 * 0.05 - 0.5).collect();
        let b = ArrayD::from_shape_vec(IxDyn(&[m]), bias.clone()).unwrap();
        let conv = definition(&x, &w, &bias, strides, pads, dilations);
        let p = ConvParams {
            strides: &strides,
            pads: &pads,
            dilations: &dilations,
            group: 1,
            activation: Unary::Relu,
            ..Default::default()
        };
        let what =
            format!("{m}x{c}x{h}x{wd} {kernel:?}/{strides:?} pads {pads:?} dil {dilations:?}");
        assert_close(
            &run(x.view(), &w, Some(&b), p),
            &conv.mapv(|v| v.max(0.0)),
            &what,
        );
        let residual = conv.mapv(|v| 0.5 - v * 0.25);
        let p = ConvParams {
            accumulate: true,
            ..p
        };
        let got = added_to(&residual, &x, &w, &b, p);
        let expected = (&conv + &residual).mapv(|v| v.max(0.0));
        assert_close(&got, &expected, &format!("{what}, accumulating"));
    }
}

/// Depthwise convolutions with dilations, uneven pads and a residual, over planes small
/// enough to interleave 16 channels at a time (`conv/interleaved.rs`, rows of up to 16
/// outputs) and ones that are not:
/// each channel is its definition's sum over that channel alone; a workspace full of NaN
/// changes nothing.
#[test]
fn depthwise_convolutions_with_residuals_match_the_definition() {
    // (channels, height, width, kernel, strides, pads, dilations)
    type Case = (
        usize,
        usize,
        usize,
        [usize; 2],
        [usize; 2],
        [usize; 4],
        [usize; 2],
    );
    let cases: [Case; 7] = [
        (24, 6, 40, [3, 5], [1, 1], [1, 2, 1, 2], [1, 1]),
        (19, 7, 9, [5, 5], [1, 1], [2, 1, 2, 3], [1, 1]),
        // Over the `threads` feature's split size: blocks of channels on each thread.
        (96, 12, 14, [5, 5], [1, 1], [2, 2, 2, 2], [1, 1]),
        (8, 13, 10, [3, 3], [2, 1], [1, 1, 0, 1], [2, 2]),
        (40, 1, 30, [1, 5], [1, 2], [0, 2, 0, 2], [1, 1]),
        (16, 28, 28, [3, 3], [2, 2], [0, 0, 1, 1], [1, 1]),
        (9, 80, 70, [3, 3], [1, 1], [1, 1, 1, 1], [1, 1]),
    ];
    for (c, h, wd, kernel, strides, pads, dilations) in cases {
        let x = ArrayD::from_shape_fn(IxDyn(&[1, c, h, wd]), |i| {
            ((i[1] * 13 + i[2] * 7 + i[3] * 3) % 19) as f32 * 0.125 - 1.0
        });
        let w = ArrayD::from_shape_fn(IxDyn(&[c, 1, kernel[0], kernel[1]]), |i| {
            ((i[0] * 5 + i[2] * 2 + i[3]) % 11) as f32 * 0.0625 - 0.3
        });
        let bias: Vec<f32> = (0..c).map(|f| f as f32 * 0.05 - 0.5).collect();
        let b = ArrayD::from_shape_vec(IxDyn(&[c]), bias.clone()).unwrap();
        let channels: Vec<_> = (0..c)
            .map(|ch| {
                let xc = x
                    .slice(ndarray::s![.., ch..=ch, .., ..])
                    .to_owned()
                    .into_dyn();
                let wc = w
                    .slice(ndarray::s![ch..=ch, .., .., ..])
                    .to_owned()
                    .into_dyn();
                definition(&xc, &wc, &bias[ch..=ch], strides, pads, dilations)
            })
            .collect();
        let views: Vec<_> = channels.iter().map(|a| a.view()).collect();
        let conv = ndarray::concatenate(ndarray::Axis(1), &views).unwrap();
        let residual = conv.mapv(|v| 0.5 - v * 0.25);
        let p = ConvParams {
            strides: &strides,
            pads: &pads,
            dilations: &dilations,
            group: c,
            activation: Unary::Relu,
            accumulate: true,
            ..Default::default()
        };
        let got = added_to(&residual, &x, &w, &b, p);
        let expected = (&conv + &residual).mapv(|v| v.max(0.0));
        let what = format!(
            "depthwise {c}x{h}x{wd} {kernel:?}/{strides:?} pads {pads:?} dil {dilations:?}"
        );
        assert_close(&got, &expected, &what);
    }
}
