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
    /// Reading or writing a file failed (it is missing, unreadable, a folder, the disk is full).
    Io(String),
    /// A file was read but is not what it claims to be: a malformed `.npy` file.
    Format(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Input(m) => write!(f, "bad input: {m}"),
            Error::Shape(m) => write!(f, "shape mismatch: {m}"),
            Error::Index(m) => write!(f, "index out of range: {m}"),
            Error::Weights(m) => write!(f, "bad weights: {m}"),
            Error::Io(m) => write!(f, "i/o error: {m}"),
            Error::Format(m) => write!(f, "malformed file: {m}"),
        }
    }
}

impl std::error::Error for Error {}

impl Error {
    /// The same error, with the name of the model node that raised it in front.
    ///
    /// ```
    /// use onnx2rs_runtime::Error;
    /// let e = Error::Shape("x".into()).in_node("conv1");
    /// assert_eq!(e.to_string(), "shape mismatch: node \"conv1\": x");
    /// ```
    #[must_use]
    pub fn in_node(self, node: &str) -> Self {
        self.context(format_args!("node {node:?}"))
    }

    /// The same error, of the same kind, with `what` (a file, an input) in front.
    ///
    /// ```
    /// use onnx2rs_runtime::Error;
    /// let e = Error::Io("is a folder".into()).context("x.npy");
    /// assert_eq!(e.to_string(), "i/o error: x.npy: is a folder");
    /// ```
    #[must_use]
    pub fn context(self, what: impl fmt::Display) -> Self {
        let tag = |m: String| format!("{what}: {m}");
        match self {
            Error::Input(m) => Error::Input(tag(m)),
            Error::Shape(m) => Error::Shape(tag(m)),
            Error::Index(m) => Error::Index(tag(m)),
            Error::Weights(m) => Error::Weights(tag(m)),
            Error::Io(m) => Error::Io(tag(m)),
            Error::Format(m) => Error::Format(tag(m)),
        }
    }
}

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
