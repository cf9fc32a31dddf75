//! Single-core GFLOP/s of each candidate GEMM on the shapes our models produce, and
//! the heap allocations each makes per call (our `predict` promises none).
use ndarray::{ArrayView2, ArrayViewMut2};
use onnx2rs_runtime::ops::{
    mat_mul_into_on, mat_mul_packed_into, packed_workspace_len, Isa, RowMajor,
};
use std::time::Instant;

/// Median GFLOP/s of `f` over 15 samples of about 0.1 s each.
fn gflops(mut f: impl FnMut(), flops: f64) -> f64 {
    for _ in 0..3 {
        f();
    }
    let reps = ((2e8 / flops) as usize).clamp(1, 100_000);
    let mut samples: Vec<f64> = (0..15)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..reps {
                f();
            }
            t.elapsed().as_secs_f64() / reps as f64
        })
        .collect();
    samples.sort_by(f64::total_cmp);
    flops / samples[samples.len() / 2] / 1e9
}

fn main() {
    println!("| m × k × n | ours ({:?}) | ours (Avx2) | ours, B packed | matrixmultiply | gemm | OpenBLAS | allocations per call (ours / matrixmultiply / gemm) |", Isa::best());
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |");
    let shapes = [
        (512, 512, 512),
        (256, 256, 256),
        (64, 576, 256),
        (16, 144, 1024),
        (32, 80, 64),
        (32, 96, 30),
        (1, 256, 256),
        (1, 32, 32),
        (8, 16, 8),
        (16, 144, 3136),  // resnet50-light: 3x3 conv, stage 1
        (64, 16, 3136),   // 1x1 expand, stage 1
        (16, 64, 3136),   // 1x1 reduce, stage 1
        (16, 147, 12544), // 7x7 stem
        (32, 288, 784),   // 3x3 conv, stage 2
        (128, 1152, 49),  // 3x3 conv, stage 4
        (128, 768, 768),  // bert-base: attention projections
        (128, 768, 3072), // bert-base: FFN up
        (128, 3072, 768), // bert-base: FFN down
        (64, 576, 3136),  // resnet18: 3x3 conv, stage 1
        (128, 1152, 784), // resnet18: 3x3 conv, stage 2
        (256, 2304, 196), // resnet18: 3x3 conv, stage 3
        (512, 4608, 49),  // resnet18: 3x3 conv, stage 4
    ];
    let only: Option<usize> = std::env::var("FROM").ok().and_then(|v| v.parse().ok());
    let shapes = &shapes[only.unwrap_or(0)..];
    for &(m, k, n) in shapes {
        let a: Vec<f32> = (0..m * k).map(|i| (i % 7) as f32 * 0.1).collect();
        let b: Vec<f32> = (0..k * n).map(|i| (i % 5) as f32 * 0.1).collect();
        let mut c = vec![0f32; m * n];
        let flops = 2.0 * (m * k * n) as f64;
        let av = ArrayView2::from_shape((m, k), &a).unwrap();
        let bv = ArrayView2::from_shape((k, n), &b).unwrap();
        let on = |isa: Isa, c: &mut [f32]| {
            let mut cv = ArrayViewMut2::from_shape((m, n), c).unwrap();
            mat_mul_into_on(isa, 1.0, av, bv, 0.0, &mut cv).unwrap();
        };
        let mut ours = |c: &mut [f32]| on(Isa::best(), c);
        // What a CPU without AVX-512 runs (most laptops).
        let avx2 = match Isa::Avx2.is_available() {
            true => format!("{:.1}", gflops(|| on(Isa::Avx2, &mut c), flops)),
            false => "–".to_string(),
        };
        let mut ws = vec![0f32; packed_workspace_len(k, n)];
        let mut packed = |c: &mut [f32]| {
            let b = RowMajor { values: &b, n };
            mat_mul_packed_into(&a, &b, c, (m, k, n), &mut ws, false).unwrap();
        };
        // SAFETY (both): the pointers and strides describe the live row-major buffers above.
        let mut mm = |c: &mut [f32]| unsafe {
            matrixmultiply::sgemm(
                m,
                k,
                n,
                1.0,
                a.as_ptr(),
                k as isize,
                1,
                b.as_ptr(),
                n as isize,
                1,
                0.0,
                c.as_mut_ptr(),
                n as isize,
                1,
            )
        };
        let mut ge = |c: &mut [f32]| unsafe {
            gemm::gemm(
                m,
                n,
                k,
                c.as_mut_ptr(),
                1,
                n as isize,
                false,
                a.as_ptr(),
                1,
                k as isize,
                b.as_ptr(),
                1,
                n as isize,
                0.0f32,
                1.0f32,
                false,
                false,
                false,
                gemm::Parallelism::None,
            )
        };
        let allocs = |f: &mut dyn FnMut(&mut [f32]), c: &mut [f32]| {
            f(c);
            allocation_counter::measure(|| f(c)).count_total
        };
        let counts = (
            allocs(&mut ours, &mut c),
            allocs(&mut mm, &mut c),
            allocs(&mut ge, &mut c),
        );
        let p = gflops(|| packed(&mut c), flops);
        let (o, x, g) = (
            gflops(|| ours(&mut c), flops),
            gflops(|| mm(&mut c), flops),
            gflops(|| ge(&mut c), flops),
        );
        println!(
            "| {m} × {k} × {n} | {o:.1} | {avx2} | {p:.1} | {x:.1} | {g:.1} | {} | {} / {} / {} |",
            openblas(&a, &b, &mut c, (m, k, n), flops),
            counts.0,
            counts.1,
            counts.2
        );
    }
}

#[cfg(feature = "openblas")]
fn openblas(
    a: &[f32],
    b: &[f32],
    c: &mut [f32],
    (m, k, n): (usize, usize, usize),
    flops: f64,
) -> String {
    use cblas_sys::{cblas_sgemm, CBLAS_LAYOUT::CblasRowMajor, CBLAS_TRANSPOSE::CblasNoTrans};
    let (mi, ki, ni) = (m as i32, k as i32, n as i32);
    // SAFETY: as above; OpenBLAS reads a and b and writes c within their lengths.
    let g = gflops(
        || unsafe {
            cblas_sgemm(
                CblasRowMajor,
                CblasNoTrans,
                CblasNoTrans,
                mi,
                ni,
                ki,
                1.0,
                a.as_ptr(),
                ki,
                b.as_ptr(),
                ni,
                0.0,
                c.as_mut_ptr(),
                ni,
            )
        },
        flops,
    );
    format!("{g:.1}")
}

#[cfg(not(feature = "openblas"))]
fn openblas(_: &[f32], _: &[f32], _: &mut [f32], _: (usize, usize, usize), _: f64) -> String {
    "–".into()
}
