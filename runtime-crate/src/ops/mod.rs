//! Operator kernels, one module per family. Generated code calls these.
//!
//! Naming follows ndarray: `relu` allocates its result, `relu_inplace`
//! overwrites its argument.

mod conv;
mod elementwise;
mod matmul;
mod norm;
mod pool;
mod shape;
mod window;

pub use conv::{conv, ConvParams};
pub use elementwise::*;
pub use matmul::{gemm, matmul, GemmParams};
pub use norm::{batch_norm, batch_norm_inplace, softmax, softmax_flattened, softmax_inplace};
pub use pool::{average_pool, global_average_pool, global_max_pool, max_pool, PoolParams};
pub use shape::{cast, concat, gather, reshape, transpose};
pub use window::Window;
