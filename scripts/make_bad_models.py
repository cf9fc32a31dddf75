"""Write the bad-model corpus: files onnx2rs must refuse with one clear line and exit code 2.

    python scripts/make_bad_models.py OUT_DIR

Each case is a function returning the file's bytes; `tests/test_bad_models.py` builds
the same corpus in a temporary folder and runs `onnx2rs build` on every file.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

IR_VERSION = 8  # onnxruntime 1.31 refuses IR > 13


def _model(nodes, inputs, outputs, initializers=(), opset: int = 17, **kw) -> onnx.ModelProto:
    graph = helper.make_graph(nodes, "bad", inputs, outputs, list(initializers))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], ir_version=IR_VERSION, **kw)


def _x(name: str = "x", shape=(1, 4)) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, list(shape))


def _relu_model(opset: int) -> bytes:
    return _model([helper.make_node("Relu", ["x"], ["y"])], [_x()], [_x("y")], opset=opset).SerializeToString()


def truncated_protobuf() -> bytes:
    good = _model([helper.make_node("Add", ["x", "w"], ["y"])], [_x()], [_x("y")],
                  [numpy_helper.from_array(np.ones((1, 4), np.float32), "w")]).SerializeToString()
    return good[: len(good) * 2 // 3]


def corrupt_protobuf() -> bytes:
    return b"\x0a\xff\xff\xff\xff\x0f garbage that is not a model"


def opset_too_old() -> bytes:
    return _relu_model(opset=0)


def opset_too_new() -> bytes:
    return _relu_model(opset=99)


def unsupported_op() -> bytes:
    node = helper.make_node("Unique", ["x"], ["y"], name="dedupe")
    return _model([node], [_x()], [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None])]).SerializeToString()


def graph_with_a_cycle() -> bytes:
    nodes = [helper.make_node("Add", ["x", "b"], ["a"], name="first"),
             helper.make_node("Relu", ["a"], ["b"], name="second")]
    return _model(nodes, [_x()], [_x("a")]).SerializeToString()


def missing_initializer() -> bytes:
    node = helper.make_node("MatMul", ["x", "weights"], ["y"], name="dense")
    return _model([node], [_x()], [_x("y", (1, 3))]).SerializeToString()


def shape_mismatch() -> bytes:
    w = numpy_helper.from_array(np.ones((3, 5), np.float32), "w")
    node = helper.make_node("MatMul", ["x", "w"], ["y"], name="dense")
    return _model([node], [_x()], [_x("y", (1, 5))], [w]).SerializeToString()


def empty_file() -> bytes:
    return b""


CASES: dict[str, Callable[[], bytes]] = {f.__name__: f for f in (
    truncated_protobuf, corrupt_protobuf, empty_file, opset_too_old, opset_too_new, unsupported_op,
    graph_with_a_cycle, missing_initializer, shape_mismatch,
)}


def write(out_dir: Path) -> list[Path]:
    """Write every case as `OUT_DIR/<case>.onnx`; return the paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, make in CASES.items():
        path = out_dir / f"{name}.onnx"
        path.write_bytes(make())
        paths.append(path)
    return paths


if __name__ == "__main__":
    for p in write(Path(sys.argv[1] if len(sys.argv) > 1 else "bad_models")):
        print(p)
