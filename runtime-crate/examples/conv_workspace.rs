//! Prints the workspace [`conv_into`](onnx2rs_runtime::ops::conv_into) needs for each
//! convolution read from stdin, one per line as `x shape; w shape; strides; pads;
//! dilations; group; pool` (numbers separated by commas; the fused max pool's window,
//! empty for none), or the error it refuses the convolution with. `tests/ops/test_conv_workspace.py`
//! compares the answers with the compiler's mirror of this computation.
#![forbid(unsafe_code)]

use onnx2rs_runtime::ops::{conv_shapes, ConvParams};
use std::io::BufRead;

fn numbers(field: &str) -> Vec<usize> {
    field
        .split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|s| s.trim().parse().expect("a non-negative integer"))
        .collect()
}

fn main() {
    for line in std::io::stdin().lock().lines() {
        let fields: Vec<Vec<usize>> = line.expect("stdin").split(';').map(numbers).collect();
        let [x, w, strides, pads, dilations, group, pool] = fields.as_slice() else {
            panic!("expected seven fields: x; w; strides; pads; dilations; group; pool");
        };
        let p = ConvParams {
            strides,
            pads,
            dilations,
            group: group[0],
            pool,
            ..Default::default()
        };
        match conv_shapes(x, w, p) {
            Ok((_, workspace)) => println!("{workspace}"),
            Err(e) => println!("error: {e}"),
        }
    }
}
