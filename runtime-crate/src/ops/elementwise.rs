//! Element-wise operators with numpy broadcasting (the zips they run on are in `broadcast.rs`).
//!
//! Spec: <https://onnx.ai/onnx/repo-docs/Broadcasting.html>. Binary and ternary
//! operators broadcast both sides; incompatible shapes are an [`Error::Shape`],
//! never a panic.

use super::broadcast::{
    broadcast_shape, broadcast_to, update, zip_with, zip_with_inplace, zip_with_into,
};
use crate::{parallel, Element, Error, Integer, Numeric, Result};
use ndarray::{ArrayD, ArrayViewD, ArrayViewMutD, Dimension, IxDyn, Zip};

/// The arithmetic ops with a flat form ([`binary_flat_into`], [`binary_flat_inplace`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)] // each variant is the ONNX op of the same name
pub enum Binary {
    Add,
    Sub,
    Mul,
    Div,
    PRelu,
}

/// `f` of `op`, one loop per op so that each vectorises.
macro_rules! for_binary {
    ($op:expr, $each:ident) => {
        match $op {
            Binary::Add => $each!(|x: T, y: T| x + y),
            Binary::Sub => $each!(|x: T, y: T| x - y),
            Binary::Mul => $each!(|x: T, y: T| x * y),
            Binary::Div => $each!(|x: T, y: T| x.div_onnx(y)),
            Binary::PRelu => $each!(|x: T, s: T| if x < T::zero() { x * s } else { x }),
        }
    };
}

/// `out = a op b` over flat slices of one length, as generated code holds its arena's
/// values: the same-shape case of [`add_into`] and its kin, without views to build.
///
/// ```
/// use onnx2rs_runtime::ops::{binary_flat_into, Binary};
/// let mut out = [0; 2];
/// binary_flat_into(&[7, 7], &[2, 0], &mut out, Binary::Div).unwrap();
/// assert_eq!(out, [3, 0]);
/// ```
///
/// # Errors
/// [`Error::Shape`] if the lengths differ.
pub fn binary_flat_into<T: Numeric>(a: &[T], b: &[T], out: &mut [T], op: Binary) -> Result<()> {
    if a.len() != out.len() || b.len() != out.len() {
        return Err(flat_lengths(&[a.len(), b.len(), out.len()]));
    }
    macro_rules! each {
        ($f:expr) => {
            parallel::spans(out, 1, |at, out| {
                out.iter_mut()
                    .zip(a[at..].iter().zip(&b[at..]))
                    .for_each(|(o, (&x, &y))| *o = $f(x, y))
            })
        };
    }
    for_binary!(op, each);
    Ok(())
}

/// `a = a op b` over flat slices of one length: [`binary_flat_into`] writing over `a`.
///
/// # Errors
/// [`Error::Shape`] if the lengths differ.
pub fn binary_flat_inplace<T: Numeric>(a: &mut [T], b: &[T], op: Binary) -> Result<()> {
    if a.len() != b.len() {
        return Err(flat_lengths(&[a.len(), b.len()]));
    }
    macro_rules! each {
        ($f:expr) => {
            parallel::spans(a, 1, |at, a| {
                a.iter_mut()
                    .zip(&b[at..])
                    .for_each(|(x, &y)| *x = $f(*x, y))
            })
        };
    }
    for_binary!(op, each);
    Ok(())
}

fn flat_lengths(lengths: &[usize]) -> Error {
    Error::Shape(format!(
        "element-wise operands of lengths {lengths:?} differ"
    ))
}

