//! The 4- and 2-bit integer types of ONNX, each held one per byte.
//!
//! ONNX packs them two or four to a byte in files; numpy (through `ml_dtypes`) and this
//! runtime keep one value per byte, which is what every kernel indexes.
//!
//! ```
//! use onnx2rs_runtime::{narrow::I4, Element};
//! assert_eq!(I4::from_f64(-7.9).to_f64(), -7.0); // truncates toward zero
//! assert_eq!(I4::from_f64(9.0).to_f64(), -7.0); // and wraps, as a C cast does
//! ```

use crate::element::{stored_as_bits, Element};

macro_rules! narrow_int {
    ($(#[$doc:meta])* $name:ident, $bits:ty, $width:expr) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Default, Debug, PartialEq, Eq, PartialOrd, Ord)]
        pub struct $name($bits);

        impl $name {
            /// The value, widened.
            pub fn get(self) -> $bits {
                self.0
            }

            /// `v` wrapped to the type's width (two's complement for signed types).
            fn wrap(v: i64) -> Self {
                let shift = 64 - $width;
                let wrapped = if <$bits>::MIN == 0 {
                    ((v << shift) as u64 >> shift) as i64
                } else {
                    (v << shift) >> shift
                };
                Self(wrapped as $bits)
            }
        }

        impl Element for $name {
            stored_as_bits!($bits);
            fn to_bits(self) -> $bits {
                self.0
            }
            fn from_bits(bits: $bits) -> Self {
                // Bits outside the type's range come only from a bad file: wrap them too.
                Self::wrap(i64::from(bits))
            }
            fn to_f64(self) -> f64 {
                f64::from(self.0)
            }
            fn from_f64(v: f64) -> Self {
                // Truncate, then keep the low bits (`as` maps NaN to 0 and saturates).
                Self::wrap(v as i64)
            }
        }
    };
}

narrow_int!(
    /// ONNX `int4`: -8 ..= 7.
    I4, i8, 4
);
narrow_int!(
    /// ONNX `uint4`: 0 ..= 15.
    U4, u8, 4
);
narrow_int!(
    /// ONNX `int2`: -2 ..= 1.
    I2, i8, 2
);
narrow_int!(
    /// ONNX `uint2`: 0 ..= 3.
    U2, u8, 2
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_value_in_range_round_trips() {
        for v in -8..=7 {
            assert_eq!(I4::from_f64(f64::from(v)).to_f64(), f64::from(v));
        }
        for v in 0..=15 {
            assert_eq!(U4::from_f64(f64::from(v)).to_f64(), f64::from(v));
        }
        for v in -2..=1 {
            assert_eq!(I2::from_f64(f64::from(v)).to_f64(), f64::from(v));
        }
        for v in 0..=3 {
            assert_eq!(U2::from_f64(f64::from(v)).to_f64(), f64::from(v));
        }
    }
}
