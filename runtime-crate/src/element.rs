//! The element types that tensors in a generated model can hold.

use num_traits::{NumCast, ToPrimitive};
use safetensors::Dtype;
use std::fmt::Debug;

/// A type a tensor element can have: `f32`, `f64`, the 8- to 64-bit integers, `bool`,
/// and the narrow types that numpy lacks ([`struct@f16`], [`struct@bf16`], the float8 and
/// float4 [`crate::minifloat`] formats, [`crate::narrow`] 4- and 2-bit integers).
///
/// The trait ties each Rust type to the type that stores it in `.npy` and weights files
/// ([`Element::Bits`]: itself, or its bit pattern for the narrow types) and to its
/// little-endian byte decoding, so that weights load without `unsafe`.
pub trait Element: Copy + Default + Debug + PartialEq + PartialOrd + Send + Sync + 'static {
    /// The dtype that stores this type in a safetensors file.
    const DTYPE: Dtype;
    /// The type that stores this one in files: `Self`, or a bit pattern.
    type Bits: Element;
    /// This value as stored in files.
    fn to_bits(self) -> Self::Bits;
    /// The value stored as `bits`.
    fn from_bits(bits: Self::Bits) -> Self;
    /// Decode one element from exactly `size_of::<Self>()` little-endian bytes.
    fn from_le_bytes(bytes: &[u8]) -> Self;
    /// Encode this element into exactly `size_of::<Self>()` little-endian bytes.
    fn write_le_bytes(self, out: &mut [u8]);
    /// `bytes` read in place as elements, when this type is stored as itself, the CPU is
    /// little-endian and `bytes` is aligned for it; `None` means: decode a copy.
    fn view_le_bytes(bytes: &[u8]) -> Option<&[Self]> {
        let _ = bytes;
        None
    }
    /// Convert to `f64` (used by Cast); `bool` gives 0 or 1.
    fn to_f64(self) -> f64;
    /// Convert from `f64` as ONNX Cast does: truncation toward zero, saturating;
    /// non-zero becomes `true` for `bool`; round to nearest even for narrow floats.
    fn from_f64(v: f64) -> Self;
    /// Convert from `f64` as ONNX Cast with `saturate=0` does: only the float8 types
    /// differ from [`Element::from_f64`], giving infinity or NaN on overflow.
    fn from_f64_unsaturated(v: f64) -> Self {
        Self::from_f64(v)
    }
}

/// `Element`'s storage items for a type that is stored as itself.
macro_rules! stored_as_itself {
    () => {
        type Bits = Self;
        fn to_bits(self) -> Self {
            self
        }
        fn from_bits(bits: Self) -> Self {
            bits
        }
    };
}

/// `Element`'s storage items for a narrow type stored as the bit pattern `$bits`.
macro_rules! stored_as_bits {
    ($bits:ty) => {
        const DTYPE: safetensors::Dtype = <$bits as $crate::Element>::DTYPE;
        type Bits = $bits;
        fn from_le_bytes(bytes: &[u8]) -> Self {
            Self::from_bits(<$bits as $crate::Element>::from_le_bytes(bytes))
        }
        fn write_le_bytes(self, out: &mut [u8]) {
            $crate::Element::write_le_bytes(self.to_bits(), out)
        }
    };
}
pub(crate) use stored_as_bits;

macro_rules! numeric_element {
    ($t:ty, $dtype:ident) => {
        impl Element for $t {
            const DTYPE: Dtype = Dtype::$dtype;
            stored_as_itself!();
            fn from_le_bytes(bytes: &[u8]) -> Self {
                let mut buf = [0u8; std::mem::size_of::<$t>()];
                buf.copy_from_slice(bytes);
                <$t>::from_le_bytes(buf)
            }
            fn write_le_bytes(self, out: &mut [u8]) {
                out.copy_from_slice(&self.to_le_bytes());
            }
            fn view_le_bytes(bytes: &[u8]) -> Option<&[Self]> {
                match cfg!(target_endian = "little") {
                    true => bytemuck::try_cast_slice(bytes).ok(),
                    false => None,
                }
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

/// bfloat16 (float32's exponent, 7 mantissa bits), from the `half` crate; stored as its bits.
pub use half::bf16;
/// IEEE half precision, from the `half` crate; stored as its bits (`u16`).
pub use half::f16;

macro_rules! half_element {
    ($t:ty) => {
        impl Element for $t {
            stored_as_bits!(u16);
            fn to_bits(self) -> u16 {
                <$t>::to_bits(self)
            }
            fn from_bits(bits: u16) -> Self {
                <$t>::from_bits(bits)
            }
            fn to_f64(self) -> f64 {
                <$t>::to_f64(self)
            }
            fn from_f64(v: f64) -> Self {
                // Rounds to nearest even, as numpy and ONNX do.
                <$t>::from_f64(v)
            }
        }
    };
}
half_element!(f16);
half_element!(bf16);

impl Element for bool {
    const DTYPE: Dtype = Dtype::BOOL;
    stored_as_itself!();
    fn from_le_bytes(bytes: &[u8]) -> Self {
        bytes[0] != 0
    }
    fn write_le_bytes(self, out: &mut [u8]) {
        out[0] = <u8 as From<bool>>::from(self);
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
    /// `self · a + b`, rounded once where the type has a fused multiply-add
    /// (`f32`, `f64`). Only worth calling where the CPU has FMA instructions:
    /// without them it is a slow library call.
    #[inline(always)]
    fn fused_mul_add(self, a: Self, b: Self) -> Self {
        self * a + b
    }
    /// These values as `f32`, when `Self` is `f32`: the hand-vectorised matrix-product
    /// kernels are written for it alone.
    #[inline(always)]
    fn as_f32(_values: &[Self]) -> Option<&[f32]> {
        None
    }
    /// [`Numeric::as_f32`] for a mutable slice.
    #[inline(always)]
    fn as_f32_mut(_values: &mut [Self]) -> Option<&mut [f32]> {
        None
    }
}

macro_rules! float_numeric {
    ($t:ty) => {
        float_numeric!($t, {});
    };
    ($t:ty, { $($extra:item)* }) => {
        impl Numeric for $t {
            $($extra)*
            fn div_onnx(self, rhs: Self) -> Self {
                self / rhs
            }
            fn rem_onnx(self, rhs: Self, fmod: bool) -> Self {
                let r = self % rhs;
                let zero = <$t as num_traits::Zero>::zero();
                if !fmod && r != zero && (r < zero) != (rhs < zero) {
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
float_numeric!(f32, {
    #[inline(always)]
    fn fused_mul_add(self, a: Self, b: Self) -> Self {
        self.mul_add(a, b)
    }
    #[inline(always)]
    fn as_f32(values: &[Self]) -> Option<&[f32]> {
        Some(values)
    }
    #[inline(always)]
    fn as_f32_mut(values: &mut [Self]) -> Option<&mut [f32]> {
        Some(values)
    }
});
float_numeric!(f64, {
    #[inline(always)]
    fn fused_mul_add(self, a: Self, b: Self) -> Self {
        self.mul_add(a, b)
    }
});
// Arithmetic in the 16-bit floats rounds each result to 16 bits, as numpy and ONNX Runtime do.
float_numeric!(f16);
float_numeric!(bf16);
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
