//! Sliding-window geometry shared by convolution and pooling.

use crate::{Error, Result};
use ndarray::{ArrayView4, ArrayViewD, Ix4};

/// Kernel geometry for one spatial axis: size, stride, dilation and the two pads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Kernel size.
    pub kernel: usize,
    /// Step between windows.
    pub stride: usize,
    /// Spacing between kernel taps.
    pub dilation: usize,
    /// Zero padding before the start of the axis.
    pub pad_begin: usize,
    /// Zero padding after the end of the axis.
    pub pad_end: usize,
}

impl Window {
    /// The windows of a 1-D or 2-D op as a 2-D plane, from ONNX attributes
    /// (`pads` is `[begin_0, begin_1, …, end_0, end_1, …]`). A 1-D op becomes a
    /// 2-D one of height 1: its window is the second, after [`Window::UNIT`].
    /// Allocates nothing.
    ///
    /// # Errors
    /// [`Error::Shape`] if an attribute has the wrong length, the op is not 1-D
    /// or 2-D, or a stride or dilation is zero.
    pub fn plane(
        kernel: &[usize],
        strides: &[usize],
        dilations: &[usize],
        pads: &[usize],
    ) -> Result<[Window; 2]> {
        let n = kernel.len();
        if !(1..=2).contains(&n) {
            return Err(Error::Shape(format!(
                "window is not 1-D or 2-D: kernel {kernel:?}"
            )));
        }
        let mut plane = [Window::UNIT; 2];
        Window::fill(kernel, strides, dilations, pads, &mut plane[2 - n..])?;
        Ok(plane)
    }

    /// Fill `axes` with one window per spatial axis, from ONNX attributes
    /// (`pads` is `[begin_0, begin_1, …, end_0, end_1, …]`). Allocates nothing.
    ///
    /// # Errors
    /// [`Error::Shape`] if an attribute's length is not `axes.len()` (twice for
    /// `pads`), or a stride or dilation is zero.
    pub fn fill(
        kernel: &[usize],
        strides: &[usize],
        dilations: &[usize],
        pads: &[usize],
        axes: &mut [Window],
    ) -> Result<()> {
        let n = axes.len();
        if kernel.len() != n || strides.len() != n || dilations.len() != n || pads.len() != 2 * n {
            return Err(Error::Shape(format!(
                "window attributes disagree: kernel {kernel:?}, strides {strides:?}, dilations {dilations:?}, pads {pads:?}"
            )));
        }
        if strides.contains(&0) || dilations.contains(&0) {
            return Err(Error::Shape(
                "strides and dilations must be positive".into(),
            ));
        }
        for (i, axis) in axes.iter_mut().enumerate() {
            *axis = Window {
                kernel: kernel[i],
                stride: strides[i],
                dilation: dilations[i],
                pad_begin: pads[i],
                pad_end: pads[n + i],
            };
        }
        Ok(())
    }

    /// The identity window, used to view a 1-D op as a 2-D op of height 1.
    pub const UNIT: Window = Window {
        kernel: 1,
        stride: 1,
        dilation: 1,
        pad_begin: 0,
        pad_end: 0,
    };

    /// The extent of one dilated kernel.
    pub fn span(&self) -> usize {
        self.dilation * (self.kernel.max(1) - 1) + 1
    }

    /// The number of windows over an axis of length `input`.
    ///
    /// With `ceil`, a last partial window counts if it starts inside the input
    /// or its leading pad (the rule ONNX Runtime and PyTorch use).
    ///
    /// # Errors
    /// [`Error::Shape`] if the kernel does not fit in the padded axis.
    pub fn output_len(&self, input: usize, ceil: bool) -> Result<usize> {
        let padded = input + self.pad_begin + self.pad_end;
        if padded < self.span() {
            return Err(Error::Shape(format!(
                "kernel span {} exceeds padded length {padded}",
                self.span()
            )));
        }
        let room = padded - self.span();
        let mut len = room / self.stride + 1;
        if ceil && !room.is_multiple_of(self.stride) {
            len += 1;
            if (len - 1) * self.stride >= input + self.pad_begin {
                len -= 1;
            }
        }
        Ok(len)
    }

    /// The taps of window `o` that fall inside the padded axis: the divisor of an
    /// average that counts padding (a window past the end under `ceil_mode` is cut).
    pub fn padded_taps(&self, o: usize, input: usize) -> usize {
        let start = o * self.stride;
        let limit = input + self.pad_begin + self.pad_end;
        self.kernel
            .min(limit.saturating_sub(start).div_ceil(self.dilation))
    }

