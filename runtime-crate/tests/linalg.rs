//! The GEMM kernel against ndarray's matrixmultiply-backed `dot`, over shapes and layouts.

use ndarray::{Array2, ShapeBuilder};
use onnx2rs_runtime::ops::{
    mat_mul_into, mat_mul_into_on, mat_mul_packed_into_on, mat_mul_prepacked_into,
    mat_mul_prepacked_into_on, packed_workspace_len, Isa, PackedB, RowMajor,
};

fn filled(m: usize, n: usize, seed: f32, column_major: bool) -> Array2<f32> {
    let mut a = if column_major {
        Array2::zeros((m, n).f())
    } else {
        Array2::zeros((m, n))
    };
    for ((i, j), v) in a.indexed_iter_mut() {
        *v = ((i * 31 + j * 17) as f32 * 0.37 + seed).sin();
    }
    a
}

/// `ours` is within float rounding of `expected` for a product of depth `k`: errors
/// grow with the square root of the depth, relative to the largest value.
fn assert_close(ours: &Array2<f32>, expected: &Array2<f32>, k: usize, what: &str) {
    let worst = (ours - expected).iter().fold(0.0f32, |w, d| {
        if d.is_nan() {
            f32::INFINITY
        } else {
            w.max(d.abs())
        }
    });
    let scale = expected.iter().fold(1.0f32, |w, v| w.max(v.abs()));
    assert!(
        worst < 1e-5 * scale * (k as f32).sqrt(),
        "{what}: error {worst}"
    );
}

#[test]
fn matches_ndarray_dot_over_shapes_and_layouts() {
    for &(m, k, n) in &[
        (1, 1, 1),
        (1, 16, 36),  // one row: a recurrent cell's gates, a ragged last block
        (1, 75, 300), // one row, three depth blocks, an odd row count in the last
        (3, 5, 7),
        (4, 8, 16),
        (9, 33, 300),
        (17, 2, 513),
        (64, 80, 64),
        (13, 600, 40),   // two depth passes; 8 + 4 + 1 rows
        (7, 3, 1100),    // three column blocks, a ragged last tile
        (11, 257, 33),   // two equal depth passes of 129
        (16, 144, 288),  // one pass of 144: a 3×3 convolution over 16 channels
        (100, 130, 96),  // 56 + 44 rows
        (136, 130, 256), // over the `threads` feature's split size: 72 + 64 rows
        (33, 1024, 40),  // four strips of 8 rows, then one
        (9, 33, 1),      // a matrix times a vector: dot products
        (144, 576, 1),   // a squeeze-excitation's 1×1 convolution of one pixel
        // With `threads`, B wider than A is split into bands of C's columns (ops/linalg/bands.rs):
        (1, 300, 1000), // one row, two bands
        (8, 300, 1100), // ragged bands
        (200, 8, 800),  // each band in pieces of 320 columns, ragged
    ] {
        for (a_cm, b_cm, c_cm) in [
            (false, false, false),
            (false, true, false),
            (true, false, false),
            (false, false, true),
            (true, true, true),
        ] {
            let a = filled(m, k, 0.1, a_cm);
            let b = filled(k, n, 0.7, b_cm);
            let c0 = filled(m, n, 1.3, c_cm);
            for (alpha, beta) in [(1.0f32, 0.0f32), (0.5, 2.0), (1.0, 1.0)] {
                let expected = a.dot(&b) * alpha + &c0 * beta;
                for isa in [Isa::Avx512, Isa::Avx2, Isa::Baseline] {
                    if !isa.is_available() {
                        continue;
                    }
                    let mut ours = c0.clone();
                    mat_mul_into_on(isa, alpha, a.view(), b.view(), beta, &mut ours.view_mut())
                        .unwrap();
                    let what = format!("{isa:?} {m}x{k}x{n} layouts {a_cm}/{b_cm}/{c_cm}");
                    assert_close(&ours, &expected, k, &what);
                }
            }
        }
    }
}

