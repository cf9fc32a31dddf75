"""Write the hostile-name corpus: valid models whose names, doc strings and metadata try to
break out of the Rust source onnx2rs generates. Each must compile into a crate that builds
and matches ONNX Runtime (tests/e2e/test_hostile.py), or be refused with a clear error.

    python scripts/make_hostile_models.py OUT_DIR
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

IR_VERSION = 8  # onnxruntime 1.31 refuses IR > 13

INJECTION = '"); std::process::exit(1); //'
HOSTILE = [
    INJECTION,
    'r#"',
    "*/ fn main() {} /*",
    "line\nbreak\r\n// fn evil() {}",
    "ünïcödé 名前 \u202e\u0000",
    "x" * 10_000,
    "self",
    "type",
    "a-b",
    "a_b",
    "A B",
    "9lives",
    "{{ crate }}{% raw %}",
]


def names_everywhere() -> onnx.ModelProto:
    """Every name slot holds a hostile string: inputs, outputs, intermediates, initializers,
    node names (two of them equal), doc strings and metadata."""
    x1, x2, w, s, ab, out1, out2 = INJECTION, "a-b", 'r#"', "self", "a_b", "A B", "x" * 10_000
    f = TensorProto.FLOAT
    nodes = [
        helper.make_node("Add", [x1, w], [s], name="dup", doc_string='"); panic!(); //'),
        helper.make_node("Mul", [s, x2], [ab], name="dup"),
        helper.make_node("Relu", [ab], [out1], name="*/ fn main() {} /*"),
        helper.make_node("Tanh", [out1], ["9lives"], name="line\nbreak\r\n// fn evil() {}"),
        helper.make_node("Sigmoid", ["9lives"], [out2], name=""),
    ]
    graph = helper.make_graph(
        nodes, "{{ crate }}{% raw %}",
        [helper.make_tensor_value_info(x1, f, [1, 4]), helper.make_tensor_value_info(x2, f, [1, 4])],
        [helper.make_tensor_value_info(out1, f, [1, 4]), helper.make_tensor_value_info(out2, f, [1, 4])],
        [numpy_helper.from_array(np.linspace(-1, 1, 4, dtype=np.float32).reshape(1, 4), w)],
        doc_string="*/ #![allow(unsafe_code)] /*",
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=IR_VERSION,
                              doc_string='"""; import os; os.system("true")', producer_name="ünïcödé 名前")
    helper.set_model_props(model, {'"]; evil': "\u202e\nfn evil() {}", "type": "self"})
    return model


def keyword_and_long_names() -> onnx.ModelProto:
    """Rust keywords, names that collide after sanitising, and one input of 10,000 characters."""
    f = TensorProto.FLOAT
    a, b, c = "x" * 10_000, "x" * 10_001, "fn"
    nodes = [helper.make_node("Add", [a, b], ["match"], name="unsafe"),
             helper.make_node("Sub", ["match", c], ["Match"], name="impl")]
    graph = helper.make_graph(nodes, "type", [helper.make_tensor_value_info(n, f, [2, 3]) for n in (a, b, c)],
                              [helper.make_tensor_value_info("Match", f, [2, 3])])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=IR_VERSION)


CASES = {f.__name__: f for f in (names_everywhere, keyword_and_long_names)}


def write(out_dir: Path) -> list[Path]:
    """Write every case as `OUT_DIR/<case>.onnx`; return the paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, make in CASES.items():
        model = make()
        onnx.checker.check_model(model)
        path = out_dir / f"{name}.onnx"
        path.write_bytes(model.SerializeToString())
        paths.append(path)
    return paths


if __name__ == "__main__":
    for p in write(Path(sys.argv[1] if len(sys.argv) > 1 else "hostile_models")):
        print(p)