macro_rules! binary_ops {
    ($($(#[$doc:meta])* $name:ident / $into:ident $(/ $inplace:ident)? <$bound:ident> -> $out:ty = $f:expr;)*) => {$(
        $(#[$doc])*
        ///
        /// # Errors
        /// [`Error::Shape`] if the shapes do not broadcast.
        pub fn $name<T: $bound>(a: ArrayViewD<'_, T>, b: ArrayViewD<'_, T>) -> Result<ArrayD<$out>> {
            zip_with(a, b, $f)
        }

        #[doc = concat!("[`", stringify!($name), "`] into `out`, which must have the broadcast shape.")]
        ///
        /// # Errors
        /// [`Error::Shape`] if the shapes do not broadcast to `out`.
        pub fn $into<T: $bound>(a: ArrayViewD<'_, T>, b: ArrayViewD<'_, T>, out: ArrayViewMutD<'_, $out>) -> Result<()> {
            zip_with_into(a, b, out, $f)
        }

        $(
        #[doc = concat!("[`", stringify!($name), "`] written over `a`, which must have the broadcast shape.")]
        ///
        /// # Errors
        /// [`Error::Shape`] if `b` does not broadcast to `a`'s shape.
        pub fn $inplace<T: $bound>(a: ArrayViewMutD<'_, T>, b: ArrayViewD<'_, T>) -> Result<()> {
            zip_with_inplace(a, b, $f)
        }
        )?
    )*};
}

binary_ops! {
    /// ONNX `Add`: `a + b`, broadcast.
    ///
    /// ```
    /// use ndarray::array;
    /// let y = onnx2rs_runtime::ops::add(array![1, 2].into_dyn().view(), array![10].into_dyn().view()).unwrap();
    /// assert_eq!(y, array![11, 12].into_dyn());
    /// ```
    add / add_into / add_inplace <Numeric> -> T = |x: T, y: T| x + y;
    /// ONNX `Sub`: `a - b`, broadcast.
    ///
    /// ```
    /// use ndarray::array;
    /// let y = onnx2rs_runtime::ops::sub(array![1.0f32, 2.0].into_dyn().view(), array![0.5f32].into_dyn().view()).unwrap();
    /// assert_eq!(y, array![0.5, 1.5].into_dyn());
    /// ```
    sub / sub_into / sub_inplace <Numeric> -> T = |x: T, y: T| x - y;
    /// ONNX `Mul`: `a * b`, broadcast.
    ///
    /// ```
    /// use ndarray::array;
    /// let y = onnx2rs_runtime::ops::mul(array![2i64, 3].into_dyn().view(), array![4i64].into_dyn().view()).unwrap();
    /// assert_eq!(y, array![8, 12].into_dyn());
    /// ```
    mul / mul_into / mul_inplace <Numeric> -> T = |x: T, y: T| x * y;
    /// ONNX `Div`: `a / b`, broadcast; integer division truncates, and `x / 0` is 0 for integers.
    ///
    /// ```
    /// use ndarray::array;
    /// let y = onnx2rs_runtime::ops::div(array![7i32, 7].into_dyn().view(), array![2i32, 0].into_dyn().view()).unwrap();
    /// assert_eq!(y, array![3, 0].into_dyn());
    /// ```
    div / div_into / div_inplace <Numeric> -> T = |x: T, y: T| x.div_onnx(y);
    /// ONNX `Less`: `a < b` as `bool`, broadcast.
    ///
    /// ```
    /// use ndarray::array;
    /// let y = onnx2rs_runtime::ops::less(array![1, 5].into_dyn().view(), array![3].into_dyn().view()).unwrap();
    /// assert_eq!(y, array![true, false].into_dyn());
    /// ```
    less / less_into <Element> -> bool = |x: T, y: T| x < y;
    /// ONNX `Greater`: `a > b` as `bool`, broadcast.
    greater / greater_into <Element> -> bool = |x: T, y: T| x > y;
    /// ONNX `LessOrEqual`: `a <= b` as `bool`, broadcast.
    less_or_equal / less_or_equal_into <Element> -> bool = |x: T, y: T| x <= y;
    /// ONNX `GreaterOrEqual`: `a >= b` as `bool`, broadcast.
    greater_or_equal / greater_or_equal_into <Element> -> bool = |x: T, y: T| x >= y;
    /// ONNX `Equal`: `a == b` as `bool`, broadcast.
    equal / equal_into <Element> -> bool = |x: T, y: T| x == y;
    /// ONNX `PRelu`: `x < 0 ? x · slope : x`, with `slope` broadcast.
    prelu / prelu_into / prelu_inplace <Numeric> -> T = |x: T, s: T| if x < T::zero() { x * s } else { x };
}

/// ONNX `Where`: `cond ? x : y` element-wise, all three broadcast.
///
/// ```
/// use ndarray::array;
/// let c = array![true, false].into_dyn();
/// let y = onnx2rs_runtime::ops::where_(c.view(), array![1.0f32].into_dyn().view(), array![2.0f32, 3.0].into_dyn().view()).unwrap();
/// assert_eq!(y, array![1.0, 3.0].into_dyn());
/// ```
///
/// # Errors
/// [`Error::Shape`] if the shapes do not broadcast.
pub fn where_<T: Element>(
    cond: ArrayViewD<'_, bool>,
    x: ArrayViewD<'_, T>,
    y: ArrayViewD<'_, T>,
) -> Result<ArrayD<T>> {
    let shape = broadcast_shape(&broadcast_shape(cond.shape(), x.shape())?, y.shape())?;
    let mut out = ArrayD::default(IxDyn(&shape));
    where_into(cond, x, y, out.view_mut())?;
    Ok(out)
}

/// [`where_`] into `out`, which must have the broadcast shape.
///
/// # Errors
/// [`Error::Shape`] if the shapes do not broadcast to `out`.
pub fn where_into<T: Element>(
    cond: ArrayViewD<'_, bool>,
    x: ArrayViewD<'_, T>,
    y: ArrayViewD<'_, T>,
    mut out: ArrayViewMutD<'_, T>,
) -> Result<()> {
    let shape = out.raw_dim();
    let (c, x, y) = (
        broadcast_to(&cond, shape.slice())?,
        broadcast_to(&x, shape.slice())?,
        broadcast_to(&y, shape.slice())?,
    );
    Zip::from(&mut out)
        .and(&c)
        .and(&x)
        .and(&y)
        .for_each(|o, &c, &x, &y| *o = if c { x } else { y });
    Ok(())
}

/// Copy `x` into `out` element by element, broadcasting `x` if needed.
pub(crate) fn map_into<T: Copy, U>(
    x: ArrayViewD<'_, T>,
    mut out: ArrayViewMutD<'_, U>,
    f: impl Fn(T) -> U,
) -> Result<()> {
    if let Some(xs) = x.as_slice() {
        let same = super::same_shape(x.shape(), out.shape());
        if let (true, Some(os)) = (same, out.as_slice_mut()) {
            os.iter_mut().zip(xs).for_each(|(o, &v)| *o = f(v));
            return Ok(());
        }
    }
    let shape = out.raw_dim();
    let x = broadcast_to(&x, shape.slice())?;
    Zip::from(&mut out).and(&x).for_each(|o, &v| *o = f(v));
    Ok(())
}

macro_rules! unary_ops {
    ($($(#[$doc:meta])* $name:ident / $into:ident / $inplace:ident <$t:ty> = $f:expr;)*) => {$(
        $(#[$doc])*
        pub fn $name(x: ArrayViewD<'_, $t>) -> ArrayD<$t> {
            x.mapv($f)
        }

        #[doc = concat!("[`", stringify!($name), "`] into `out`, which must have `x`'s shape.")]
        ///
        /// # Errors
        /// [`Error::Shape`] if `out` has another shape.
        pub fn $into(x: ArrayViewD<'_, $t>, out: ArrayViewMutD<'_, $t>) -> Result<()> {
            map_into(x, out, $f)
        }

        #[doc = concat!("In-place form of [`", stringify!($name), "`]: overwrites `x`.")]
        pub fn $inplace(mut x: ArrayViewMutD<'_, $t>) {
            update(&mut x, $f)
        }
    )*};
}

unary_ops! {
    /// ONNX `Not` on booleans.
    ///
    /// ```
    /// use ndarray::array;
    /// let y = onnx2rs_runtime::ops::not(array![true, false].into_dyn().view());
    /// assert_eq!(y, array![false, true].into_dyn());
    /// ```
    not / not_into / not_inplace <bool> = |v: bool| !v;
}

/// ONNX `Relu`: `max(x, 0)` for floats and signed integers; NaN stays NaN.
///
/// ```
/// use ndarray::array;
/// let y = onnx2rs_runtime::ops::relu(array![-1.0f32, 2.0].into_dyn().view());
/// assert_eq!(y, array![0.0, 2.0].into_dyn());
/// let y = onnx2rs_runtime::ops::relu(array![-3i64, 4].into_dyn().view());
/// assert_eq!(y, array![0, 4].into_dyn());
/// ```
pub fn relu<T: Numeric>(x: ArrayViewD<'_, T>) -> ArrayD<T> {
    x.mapv(relu_one)
}

/// [`relu`] into `out`, which must have `x`'s shape.
///
/// # Errors
/// [`Error::Shape`] if `out` has another shape.
pub fn relu_into<T: Numeric>(x: ArrayViewD<'_, T>, out: ArrayViewMutD<'_, T>) -> Result<()> {
    map_into(x, out, relu_one)
}

/// In-place form of [`relu`].
pub fn relu_inplace<T: Numeric>(mut x: ArrayViewMutD<'_, T>) {
    update(&mut x, relu_one)
}

fn relu_one<T: Numeric>(v: T) -> T {
    if v < T::zero() {
        T::zero()
    } else {
        v
    }
}

/// Copy `x` into `out` in row-major order; the shapes may differ but not the sizes
/// (ONNX `Reshape` and friends when they cannot reuse their input's buffer).
///
/// ```
/// use ndarray::{array, ArrayD, IxDyn};
/// let mut out = ArrayD::<i32>::zeros(IxDyn(&[4]));
/// onnx2rs_runtime::ops::reshape_into(array![[1, 2], [3, 4]].into_dyn().view(), out.view_mut()).unwrap();
/// assert_eq!(out, array![1, 2, 3, 4].into_dyn());
/// ```
///
/// # Errors
/// [`Error::Shape`] if the element counts differ.
pub fn reshape_into<T: Copy>(x: ArrayViewD<'_, T>, mut out: ArrayViewMutD<'_, T>) -> Result<()> {
    if x.len() != out.len() {
        return Err(Error::Shape(format!(
            "cannot reshape {:?} to {:?}",
            x.shape(),
            out.shape()
        )));
    }
    if let (Some(o), Some(s)) = (out.as_slice_mut(), x.as_slice()) {
        o.copy_from_slice(s);
        return Ok(());
    }
    out.iter_mut().zip(x.iter()).for_each(|(o, &v)| *o = v);
    Ok(())
}

/// ONNX `Clip`: limit `x` to `[min, max]`; NaN stays NaN.
///
/// ```
/// use ndarray::array;
/// let y = onnx2rs_runtime::ops::clip(array![-2.0f32, 0.5, 9.0].into_dyn().view(), 0.0, 6.0);
/// assert_eq!(y, array![0.0, 0.5, 6.0].into_dyn());
/// ```
pub fn clip<T: Numeric>(x: ArrayViewD<'_, T>, min: T, max: T) -> ArrayD<T> {
    x.mapv(|v| clip_one(v, min, max))
}

/// [`clip`] into `out`, which must have `x`'s shape.
///
/// # Errors
/// [`Error::Shape`] if `out` has another shape.
pub fn clip_into<T: Numeric>(
    x: ArrayViewD<'_, T>,
    out: ArrayViewMutD<'_, T>,
    min: T,
    max: T,
) -> Result<()> {
    map_into(x, out, |v| clip_one(v, min, max))
}

/// In-place form of [`clip`].
pub fn clip_inplace<T: Numeric>(mut x: ArrayViewMutD<'_, T>, min: T, max: T) {
    update(&mut x, |v| clip_one(v, min, max))
}

/// The lower bound first, then the upper one: when `min > max` everything becomes `max`,
/// as ONNX specifies. NaN stays NaN.
fn clip_one<T: Numeric>(v: T, min: T, max: T) -> T {
    let v = if v < min { min } else { v };
    if v > max {
        max
    } else {
        v
    }
}

macro_rules! logic_ops {
    ($($(#[$doc:meta])* $into:ident = $f:expr;)*) => {$(
        $(#[$doc])*
        ///
        /// # Errors
        /// [`Error::Shape`] if the shapes do not broadcast to `out`.
        pub fn $into(a: ArrayViewD<'_, bool>, b: ArrayViewD<'_, bool>, out: ArrayViewMutD<'_, bool>) -> Result<()> {
            zip_with_into(a, b, out, $f)
        }
    )*};
}

logic_ops! {
    /// ONNX `And` on booleans, broadcast, into `out`.
    and_into = |x: bool, y: bool| x && y;
    /// ONNX `Or` on booleans, broadcast, into `out`.
    or_into = |x: bool, y: bool| x || y;
    /// ONNX `Xor` on booleans, broadcast, into `out`.
    xor_into = |x: bool, y: bool| x != y;
}

/// ONNX `Pow`: `a ^ b`, broadcast, computed in `f64`; base and exponent may differ in type.
///
/// ```
/// use ndarray::{array, ArrayD, IxDyn};
/// let mut out = ArrayD::<f32>::zeros(IxDyn(&[2]));
/// onnx2rs_runtime::ops::pow_into(array![2.0f32, 9.0].into_dyn().view(), array![3i64, 0].into_dyn().view(), out.view_mut()).unwrap();
/// assert_eq!(out, array![8.0, 1.0].into_dyn());
/// ```
///
/// # Errors
/// [`Error::Shape`] if the shapes do not broadcast to `out`.
pub fn pow_into<T: Element, U: Element>(
    a: ArrayViewD<'_, T>,
    b: ArrayViewD<'_, U>,
    out: ArrayViewMutD<'_, T>,
) -> Result<()> {
    // A constant small integer exponent (GELU's x³, a square): multiplications, not powf.
    if let (1, Some(y)) = (b.len(), b.iter().next().map(|y| y.to_f64())) {
        if y.fract() == 0.0 && y.abs() <= 16.0 {
            let n = y as i32;
            return match n {
                2 => map_into(a, out, |x| T::from_f64(x.to_f64() * x.to_f64())),
                3 => map_into(a, out, |x| T::from_f64(x.to_f64().powi(3))),
                _ => map_into(a, out, |x| T::from_f64(x.to_f64().powi(n))),
            };
        }
    }
    zip_with_into(a, b, out, |x, y| {
        T::from_f64(libm::pow(x.to_f64(), y.to_f64()))
    })
}

/// ONNX `Mod`, broadcast: with `fmod` the remainder takes the dividend's sign (C `fmod`),
/// without it the divisor's (Python `%`, integers only). Integer `x mod 0` is 0.
///
/// ```
/// use ndarray::{array, ArrayD, IxDyn};
/// let mut out = ArrayD::<i32>::zeros(IxDyn(&[3]));
/// onnx2rs_runtime::ops::mod_into(array![-7, 7, 5].into_dyn().view(), array![3, -3, 0].into_dyn().view(), out.view_mut(), false).unwrap();
/// assert_eq!(out, array![2, -2, 0].into_dyn());
/// ```
///
/// # Errors
/// [`Error::Shape`] if the shapes do not broadcast to `out`.
pub fn mod_into<T: Numeric>(
    a: ArrayViewD<'_, T>,
    b: ArrayViewD<'_, T>,
    out: ArrayViewMutD<'_, T>,
    fmod: bool,
) -> Result<()> {
    zip_with_into(a, b, out, |x, y| x.rem_onnx(y, fmod))
}

macro_rules! bitwise_ops {
    ($($(#[$doc:meta])* $into:ident = $f:expr;)*) => {$(
        $(#[$doc])*
        ///
        /// # Errors
        /// [`Error::Shape`] if the shapes do not broadcast to `out`.
        pub fn $into<T: Integer>(a: ArrayViewD<'_, T>, b: ArrayViewD<'_, T>, out: ArrayViewMutD<'_, T>) -> Result<()> {
            zip_with_into(a, b, out, $f)
        }
    )*};
}

bitwise_ops! {
    /// ONNX `BitwiseAnd` on integers, broadcast, into `out`.
    ///
    /// ```
    /// use ndarray::{array, ArrayD, IxDyn};
    /// let mut out = ArrayD::<u8>::zeros(IxDyn(&[2]));
    /// onnx2rs_runtime::ops::bitwise_and_into(array![6u8, 3].into_dyn().view(), array![3u8].into_dyn().view(), out.view_mut()).unwrap();
    /// assert_eq!(out, array![2, 3].into_dyn());
    /// ```
    bitwise_and_into = |x: T, y: T| x & y;
    /// ONNX `BitwiseOr` on integers, broadcast, into `out`.
    bitwise_or_into = |x: T, y: T| x | y;
    /// ONNX `BitwiseXor` on integers, broadcast, into `out`.
    bitwise_xor_into = |x: T, y: T| x ^ y;
}

/// ONNX `BitwiseNot` on integers into `out`.
///
/// # Errors
/// [`Error::Shape`] if `out` has another shape.
pub fn bitwise_not_into<T: Integer>(x: ArrayViewD<'_, T>, out: ArrayViewMutD<'_, T>) -> Result<()> {
    map_into(x, out, |v| !v)
}

/// ONNX `BitShift`: `a << b` or `a >> b`, broadcast. Right shifts of signed values
/// are arithmetic; a shift by a negative amount or by the bit width or more gives
/// what the sign extension alone gives (-1 for a right shift of a negative value, else 0).
///
/// ```
/// use ndarray::{array, ArrayD, IxDyn};
/// let mut out = ArrayD::<u8>::zeros(IxDyn(&[3]));
/// onnx2rs_runtime::ops::bit_shift_into(array![1u8, 3, 255].into_dyn().view(), array![1u8, 2, 9].into_dyn().view(), true, out.view_mut()).unwrap();
/// assert_eq!(out, array![2, 12, 0].into_dyn());
/// ```
///
/// # Errors
/// [`Error::Shape`] if the shapes do not broadcast to `out`.
pub fn bit_shift_into<T: Integer>(
    a: ArrayViewD<'_, T>,
    b: ArrayViewD<'_, T>,
    left: bool,
    out: ArrayViewMutD<'_, T>,
) -> Result<()> {
    zip_with_into(a, b, out, |x: T, y: T| {
        let by = y.to_u32().unwrap_or(u32::MAX);
        let shifted = if left {
            x.checked_shl(by)
        } else {
            x.checked_shr(by)
        };
        shifted.unwrap_or_else(|| {
            if !left && x < T::zero() {
                !T::zero()
            } else {
                T::zero()
            }
        })
    })
}

/// ONNX `IsNaN` into `out`.
///
/// # Errors
/// [`Error::Shape`] if `out` has another shape.
pub fn is_nan_into<T: Element>(x: ArrayViewD<'_, T>, out: ArrayViewMutD<'_, bool>) -> Result<()> {
    map_into(x, out, |v| v.to_f64().is_nan())
}

/// ONNX `IsInf` into `out`: which infinities count is chosen by `negative` and `positive`.
///
/// ```
/// use ndarray::{array, ArrayD, IxDyn};
/// let mut out = ArrayD::<bool>::default(IxDyn(&[3]));
/// let x = array![f32::INFINITY, f32::NEG_INFINITY, 1.0].into_dyn();
/// onnx2rs_runtime::ops::is_inf_into(x.view(), false, true, out.view_mut()).unwrap();
/// assert_eq!(out, array![true, false, false].into_dyn());
/// ```
///
/// # Errors
/// [`Error::Shape`] if `out` has another shape.
pub fn is_inf_into<T: Element>(
    x: ArrayViewD<'_, T>,
    negative: bool,
    positive: bool,
    out: ArrayViewMutD<'_, bool>,
) -> Result<()> {
    map_into(x, out, |v| {
        let v = v.to_f64();
        v.is_infinite() && ((v > 0.0 && positive) || (v < 0.0 && negative))
    })
}