    /// The taps of window `o` that read the input rather than padding: [`Window::source`]
    /// is `Some` exactly for these (it grows with the tap, so they are one range).
    pub fn taps(&self, o: usize, input: usize) -> std::ops::Range<usize> {
        let at = o * self.stride;
        let lo = self.pad_begin.saturating_sub(at).div_ceil(self.dilation);
        let hi = (input + self.pad_begin)
            .saturating_sub(at)
            .div_ceil(self.dilation)
            .min(self.kernel);
        lo..hi.max(lo)
    }

    /// The windows (of `out_len`) all of whose taps read the input: for these,
    /// [`Window::taps`] is the whole kernel (found without a division per window).
    pub fn interior(&self, input: usize, out_len: usize) -> std::ops::Range<usize> {
        // Padding wider than the kernel can put every window's start in it.
        let lo = self.pad_begin.div_ceil(self.stride).min(out_len);
        let hi = match (input + self.pad_begin).checked_sub(self.span()) {
            Some(room) => (room / self.stride + 1).min(out_len),
            None => 0,
        };
        lo..hi.max(lo)
    }

    /// The windows (of `out_len`) whose tap `k` reads the input rather than padding.
    pub fn windows(&self, k: usize, input: usize, out_len: usize) -> std::ops::Range<usize> {
        let at = k * self.dilation;
        let lo = self.pad_begin.saturating_sub(at).div_ceil(self.stride);
        let hi = (input + self.pad_begin)
            .saturating_sub(at)
            .div_ceil(self.stride)
            .min(out_len);
        lo..hi.max(lo)
    }

    /// The input position of tap `k` in window `o`, or `None` inside the padding.
    pub fn source(&self, o: usize, k: usize, input: usize) -> Option<usize> {
        (o * self.stride + k * self.dilation)
            .checked_sub(self.pad_begin)
            .filter(|&i| i < input)
    }
}

/// `f(dst[i], src[i · stride])` for every `i` of `dst`; unit strides get their own
/// loop, which the compiler vectorises.
#[inline(always)]
pub(crate) fn zip_strided(dst: &mut [f32], src: &[f32], stride: usize, f: impl Fn(&mut f32, f32)) {
    if stride == 1 {
        dst.iter_mut().zip(src).for_each(|(d, &v)| f(d, v));
    } else {
        dst.iter_mut()
            .zip(src.iter().step_by(stride))
            .for_each(|(d, &v)| f(d, v));
    }
}

/// `x` as the 4-D tensor a 2-D window op works on (a 1-D op's input gets its height of 1
/// inserted first).
///
/// # Errors
/// [`Error::Shape`] if `x` is not 4-D.
pub(crate) fn to4<'a, T>(x: ArrayViewD<'a, T>) -> Result<ArrayView4<'a, T>> {
    Ok(x.into_dimensionality::<Ix4>()?)
}

#[cfg(test)]
mod tests {
    use super::Window;

    #[test]
    fn tap_and_window_ranges_agree_with_source() {
        for (kernel, stride, dilation, pad_begin, pad_end) in [
            (3, 1, 1, 1, 1),
            (2, 2, 1, 0, 1),
            (3, 2, 2, 2, 0),
            (5, 3, 1, 4, 4),
            (1, 1, 1, 0, 0),
            (3, 1, 1, 2, 0), // padding past the input: no window is interior
        ] {
            let win = Window {
                kernel,
                stride,
                dilation,
                pad_begin,
                pad_end,
            };
            for input in 1..12 {
                let Ok(out_len) = win.output_len(input, true) else {
                    continue;
                };
                for o in 0..out_len {
                    let expected: Vec<usize> = (0..kernel)
                        .filter(|&k| win.source(o, k, input).is_some())
                        .collect();
                    assert_eq!(
                        win.taps(o, input).collect::<Vec<_>>(),
                        expected,
                        "{win:?} o={o}"
                    );
                }
                let all: Vec<usize> = (0..kernel).collect();
                let interior = win.interior(input, out_len);
                assert!(interior.start <= interior.end && interior.end <= out_len);
                for o in 0..out_len {
                    let whole = win.taps(o, input).collect::<Vec<_>>() == all;
                    assert_eq!(whole, interior.contains(&o), "{win:?} o={o}");
                }
                for k in 0..kernel {
                    let expected: Vec<usize> = (0..out_len)
                        .filter(|&o| win.source(o, k, input).is_some())
                        .collect();
                    assert_eq!(win.windows(k, input, out_len).collect::<Vec<_>>(), expected);
                }
            }
        }
    }
}
