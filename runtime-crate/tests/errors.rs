//! Bad shapes, indices and weights give errors, never panics.

use ndarray::{array, ArrayD, IxDyn};
use onnx2rs_runtime::ops::{self, ConvParams, GemmParams, PoolParams};
use onnx2rs_runtime::{Error, Weights};

fn zeros(shape: &[usize]) -> ArrayD<f32> {
    ArrayD::zeros(IxDyn(shape))
}

#[test]
fn broadcasting_mismatch_is_a_shape_error() {
    let r = ops::add(zeros(&[2, 3]).view(), zeros(&[4]).view());
    assert!(matches!(r, Err(Error::Shape(_))));
    let r = ops::where_(
        array![true, false].into_dyn().view(),
        zeros(&[3]).view(),
        zeros(&[2]).view(),
    );
    assert!(matches!(r, Err(Error::Shape(_))));
}

#[test]
fn gather_out_of_range_is_an_index_error() {
    let table = zeros(&[4, 2]);
    for bad in [4i64, -5, i64::MAX, i64::MIN] {
        let r = ops::gather(table.view(), array![bad].into_dyn().view(), 0);
        assert!(matches!(r, Err(Error::Index(_))), "{bad}");
    }
    assert!(ops::gather(table.view(), array![0i64].into_dyn().view(), 2).is_err());
}

#[test]
fn conv_and_pool_reject_bad_geometry() {
    let p = ConvParams {
        strides: &[1, 1],
        pads: &[0, 0, 0, 0],
        dilations: &[1, 1],
        group: 1,
        activation: Default::default(),
        accumulate: false,
        pool: &[],
    };
    // channel mismatch
    assert!(ops::conv(
        zeros(&[1, 3, 4, 4]).view(),
        zeros(&[2, 2, 3, 3]).view(),
        None,
        p
    )
    .is_err());
    // kernel larger than input
    assert!(ops::conv(
        zeros(&[1, 1, 2, 2]).view(),
        zeros(&[1, 1, 3, 3]).view(),
        None,
        p
    )
    .is_err());
    // zero stride
    let z = ConvParams {
        strides: &[0, 1],
        ..p
    };
    assert!(ops::conv(
        zeros(&[1, 1, 4, 4]).view(),
        zeros(&[1, 1, 1, 1]).view(),
        None,
        z
    )
    .is_err());
    // group that does not divide
    let g = ConvParams { group: 2, ..p };
    assert!(ops::conv(
        zeros(&[1, 3, 4, 4]).view(),
        zeros(&[2, 1, 1, 1]).view(),
        None,
        g
    )
    .is_err());
    // a fused max pool of the wrong rank or size, or one that would accumulate
    let x = zeros(&[1, 2, 6, 6]);
    let w3 = zeros(&[2, 2, 3, 3]);
    for (w, pool, accumulate) in [
        (&w3, &[2][..], false),
        (&w3, &[2, 0][..], false),
        (&w3, &[2, 2][..], true),
        (&zeros(&[2, 2, 1, 1]), &[2, 2][..], true), // pooled after the product, too
    ] {
        let q = ConvParams {
            pool,
            accumulate,
            ..p
        };
        assert!(
            ops::conv(x.view(), w.view(), None, q).is_err(),
            "{pool:?} {accumulate}"
        );
    }
    let pool = PoolParams {
        kernel: &[5],
        strides: &[1],
        pads: &[0, 0],
        dilations: &[1],
        ceil_mode: false,
        count_include_pad: false,
    };
    assert!(ops::max_pool(zeros(&[1, 1, 3]).view(), pool).is_err());
    assert!(ops::max_pool(zeros(&[1, 1, 3, 3, 3]).view(), pool).is_err());
}

#[test]
fn matmul_and_gemm_reject_mismatched_operands() {
    assert!(ops::matmul(zeros(&[2, 3]).view(), zeros(&[4, 2]).view()).is_err());
    assert!(ops::matmul(zeros(&[]).view(), zeros(&[2]).view()).is_err());
    let p = GemmParams {
        alpha: 1.0,
        beta: 1.0,
        trans_a: false,
        trans_b: false,
        activation: Default::default(),
    };
    assert!(ops::gemm(zeros(&[2, 3]).view(), zeros(&[2, 3]).view(), None, p).is_err());
    assert!(ops::gemm(zeros(&[2]).view(), zeros(&[2, 3]).view(), None, p).is_err());
}

#[test]
fn shape_ops_reject_bad_arguments() {
    assert!(ops::reshape(zeros(&[2, 3]).view(), &[4]).is_err());
    assert!(ops::transpose(zeros(&[2, 3]).view(), &[0, 0]).is_err());
    assert!(ops::transpose(zeros(&[2, 3]).view(), &[0, 5]).is_err());
    assert!(ops::concat(&[zeros(&[2, 3]).view(), zeros(&[3, 3]).view()], 1).is_err());
    assert!(ops::softmax(zeros(&[2, 3]).view(), 2).is_err());
}

#[test]
fn integer_division_by_zero_and_overflow_do_not_panic() {
    let y = ops::div(
        array![i32::MIN, 5].into_dyn().view(),
        array![-1, 0].into_dyn().view(),
    )
    .unwrap();
    assert_eq!(y[[1]], 0);
}

#[test]
fn weights_are_checked_at_load() {
    let bytes = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/tiny.safetensors"
    ))
    .unwrap();
    let w = Weights::parse(&bytes).unwrap();
    assert!(matches!(
        w.tensor::<i64>("a", &[2, 2]),
        Err(Error::Weights(_))
    ));
    assert!(matches!(
        w.tensor::<f32>("a", &[2, 3]),
        Err(Error::Weights(_))
    ));
    assert!(matches!(
        w.tensor::<f32>("zzz", &[1]),
        Err(Error::Weights(_))
    ));
    assert!(w.expect_names(&["a"]).is_err());
    assert!(w.expect_names(&["a", "b", "c"]).is_err());
    assert!(w.expect_names(&["a", "b"]).is_ok());
    for cut in [0, 7, 8, 20, bytes.len() - 1] {
        assert!(
            matches!(Weights::parse(&bytes[..cut]), Err(Error::Weights(_))),
            "{cut}"
        );
    }
}
