//! The 8- and 4-bit float formats of ONNX (float8 for quantised models, float4 for
//! microscaling), each a newtype over its bit pattern.
//!
//! One codec serves all five formats: they differ only in field widths, bias, and how
//! they spend the top encodings on infinity and NaN. Conversions round to nearest even,
//! as ONNX's `Cast` and `ml_dtypes` do.
//!
//! ```
//! use onnx2rs_runtime::{minifloat::F8E4M3FN, Element};
//! assert_eq!(F8E4M3FN::from_f64(0.3).to_f64(), 0.3125);
//! assert_eq!(F8E4M3FN::from_f64(1e6).to_f64(), 448.0); // saturates
//! assert!(F8E4M3FN::from_f64_unsaturated(1e6).to_f64().is_nan());
//! ```

use crate::element::{stored_as_bits, Element};
use std::cmp::Ordering;
use std::fmt;

/// What a format does with its top encodings.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Specials {
    /// IEEE-like: the top exponent holds infinity (mantissa 0) and NaN.
    Ieee,
    /// "Finite": no infinity; only all-ones exponent and mantissa is NaN.
    Fn,
    /// "Finite, unsigned zero": no infinity, no negative zero; `0x80` is the one NaN.
    Fnuz,
    /// No infinity and no NaN at all (float4e2m1).
    None,
}

/// A float format: exponent and mantissa widths, exponent bias, special values.
#[derive(Clone, Copy)]
struct Format {
    exp_bits: u32,
    man_bits: u32,
    bias: i32,
    specials: Specials,
}

impl Format {
    fn sign_bit(self) -> u8 {
        1 << (self.exp_bits + self.man_bits)
    }

    fn man_mask(self) -> u8 {
        (1 << self.man_bits) - 1
    }

    fn exp_max(self) -> u8 {
        (1 << self.exp_bits) - 1
    }

    /// The canonical NaN with the given sign, or zero for a format without NaN.
    fn nan(self, sign: u8) -> u8 {
        match self.specials {
            Specials::Ieee => sign | (self.exp_max() << self.man_bits) | (1 << (self.man_bits - 1)),
            Specials::Fn => sign | (self.exp_max() << self.man_bits) | self.man_mask(),
            Specials::Fnuz => self.sign_bit(),
            Specials::None => sign,
        }
    }

    /// The encoding of the largest finite magnitude.
    fn max_bits(self) -> u8 {
        match self.specials {
            Specials::Ieee => ((self.exp_max() - 1) << self.man_bits) | self.man_mask(),
            Specials::Fn => (self.exp_max() << self.man_bits) | (self.man_mask() - 1),
            Specials::Fnuz | Specials::None => (self.exp_max() << self.man_bits) | self.man_mask(),
        }
    }

    fn decode(self, bits: u8) -> f64 {
        let sign = if bits & self.sign_bit() != 0 {
            -1.0
        } else {
            1.0
        };
        let exp = (bits >> self.man_bits) & self.exp_max();
        let man = bits & self.man_mask();
        match self.specials {
            Specials::Fnuz if bits == self.sign_bit() => return f64::NAN,
            Specials::Fn if exp == self.exp_max() && man == self.man_mask() => return f64::NAN,
            Specials::Ieee if exp == self.exp_max() => {
                return if man == 0 {
                    sign * f64::INFINITY
                } else {
                    f64::NAN
                };
            }
            _ => {}
        }
        let man_scale = f64::from(1u32 << self.man_bits);
        let magnitude = if exp == 0 {
            f64::from(man) / man_scale * pow2(1 - self.bias)
        } else {
            (1.0 + f64::from(man) / man_scale) * pow2(i32::from(exp) - self.bias)
        };
        sign * magnitude
    }

    fn encode(self, v: f64, saturate: bool) -> u8 {
        let sign = if v.is_sign_negative() {
            self.sign_bit()
        } else {
            0
        };
        if v.is_nan() {
            return self.nan(sign);
        }
        let max = self.decode(self.max_bits());
        let overflow = |sign: u8| {
            if saturate || self.specials == Specials::None {
                sign | self.max_bits()
            } else if self.specials == Specials::Ieee {
                sign | (self.exp_max() << self.man_bits)
            } else {
                self.nan(sign)
            }
        };
        let a = v.abs();
        if a.is_infinite() {
            return overflow(sign);
        }
        // Round |v| to a multiple of the spacing of its binade (clamped to the subnormal
        // spacing), ties to even: exact in f64 because the spacing is a power of two.
        let min_exp = 1 - self.bias;
        let exp = if a == 0.0 {
            min_exp
        } else {
            (libm::log2(a).floor() as i32).max(min_exp)
        };
        // log2 can be off by one next to a power of two; fix it up exactly.
        let exp = if a >= pow2(exp + 1) {
            exp + 1
        } else if exp > min_exp && a < pow2(exp) {
            exp - 1
        } else {
            exp
        };
        let spacing = pow2(exp - self.man_bits as i32);
        let rounded = (a / spacing).round_ties_even() * spacing;
        if rounded > max {
            return overflow(sign);
        }
        if rounded == 0.0 {
            // FNUZ formats have no negative zero.
            return if self.specials == Specials::Fnuz {
                0
            } else {
                sign
            };
        }
        let man_scale = f64::from(1u32 << self.man_bits);
        if rounded < pow2(min_exp) {
            return sign | (rounded / pow2(min_exp) * man_scale) as u8;
        }
        let exp = libm::log2(rounded).floor() as i32;
        let exp = if rounded >= pow2(exp + 1) {
            exp + 1
        } else if rounded < pow2(exp) {
            exp - 1
        } else {
            exp
        };
        let man = ((rounded / pow2(exp) - 1.0) * man_scale) as u8;
        sign | (((exp + self.bias) as u8) << self.man_bits) | man
    }
}

