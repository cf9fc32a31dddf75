//! Reading and writing `.npy` files, so that any language can feed a generated model.

use crate::{Element, Error, Result};
use ndarray::ArrayD;
use ndarray_npy::{ReadNpyExt, WriteNpyExt};
use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::Path;

/// Read an `.npy` file of element type `T` and any shape.
///
/// Types numpy lacks are read as their [`Element::Bits`]: `f16` and `bf16` from `uint16`
/// bit patterns, the float8 and float4 types from `uint8` bit patterns, 4- and 2-bit
/// integers from `int8`/`uint8` values.
///
/// # Errors
/// [`Error::Io`] if the file cannot be read or holds another dtype.
pub fn read_npy<T: Element>(path: &Path) -> Result<ArrayD<T>> {
    let file = File::open(path).map_err(|e| Error::Io(format!("{}: {e}", path.display())))?;
    let bits = ArrayD::<T::Bits>::read_npy(BufReader::new(file))
        .map_err(|e| Error::Io(format!("{}: {e}", path.display())))?;
    // In place when the file's element type is `T` itself (all but the 16-bit floats):
    // an input is often the largest array a run holds.
    Ok(bits.mapv_into_any(T::from_bits))
}

/// Write `array` to an `.npy` file (the narrow types as in [`read_npy`]).
///
/// # Errors
/// [`Error::Io`] if the file cannot be written.
pub fn write_npy<T: Element>(path: &Path, array: &ArrayD<T>) -> Result<()> {
    let file = File::create(path).map_err(|e| Error::Io(format!("{}: {e}", path.display())))?;
    array
        .mapv(T::to_bits)
        .write_npy(BufWriter::new(file))
        .map_err(|e| Error::Io(format!("{}: {e}", path.display())))
}
