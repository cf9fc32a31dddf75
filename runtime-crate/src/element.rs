//! The element types that tensors in a generated model can hold.

use num_traits::{NumCast, ToPrimitive};
use safetensors::Dtype;
use std::fmt::Debug;

/// A type a tensor element can have: `f32`, `f64`, the 8- to 64-bit integers, or `bool`.
///
/// The trait ties each Rust type to its safetensors dtype and to its
/// little-endian byte decoding, so that weights load without `unsafe`.
pub trait Element: Copy + Default + Debug + PartialEq + PartialOrd + Send + Sync + 'static {
    /// The dtype that stores this type in a safetensors file.
    const DTYPE: Dtype;
    /// Decode one element from exactly `size_of::<Self>()` little-endian bytes.
    fn from_le_bytes(bytes: &[u8]) -> Self;
    /// Convert to `f64` (used by Cast); `bool` gives 0 or 1.
    fn to_f64(self) -> f64;
    /// Convert from `f64` as ONNX Cast does: truncation toward zero, saturating;
    /// non-zero becomes `true` for `bool`.
    fn from_f64(v: f64) -> Self;
}

macro_rules! numeric_element {
    ($t:ty, $dtype:ident) => {
        impl Element for $t {
            const DTYPE: Dtype = Dtype::$dtype;
            fn from_le_bytes(bytes: &[u8]) -> Self {
                let mut buf = [0u8; std::mem::size_of::<$t>()];
                buf.copy_from_slice(bytes);
                <$t>::from_le_bytes(buf)
            }
            fn to_f64(self) -> f64 {
                ToPrimitive::to_f64(&self).unwrap_or(f64::NAN)
            }
            fn from_f64(v: f64) -> Self {
                // `as` saturates and maps NaN to 0 for integers: never UB, never a panic.
                <$t as NumCast>::from(v).unwrap_or(v as $t)
            }
        }
    };
}

numeric_element!(f32, F32);
numeric_element!(f64, F64);
numeric_element!(i32, I32);
numeric_element!(i64, I64);
numeric_element!(u8, U8);
numeric_element!(i8, I8);
numeric_element!(i16, I16);
numeric_element!(u16, U16);
numeric_element!(u32, U32);
numeric_element!(u64, U64);

impl Element for bool {
    const DTYPE: Dtype = Dtype::BOOL;
    fn from_le_bytes(bytes: &[u8]) -> Self {
        bytes[0] != 0
    }
    fn to_f64(self) -> f64 {
        if self {
            1.0
        } else {
            0.0
        }
    }
    fn from_f64(v: f64) -> Self {
        v != 0.0
    }
}

/// Element types with arithmetic: everything but `bool`.
pub trait Numeric: Element + ndarray::LinalgScalar + num_traits::Bounded {
    /// Division as ONNX defines it; integer division by zero gives 0 instead of a panic.
    fn div_onnx(self, rhs: Self) -> Self;
    /// ONNX `Mod`: `fmod` takes the dividend's sign, otherwise the divisor's; integer `x mod 0` is 0.
    fn rem_onnx(self, rhs: Self, fmod: bool) -> Self;
}

macro_rules! float_numeric {
    ($t:ty) => {
        impl Numeric for $t {
            fn div_onnx(self, rhs: Self) -> Self {
                self / rhs
            }
            fn rem_onnx(self, rhs: Self, fmod: bool) -> Self {
                let r = self % rhs;
                if !fmod && r != 0.0 && (r < 0.0) != (rhs < 0.0) {
                    r + rhs
                } else {
                    r
                }
            }
        }
    };
}
macro_rules! int_numeric {
    ($t:ty) => {
        impl Numeric for $t {
            fn div_onnx(self, rhs: Self) -> Self {
                // NOTE: ONNX leaves x/0 undefined for integers; Rust would panic.
                self.checked_div(rhs).unwrap_or(0)
            }
            #[allow(unused_comparisons)] // the sign test is vacuous for unsigned types
            fn rem_onnx(self, rhs: Self, fmod: bool) -> Self {
                let r = self.checked_rem(rhs).unwrap_or(0);
                if !fmod && r != 0 && (r < 0) != (rhs < 0) {
                    r.wrapping_add(rhs)
                } else {
                    r
                }
            }
        }
    };
}
float_numeric!(f32);
float_numeric!(f64);
int_numeric!(i32);
int_numeric!(i64);
int_numeric!(u8);
int_numeric!(i8);
int_numeric!(i16);
int_numeric!(u16);
int_numeric!(u32);
int_numeric!(u64);

/// Element types usable as Gather indices.
pub trait IndexElement: Element {
    /// The index as `i64` (negative values count from the end).
    fn as_i64(self) -> i64;
}

impl IndexElement for i32 {
    fn as_i64(self) -> i64 {
        self.into()
    }
}

impl IndexElement for i64 {
    fn as_i64(self) -> i64 {
        self
    }
}

/// The integer element types: what the Bitwise ops and BitShift accept.
pub trait Integer:
    Numeric + num_traits::PrimInt + num_traits::CheckedShl + num_traits::CheckedShr
{
}

impl<T: Numeric + num_traits::PrimInt + num_traits::CheckedShl + num_traits::CheckedShr> Integer
    for T
{
}
