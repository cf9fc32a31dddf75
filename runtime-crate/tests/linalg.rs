//! The GEMM kernel against ndarray's matrixmultiply-backed `dot`, over shapes and layouts.

use ndarray::{Array2, ShapeBuilder};
use onnx2rs_runtime::ops::mat_mul_into;

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

#[test]
fn matches_ndarray_dot_over_shapes_and_layouts() {
    for &(m, k, n) in &[
        (1, 1, 1),
        (3, 5, 7),
        (4, 8, 16),
        (9, 33, 300),
        (17, 2, 513),
        (64, 80, 64),
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
                let mut ours = c0.clone();
                mat_mul_into(alpha, a.view(), b.view(), beta, &mut ours.view_mut()).unwrap();
                let expected = a.dot(&b) * alpha + &c0 * beta;
                let worst = (&ours - &expected)
                    .iter()
                    .fold(0.0f32, |w, d| w.max(d.abs()));
                assert!(
                    worst < 1e-4,
                    "{m}x{k}x{n} layouts {a_cm}/{b_cm}/{c_cm}: error {worst}"
                );
            }
        }
    }
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