#[test]
fn packed_products_match_ndarray_dot() {
    for &(m, k, n) in &[
        (1, 1, 1),
        (1, 16, 36),  // one row: a recurrent cell's gates, a ragged last block
        (1, 75, 300), // one row, three depth blocks, an odd row count in the last
        (3, 5, 7),
        (16, 144, 3136), // a 3x3 conv over 56x56: seven column blocks, a ragged tile
        (13, 600, 40),   // five depth blocks; 8 + 4 + 1 rows
        (7, 3, 1100),
        (64, 16, 512), // exactly one column block
        (2, 129, 33),  // one row past a depth block
    ] {
        let a = filled(m, k, 0.1, false);
        let b = filled(k, n, 0.7, false);
        let expected = a.dot(&b);
        for isa in [Isa::Avx512, Isa::Avx2, Isa::Baseline] {
            if !isa.is_available() {
                continue;
            }
            // NaN in C and in the spare workspace must not leak into the result.
            let mut ours = vec![f32::NAN; m * n];
            let mut ws = vec![f32::NAN; packed_workspace_len(k, n) + 7];
            let b = RowMajor {
                values: b.as_slice().unwrap(),
                n,
            };
            let a = a.as_slice().unwrap();
            mat_mul_packed_into_on(isa, a, &b, &mut ours, (m, k, n), &mut ws, false).unwrap();
            let scale = expected.iter().fold(1.0f32, |w, v| w.max(v.abs()));
            let close = |expected: &Array2<f32>, ours: &[f32], what: &str| {
                let worst = expected
                    .iter()
                    .zip(ours)
                    .fold(0.0f32, |w, (e, o)| w.max((e - o).abs()));
                assert!(
                    worst < 1e-5 * scale * (k as f32).sqrt(),
                    "{isa:?} {m}x{k}x{n} {what}: error {worst}"
                );
            };
            close(&expected, &ours, "overwriting");
            // Accumulating onto C: what is there counts once, whatever the depth blocks.
            let start = filled(m, n, 0.3, false);
            let mut ours = start.as_slice().unwrap().to_vec();
            mat_mul_packed_into_on(isa, a, &b, &mut ours, (m, k, n), &mut ws, true).unwrap();
            close(&(&expected + &start), &ours, "accumulating");
        }
    }
}

#[test]
fn prepacked_products_match_ndarray_dot() {
    for &(m, k, n) in &[
        (1, 1, 1),
        (1, 16, 36),    // one row, a ragged panel
        (3, 5, 7),      // a panel narrower than a tile
        (13, 600, 40),  // four passes of 150; 8 + 4 + 1 rows
        (11, 257, 33),  // two passes of 129
        (16, 144, 288), // one pass of 144
        (100, 130, 96), // many strips
        (7, 3, 1100),   // many panels, a ragged last
        (128, 768, 96), // a transformer's product at 128 tokens, narrowed
        // With `threads`, B wider than A is split into bands of C's columns:
        (1, 300, 1000),
        (8, 300, 1100),
        (200, 8, 800),
    ] {
        // B as stored (row-major) and as Gemm's transB gives it (a transposed view).
        for b_cm in [false, true] {
            let a = filled(m, k, 0.1, false);
            let b = filled(k, n, 0.7, b_cm);
            let c0 = filled(m, n, 1.3, false);
            let packed = PackedB::new(b.view());
            assert_eq!(packed.dim(), (k, n));
            for isa in [Isa::Avx512, Isa::Avx2, Isa::Baseline] {
                if !isa.is_available() {
                    continue;
                }
                for (alpha, accumulate) in [(1.0f32, false), (0.5, true)] {
                    let expected = a.dot(&b) * alpha + &c0 * f32::from(u8::from(accumulate));
                    // NaN in C must not leak into an overwritten result.
                    let mut ours = if accumulate {
                        c0.clone()
                    } else {
                        Array2::from_elem((m, n), f32::NAN)
                    };
                    let (a, c) = (a.as_slice().unwrap(), ours.as_slice_mut().unwrap());
                    mat_mul_prepacked_into_on(isa, alpha, a, &packed, c, accumulate).unwrap();
                    let what = format!("{isa:?} {m}x{k}x{n} transposed B {b_cm}, add {accumulate}");
                    assert_close(&ours, &expected, k, &what);
                }
            }
        }
    }
}

