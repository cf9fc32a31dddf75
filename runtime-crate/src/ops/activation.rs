//! Activations fused into the epilogue of Conv and Gemm, applied while the
//! output is written instead of in a separate pass over memory.

use crate::Numeric;

/// The activation a Conv or Gemm applies to its output.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum Activation {
    /// No activation.
    #[default]
    Identity,
    /// `max(x, 0)`.
    Relu,
    /// `min(max(x, min), max)` (ReLU6 is `Clip { min: 0, max: 6 }`).
    Clip {
        /// Lower bound.
        min: f32,
        /// Upper bound.
        max: f32,
    },
    /// `1 / (1 + exp(-x))`.
    Sigmoid,
    /// `tanh(x)`.
    Tanh,
}

impl Activation {
    /// Apply to one value; NaN stays NaN.
    ///
    /// ```
    /// use onnx2rs_runtime::ops::Activation;
    /// assert_eq!(Activation::Relu.apply(-2.0f32), 0.0);
    /// assert_eq!(Activation::Clip { min: 0.0, max: 6.0 }.apply(9.0f32), 6.0);
    /// assert_eq!(Activation::Identity.apply(-2.0f32), -2.0);
    /// ```
    #[inline]
    pub fn apply<T: Numeric>(self, v: T) -> T {
        match self {
            Activation::Identity => v,
            Activation::Relu => {
                if v < T::zero() {
                    T::zero()
                } else {
                    v
                }
            }
            Activation::Clip { min, max } => {
                let (lo, hi) = (T::from_f64(f64::from(min)), T::from_f64(f64::from(max)));
                if v < lo {
                    lo
                } else if v > hi {
                    hi
                } else {
                    v
                }
            }
            Activation::Sigmoid => T::from_f64(super::elementwise::sigmoid_f64(v.to_f64())),
            Activation::Tanh => T::from_f64(v.to_f64().tanh()),
        }
    }
}
