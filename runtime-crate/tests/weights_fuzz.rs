//! Bounded fuzzing of the weights loader: mutated, truncated and extended safetensors
//! buffers must give `Ok` or `Err`, never a panic. A deterministic xorshift drives the
//! mutations, so a failure reproduces; `ONNX2RS_FUZZ_CASES` sets a longer run.

use onnx2rs_runtime::Weights;

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
fn mutated_weight_files_never_panic() {
    let good = std::fs::read("tests/data/tiny.safetensors").expect("test data");
    let cases: usize = std::env::var("ONNX2RS_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    for case in 0..cases {
        let mut bytes = good.clone();
        for _ in 0..1 + rng.below(4) {
            match rng.below(4) {
                0 => {
                    let at = rng.below(bytes.len());
                    bytes[at] = rng.next() as u8;
                }
                1 => bytes.truncate(rng.below(bytes.len())),
                2 => bytes.extend((0..rng.below(16)).map(|_| rng.next() as u8)),
                _ => {
                    // Header digits are the likeliest to matter: change one to another digit.
                    let digits: Vec<usize> = (0..bytes.len().min(200))
                        .filter(|&i| bytes[i].is_ascii_digit())
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
            if let Ok(w) = Weights::parse(&bytes) {
                let _ = w.tensor::<f32>("a", &[2, 2]);
                let _ = w.tensor::<i64>("a", &[4]);
                let _ = w.names();
            }
        });
        assert!(outcome.is_ok(), "case {case} panicked on {bytes:?}");
    }
}
