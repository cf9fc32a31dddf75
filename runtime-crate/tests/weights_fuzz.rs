//! Bounded fuzzing of the weights loader: mutated, truncated and extended safetensors
//! buffers must give `Ok` or `Err`, never a panic. A deterministic xorshift drives the
//! mutations, so a failure reproduces; `ONNX2RS_FUZZ_CASES` sets a longer run.

use onnx2rs_runtime::Weights;

mod fuzz;

#[test]
fn mutated_weight_files_never_panic() {
    let good = std::fs::read("tests/data/tiny.safetensors").expect("test data");
    let mut rng = fuzz::XorShift(0x9E37_79B9_7F4A_7C15);
    for case in 0..fuzz::cases() {
        let mut bytes = good.clone();
        fuzz::mutate(&mut bytes, &mut rng, 200, None);
        let outcome = std::panic::catch_unwind(|| {
            if let Ok(w) = Weights::parse(&bytes) {
                let _ = w.tensor::<f32>("a", &[2, 2]);
                let _ = w.tensor::<i64>("a", &[4]);
                let _ = w.names();
            }
        });
        assert!(outcome.is_ok(), "case {case} panicked on {bytes:?}");
    }
}
