//! Float element-wise functions as one table: each ONNX op is a variant of [`Unary`].
//!
//! Values are computed in `f64` and rounded once to the element type, so `f32`
//! and `f64` tensors share one implementation. The same enum is the epilogue
//! ([`Activation`]) that Conv and Gemm apply to their outputs.
//!
//! The transcendental functions come from the `libm` crate (pure Rust), never the
//! platform's C library: a model gives the same bits on glibc, musl and macOS, and
//! its binary needs no `libm.so` (which also keeps it out of the process's memory).
//! Spec: one page per op under <https://onnx.ai/onnx/operators/>.

use super::broadcast::update;
use crate::{Element, Result};
pub(crate) use math::{erf_f32, exp_f32, gelu_f32, sigmoid, sigmoid_f32, tanh_f32};
use multiversion::multiversion;
use ndarray::{ArrayViewD, ArrayViewMutD};

mod math;

/// A float function of one value, with its ONNX attributes.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
#[allow(missing_docs)] // each variant is the ONNX op of the same name
pub enum Unary {
    #[default]
    Identity,
    Relu,
    Clip {
        min: f64,
        max: f64,
    },
    Sigmoid,
    Tanh,
    Abs,
    Neg,
    Exp,
    Log,
    Sqrt,
    Reciprocal,
    Floor,
    Ceil,
    /// Round half to even, as ONNX `Round`.
    Round,
    Sign,
    Erf,
    Sin,
    Cos,
    Tan,
    Asin,
    Acos,
    Atan,
    Sinh,
    Cosh,
    Asinh,
    Acosh,
    Atanh,
    Softplus,
    Softsign,
    Mish,
    HardSwish,
    /// `x · sigmoid(alpha · x)`; SiLU with `alpha = 1` (recomposed from `x · Sigmoid(x)`).
    Swish {
        alpha: f64,
    },
    /// `approximate = "none"` (erf) or `"tanh"`.
    Gelu {
        tanh: bool,
    },
    LeakyRelu {
        alpha: f64,
    },
    Elu {
        alpha: f64,
    },
    Celu {
        alpha: f64,
    },
    Selu {
        alpha: f64,
        gamma: f64,
    },
    HardSigmoid {
        alpha: f64,
        beta: f64,
    },
    ThresholdedRelu {
        alpha: f64,
    },
    Shrink {
        bias: f64,
        lambd: f64,
    },
    /// `alpha · x + beta`: an activation of the recurrent ops only.
    Affine {
        alpha: f64,
        beta: f64,
    },
    /// `alpha · tanh(beta · x)`: an activation of the recurrent ops only.
    ScaledTanh {
        alpha: f64,
        beta: f64,
    },
}

/// The epilogue Conv and Gemm apply to their outputs: any [`Unary`].
pub type Activation = Unary;

