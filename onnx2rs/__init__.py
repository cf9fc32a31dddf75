"""onnx2rs: compile ONNX models into standalone, dependency-free Rust crates."""

from __future__ import annotations

from .build import CompileOptions, CompileResult, compile_model, from_torch
from .errors import ModelError, Onnx2rsError, UnsupportedError

__all__ = [
    "CompileOptions",
    "CompileResult",
    "ModelError",
    "Onnx2rsError",
    "UnsupportedError",
    "compile_model",
    "from_torch",
]
__version__ = "0.1.0"
