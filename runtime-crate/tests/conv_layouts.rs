//! A convolution over a strided (non-contiguous) input view gives what it gives over the
//! same values laid out contiguously, which tests/ops checks against ONNX Runtime.

use ndarray::{Array4, ArrayD, IxDyn};
use onnx2rs_runtime::ops::{conv_into, conv_shapes, ConvParams};

fn run(x: ndarray::ArrayViewD<'_, f32>, w: &ArrayD<f32>, p: ConvParams<'_>) -> ArrayD<f32> {
    let (shape, workspace) = conv_shapes(x.shape(), w.shape(), p).unwrap();
    let mut out = ArrayD::zeros(IxDyn(&shape));
    let mut ws = vec![0.0; workspace];
    conv_into(x, w.view(), None, p, out.view_mut(), &mut ws).unwrap();
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
        let expected = run(contiguous.view(), &w, p);
        let got = run(strided.view(), &w, p);
        let worst = (&got - &expected)
            .iter()
            .fold(0.0f32, |m, d| m.max(d.abs()));
        assert!(
            worst < 1e-4,
            "{kernel}x{kernel} stride {stride}: error {worst}"
        );
    }
}
