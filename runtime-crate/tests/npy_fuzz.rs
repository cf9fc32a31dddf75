//! Bounded fuzzing of the `.npy` reader: mutated, truncated and extended files must give
//! `Ok` or `Err`, never a panic. A deterministic xorshift drives the mutations, so a failure
//! reproduces; `ONNX2RS_FUZZ_CASES` sets a longer run.

use ndarray::{ArrayD, IxDyn};
use onnx2rs_runtime::npy::{npy_from_bytes, write_npy};

struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

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
    let cases: usize = std::env::var("ONNX2RS_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let mut rng = XorShift(0x2545_F491_4F6C_DD1D);
    let header = good.iter().position(|&b| b == b'\n').unwrap_or(good.len());
    for case in 0..cases {
        let mut bytes = good.clone();
        for _ in 0..1 + rng.below(4) {
            match rng.below(5) {
                0 => {
                    let at = rng.below(bytes.len());
                    bytes[at] = rng.next() as u8;
                }
                1 => bytes.truncate(rng.below(bytes.len())),
                2 => bytes.extend((0..rng.below(16)).map(|_| rng.next() as u8)),
                3 => {
                    // The header's text is where a parser breaks: one byte of it replaced
                    // by another printable or punctuation byte.
                    let at = rng.below(header.min(bytes.len()));
                    let pool = b" '(),:{}0123456789-<>|fiubTrueFalse\x00\xff";
                    bytes[at] = pool[rng.below(pool.len())];
                }
                _ => {
                    // The header length and the shape's digits.
                    let digits: Vec<usize> = (0..header.min(bytes.len()))
                        .filter(|&i| i == 8 || i == 9 || bytes[i].is_ascii_digit())
                        .collect();
                    if !digits.is_empty() {
                        let at = digits[rng.below(digits.len())];
                        bytes[at] = b'0' + rng.below(10) as u8;
                    }
                }
            }
            if bytes.is_empty() {
                break;
            }
        }
        let outcome = std::panic::catch_unwind(|| {
            let _ = npy_from_bytes::<f32>(&bytes);
            let _ = npy_from_bytes::<i64>(&bytes);
            let _ = npy_from_bytes::<bool>(&bytes);
        });
        assert!(outcome.is_ok(), "case {case} panicked on {bytes:?}");
    }
}
