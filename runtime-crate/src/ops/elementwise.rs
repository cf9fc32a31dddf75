//! Element-wise operators with numpy broadcasting.
//!
//! Spec: <https://onnx.ai/onnx/repo-docs/Broadcasting.html>. Binary and ternary
//! operators broadcast both sides; incompatible shapes are an [`Error::Shape`],
//! never a panic.

use crate::{Element, Error, Numeric, Result};
use ndarray::{ArrayD, ArrayViewD, IxDyn, Zip};

/// The shape that numpy broadcasting gives `a` and `b`.
///
/// ```
/// use onnx2rs_runtime::ops::broadcast_shape;
/// assert_eq!(broadcast_shape(&[2, 1, 3], &[4, 1]).unwrap(), vec![2, 4, 3]);
/// assert!(broadcast_shape(&[2], &[3]).is_err());
/// ```
///
/// # Errors
/// [`Error::Shape`] if a dimension pair is neither equal nor 1.
pub fn broadcast_shape(a: &[usize], b: &[usize]) -> Result<Vec<usize>> {
    let rank = a.len().max(b.len());
    let dim = |s: &[usize], i: usize| {
        if i + s.len() >= rank {
            s[i + s.len() - rank]
        } else {
            1
        }
    };
    (0..rank)
        .map(|i| match (dim(a, i), dim(b, i)) {
            (x, y) if x == y => Ok(x),
            (1, y) => Ok(y),
            (x, 1) => Ok(x),
            (x, y) => Err(Error::Shape(format!(
                "cannot broadcast {a:?} with {b:?} (dims {x} and {y})"
            ))),
        })
        .collect()
}

fn broadcast_to<'a, T>(x: &'a ArrayViewD<'_, T>, shape: &[usize]) -> Result<ArrayViewD<'a, T>> {
    x.broadcast(IxDyn(shape))
        .ok_or_else(|| Error::Shape(format!("cannot broadcast {:?} to {shape:?}", x.shape())))
}

/// Apply `f` to each pair of broadcast elements of `a` and `b`.
///
/// ```
/// use ndarray::{array, ArrayD};
/// use onnx2rs_runtime::ops::zip_with;
/// let a = array![[1.0f32], [2.0]].into_dyn();
/// let b = array![10.0f32, 20.0].into_dyn();
/// let c: ArrayD<f32> = zip_with(a.view(), b.view(), |x, y| x * y).unwrap();
/// assert_eq!(c, array![[10.0, 20.0], [20.0, 40.0]].into_dyn());
/// ```
///
/// # Errors
/// [`Error::Shape`] if the shapes do not broadcast.
pub fn zip_with<A: Copy, B: Copy, O>(
    a: ArrayViewD<'_, A>,
    b: ArrayViewD<'_, B>,
    f: impl Fn(A, B) -> O,
) -> Result<ArrayD<O>> {
    let shape = broadcast_shape(a.shape(), b.shape())?;
    let (a, b) = (broadcast_to(&a, &shape)?, broadcast_to(&b, &shape)?);
    Ok(Zip::from(&a).and(&b).map_collect(|&x, &y| f(x, y)))
}

