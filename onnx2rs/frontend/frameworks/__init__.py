"""Front ends: models that are not ONNX files yet become ONNX here, before loading.

`to_onnx(path)` picks the front end by file type; ONNX files pass through
untouched (None). Each front end imports its framework only when called, so
onnx2rs itself never needs TensorFlow or PyTorch.
"""

from __future__ import annotations

from pathlib import Path

import onnx

from . import pytorch, tfkeras


def to_onnx(path: Path, dynamic_batch: bool = False, trust_code: bool = False) -> onnx.ModelProto | None:
    """The ONNX model for a framework file at `path`, or None if `path` is ONNX already.
    TensorFlow models keep a symbolic batch with `dynamic_batch` (else batch 1); `trust_code`
    lets a Keras file run its Lambda and custom layers' code."""
    if path.suffix == ".pt2":
        return pytorch.read_exported_program(path)
    if tfkeras.is_tensorflow(path):
        return tfkeras.read_tensorflow(path, dynamic_batch=dynamic_batch, trust_code=trust_code)
    return None


__all__ = ["to_onnx"]
