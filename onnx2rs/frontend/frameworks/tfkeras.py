"""TensorFlow/Keras front end: .keras, .h5, a SavedModel folder or .tflite -> ONNX, via tf2onnx.

Keras models are traced through a `tf.function` with a fixed input signature
(the path tf2onnx handles best with Keras 3); SavedModels through their serving
function; TFLite files through tf2onnx's TFLite reader. The batch dim is fixed
to 1 unless `dynamic_batch` keeps a `None` batch symbolic. TensorFlow is imported lazily:
it is the optional `[tf]` extra.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import onnx

from ...errors import ModelError

OPSET = 17
SUFFIXES = (".keras", ".h5", ".tflite")


def is_tensorflow(path: Path) -> bool:
    """True for the files and folders this front end reads."""
    return path.suffix in SUFFIXES or (path.is_dir() and (path / "saved_model.pb").is_file())


def _tf() -> tuple[Any, Any]:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    try:
        import tensorflow as tf
        import tf2onnx
    except ImportError:
        raise ModelError("TensorFlow models need tensorflow and tf2onnx: pip install 'onnx2rs[tf]'") from None
    return tf, tf2onnx


def _signature(specs: list[Any], dynamic_batch: bool) -> list[Any]:
    tf, _ = _tf()
    return [tf.TensorSpec((_batch(s.shape[0], dynamic_batch), *s.shape[1:]), s.dtype, name=s.name) for s in specs]


def _batch(declared: int | None, dynamic_batch: bool) -> int | None:
    """The batch dim to trace: a declared size as it is; a `None` batch stays symbolic with
    `dynamic_batch` (the compiler then decides whether any batch can run), else 1."""
    if declared is not None:
        return declared
    return None if dynamic_batch else 1


def _from_function(fn: Any, signature: list[Any]) -> onnx.ModelProto:
    _, tf2onnx = _tf()
    try:
        proto, _ = tf2onnx.convert.from_function(fn, input_signature=signature, opset=OPSET)
    except Exception as e:  # noqa: BLE001 - tf2onnx raises anything; the user needs its message
        raise ModelError(f"tf2onnx could not convert the model: {str(e).strip().splitlines()[0]}") from None
    return _converted(proto)


def _converted(proto: onnx.ModelProto) -> onnx.ModelProto:
    """`proto`, unless tf2onnx left TensorFlow ops in it that ONNX does not have."""
    left = sorted({(n.op_type, n.name) for n in proto.graph.node
                   if n.domain in ("", "ai.onnx") and not onnx.defs.has(n.op_type)})
    if left:
        ops = ", ".join(sorted({op for op, _ in left}))
        raise ModelError(f"tf2onnx cannot convert the TensorFlow op(s) {ops} (first in node {left[0][1]!r}); "
                         "change the model (e.g. gelu(approximate=True) instead of Erfc) or convert it yourself")
    return proto


def export_keras(model: Any, dynamic_batch: bool = False) -> onnx.ModelProto:
    """Convert an in-memory Keras model to ONNX (batch 1 unless `dynamic_batch`)."""
    tf, _ = _tf()
    specs = [tf.TensorSpec(i.shape, i.dtype, name=i.name.split(":")[0]) for i in model.inputs]
    fn = tf.function(lambda *args: model(list(args) if len(args) > 1 else args[0], training=False))
    return _from_function(fn, _signature(specs, dynamic_batch))


def read_tensorflow(path: Path, dynamic_batch: bool = False, trust_code: bool = False) -> onnx.ModelProto:
    """Convert a .keras/.h5 file, a SavedModel folder or a .tflite file to ONNX. `trust_code`
    lets a Keras file run the Python code it carries (Keras's `safe_mode=False`)."""
    tf, tf2onnx = _tf()
    if path.suffix == ".tflite":
        try:
            proto, _ = tf2onnx.convert.from_tflite(str(path), opset=OPSET)
        except Exception as e:  # noqa: BLE001
            raise ModelError(f"{path}: tf2onnx could not read the TFLite model ({e})") from None
        return _converted(proto)
    if path.is_dir():
        try:
            loaded = tf.saved_model.load(str(path))
        except Exception as e:  # noqa: BLE001
            raise ModelError(f"{path}: not a readable SavedModel ({e})") from None
        fn = getattr(loaded, "serve", None) or loaded.signatures.get("serving_default")
        if fn is None:
            raise ModelError(f"{path}: the SavedModel has no 'serve' or 'serving_default' function")
        concrete = fn.concrete_functions[0] if hasattr(fn, "concrete_functions") else fn
        specs = [s for s in concrete.structured_input_signature[0]] or list(
            concrete.structured_input_signature[1].values())
        return _from_function(fn, _signature(specs, dynamic_batch))
    import keras

    try:
        model = keras.models.load_model(str(path), compile=False, safe_mode=not trust_code)
    except Exception as e:  # noqa: BLE001
        first = str(e).strip().splitlines()[0][:300] if str(e).strip() else type(e).__name__
        hint = ""
        if not trust_code and any(w in str(e) for w in ("safe_mode", "Lambda", "deserialized")):
            hint = ("; if it holds Lambda or custom layers and you trust the file, pass --trust-code "
                    "(Keras then runs the Python code it carries)")
        raise ModelError(f"{path}: not a readable Keras model ({first}){hint}") from None
    return export_keras(model, dynamic_batch)
