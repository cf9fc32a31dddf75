//! Reading and writing `.npy` files, so that any language can feed a generated model.
//!
//! The format is numpy's (versions 1.0 to 3.0): a magic string, a header that is a Python
//! dict literal (`{'descr': '<f4', 'fortran_order': False, 'shape': (1, 3), }`), then the
//! values. The header is parsed here rather than by a general Python-literal parser: that
//! one (ndarray-npy's `py_literal`, through `pest`) was 200 KB of each generated binary and
//! brought 18 crates, one of them built with a C compiler, into every generated crate.

use crate::{Element, Error, Result};
use ndarray::{ArrayD, IxDyn, ShapeBuilder};
use safetensors::Dtype;
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::Path;

const MAGIC: &[u8] = b"\x93NUMPY";
/// A header longer than this is refused: numpy's own are under 200 bytes.
const MAX_HEADER: usize = 1 << 16;
/// Values are decoded this many bytes at a time, so that reading holds one copy of them.
const CHUNK: usize = 1 << 16;

/// Read an `.npy` file of element type `T` and any shape.
///
/// Types numpy lacks are read as their [`Element::Bits`]: `f16` and `bf16` from `uint16`
/// bit patterns, the float8 and float4 types from `uint8` bit patterns, 4- and 2-bit
/// integers from `int8`/`uint8` values. Little- and big-endian files are read, in C or
/// Fortran order.
///
/// ```
/// use onnx2rs_runtime::npy::{read_npy, write_npy};
/// let path = std::env::temp_dir().join("onnx2rs-npy-doctest.npy");
/// let x = ndarray::ArrayD::from_shape_vec(ndarray::IxDyn(&[2, 3]), vec![1.5f32, 2., 3., 4., 5., 6.])?;
/// write_npy(&path, &x)?;
/// assert_eq!(read_npy::<f32>(&path)?, x);
/// # std::fs::remove_file(&path).ok();
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// [`Error::Io`] if the file cannot be read (or is a folder); [`Error::Format`] if it is not
/// an `.npy` file or has more or fewer values than its shape says; [`Error::Input`] if it
/// holds values of another dtype.
pub fn read_npy<T: Element>(path: &Path) -> Result<ArrayD<T>> {
    let fail = |e: std::io::Error| Error::Io(format!("{}: {e}", path.display()));
    let file = File::open(path).map_err(fail)?;
    let metadata = file.metadata().map_err(fail)?;
    if metadata.is_dir() {
        return Err(Error::Io(format!(
            "{}: is a folder, not an .npy file",
            path.display()
        )));
    }
    decode(BufReader::new(file), metadata.len()).map_err(|e| e.context(path.display()))
}

/// [`read_npy`] from the bytes of an `.npy` file in memory.
///
/// ```
/// let bytes = b"\x93NUMPY\x01\x00\x76\x00{'descr': '<i4', 'fortran_order': False, 'shape': (2,), }";
/// let mut file = bytes.to_vec();
/// file.resize(128 - 1, b' ');
/// file.push(b'\n');
/// file.extend([7, 0, 0, 0, 9, 0, 0, 0]);
/// let x = onnx2rs_runtime::npy::npy_from_bytes::<i32>(&file)?;
/// assert_eq!(x.as_slice(), Some(&[7, 9][..]));
/// # Ok::<(), onnx2rs_runtime::Error>(())
/// ```
///
/// # Errors
/// [`Error::Format`] and [`Error::Input`] as [`read_npy`].
pub fn npy_from_bytes<T: Element>(bytes: &[u8]) -> Result<ArrayD<T>> {
    decode(bytes, bytes.len() as u64)
}

/// The array in `reader`, an `.npy` file of `size` bytes.
fn decode<T: Element>(mut reader: impl Read, size: u64) -> Result<ArrayD<T>> {
    let (header, header_bytes) = read_header(&mut reader).map_err(Error::Format)?;
    let (descr, fortran, shape) = parse_header(&header).map_err(Error::Format)?;
    let want = descr_of::<T::Bits>();
    let big_endian = match (descr.split_at_checked(1), want.split_at(1)) {
        (Some((order, kind)), (_, wanted))
            if kind == wanted && matches!(order, "<" | "|" | "=") =>
        {
            false
        }
        (Some((">", kind)), (_, wanted)) if kind == wanted => true,
        _ => {
            return Err(Error::Input(format!(
                "holds {descr:?} values, not {want:?}"
            )))
        }
    };
    let width = std::mem::size_of::<T::Bits>();
    let count = shape
        .iter()
        .try_fold(1usize, |n, &d| n.checked_mul(d))
        .filter(|n| n.checked_mul(width).is_some())
        .ok_or_else(|| Error::Format(format!("shape {shape:?} is too large")))?;
    // Checked against the file's size before anything is allocated for the values.
    if size.checked_sub(header_bytes as u64) != Some((count * width) as u64) {
        return Err(Error::Format(format!(
            "{} bytes of values where shape {shape:?} needs {}",
            size.saturating_sub(header_bytes as u64),
            count * width
        )));
    }
    let mut values = Vec::with_capacity(count);
    let mut chunk = vec![0u8; CHUNK.min(count * width).max(width)];
    while values.len() < count {
        let take = ((count - values.len()) * width).min(chunk.len() / width * width);
        let bytes = &mut chunk[..take];
        reader.read_exact(bytes)?;
        values.extend(bytes.chunks_exact_mut(width).map(|b| {
            if big_endian {
                b.reverse();
            }
            T::from_bits(<T::Bits as Element>::from_le_bytes(b))
        }));
    }
    let array = match fortran {
        false => ArrayD::from_shape_vec(IxDyn(&shape), values),
        true => ArrayD::from_shape_vec(IxDyn(&shape).f(), values)
            .map(|a| a.as_standard_layout().into_owned()),
    };
    array.map_err(|e| Error::Format(e.to_string()))
}