fn pow2(e: i32) -> f64 {
    2f64.powi(e)
}

/// `Element`, value comparisons and `Debug` for a type with inherent
/// `decode(u8) -> f64` and `encode(f64, saturate) -> u8`.
macro_rules! element_by_value {
    ($name:ident) => {
        impl $name {
            /// The value as `f32`.
            pub fn to_f32(self) -> f32 {
                Self::decode(self.0) as f32
            }
        }

        impl Element for $name {
            stored_as_bits!(u8);
            fn to_bits(self) -> u8 {
                self.0
            }
            fn from_bits(bits: u8) -> Self {
                Self(bits)
            }
            fn to_f64(self) -> f64 {
                Self::decode(self.0)
            }
            fn from_f64(v: f64) -> Self {
                Self(Self::encode(v, true))
            }
            fn from_f64_unsaturated(v: f64) -> Self {
                Self(Self::encode(v, false))
            }
        }

        // Compared by value, as floats are: NaN is unequal to itself, -0 equals 0.
        impl PartialEq for $name {
            fn eq(&self, other: &Self) -> bool {
                self.to_f64() == other.to_f64()
            }
        }

        impl PartialOrd for $name {
            fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
                self.to_f64().partial_cmp(&other.to_f64())
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(&self.to_f64(), f)
            }
        }
    };
}

macro_rules! minifloat {
    ($(#[$doc:meta])* $name:ident, $exp:expr, $man:expr, $bias:expr, $specials:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Default)]
        pub struct $name(u8);

        impl $name {
            const FORMAT: Format = Format {
                exp_bits: $exp,
                man_bits: $man,
                bias: $bias,
                specials: Specials::$specials,
            };

            fn decode(bits: u8) -> f64 {
                Self::FORMAT.decode(bits)
            }

            fn encode(v: f64, saturate: bool) -> u8 {
                Self::FORMAT.encode(v, saturate)
            }
        }

        element_by_value!($name);
    };
}

minifloat!(
    /// float8 E4M3FN: 4 exponent bits, 3 mantissa bits, no infinity; largest 448.
    F8E4M3FN, 4, 3, 7, Fn
);
minifloat!(
    /// float8 E4M3FNUZ: as E4M3FN with bias 8, no negative zero, `0x80` is NaN; largest 240.
    F8E4M3FNUZ, 4, 3, 8, Fnuz
);
minifloat!(
    /// float8 E5M2: IEEE-like with infinities; largest 57344.
    F8E5M2, 5, 2, 15, Ieee
);
minifloat!(
    /// float8 E5M2FNUZ: 5 exponent bits, 2 mantissa bits, bias 16, `0x80` is NaN; largest 57344.
    F8E5M2FNUZ, 5, 2, 16, Fnuz
);
minifloat!(
    /// float4 E2M1 (stored one per byte): values 0, 0.5, 1, 1.5, 2, 3, 4, 6 and their
    /// negatives; no infinity or NaN, so conversions saturate.
    F4E2M1, 2, 1, 1, None
);

/// float8 E8M0 (the scale type of microscaling formats): a bare power of two,
/// `2^(bits - 127)`, with `0xFF` as NaN; no sign and no zero.
///
/// Conversions keep a float32's exponent and round up when any mantissa bit is set
/// (ONNX `Cast`'s default `round_mode="up"`), saturating at `2^127` unless `saturate=0`.
#[derive(Clone, Copy, Default)]
pub struct F8E8M0(u8);

impl F8E8M0 {
    fn decode(bits: u8) -> f64 {
        if bits == 0xFF {
            f64::NAN
        } else {
            pow2(i32::from(bits) - 127)
        }
    }

    fn encode(v: f64, saturate: bool) -> u8 {
        let bits = (v as f32).to_bits();
        let exp = (bits >> 23) & 0xFF;
        let fraction = bits & 0x7F_FFFF;
        let up = exp != 0xFF && fraction != 0 && !(saturate && exp == 0xFE);
        (exp + u32::from(up)) as u8
    }
}

element_by_value!(F8E8M0);

#[cfg(test)]
mod tests {
    use super::*;

    /// Every finite encoding decodes to a value that encodes back to it.
    fn round_trips<T: Element<Bits = u8>>() {
        for bits in 0..=255u8 {
            let v = T::from_bits(bits).to_f64();
            if v.is_finite() {
                assert_eq!(T::from_f64(v).to_bits(), bits, "bits {bits:#04x} value {v}");
            }
        }
    }

    #[test]
    fn every_encoding_round_trips() {
        round_trips::<F8E4M3FN>();
        round_trips::<F8E4M3FNUZ>();
        round_trips::<F8E5M2>();
        round_trips::<F8E5M2FNUZ>();
    }

    #[test]
    fn float4_keeps_its_sixteen_codes() {
        for bits in 0..16u8 {
            let v = F4E2M1::from_bits(bits).to_f64();
            assert_eq!(F4E2M1::from_f64(v).to_f64(), v);
        }
    }
}
