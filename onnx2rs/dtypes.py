"""One table: ONNX element type <-> numpy dtype <-> Rust type.

The narrow types (float16, bfloat16, float8, float4, 4- and 2-bit integers) are held by
newtypes of the runtime crate, and go through `.npy` and weights files as their storage:
the bit pattern for floats, the value for integers (see `to_storage`).
"""

from __future__ import annotations

from dataclasses import dataclass

import ml_dtypes
import numpy as np
from onnx import TensorProto


@dataclass(frozen=True)
class DType:
    """An element type that generated code can hold."""

    onnx: int
    numpy: np.dtype
    rust: str
    # Set for the narrow types only: how files store them, and a name for identifiers.
    storage: np.dtype | None = None
    short: str | None = None

    @property
    def name(self) -> str:
        """A lower-case name usable inside identifiers (`f32`, `f8e4m3fn`)."""
        return self.short or self.rust

    @property
    def native(self) -> bool:
        """True for the types with arithmetic kernels (numpy's own); False for narrow ones."""
        return self.storage is None

    @property
    def is_float(self) -> bool:
        """True for floating-point types, narrow ones included."""
        return self.numpy.kind == "f" or "float" in self.numpy.name


_TABLE = [
    DType(TensorProto.FLOAT, np.dtype(np.float32), "f32"),
    DType(TensorProto.DOUBLE, np.dtype(np.float64), "f64"),
    DType(TensorProto.INT32, np.dtype(np.int32), "i32"),
    DType(TensorProto.INT64, np.dtype(np.int64), "i64"),
    DType(TensorProto.UINT8, np.dtype(np.uint8), "u8"),
    DType(TensorProto.INT8, np.dtype(np.int8), "i8"),
    DType(TensorProto.INT16, np.dtype(np.int16), "i16"),
    DType(TensorProto.UINT16, np.dtype(np.uint16), "u16"),
    DType(TensorProto.UINT32, np.dtype(np.uint32), "u32"),
    DType(TensorProto.UINT64, np.dtype(np.uint64), "u64"),
    DType(TensorProto.BOOL, np.dtype(np.bool_), "bool"),
    DType(TensorProto.FLOAT16, np.dtype(np.float16), "onnx2rs_runtime::f16", np.dtype(np.uint16), "f16"),
    DType(TensorProto.BFLOAT16, np.dtype(ml_dtypes.bfloat16), "onnx2rs_runtime::bf16", np.dtype(np.uint16), "bf16"),
    *(DType(getattr(TensorProto, onnx_name), np.dtype(getattr(ml_dtypes, numpy_name)),
            f"onnx2rs_runtime::{rust}", np.dtype(np.uint8), rust.lower())
      for onnx_name, numpy_name, rust in (
          ("FLOAT8E4M3FN", "float8_e4m3fn", "F8E4M3FN"),
          ("FLOAT8E4M3FNUZ", "float8_e4m3fnuz", "F8E4M3FNUZ"),
          ("FLOAT8E5M2", "float8_e5m2", "F8E5M2"),
          ("FLOAT8E5M2FNUZ", "float8_e5m2fnuz", "F8E5M2FNUZ"),
          ("FLOAT8E8M0", "float8_e8m0fnu", "F8E8M0"),
          ("FLOAT4E2M1", "float4_e2m1fn", "F4E2M1"))),
    *(DType(getattr(TensorProto, rust), np.dtype(getattr(ml_dtypes, rust.lower())),
            f"onnx2rs_runtime::{rust[0]}{rust[-1]}", np.dtype(np.int8 if rust[0] == "I" else np.uint8),
            f"{rust[0]}{rust[-1]}".lower())
      for rust in ("INT4", "UINT4", "INT2", "UINT2")),
]
BY_ONNX = {d.onnx: d for d in _TABLE}
BY_NUMPY = {d.numpy: d for d in _TABLE}
BY_RUST = {d.rust: d for d in _TABLE}
BY_NAME = {d.name: d for d in _TABLE}

F32 = BY_ONNX[TensorProto.FLOAT]
BOOL = BY_ONNX[TensorProto.BOOL]
INTEGERS = frozenset(d for d in _TABLE if d.native and d.numpy.kind in "iu")
# The 16-bit floats have arithmetic too (each result rounded to 16 bits).
HALF = frozenset({BY_NAME["f16"], BY_NAME["bf16"]})
NUMERIC = frozenset(d for d in _TABLE if d.native and d.numpy.kind in "iuf") | HALF
ALL = frozenset(_TABLE)


def from_onnx(elem_type: int) -> DType | None:
    """The DType for an ONNX element type, or None if generated code cannot hold it."""
    return BY_ONNX.get(elem_type)


def from_numpy(dtype: np.dtype) -> DType | None:
    """The DType for a numpy dtype, or None if generated code cannot hold it."""
    return BY_NUMPY.get(np.dtype(dtype))


def onnx_name(elem_type: int) -> str:
    """A readable name of an ONNX element type, for error messages."""
    return TensorProto.DataType.Name(elem_type).lower()


def to_storage(array: np.ndarray) -> np.ndarray:
    """`array` as `.npy` and weights files hold it (narrow types as bits or values)."""
    dtype = from_numpy(array.dtype)
    if dtype is None or dtype.storage is None:  # a native dtype is its own storage
        return array
    if dtype.is_float:
        return array.view(dtype.storage)
    return array.astype(dtype.storage)


def from_storage(array: np.ndarray, dtype: DType) -> np.ndarray:
    """The inverse of `to_storage`: an array read from a file, as `dtype`."""
    if dtype.native:
        return array
    if dtype.is_float:
        return array.view(dtype.numpy)
    return array.astype(dtype.numpy)
