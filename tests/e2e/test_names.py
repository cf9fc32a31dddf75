"""Names from a model never collide with the generated code's own, in any generated file.

The model's inputs, outputs, nodes and weights are named after every identifier that our
templates bind (read from the templates themselves, so a new helper is covered the day it
is added), Rust keywords and prelude names. Its crate must build every target (lib, CLI,
tests, benches), pass clippy and its own tests, and match ONNX Runtime; its Python module
must install and read inputs in any memory layout.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from onnx2rs import CompileOptions, compile_model, toolchain
from onnx2rs.reference import run_onnxruntime
from onnx2rs.resources import templates_dir
from onnx2rs.tools.bench import install_python_module
from onnx2rs.tools.verify import run_cli

from ..helpers import IR_VERSION, scratch_dir

# The runtime is this checkout's, shared with the rest of the suite: names are the subject here,
# and the vendored layout has its own tests (tests/test_wheel.py, tests/e2e/test_models.py).
pytestmark = pytest.mark.cargo

# Names a user's model plausibly has that mean something to Rust or to our code.
PLAIN = ["input", "args", "std", "core", "Error", "Result", "Ok", "Some", "None", "Vec", "String", "model",
         "main", "self", "Self", "crate", "super", "fn", "type", "inputs", "outputs", "ndarray", "py", "x"]


def template_bindings() -> set[str]:
    """Every name the templates bind: locals, parameters, closure arguments and functions."""
    found: set[str] = set()
    for path in Path(templates_dir()).rglob("*.j2"):
        text = re.sub(r"\{[{%#].*?[}%#]\}", " ", path.read_text(), flags=re.S)
        found |= set(re.findall(r"\blet\s+(?:mut\s+)?\(?([a-z_][a-z0-9_]*)", text))
        found |= set(re.findall(r"\bfn\s+([a-z_][a-z0-9_]*)", text))
        found |= set(re.findall(r"[(,]\s*(?:mut\s+)?([a-z_][a-z0-9_]*)\s*:\s*[&A-Za-z]", text))
        found |= set(re.findall(r"\|([a-z_][a-z0-9_]*)\|", text))
    return {n for n in found if n != "_"}


def _names() -> list[str]:
    bindings = template_bindings()
    assert {"read_input", "view", "forward", "check_shapes", "inputs", "run"} <= bindings, bindings
    return sorted(set(PLAIN) | bindings)


def _shape(i: int) -> list[int]:
    """The first input is a matrix (for the layouts); the rest are scalars, which keep the
    generated wrong-shape tests (one per axis per input) small."""
    return [2, 3] if i == 0 else []


def _model(names: list[str]) -> onnx.ModelProto:
    """Input `n` -> Mul by weight `n` (node `n`) -> output `n` + " ": every name used four times."""
    nodes, inputs, outputs, weights = [], [], [], []
    for i, name in enumerate(names):
        nodes.append(helper.make_node("Mul", [name, f"w.{name}"], [f"{name} "], name=name))
        inputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, _shape(i)))
        outputs.append(helper.make_tensor_value_info(f"{name} ", TensorProto.FLOAT, _shape(i)))
        weights.append(onnx.numpy_helper.from_array(np.full(_shape(i), i + 2, np.float32), f"w.{name}"))
    graph = helper.make_graph(nodes, "names", inputs, outputs, weights)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=IR_VERSION)


LAYOUTS = """
import json, sys
import numpy as np
import names_module as module
m = module.Model()
name = m.input_names[0]
x = np.arange(6, dtype=np.float32).reshape(2, 3)
feeds = {n: x if n == name else np.array(1.5, np.float32) for n in m.input_names}
want = m.run(feeds)
out = {}
layouts = {
    "fortran": np.asfortranarray(x),
    "transposed": np.ascontiguousarray(x.T).T,
    "negative": np.flip(np.flip(x, 0).copy(), 0),
    "strided": np.repeat(x, 2, axis=1)[:, ::2],
}
for label, a in layouts.items():
    assert np.array_equal(a, x) and not a.flags.c_contiguous, label
    got = m.run({**feeds, name: a})
    out[label] = all(np.array_equal(got[k], want[k]) for k in want)
def error(feeds):
    try:
        m.run(feeds)
    except (ValueError, TypeError) as e:
        return [type(e).__name__, str(e)]
out["unknown"] = error({**feeds, "nope": x})
out["dtype"] = error({**feeds, name: x.astype(np.float64)})
out["rank"] = error({**feeds, name: x.reshape(6)})
out["first"] = name
print(json.dumps(out))
"""


def test_model_names_never_collide_with_generated_code(tmp_path: Path) -> None:
    names = _names()
    model = _model(names)
    feeds = {n: np.random.default_rng(i).standard_normal(_shape(i)).astype(np.float32) for i, n in enumerate(names)}
    expected = run_onnxruntime(model, feeds)
    with scratch_dir() as workdir:
        result = compile_model(model, workdir / "crate", CompileOptions(
            name="names_module", python=True, reference=(feeds, expected)))
        crate = result.out_dir
        # Every target of the crate (lib, CLI, tests and benches) compiles, without a warning.
        # The dev profile throughout: names are the subject, and 132 inputs, outputs and
        # weights take 165 s to optimise in release against 7 s in dev.
        toolchain.cargo(["clippy", "--all-targets", "--quiet", "--", "-D", "warnings"], crate)
        output = toolchain.cargo(["test", "--quiet"], crate)
        assert "test result: ok" in output and "FAILED" not in output
        binary = toolchain.build_binary(crate, result.crate, profile="dev")  # built by `cargo test` above
        ours = run_cli(binary, [feeds[n] for n in result.graph.inputs], len(expected), workdir)
        for a, b in zip(ours, expected, strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)

        python = install_python_module([toolchain.build_wheel(crate, profile="dev")], tmp_path / "venv")
        run = subprocess.run([str(python), "-c", LAYOUTS], capture_output=True, text=True, check=True)
    out = json.loads(run.stdout)
    assert {k: out[k] for k in ("fortran", "transposed", "negative", "strided")} == dict.fromkeys(
        ("fortran", "transposed", "negative", "strided"), True)
    first = out["first"]
    assert out["unknown"][0] == "ValueError" and "'nope'" in out["unknown"][1]
    assert out["dtype"][0] == "TypeError" and repr(first).replace("'", '"') in out["dtype"][1]
    assert "float32" in out["dtype"][1] and "float64" in out["dtype"][1]
    assert out["rank"][0] == "ValueError" and "must have rank 2" in out["rank"][1]