/// Write `array` to an `.npy` file (version 1.0, C order; the narrow types as in
/// [`read_npy`]).
///
/// # Errors
/// [`Error::Io`] if the file cannot be written.
pub fn write_npy<T: Element>(path: &Path, array: &ArrayD<T>) -> Result<()> {
    let fail = |e: std::io::Error| Error::Io(format!("{}: {e}", path.display()));
    let mut out = BufWriter::new(File::create(path).map_err(fail)?);
    let dims: Vec<String> = array.shape().iter().map(usize::to_string).collect();
    let shape = match dims.len() {
        1 => format!("({},)", dims[0]),
        _ => format!("({})", dims.join(", ")),
    };
    let mut header = format!(
        "{{'descr': '{}', 'fortran_order': False, 'shape': {shape}, }}",
        descr_of::<T::Bits>()
    );
    // Magic, version, length and header, padded with spaces to a multiple of 64, then '\n'.
    let unpadded = MAGIC.len() + 4 + header.len() + 1;
    header.extend(std::iter::repeat_n(
        ' ',
        unpadded.next_multiple_of(64) - unpadded,
    ));
    header.push('\n');
    let length = u16::try_from(header.len())
        .map_err(|_| Error::Io(format!("{}: shape {shape} is too long", path.display())))?;
    out.write_all(MAGIC).map_err(fail)?;
    out.write_all(&[1, 0]).map_err(fail)?;
    out.write_all(&length.to_le_bytes()).map_err(fail)?;
    out.write_all(header.as_bytes()).map_err(fail)?;
    let width = std::mem::size_of::<T::Bits>();
    let mut bytes = vec![0u8; width];
    for &v in array.iter() {
        v.to_bits().write_le_bytes(&mut bytes);
        out.write_all(&bytes).map_err(fail)?;
    }
    out.flush().map_err(fail)
}

/// numpy's name for the type that stores `B` (`<f4`, `|u1`, ...), little-endian.
fn descr_of<B: Element>() -> &'static str {
    match B::DTYPE {
        Dtype::BOOL => "|b1",
        Dtype::U8 => "|u1",
        Dtype::I8 => "|i1",
        Dtype::U16 => "<u2",
        Dtype::I16 => "<i2",
        Dtype::F16 => "<f2",
        Dtype::U32 => "<u4",
        Dtype::I32 => "<i4",
        Dtype::F32 => "<f4",
        Dtype::U64 => "<u8",
        Dtype::I64 => "<i8",
        Dtype::F64 => "<f8",
        _ => "?",
    }
}

/// The header text after the magic string and version, and how many bytes come before
/// the values.
fn read_header(reader: &mut impl Read) -> std::result::Result<(String, usize), String> {
    let mut start = [0u8; 8];
    reader
        .read_exact(&mut start)
        .map_err(|_| "too short for an .npy file".to_string())?;
    if &start[..6] != MAGIC {
        return Err("not an .npy file (no \\x93NUMPY magic)".into());
    }
    let (major, minor) = (start[6], start[7]);
    let length = match major {
        1 => {
            let mut n = [0u8; 2];
            reader.read_exact(&mut n).map_err(|e| e.to_string())?;
            u16::from_le_bytes(n) as usize
        }
        2 | 3 => {
            let mut n = [0u8; 4];
            reader.read_exact(&mut n).map_err(|e| e.to_string())?;
            usize::try_from(u32::from_le_bytes(n)).unwrap_or(usize::MAX)
        }
        _ => return Err(format!(".npy version {major}.{minor} is not supported")),
    };
    if length > MAX_HEADER {
        return Err(format!("an .npy header of {length} bytes is too long"));
    }
    let mut header = vec![0u8; length];
    reader.read_exact(&mut header).map_err(|e| e.to_string())?;
    let text = String::from_utf8(header).map_err(|_| "the .npy header is not text".to_string())?;
    let before = 8 + if major == 1 { 2 } else { 4 } + length;
    Ok((text, before))
}