macro_rules! binary_ops {
    ($($(#[$doc:meta])* $name:ident<$bound:ident> -> $out:ty = $f:expr;)*) => {$(
        $(#[$doc])*
        ///
        /// # Errors
        /// [`Error::Shape`] if the shapes do not broadcast.
        pub fn $name<T: $bound>(a: ArrayViewD<'_, T>, b: ArrayViewD<'_, T>) -> Result<ArrayD<$out>> {
            zip_with(a, b, $f)
        }
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
    add<Numeric> -> T = |x: T, y: T| x + y;
    /// ONNX `Sub`: `a - b`, broadcast.
    ///
    /// ```
    /// use ndarray::array;
    /// let y = onnx2rs_runtime::ops::sub(array![1.0f32, 2.0].into_dyn().view(), array![0.5f32].into_dyn().view()).unwrap();
    /// assert_eq!(y, array![0.5, 1.5].into_dyn());
    /// ```
    sub<Numeric> -> T = |x: T, y: T| x - y;
    /// ONNX `Mul`: `a * b`, broadcast.
    ///
    /// ```
    /// use ndarray::array;
    /// let y = onnx2rs_runtime::ops::mul(array![2i64, 3].into_dyn().view(), array![4i64].into_dyn().view()).unwrap();
    /// assert_eq!(y, array![8, 12].into_dyn());
    /// ```
    mul<Numeric> -> T = |x: T, y: T| x * y;
    /// ONNX `Div`: `a / b`, broadcast; integer division truncates, and `x / 0` is 0 for integers.
    ///
    /// ```
    /// use ndarray::array;
    /// let y = onnx2rs_runtime::ops::div(array![7i32, 7].into_dyn().view(), array![2i32, 0].into_dyn().view()).unwrap();
    /// assert_eq!(y, array![3, 0].into_dyn());
    /// ```
    div<Numeric> -> T = |x: T, y: T| x.div_onnx(y);
    /// ONNX `Less`: `a < b` as `bool`, broadcast.
    ///
    /// ```
    /// use ndarray::array;
    /// let y = onnx2rs_runtime::ops::less(array![1, 5].into_dyn().view(), array![3].into_dyn().view()).unwrap();
    /// assert_eq!(y, array![true, false].into_dyn());
    /// ```
    less<Element> -> bool = |x: T, y: T| x < y;
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
    let (c, x, y) = (
        broadcast_to(&cond, &shape)?,
        broadcast_to(&x, &shape)?,
        broadcast_to(&y, &shape)?,
    );
    Ok(Zip::from(&c)
        .and(&x)
        .and(&y)
        .map_collect(|&c, &x, &y| if c { x } else { y }))
}

macro_rules! unary_ops {
    ($($(#[$doc:meta])* $name:ident / $inplace:ident <$t:ty> = $f:expr;)*) => {$(
        $(#[$doc])*
        pub fn $name(x: ArrayViewD<'_, $t>) -> ArrayD<$t> {
            x.mapv($f)
        }

        #[doc = concat!("In-place form of [`", stringify!($name), "`]: overwrites `x`.")]
        pub fn $inplace(x: &mut ArrayD<$t>) {
            x.mapv_inplace($f)
        }
    )*};
}

fn sigmoid_f32(x: f32) -> f32 {
    // Two branches keep exp() from overflowing for large |x|.
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

unary_ops! {
    /// ONNX `Sigmoid`: `1 / (1 + exp(-x))`, computed without overflow.
    ///
    /// ```
    /// use ndarray::array;
    /// let y = onnx2rs_runtime::ops::sigmoid(array![0.0f32, -1000.0].into_dyn().view());
    /// assert_eq!(y, array![0.5, 0.0].into_dyn());
    /// ```
    sigmoid / sigmoid_inplace <f32> = sigmoid_f32;
    /// ONNX `Tanh`.
    ///
    /// ```
    /// use ndarray::array;
    /// let y = onnx2rs_runtime::ops::tanh(array![0.0f32].into_dyn().view());
    /// assert_eq!(y, array![0.0].into_dyn());
    /// ```
    tanh / tanh_inplace <f32> = f32::tanh;
    /// ONNX `Not` on booleans.
    ///
    /// ```
    /// use ndarray::array;
    /// let y = onnx2rs_runtime::ops::not(array![true, false].into_dyn().view());
    /// assert_eq!(y, array![false, true].into_dyn());
    /// ```
    not / not_inplace <bool> = |v: bool| !v;
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

/// In-place form of [`relu`].
pub fn relu_inplace<T: Numeric>(x: &mut ArrayD<T>) {
    x.mapv_inplace(relu_one)
}

fn relu_one<T: Numeric>(v: T) -> T {
    if v < T::zero() {
        T::zero()
    } else {
        v
    }
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

/// In-place form of [`clip`].
pub fn clip_inplace<T: Numeric>(x: &mut ArrayD<T>, min: T, max: T) {
    x.mapv_inplace(|v| clip_one(v, min, max))
}

fn clip_one<T: Numeric>(v: T, min: T, max: T) -> T {
    if v < min {
        min
    } else if v > max {
        max
    } else {
        v
    }
}
