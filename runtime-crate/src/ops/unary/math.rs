//! The activations' kernels in `f32`, without branches so that loops of them vectorise:
//! `tanh`, `sigmoid`, `exp`, `erf` and GELU, each tested against `f64` or libm below; and the
//! overflow-safe `f64` sigmoid that [`Unary`](super::Unary) computes with.

/// `tanh` as ONNX Runtime's MLAS computes it in `f32`: an odd rational minimax
/// approximation (degree 13 over 6) on `x` clamped to ±9, where `tanh` rounds to ±1.
/// It has no branches, so a loop of it vectorises; libm's `tanhf` is ~5× slower.
pub(crate) fn tanh_f32(x: f32) -> f32 {
    const ALPHA: [f32; 7] = [
        -2.760_768_5e-16,
        2.000_188e-13,
        -8.604_672e-11,
        5.122_297e-8,
        1.485_722_4e-5,
        6.372_619_3e-4,
        4.893_524_6e-3,
    ];
    const BETA: [f32; 4] = [1.198_258_4e-6, 1.185_347_1e-4, 2.268_434_6e-3, 4.893_525e-3];
    let x = x.clamp(-9.0, 9.0);
    let x2 = x * x;
    let p = ALPHA.iter().fold(0.0, |acc, &a| acc * x2 + a) * x;
    let q = BETA.iter().fold(0.0, |acc, &b| acc * x2 + b);
    p / q
}

/// The logistic function as ONNX Runtime's MLAS computes it in `f32`: `p(x)/q(x) + ½`
/// with odd `p` (degree 9) and even `q` (degree 10), on `x` clamped to ±18.
/// Branch-free like [`tanh_f32`].
pub(crate) fn sigmoid_f32(x: f32) -> f32 {
    const ALPHA: [f32; 5] = [
        4.370_310_3e-11,
        1.156_273_2e-7,
        6.085_748_6e-5,
        8.513_771e-3,
        2.482_879_5e-1,
    ];
    const BETA: [f32; 6] = [
        6.102_474e-13,
        5.761_021_4e-9,
        6.291_068e-6,
        1.701_988_2e-3,
        1.168_176_6e-1,
        9.931_519e-1,
    ];
    let x = x.clamp(-18.0, 18.0);
    let x2 = x * x;
    let p = ALPHA.iter().fold(0.0, |acc, &a| acc * x2 + a) * x;
    let q = BETA.iter().fold(0.0, |acc, &b| acc * x2 + b);
    (p / q + 0.5).clamp(0.0, 1.0)
}

/// `eˣ` in `f32` without branches, so that a loop of it vectorises (libm's `expf` is a
/// call per value): `2ⁿ · p(r)` with `n = round(x / ln 2)`, `r = x - n ln 2` in two parts,
/// and Cephes' degree-6 polynomial for `eʳ` on `|r| ≤ ln 2 / 2` (within 2 ulp of libm).
/// Overflow gives `inf`, underflow `0` below where `f32` still has normal values.
#[inline(always)]
pub(crate) fn exp_f32(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    // Adding then subtracting 1.5 · 2²³ rounds to the nearest integer in any rounding
    // mode that vectorises (`round` is a call on the baseline instruction set).
    const ROUND: f32 = 12_582_912.0;
    let c = x.clamp(-87.336_55, 88.376_26);
    let n = (c * LOG2E + ROUND) - ROUND;
    let r = (c - n * LN2_HI) - n * LN2_LO;
    let p = [
        1.987_569_1e-4,
        1.398_199_9e-3,
        8.333_452e-3,
        4.166_579_6e-2,
        1.666_666_5e-1,
        0.5,
    ]
    .iter()
    .fold(0.0f32, |acc, &k| acc * r + k);
    let y = (p * r * r + r) + 1.0;
    // `n`'s bits from the rounding sum's mantissa: `n as i32` saturates, which the
    // compiler checked lane by lane (a sixth of BERT's Erf, scalar).
    let shifted = (c * LOG2E + ROUND).to_bits().wrapping_sub(ROUND.to_bits());
    let scale = f32::from_bits(shifted.wrapping_add(127) << 23);
    let y = y * scale;
    // Beyond the clamp: overflow to inf, underflow to 0; NaN stays NaN.
    if x > 88.722_84 {
        f32::INFINITY
    } else if x < -103.972_08 {
        0.0
    } else if x.is_nan() {
        x
    } else {
        y
    }
}

/// The error function in `f32` without branches (as [`exp_f32`]): an odd Taylor
/// polynomial for `|x| < 0.5`, else `1 - erfc(|x|)` from Numerical Recipes' Chebyshev
/// fit `erfc(z) = t · exp(-z² + P(t))`, `t = 1 / (1 + z/2)` (relative error under
/// 1.2e-7), with the sign of `x`.
#[inline(always)]
pub(crate) fn erf_f32(x: f32) -> f32 {
    let z = x.abs();
    // 2/√π · (x - x³/3 + x⁵/10 - x⁷/42 + x⁹/216 - x¹¹/1320 + x¹³/9360), in Horner form.
    let x2 = x * x;
    let small = [
        1.0 / 9360.0,
        -1.0 / 1320.0,
        1.0 / 216.0,
        -1.0 / 42.0,
        1.0 / 10.0,
        -1.0 / 3.0,
        1.0,
    ]
    .iter()
    .fold(0.0f32, |acc, &k| acc * x2 + k)
        * x
        * std::f32::consts::FRAC_2_SQRT_PI;
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = [
        0.170_872_77,
        -0.822_152_23,
        1.488_515_9,
        -1.135_204,
        0.278_868_07,
        -0.186_288_06,
        0.096_784_18,
        0.374_091_96,
        1.000_023_7,
        -1.265_512_2,
    ]
    .iter()
    .fold(0.0f32, |acc, &k| acc * t + k);
    let large = 1.0 - t * exp_f32(-z * z + poly);
    let large = if x < 0.0 { -large } else { large };
    if z < 0.5 {
        small
    } else {
        large
    }
}

