//! The one error type that every runtime function and generated model returns.

use std::fmt;

/// Why a runtime call failed.
///
/// Generated models never panic on bad input: every check that can fail at run
/// time surfaces as one of these variants instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// An input given to `predict` has the wrong rank, shape or dtype.
    Input(String),
    /// Two tensors that an operator combines have incompatible shapes.
    Shape(String),
    /// An index (Gather) points outside the tensor it indexes.
    Index(String),
    /// The weights file is malformed or does not match what the model expects.
    Weights(String),
    /// Reading or writing a file failed.
    Io(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Input(m) => write!(f, "bad input: {m}"),
            Error::Shape(m) => write!(f, "shape mismatch: {m}"),
            Error::Index(m) => write!(f, "index out of range: {m}"),
            Error::Weights(m) => write!(f, "bad weights: {m}"),
            Error::Io(m) => write!(f, "i/o error: {m}"),
        }
    }
}

impl std::error::Error for Error {}

impl From<ndarray::ShapeError> for Error {
    fn from(e: ndarray::ShapeError) -> Self {
        Error::Shape(e.to_string())
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::Io(e.to_string())
    }
}

/// Shorthand for `Result<T, onnx2rs_runtime::Error>`.
pub type Result<T> = std::result::Result<T, Error>;