impl Unary {
    /// Apply to one value; NaN propagates as the ONNX reference does.
    ///
    /// ```
    /// use onnx2rs_runtime::ops::Unary;
    /// assert_eq!(Unary::Relu.apply(-2.0), 0.0);
    /// assert_eq!(Unary::Clip { min: 0.0, max: 6.0 }.apply(9.0), 6.0);
    /// assert_eq!(Unary::Round.apply(2.5), 2.0);
    /// assert_eq!(Unary::LeakyRelu { alpha: 0.1 }.apply(-2.0), -0.2);
    /// ```
    #[inline]
    pub fn apply(self, x: f64) -> f64 {
        use Unary::*;
        match self {
            Identity => x,
            Relu => {
                if x < 0.0 {
                    0.0
                } else {
                    x
                }
            }
            Clip { min, max } => {
                // Lower bound first: with min > max everything becomes max, as ONNX says.
                let x = if x < min { min } else { x };
                if x > max {
                    max
                } else {
                    x
                }
            }
            Sigmoid => sigmoid(x),
            Tanh => libm::tanh(x),
            Abs => x.abs(),
            Neg => -x,
            Exp => libm::exp(x),
            Log => libm::log(x),
            Sqrt => x.sqrt(),
            Reciprocal => 1.0 / x,
            Floor => x.floor(),
            Ceil => x.ceil(),
            Round => x.round_ties_even(),
            Sign => {
                if x > 0.0 {
                    1.0
                } else if x < 0.0 {
                    -1.0
                } else {
                    x
                }
            }
            Erf => libm::erf(x),
            Sin => libm::sin(x),
            Cos => libm::cos(x),
            Tan => libm::tan(x),
            Asin => libm::asin(x),
            Acos => libm::acos(x),
            Atan => libm::atan(x),
            Sinh => libm::sinh(x),
            Cosh => libm::cosh(x),
            Asinh => libm::asinh(x),
            Acosh => libm::acosh(x),
            Atanh => libm::atanh(x),
            Softplus => {
                if x > 30.0 {
                    x
                } else {
                    libm::log1p(libm::exp(x))
                }
            }
            Softsign => x / (1.0 + x.abs()),
            Mish => x * libm::tanh(Softplus.apply(x)),
            HardSwish => x * (x / 6.0 + 0.5).clamp(0.0, 1.0),
            Swish { alpha } => x * sigmoid(alpha * x),
            Gelu { tanh: false } => 0.5 * x * (1.0 + libm::erf(x / std::f64::consts::SQRT_2)),
            Gelu { tanh: true } => {
                let inner = (2.0 / std::f64::consts::PI).sqrt() * (x + 0.044715 * x * x * x);
                0.5 * x * (1.0 + libm::tanh(inner))
            }
            LeakyRelu { alpha } => {
                if x < 0.0 {
                    alpha * x
                } else {
                    x
                }
            }
            Elu { alpha } => {
                if x < 0.0 {
                    alpha * (libm::exp(x) - 1.0)
                } else {
                    x
                }
            }
            Celu { alpha } => x.max(0.0) + (alpha * (libm::exp(x / alpha) - 1.0)).min(0.0),
            Selu { alpha, gamma } => {
                if x <= 0.0 {
                    gamma * alpha * (libm::exp(x) - 1.0)
                } else {
                    gamma * x
                }
            }
            HardSigmoid { alpha, beta } => (alpha * x + beta).clamp(0.0, 1.0),
            Affine { alpha, beta } => alpha * x + beta,
            ScaledTanh { alpha, beta } => alpha * libm::tanh(beta * x),
            ThresholdedRelu { alpha } => {
                if x > alpha {
                    x
                } else {
                    0.0
                }
            }
            Shrink { bias, lambd } => {
                if x < -lambd {
                    x + bias
                } else if x > lambd {
                    x - bias
                } else {
                    0.0
                }
            }
        }
    }

    /// Apply to an element of any numeric type, through `f64`.
    #[inline]
    pub fn apply_to<T: Element>(self, v: T) -> T {
        if T::DTYPE == safetensors::Dtype::F32 {
            return T::from_f64(f64::from(self.apply_f32(v.to_f64() as f32)));
        }
        T::from_f64(self.apply(v.to_f64()))
    }

    /// This op on an `f32`: the transcendental functions in single precision (as
    /// accurate as ONNX Runtime's, about twice as fast), the rest through [`Unary::apply`].
    ///
    /// ```
    /// use onnx2rs_runtime::ops::Unary;
    /// assert!((Unary::Tanh.apply_f32(0.5) - 0.5f32.tanh()).abs() < 1e-7);
    /// ```
    #[inline]
    pub fn apply_f32(self, x: f32) -> f32 {
        match self {
            Unary::Tanh => tanh_f32(x),
            Unary::Exp => exp_f32(x),
            Unary::Log => libm::logf(x),
            Unary::Erf => erf_f32(x),
            Unary::Sigmoid => sigmoid_f32(x),
            Unary::Swish { alpha } => x * sigmoid_f32(alpha as f32 * x),
            Unary::Gelu { tanh } => gelu_f32(x, tanh),
            _ => self.apply(f64::from(x)) as f32,
        }
    }

    /// `v + bias`, then this op, for every `v` of `values`, in place. Identity, Relu,
    /// Clip, HardSwish, HardSigmoid, LeakyRelu and (f32) Sigmoid, Tanh and Swish, the usual
    /// epilogues of Conv and Gemm, run as plain loops that vectorise; the rest go through
    /// [`Unary::apply`].
    ///
    /// ```
    /// use onnx2rs_runtime::ops::Unary;
    /// let mut v = [-3.0f32, 1.0, 9.0];
    /// Unary::Clip { min: 0.0, max: 6.0 }.add_then_apply(&mut v, 1.0);
    /// assert_eq!(v, [0.0, 2.0, 6.0]);
    /// ```
    #[inline(always)]
    pub fn add_then_apply<T: crate::Numeric>(self, values: &mut [T], bias: T) {
        self.with_epilogue(bias, InPlace(values));
    }

