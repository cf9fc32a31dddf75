//! Reads each `.npy` file named on stdin (one `DTYPE IN OUT` per line, DTYPE one of f32,
//! f64, i8, i16, i32, i64, u8, u16, u32, u64, bool) with [`read_npy`] and writes it back
//! with [`write_npy`]; prints `ok` or the error, one line per file.
//! `tests/ops/test_npy.py` checks both against numpy's own reader and writer.
#![forbid(unsafe_code)]

use onnx2rs_runtime::npy::{read_npy, write_npy};
use onnx2rs_runtime::{Element, Result};
use std::io::BufRead;
use std::path::Path;

fn copy<T: Element>(from: &str, to: &str) -> Result<()> {
    write_npy(Path::new(to), &read_npy::<T>(Path::new(from))?)
}

fn main() {
    for line in std::io::stdin().lock().lines() {
        let line = line.expect("stdin");
        let [dtype, from, to] = line.split(' ').collect::<Vec<_>>()[..] else {
            panic!("expected DTYPE IN OUT, got {line:?}");
        };
        let done = match dtype {
            "f32" => copy::<f32>(from, to),
            "f64" => copy::<f64>(from, to),
            "i8" => copy::<i8>(from, to),
            "i16" => copy::<i16>(from, to),
            "i32" => copy::<i32>(from, to),
            "i64" => copy::<i64>(from, to),
            "u8" => copy::<u8>(from, to),
            "u16" => copy::<u16>(from, to),
            "u32" => copy::<u32>(from, to),
            "u64" => copy::<u64>(from, to),
            "bool" => copy::<bool>(from, to),
            _ => panic!("unknown dtype {dtype}"),
        };
        match done {
            Ok(()) => println!("ok"),
            Err(e) => println!("{e}"),
        }
    }
}
