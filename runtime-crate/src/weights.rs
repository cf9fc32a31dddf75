//! Loading model weights from a safetensors file, checked against what the code expects.

use crate::{Element, Error, Result};
use ndarray::{ArrayD, ArrayView, CowArray, IxDyn};
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
        let data = self.checked::<T>(name, shape)?;
        let size = std::mem::size_of::<T>();
        let values: Vec<T> = data.chunks_exact(size).map(T::from_le_bytes).collect();
        Ok(ArrayD::from_shape_vec(IxDyn(shape), values)?)
    }

    /// Tensor `name` read in place from the buffer when its bytes can be (see
    /// [`Element::view_le_bytes`]), else copied; dtype and shape checked as by [`Weights::tensor`].
    /// Weights embedded in a binary then cost no second copy in memory and no time to load.
    ///
    /// ```
    /// use onnx2rs_runtime::Weights;
    /// let bytes = std::fs::read("tests/data/tiny.safetensors").unwrap();
    /// let w = Weights::parse(&bytes).unwrap();
    /// assert_eq!(w.tensor_in_place::<f32>("a", &[2, 2]).unwrap(), w.tensor::<f32>("a", &[2, 2]).unwrap());
    /// ```
    ///
    /// # Errors
    /// As [`Weights::tensor`].
    pub fn tensor_in_place<T: Element>(
        &self,
        name: &str,
        shape: &[usize],
    ) -> Result<CowArray<'a, T, IxDyn>> {
        let data = self.checked::<T>(name, shape)?;
        match T::view_le_bytes(data) {
            Some(values) => Ok(ArrayView::from_shape(IxDyn(shape), values)?.into()),
            None => Ok(self.tensor(name, shape)?.into()),
        }
    }

    /// The bytes of tensor `name`, once its dtype, shape and length are checked.
    fn checked<T: Element>(&self, name: &str, shape: &[usize]) -> Result<&'a [u8]> {
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
        let data = view.data();
        if data.len() != shape.iter().product::<usize>() * std::mem::size_of::<T>() {
            return Err(Error::Weights(format!(
                "tensor {name:?} has the wrong byte length"
            )));
        }
        Ok(data)
    }
}

#[cfg(test)]
mod tests {
    use super::Weights;

    /// `bytes` copied into 8-byte-aligned storage, and a copy starting one byte later.
    fn aligned_and_shifted(bytes: &[u8]) -> (Vec<u64>, Vec<u64>) {
        let mut aligned = vec![0u64; bytes.len() / 8 + 2];
        let mut shifted = aligned.clone();
        bytemuck::cast_slice_mut::<u64, u8>(&mut aligned)[..bytes.len()].copy_from_slice(bytes);
        bytemuck::cast_slice_mut::<u64, u8>(&mut shifted)[1..=bytes.len()].copy_from_slice(bytes);
        (aligned, shifted)
    }

    #[test]
    fn aligned_tensors_are_read_in_place_and_others_copied() {
        let bytes = std::fs::read("tests/data/tiny.safetensors").expect("test data");
        let (aligned, shifted) = aligned_and_shifted(&bytes);
        let aligned = &bytemuck::cast_slice::<u64, u8>(&aligned)[..bytes.len()];
        let shifted = &bytemuck::cast_slice::<u64, u8>(&shifted)[1..=bytes.len()];
        let copied = Weights::parse(&bytes)
            .unwrap()
            .tensor::<f32>("a", &[2, 2])
            .unwrap();
        let w = Weights::parse(aligned).unwrap();
        let in_place = w.tensor_in_place::<f32>("a", &[2, 2]).unwrap();
        assert!(in_place.is_view(), "an aligned f32 tensor is borrowed");
        assert_eq!(in_place, copied);
        let w = Weights::parse(shifted).unwrap();
        let misaligned = w.tensor_in_place::<f32>("a", &[2, 2]).unwrap();
        assert!(!misaligned.is_view(), "a misaligned one is copied");
        assert_eq!(misaligned, copied);
        assert!(w.tensor_in_place::<f32>("a", &[4]).is_err());
    }
}