    /// Run `pass` with `v ↦ op(v + bias)`, matched once outside the pass's loop: Identity,
    /// Relu and Clip as plain arithmetic that vectorises, the rest through [`Unary::apply`].
    #[inline(always)]
    pub(crate) fn with_epilogue<T: crate::Numeric>(self, bias: T, pass: impl EpiloguePass<T>) {
        let zero = T::zero();
        match self {
            Unary::Identity => pass.run(move |v| v + bias),
            Unary::Relu => pass.run(move |v| {
                let t = v + bias;
                if t < zero {
                    zero
                } else {
                    t
                }
            }),
            Unary::Clip { min, max } => {
                let (lo, hi) = (T::from_f64(min), T::from_f64(max));
                pass.run(move |v| {
                    let t = v + bias;
                    let t = if t < lo { lo } else { t };
                    if t > hi {
                        hi
                    } else {
                        t
                    }
                });
            }
            // The usual activations of mobile networks, as plain arithmetic in `T` (within
            // an ulp of the `f64` path), so that their loops vectorise too.
            Unary::HardSwish | Unary::HardSigmoid { .. } => {
                let (alpha, beta, swish) = match self {
                    Unary::HardSigmoid { alpha, beta } => (alpha, beta, false),
                    _ => (1.0 / 6.0, 0.5, true),
                };
                let (alpha, beta, one) = (T::from_f64(alpha), T::from_f64(beta), T::one());
                let gate = move |t: T| {
                    let g = alpha * t + beta;
                    let g = if g < zero { zero } else { g };
                    if g > one {
                        one
                    } else {
                        g
                    }
                };
                match swish {
                    true => pass.run(move |v| (v + bias) * gate(v + bias)),
                    false => pass.run(move |v| gate(v + bias)),
                }
            }
            Unary::LeakyRelu { alpha } => {
                let alpha = T::from_f64(alpha);
                pass.run(move |v| {
                    let t = v + bias;
                    if t < zero {
                        alpha * t
                    } else {
                        t
                    }
                });
            }
            // f32's sigmoid and tanh are branch-free rational functions (as in MLAS).
            Unary::Sigmoid | Unary::Tanh if T::DTYPE == safetensors::Dtype::F32 => {
                let f = if self == Unary::Sigmoid {
                    sigmoid_f32
                } else {
                    tanh_f32
                };
                pass.run(move |v| T::from_f64(f64::from(f((v + bias).to_f64() as f32))));
            }
            Unary::Swish { alpha } if T::DTYPE == safetensors::Dtype::F32 => {
                let alpha = alpha as f32;
                pass.run(move |v| {
                    let t = (v + bias).to_f64() as f32;
                    T::from_f64(f64::from(t * sigmoid_f32(alpha * t)))
                });
            }
            Unary::Gelu { tanh } if T::DTYPE == safetensors::Dtype::F32 => {
                pass.run(move |v| {
                    T::from_f64(f64::from(gelu_f32((v + bias).to_f64() as f32, tanh)))
                });
            }
            _ => pass.run(move |v| self.apply_to(v + bias)),
        }
    }
}

/// `act(v + bias)` for every value, in place: the epilogue of a Conv's output plane or a
/// Gemm's output, compiled for AVX-512 and AVX2 as well (the baseline build runs it four
/// lanes at a time, and a GELU epilogue took a tenth of BERT's time so).
#[multiversion(targets("x86_64+avx512f+avx512vl+fma", "x86_64+avx2+fma"))]
pub(crate) fn bias_then_activation<T: crate::Numeric>(values: &mut [T], bias: T, act: Activation) {
    let f32_bias = T::as_f32(std::slice::from_ref(&bias)).and_then(|b| b.first().copied());
    if let (Unary::Gelu { tanh }, Some(values), Some(bias)) = (act, T::as_f32_mut(values), f32_bias)
    {
        // Its own loop: through `with_epilogue`, GELU's closure was too large to inline and
        // ran as a call per value, without this function's vector features.
        for v in values.iter_mut() {
            *v = gelu_f32(*v + bias, tanh);
        }
        return;
    }
    act.add_then_apply(values, bias);
}

/// A loop over values that applies an epilogue function to each (see
/// [`Unary::with_epilogue`]); generic over the function, so each epilogue is its own loop.
pub(crate) trait EpiloguePass<T> {
    /// Apply `f` to every value this pass covers.
    fn run(self, f: impl Fn(T) -> T);
}

/// Every value of a slice, in place.
struct InPlace<'a, T>(&'a mut [T]);

impl<T: Copy> EpiloguePass<T> for InPlace<'_, T> {
    #[inline(always)]
    fn run(self, f: impl Fn(T) -> T) {
        self.0.iter_mut().for_each(|v| *v = f(*v));
    }
}