/// `(descr, fortran_order, shape)` from a header dict; every key must be one of the three,
/// and each must be there.
fn parse_header(text: &str) -> std::result::Result<(String, bool, Vec<usize>), String> {
    let bad = |why: &str| format!("malformed .npy header ({why}): {:?}", text.trim_end());
    let body = text
        .trim()
        .strip_prefix('{')
        .and_then(|t| t.strip_suffix('}'))
        .ok_or_else(|| bad("not a dict"))?;
    let (mut descr, mut fortran, mut shape) = (None, None, None);
    let mut rest = body.trim_start();
    while !rest.is_empty() {
        let (key, after) = quoted(rest).ok_or_else(|| bad("a key is not a string"))?;
        let after = after
            .trim_start()
            .strip_prefix(':')
            .ok_or_else(|| bad("no ':' after a key"))?
            .trim_start();
        let after = match key {
            "descr" => {
                let (value, after) = quoted(after).ok_or_else(|| bad("descr is not a string"))?;
                descr = Some(value.to_string());
                after
            }
            "fortran_order" => {
                let (value, after) = match after {
                    a if a.starts_with("True") => (true, &a[4..]),
                    a if a.starts_with("False") => (false, &a[5..]),
                    _ => return Err(bad("fortran_order is not True or False")),
                };
                fortran = Some(value);
                after
            }
            "shape" => {
                let inner = after
                    .strip_prefix('(')
                    .ok_or_else(|| bad("shape is not a tuple"))?;
                let close = inner.find(')').ok_or_else(|| bad("shape is not closed"))?;
                let dims = inner[..close]
                    .split(',')
                    .map(str::trim)
                    .filter(|d| !d.is_empty())
                    .map(|d| {
                        d.parse::<usize>()
                            .map_err(|_| bad("a dim is not a whole number"))
                    })
                    .collect::<std::result::Result<Vec<_>, _>>()?;
                shape = Some(dims);
                &inner[close + 1..]
            }
            _ => return Err(bad("unknown key")),
        };
        let after = after.trim_start();
        rest = match after.strip_prefix(',') {
            Some(more) => more.trim_start(),
            None if after.is_empty() => after,
            None => return Err(bad("no ',' between entries")),
        };
    }
    match (descr, fortran, shape) {
        (Some(d), Some(f), Some(s)) => Ok((d, f, s)),
        _ => Err(bad("descr, fortran_order or shape is missing")),
    }
}

/// A string literal in single or double quotes at the start of `text`, and what follows it.
fn quoted(text: &str) -> Option<(&str, &str)> {
    let quote = text.chars().next().filter(|q| matches!(q, '\'' | '"'))?;
    let end = text[1..].find(quote)? + 1;
    Some((&text[1..end], &text[end + 1..]))
}

#[cfg(test)]
mod tests {
    use super::{npy_from_bytes, parse_header};

    /// An `.npy` file with header `dict` and `values` after it.
    fn file(dict: &str, values: &[u8]) -> Vec<u8> {
        let mut text = dict.to_string();
        text.push('\n');
        let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
        bytes.extend((text.len() as u16).to_le_bytes());
        bytes.extend(text.as_bytes());
        bytes.extend(values);
        bytes
    }

    #[test]
    fn descrs_that_name_no_type_are_errors_not_panics() {
        for descr in ["", "<", "é4", "<f4x", "?"] {
            let dict = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': (1,), }}");
            assert!(
                npy_from_bytes::<f32>(&file(&dict, &[0; 4])).is_err(),
                "{descr:?}"
            );
        }
        let ok = file(
            "{'descr': '>f4', 'fortran_order': False, 'shape': (1,), }",
            &[0x3f, 0x80, 0, 0],
        );
        assert_eq!(
            npy_from_bytes::<f32>(&ok).unwrap().as_slice(),
            Some(&[1.0f32][..])
        );
    }

    #[test]
    fn headers_as_numpy_and_other_writers_spell_them() {
        let cases = [
            (
                "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 3), }",
                ("<f4", false, vec![1, 3]),
            ),
            (
                "{'descr': '|b1', 'fortran_order': True, 'shape': (5,), }   \n",
                ("|b1", true, vec![5]),
            ),
            (
                "{'shape': (), 'descr': '>i8', 'fortran_order': False}",
                (">i8", false, vec![]),
            ),
            (
                "{\"descr\":\"<u2\",\"fortran_order\":False,\"shape\":(2,3,4)}",
                ("<u2", false, vec![2, 3, 4]),
            ),
        ];
        for (text, (descr, fortran, shape)) in cases {
            assert_eq!(
                parse_header(text),
                Ok((descr.to_string(), fortran, shape)),
                "{text}"
            );
        }
    }

    #[test]
    fn malformed_headers_are_errors() {
        for text in [
            "",
            "{}",
            "['descr']",
            "{'descr': '<f4', 'fortran_order': False}",
            "{'descr': '<f4', 'fortran_order': maybe, 'shape': (1,)}",
            "{'descr': '<f4', 'fortran_order': False, 'shape': (1, -2)}",
            "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2}",
            "{'descr': '<f4' 'fortran_order': False, 'shape': (1,)}",
            "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'extra': 1}",
        ] {
            assert!(parse_header(text).is_err(), "{text:?}");
        }
    }
}
