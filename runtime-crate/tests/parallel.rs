//! The `threads` feature's pool: every task runs exactly once, nested and concurrent
//! jobs fall back to running in order, a panic reaches the caller, and element-wise work
//! split between threads gives what one loop over the values gives.
#![cfg(feature = "threads")]

use ndarray::{ArrayD, IxDyn};
use onnx2rs_runtime::ops::{
    binary_flat_inplace, unary_flat_inplace, zip_with_inplace, zip_with_into, Binary, Unary,
};
use onnx2rs_runtime::pool;
use std::sync::atomic::{AtomicUsize, Ordering};

#[test]
fn every_task_runs_once() {
    for tasks in [0, 1, 2, 3, 17, 1000] {
        let counts: Vec<AtomicUsize> = (0..tasks).map(|_| AtomicUsize::new(0)).collect();
        pool::run(tasks, &|i| {
            counts[i].fetch_add(1, Ordering::Relaxed);
        });
        assert!(
            counts.iter().all(|c| c.load(Ordering::Relaxed) == 1),
            "{tasks} tasks"
        );
    }
}

#[test]
fn nested_and_concurrent_jobs_run_every_task() {
    let total = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| {
                for _ in 0..200 {
                    pool::run(4, &|_| {
                        pool::run(3, &|_| {
                            total.fetch_add(1, Ordering::Relaxed);
                        })
                    });
                }
            });
        }
    });
    assert_eq!(total.into_inner(), 4 * 200 * 4 * 3);
}

#[test]
fn a_panicking_task_panics_the_caller_and_the_pool_goes_on() {
    let caught = std::panic::catch_unwind(|| {
        pool::run(8, &|i| {
            assert!(i != 5, "task 5 fails");
        })
    });
    assert!(caught.is_err());
    let ran = AtomicUsize::new(0);
    pool::run(8, &|_| {
        ran.fetch_add(1, Ordering::Relaxed);
    });
    assert_eq!(ran.into_inner(), 8);
}

fn values(n: usize, seed: usize) -> Vec<f32> {
    (0..n)
        .map(|i| ((i * 7 + seed) % 23) as f32 * 0.25 - 2.5)
        .collect()
}

#[test]
fn split_element_wise_work_matches_one_loop() {
    // Long enough to be split, and of a length no split divides evenly.
    let n = 3 * 65_536 + 7;
    let (a, b) = (values(n, 1), values(n, 5));
    let mut sum = a.clone();
    binary_flat_inplace(&mut sum, &b, Binary::Mul).unwrap();
    assert!(sum
        .iter()
        .zip(a.iter().zip(&b))
        .all(|(&s, (&x, &y))| s == x * y));

    let mut t = a.clone();
    unary_flat_inplace(&mut t, Unary::Relu);
    assert!(t.iter().zip(&a).all(|(&r, &x)| r == x.max(0.0)));

    // A bias per channel, a row repeated along the planes, and equal shapes.
    let (c, h, w) = (24, 97, 101);
    let x = ArrayD::from_shape_vec(IxDyn(&[1, c, h, w]), values(c * h * w, 3)).unwrap();
    let per_channel = ArrayD::from_shape_vec(IxDyn(&[1, c, 1, 1]), values(c, 9)).unwrap();
    let row = ArrayD::from_shape_vec(IxDyn(&[w]), values(w, 11)).unwrap();
    for (b, what) in [
        (&per_channel, "per channel"),
        (&row, "repeated row"),
        (&x, "equal"),
    ] {
        let expected = ndarray::Zip::from(&x)
            .and_broadcast(b.broadcast(x.raw_dim()).unwrap())
            .map_collect(|&p, &q| p - 2.0 * q);
        let mut out = ArrayD::zeros(x.raw_dim());
        zip_with_into(x.view(), b.view(), out.view_mut(), |p, q| p - 2.0 * q).unwrap();
        assert_eq!(out, expected, "{what}, into");
        let mut inplace = x.clone();
        zip_with_inplace(inplace.view_mut(), b.view(), |p, q| p - 2.0 * q).unwrap();
        assert_eq!(inplace, expected, "{what}, in place");
    }
}
