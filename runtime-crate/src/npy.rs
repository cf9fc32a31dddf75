//! Reading and writing `.npy` files, so that any language can feed a generated model.

use crate::{Error, Result};
use ndarray::ArrayD;
use ndarray_npy::{ReadNpyExt, WriteNpyExt};
use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::Path;

/// Read an `.npy` file of element type `T` and any shape.
///
/// # Errors
/// [`Error::Io`] if the file cannot be read or holds another dtype.
pub fn read_npy<T: ReadableElement>(path: &Path) -> Result<ArrayD<T>> {
    let file = File::open(path).map_err(|e| Error::Io(format!("{}: {e}", path.display())))?;
    ArrayD::<T>::read_npy(BufReader::new(file))
        .map_err(|e| Error::Io(format!("{}: {e}", path.display())))
}

/// Write `array` to an `.npy` file.
///
/// # Errors
/// [`Error::Io`] if the file cannot be written.
pub fn write_npy<T: WritableElement>(path: &Path, array: &ArrayD<T>) -> Result<()> {
    let file = File::create(path).map_err(|e| Error::Io(format!("{}: {e}", path.display())))?;
    array
        .write_npy(BufWriter::new(file))
        .map_err(|e| Error::Io(format!("{}: {e}", path.display())))
}

pub use ndarray_npy::{ReadableElement, WritableElement};