/// `op` applied to every element of `x`, into `out` (same shape, or `x` broadcast to it).
///
/// ```
/// use ndarray::{array, ArrayD, IxDyn};
/// use onnx2rs_runtime::ops::{unary_into, Unary};
/// let mut out = ArrayD::<f32>::zeros(IxDyn(&[2]));
/// unary_into(array![-1.0f32, 4.0].into_dyn().view(), out.view_mut(), Unary::Sqrt).unwrap();
/// assert!(out[0].is_nan() && out[1] == 2.0);
/// ```
///
/// # Errors
/// [`crate::Error::Shape`] if `out` has another shape.
pub fn unary_into<T: Element>(
    x: ArrayViewD<'_, T>,
    out: ArrayViewMutD<'_, T>,
    op: Unary,
) -> Result<()> {
    match op {
        Unary::Tanh if T::DTYPE == safetensors::Dtype::F32 => {
            super::elementwise::map_into(x, out, tanh_as_f32)
        }
        Unary::Sigmoid if T::DTYPE == safetensors::Dtype::F32 => {
            super::elementwise::map_into(x, out, sigmoid_as_f32)
        }
        _ => super::elementwise::map_into(x, out, |v| op.apply_to(v)),
    }
}

/// `op` applied to every element of `x`, in place.
pub fn unary_inplace<T: Element>(mut x: ArrayViewMutD<'_, T>, op: Unary) {
    match x.as_slice_mut() {
        Some(values) => unary_flat_inplace(values, op),
        None => update(&mut x, |v| match op {
            Unary::Tanh if T::DTYPE == safetensors::Dtype::F32 => tanh_as_f32(v),
            Unary::Sigmoid if T::DTYPE == safetensors::Dtype::F32 => sigmoid_as_f32(v),
            _ => op.apply_to(v),
        }),
    }
}

/// [`unary_inplace`] over a flat slice, as generated code holds its arena's values: no
/// view to build for an op on a handful of values (a recurrent cell's gates).
///
/// ```
/// use onnx2rs_runtime::ops::{unary_flat_inplace, Unary};
/// let mut v = [0.0f32, 100.0];
/// unary_flat_inplace(&mut v, Unary::Sigmoid);
/// assert_eq!(v, [0.5, 1.0]);
/// ```
pub fn unary_flat_inplace<T: Element>(values: &mut [T], op: Unary) {
    crate::parallel::spans(values, 1, |_, values| unary_flat_simd(values, op));
}

/// [`unary_flat_inplace`], compiled for AVX-512 and AVX2 as well.
#[multiversion(targets("x86_64+avx512f+avx512vl+fma", "x86_64+avx2+fma"))]
fn unary_flat_simd<T: Element>(values: &mut [T], op: Unary) {
    let f32_op = |f: fn(f32) -> f32| move |v: T| T::from_f64(f64::from(f(v.to_f64() as f32)));
    match op {
        // Their own loops, so that the approximations inline and vectorise.
        Unary::Tanh if T::DTYPE == safetensors::Dtype::F32 => {
            values.iter_mut().for_each(|v| *v = tanh_as_f32(*v))
        }
        Unary::Sigmoid if T::DTYPE == safetensors::Dtype::F32 => {
            values.iter_mut().for_each(|v| *v = sigmoid_as_f32(*v))
        }
        Unary::Exp if T::DTYPE == safetensors::Dtype::F32 => {
            let f = f32_op(exp_f32);
            values.iter_mut().for_each(|v| *v = f(*v))
        }
        Unary::Erf if T::DTYPE == safetensors::Dtype::F32 => {
            let f = f32_op(erf_f32);
            values.iter_mut().for_each(|v| *v = f(*v))
        }
        Unary::Gelu { tanh } if T::DTYPE == safetensors::Dtype::F32 => values
            .iter_mut()
            .for_each(|v| *v = T::from_f64(f64::from(gelu_f32(v.to_f64() as f32, tanh)))),
        _ => values.iter_mut().for_each(|v| *v = op.apply_to(*v)),
    }
}

/// [`tanh_f32`] for an element type that is `f32` (checked by the caller).
#[inline(always)]
fn tanh_as_f32<T: Element>(v: T) -> T {
    T::from_f64(f64::from(tanh_f32(v.to_f64() as f32)))
}

/// [`sigmoid_f32`] for an element type that is `f32` (checked by the caller).
#[inline(always)]
fn sigmoid_as_f32<T: Element>(v: T) -> T {
    T::from_f64(f64::from(sigmoid_f32(v.to_f64() as f32)))
}
