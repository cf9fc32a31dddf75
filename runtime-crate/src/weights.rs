//! Loading model weights from a safetensors file, checked against what the code expects.

use crate::{Element, Error, Result};
use ndarray::{ArrayD, IxDyn};
use safetensors::SafeTensors;

/// The CRC-32 (IEEE, as Python's `zlib.crc32`) of a weights file.
pub fn weights_crc32(bytes: &[u8]) -> u32 {
    crc32fast::hash(bytes)
}

/// A parsed safetensors file of model weights.
///
/// Every lookup checks the tensor's dtype and shape, so a file that does not
/// belong to the model is an error at load time, not wrong answers later.
///
/// ```
/// use onnx2rs_runtime::Weights;
/// let bytes = std::fs::read("tests/data/tiny.safetensors").unwrap();
/// let w = Weights::parse(&bytes).unwrap();
/// let a = w.tensor::<f32>("a", &[2, 2]).unwrap();
/// assert_eq!(a.shape(), &[2, 2]);
/// assert!(w.tensor::<f32>("a", &[4]).is_err());
/// ```
pub struct Weights<'a> {
    inner: SafeTensors<'a>,
}

impl<'a> Weights<'a> {
    /// Parse a safetensors buffer.
    ///
    /// # Errors
    /// [`Error::Weights`] if the header or the data offsets are malformed.
    pub fn parse(bytes: &'a [u8]) -> Result<Self> {
        let inner = SafeTensors::deserialize(bytes)
            .map_err(|e| Error::Weights(format!("not a valid safetensors file: {e}")))?;
        Ok(Self { inner })
    }

    /// [`Weights::parse`], after checking the buffer's CRC-32 against the one recorded
    /// when the model was compiled: a corrupt, truncated or swapped file fails here
    /// instead of giving wrong answers later.
    ///
    /// ```
    /// use onnx2rs_runtime::Weights;
    /// let bytes = std::fs::read("tests/data/tiny.safetensors").unwrap();
    /// let crc = onnx2rs_runtime::weights_crc32(&bytes);
    /// assert!(Weights::parse_checked(&bytes, crc).is_ok());
    /// assert!(Weights::parse_checked(&bytes, crc ^ 1).is_err());
    /// ```
    ///
    /// # Errors
    /// [`Error::Weights`] if the checksum differs or the file is malformed.
    pub fn parse_checked(bytes: &'a [u8], crc32: u32) -> Result<Self> {
        let found = weights_crc32(bytes);
        if found != crc32 {
            return Err(Error::Weights(format!(
                "checksum {found:08x} is not the {crc32:08x} recorded at build time: \
                 the weights file is corrupt, truncated or from another model"
            )));
        }
        Self::parse(bytes)
    }

    /// The names of all tensors in the file, sorted.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.inner.names().into_iter().map(str::to_owned).collect();
        names.sort();
        names
    }

    /// Check that the file holds exactly the tensors named in `expected`.
    ///
    /// # Errors
    /// [`Error::Weights`] naming the first missing or unexpected tensor.
    pub fn expect_names(&self, expected: &[&str]) -> Result<()> {
        let names = self.names();
        if let Some(extra) = names.iter().find(|n| !expected.contains(&n.as_str())) {
            return Err(Error::Weights(format!("unexpected tensor {extra:?}")));
        }
        if let Some(missing) = expected.iter().find(|n| !names.iter().any(|m| m == *n)) {
            return Err(Error::Weights(format!("missing tensor {missing:?}")));
        }
        Ok(())
    }

    /// Copy tensor `name` out of the file, checking its dtype and shape.
    ///
    /// # Errors
    /// [`Error::Weights`] if the tensor is missing, or has another dtype or shape.
    pub fn tensor<T: Element>(&self, name: &str, shape: &[usize]) -> Result<ArrayD<T>> {
        let view = self
            .inner
            .tensor(name)
            .map_err(|_| Error::Weights(format!("missing tensor {name:?}")))?;
        if view.dtype() != T::DTYPE {
            return Err(Error::Weights(format!(
                "tensor {name:?} has dtype {:?}, expected {:?}",
                view.dtype(),
                T::DTYPE
            )));
        }
        if view.shape() != shape {
            return Err(Error::Weights(format!(
                "tensor {name:?} has shape {:?}, expected {shape:?}",
                view.shape()
            )));
        }
        let size = std::mem::size_of::<T>();
        let data = view.data();
        if data.len() != shape.iter().product::<usize>() * size {
            return Err(Error::Weights(format!(
                "tensor {name:?} has the wrong byte length"
            )));
        }
        let values: Vec<T> = data.chunks_exact(size).map(T::from_le_bytes).collect();
        Ok(ArrayD::from_shape_vec(IxDyn(shape), values)?)
    }
}
