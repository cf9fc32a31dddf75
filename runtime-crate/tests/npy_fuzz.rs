//! Bounded fuzzing of the `.npy` reader: mutated, truncated and extended files must give
//! `Ok` or `Err`, never a panic. A deterministic xorshift drives the mutations, so a failure
//! reproduces; `ONNX2RS_FUZZ_CASES` sets a longer run.

use ndarray::{ArrayD, IxDyn};
use onnx2rs_runtime::npy::{npy_from_bytes, write_npy};

mod fuzz;

#[test]
fn mutated_npy_files_never_panic() {
    let path = std::env::temp_dir().join(format!("onnx2rs-npy-fuzz-{}.npy", std::process::id()));
    let x = ArrayD::from_shape_fn(IxDyn(&[2, 3, 4]), |i| (i[0] * 12 + i[1] * 4 + i[2]) as f32);
    write_npy(&path, &x).expect("write");
    let good = std::fs::read(&path).expect("read back");
    std::fs::remove_file(&path).ok();
    assert_eq!(
        npy_from_bytes::<f32>(&good).expect("the unmutated file reads"),
        x
    );
    let mut rng = fuzz::XorShift(0x2545_F491_4F6C_DD1D);
    let header = good.iter().position(|&b| b == b'\n').unwrap_or(good.len());
    for case in 0..fuzz::cases() {
        let mut bytes = good.clone();
        fuzz::mutate(&mut bytes, &mut rng, header, Some(header_byte));
        let outcome = std::panic::catch_unwind(|| {
            let _ = npy_from_bytes::<f32>(&bytes);
            let _ = npy_from_bytes::<i64>(&bytes);
            let _ = npy_from_bytes::<bool>(&bytes);
        });
        assert!(outcome.is_ok(), "case {case} panicked on {bytes:?}");
    }
}

/// The header's text is where a parser breaks: one byte of its dict replaced by a quote,
/// bracket, digit, letter of a keyword, or a byte that is not text.
fn header_byte(bytes: &mut [u8], rng: &mut fuzz::XorShift) {
    let end = bytes
        .iter()
        .position(|&b| b == b'\n')
        .unwrap_or(bytes.len());
    if end > 10 {
        let pool = b" '(),:{}0123456789-<>|fiubTrueFalse\x00\xff";
        bytes[10 + rng.below(end - 10)] = pool[rng.below(pool.len())];
    }
}