#[test]
fn prepacked_integer_products_are_exact_and_short_operands_are_errors() {
    let a = Array2::from_shape_fn((9, 170), |(i, j)| (i * 7 + j) as i64 % 11 - 5);
    let b = Array2::from_shape_fn((170, 35), |(i, j)| (i + 3 * j) as i64 % 13 - 6);
    let packed = PackedB::new(b.view());
    let mut c = Array2::<i64>::zeros((9, 35));
    let (a_values, c_values) = (a.as_slice().unwrap(), c.as_slice_mut().unwrap());
    mat_mul_prepacked_into(1, a_values, &packed, c_values, false).unwrap();
    assert_eq!(c, a.dot(&b));
    let mut short = vec![0i64; 9 * 35 - 1];
    assert!(mat_mul_prepacked_into(1, a_values, &packed, &mut short, false).is_err());
    let mut c = vec![0i64; 9 * 35];
    assert!(mat_mul_prepacked_into(1, &a_values[1..], &packed, &mut c, false).is_err());
    // Panels as the weights file holds them must have the shape the format gives.
    let wrong = ndarray::ArrayD::<i64>::zeros(vec![2, 170, 16]);
    assert!(PackedB::from_panels(wrong.view().into(), 170, 35).is_err());
}

#[test]
fn packed_product_refuses_short_operands() {
    let (a, b) = ([1.0f32; 6], [1.0f32; 6]);
    let mut c = [0.0f32; 4];
    let mut ws = vec![0.0f32; packed_workspace_len(3, 2) - 1];
    let b = RowMajor { values: &b, n: 2 };
    let result = mat_mul_packed_into_on(Isa::Baseline, &a, &b, &mut c, (2, 3, 2), &mut ws, false);
    assert!(result.is_err());
    let mut ws = vec![0.0f32; packed_workspace_len(3, 2)];
    let short = RowMajor {
        values: &[1.0f32; 5],
        n: 2,
    }; // 3 x 2 needs 6
    let result =
        mat_mul_packed_into_on(Isa::Baseline, &a, &short, &mut c, (2, 3, 2), &mut ws, false);
    assert!(
        result.is_err(),
        "a B smaller than the sizes say is an error, not a panic"
    );
}

#[test]
fn integer_products_are_exact() {
    let a = Array2::from_shape_fn((9, 37), |(i, j)| (i * 7 + j) as i32 % 11 - 5);
    let b = Array2::from_shape_fn((37, 35), |(i, j)| (i + 3 * j) as i32 % 13 - 6);
    let mut c = Array2::<i32>::zeros((9, 35));
    mat_mul_into(1, a.view(), b.view(), 0, &mut c.view_mut()).unwrap();
    assert_eq!(c, a.dot(&b));
}

#[test]
fn beta_zero_ignores_nan_in_c() {
    let a = Array2::<f32>::ones((2, 2));
    let mut c = Array2::from_elem((2, 2), f32::NAN);
    mat_mul_into(1.0, a.view(), a.view(), 0.0, &mut c.view_mut()).unwrap();
    assert_eq!(c, Array2::from_elem((2, 2), 2.0));
}

#[test]
fn mismatched_shapes_are_errors() {
    let a = Array2::<f32>::ones((2, 3));
    let mut c = Array2::<f32>::zeros((2, 2));
    assert!(mat_mul_into(1.0, a.view(), a.view(), 0.0, &mut c.view_mut()).is_err());
}
