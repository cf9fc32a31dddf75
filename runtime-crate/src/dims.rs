//! Reading the open dims of a model compiled with `--dynamic` (P11) from its inputs' shapes,
//! and checking the sizes that generated code computes from them.
//!
//! Generated code computes sizes in `i64`, so that an expression such as `h - 2` can say
//! "too small" instead of wrapping around, then turns each into a `usize` with [`size`].
//!
//! ```
//! use onnx2rs_runtime::dims;
//! let shape = [1, 3, 64, 48];
//! dims::rank("image", &shape, 4).unwrap();
//! dims::fixed("image", &shape, 1, 3).unwrap();
//! let h = dims::open("image", &shape, 2, "h").unwrap();
//! assert_eq!(dims::size(h / 2 - 1, "h/2 - 1").unwrap(), 31);
//! assert!(dims::size(h - 100, "h - 100").is_err());
//! ```
use crate::{Error, Result};

/// `shape` must have `rank` axes.
///
/// # Errors
/// [`Error::Input`] naming input `name` otherwise.
pub fn rank(name: &str, shape: &[usize], rank: usize) -> Result<()> {
    if shape.len() == rank {
        Ok(())
    } else {
        Err(Error::Input(format!(
            "{name:?} must have rank {rank}, got shape {shape:?}"
        )))
    }
}

/// Axis `axis` of `shape` must be `expected` (a dim the model fixes).
///
/// # Errors
/// [`Error::Input`] naming input `name` otherwise.
pub fn fixed(name: &str, shape: &[usize], axis: usize, expected: usize) -> Result<()> {
    match shape.get(axis) {
        Some(&d) if d == expected => Ok(()),
        _ => Err(Error::Input(format!(
            "{name:?} must have {expected} on axis {axis}, got shape {shape:?}"
        ))),
    }
}

/// The open dim `dim` read from axis `axis` of input `name`; at least 1.
///
/// # Errors
/// [`Error::Input`] if the axis is missing or empty.
pub fn open(name: &str, shape: &[usize], axis: usize, dim: &str) -> Result<i64> {
    match shape.get(axis).map(|&d| i64::try_from(d)) {
        Some(Ok(d)) if d >= 1 => Ok(d),
        _ => Err(Error::Input(format!(
            "{name:?}: the open dim {dim} (axis {axis}) must be at least 1, got shape {shape:?}"
        ))),
    }
}

/// Axis `axis` of `shape` must equal `expected`, which an earlier axis or a model constraint set.
///
/// # Errors
/// [`Error::Input`] naming input `name` and the expression `what` otherwise.
pub fn same(name: &str, shape: &[usize], axis: usize, expected: i64, what: &str) -> Result<()> {
    match shape.get(axis).map(|&d| i64::try_from(d)) {
        Some(Ok(d)) if d == expected => Ok(()),
        _ => Err(Error::Input(format!(
            "{name:?} must have {what} = {expected} on axis {axis}, got shape {shape:?}"
        ))),
    }
}

/// A size computed from the open dims, as a `usize`.
///
/// # Errors
/// [`Error::Input`] if it is negative: the inputs are too small for the model (a slice
/// or a kernel larger than what it reads).
pub fn size(value: i64, what: &str) -> Result<usize> {
    usize::try_from(value).map_err(|_| {
        Error::Input(format!(
            "the inputs are too small for the model: {what} comes to {value}"
        ))
    })
}

/// Two sizes that the model needs equal (an upsampled map added to a finer one): ONNX
/// Runtime refuses the inputs where they differ, and so does generated code.
///
/// # Errors
/// [`Error::Input`] quoting the equality `what` otherwise.
pub fn equal(a: i64, b: i64, what: &str) -> Result<()> {
    if a == b {
        Ok(())
    } else {
        Err(Error::Input(format!(
            "the input sizes do not fit the model: it needs {what}, but they give {a} and {b}"
        )))
    }
}
