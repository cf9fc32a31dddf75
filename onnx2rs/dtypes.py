"""One table: ONNX element type <-> numpy dtype <-> Rust type."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from onnx import TensorProto


@dataclass(frozen=True)
class DType:
    """An element type that generated code can hold."""

    onnx: int
    numpy: np.dtype
    rust: str

    @property
    def is_float(self) -> bool:
        """True for floating-point types."""
        return self.numpy.kind == "f"


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
]
BY_ONNX = {d.onnx: d for d in _TABLE}
BY_NUMPY = {d.numpy: d for d in _TABLE}
BY_RUST = {d.rust: d for d in _TABLE}

F32 = BY_ONNX[TensorProto.FLOAT]
BOOL = BY_ONNX[TensorProto.BOOL]
INTEGERS = frozenset(d for d in _TABLE if d.numpy.kind in "iu")
NUMERIC = frozenset(d for d in _TABLE if d.numpy.kind in "iuf")
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