/// GELU in `f32` from [`erf_f32`] or [`tanh_f32`], branch-free so that its loops vectorise
/// (the `f64` path calls libm per value): `x/2 · (1 + erf(x/√2))`, or with `tanh`,
/// `x/2 · (1 + tanh(√(2/π) · (x + 0.044715 x³)))`.
#[inline(always)]
pub(crate) fn gelu_f32(x: f32, tanh: bool) -> f32 {
    let inner = if tanh {
        tanh_f32(0.797_884_6 * (x + 0.044_715 * x * x * x))
    } else {
        erf_f32(x * std::f32::consts::FRAC_1_SQRT_2)
    };
    0.5 * x * (1.0 + inner)
}

pub(crate) fn sigmoid(x: f64) -> f64 {
    // Two branches keep exp() from overflowing for large |x|.
    if x >= 0.0 {
        1.0 / (1.0 + libm::exp(-x))
    } else {
        let e = libm::exp(x);
        e / (1.0 + e)
    }
}

#[cfg(test)]
mod tests {
    use super::{erf_f32, exp_f32, gelu_f32, sigmoid, sigmoid_f32, tanh_f32};

    #[test]
    fn exp_f32_is_within_2e7_relative_of_f64() {
        let mut worst = 0.0f64;
        for i in -1_000_000..=1_000_000 {
            let x = i as f32 * 8.7e-5;
            let exact = f64::from(x).exp();
            if exact < f64::from(f32::MIN_POSITIVE) {
                continue; // below f32's normal range: checked below
            }
            worst = worst.max((f64::from(exp_f32(x)) - exact).abs() / exact);
        }
        assert!(worst < 2e-7, "worst relative error {worst:e}");
        assert_eq!(exp_f32(0.0), 1.0);
        assert_eq!(exp_f32(f32::INFINITY), f32::INFINITY);
        assert_eq!(exp_f32(89.0), f32::INFINITY);
        assert_eq!(exp_f32(f32::NEG_INFINITY), 0.0);
        assert!(exp_f32(-90.0) < 1.2e-38);
        assert!(exp_f32(f32::NAN).is_nan());
    }

    #[test]
    fn erf_f32_is_within_3e7_of_f64() {
        let mut worst = 0.0f64;
        for i in -200_000..=200_000 {
            let x = i as f32 * 5e-5;
            let exact = libm::erf(f64::from(x));
            let err = (f64::from(erf_f32(x)) - exact).abs();
            worst = worst.max(err / exact.abs().clamp(1e-30, 1.0));
        }
        assert!(worst < 3e-7, "worst relative error {worst:e}");
        assert_eq!(erf_f32(0.0), 0.0);
        assert_eq!(erf_f32(f32::INFINITY), 1.0);
        assert_eq!(erf_f32(f32::NEG_INFINITY), -1.0);
        assert!(erf_f32(f32::NAN).is_nan());
    }

    #[test]
    fn gelu_f32_is_within_3e7_of_f64() {
        for tanh in [false, true] {
            let exact = |x: f64| crate::ops::Unary::Gelu { tanh }.apply(x);
            for i in -200_000..=200_000 {
                let x = i as f32 * 1e-4;
                let want = exact(f64::from(x));
                let err = (f64::from(gelu_f32(x, tanh)) - want).abs();
                // Relative to |x|/2: erf and tanh are bounded by 1 and the product rounds.
                assert!(
                    err <= 3e-7 * f64::from(x.abs()).max(1e-3),
                    "x = {x}, tanh {tanh}: error {err:e}"
                );
            }
            assert!(gelu_f32(f32::NAN, tanh).is_nan());
            assert_eq!(gelu_f32(0.0, tanh), 0.0);
        }
    }

    #[test]
    fn sigmoid_f32_is_within_3e7_of_libm() {
        for i in -300_000..=300_000 {
            let x = i as f32 * 1e-4;
            let err = (f64::from(sigmoid_f32(x)) - sigmoid(f64::from(x))).abs();
            assert!(err < 3e-7, "x = {x}: error {err:e}");
        }
        assert_eq!(sigmoid_f32(f32::INFINITY), 1.0);
        assert!(sigmoid_f32(f32::NEG_INFINITY) < 1e-7);
        assert!(sigmoid_f32(f32::NAN).is_nan());
    }

    #[test]
    fn tanh_f32_is_within_a_few_ulp_of_libm() {
        let mut worst = 0.0f64;
        for i in -240_000..=240_000 {
            let x = i as f32 * 5e-5;
            let exact = f64::from(x).tanh();
            let err = (f64::from(tanh_f32(x)) - exact).abs();
            worst = worst.max(err / exact.abs().clamp(1e-30, 1.0));
        }
        assert!(worst < 1e-6, "worst relative error {worst:e}");
        assert!((tanh_f32(f32::INFINITY) - 1.0).abs() < 1e-6);
        assert!((tanh_f32(f32::NEG_INFINITY) + 1.0).abs() < 1e-6);
        assert_eq!(tanh_f32(0.0), 0.0);
        assert!(tanh_f32(f32::NAN).is_nan());
    }
}
