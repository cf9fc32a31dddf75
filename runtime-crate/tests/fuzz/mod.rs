//! What the fuzz tests share: a deterministic xorshift, so that a failure reproduces, the
//! mutations they apply, and how many cases they run (`ONNX2RS_FUZZ_CASES`, default 20,000).

/// A xorshift64 generator.
pub struct XorShift(pub u64);

impl XorShift {
    /// The next 64 random bits.
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    /// A number below `n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// How many cases to run.
pub fn cases() -> usize {
    std::env::var("ONNX2RS_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000)
}

/// One to four mutations of `bytes`: a byte set at random, the end cut off, random bytes
/// added, or one of the first `header` bytes that is a digit changed to another digit
/// (lengths and shapes are the likeliest to matter); `extra`, when given, is one more kind.
pub fn mutate(
    bytes: &mut Vec<u8>,
    rng: &mut XorShift,
    header: usize,
    extra: Option<fn(&mut [u8], &mut XorShift)>,
) {
    for _ in 0..1 + rng.below(4) {
        match rng.below(if extra.is_some() { 5 } else { 4 }) {
            0 => {
                let at = rng.below(bytes.len());
                bytes[at] = rng.next() as u8;
            }
            1 => bytes.truncate(rng.below(bytes.len())),
            2 => bytes.extend((0..rng.below(16)).map(|_| rng.next() as u8)),
            3 => {
                let digits: Vec<usize> = (0..bytes.len().min(header))
                    .filter(|&i| bytes[i].is_ascii_digit())
                    .collect();
                if !digits.is_empty() {
                    let at = digits[rng.below(digits.len())];
                    bytes[at] = b'0' + rng.below(10) as u8;
                }
            }
            _ => {
                if let Some(extra) = extra {
                    extra(bytes, rng);
                }
            }
        }
        if bytes.is_empty() {
            break;
        }
    }
}
