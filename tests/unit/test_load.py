"""The loader and preflight: bad models give one clear ModelError or UnsupportedError."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import helper

from onnx2rs.build import REWRITTEN, CompileOptions, lower_model
from onnx2rs.errors import ModelError, UnsupportedError
from onnx2rs.frontend import load as frontend_load

from ..helpers import make_model

ROOT = Path(__file__).resolve().parents[2]


def load(source, input_shapes=None):
    """The front end as the driver calls it, told which ops later steps remove."""
    return frontend_load.load(source, input_shapes, rewritten=REWRITTEN)


def test_charcnn_loads_with_static_shapes() -> None:
    _, g = load(ROOT / "examples" / "charcnn.onnx")
    assert g.inputs == ["chars"]
    for v in g.values.values():
        assert all(d > 0 for d in v.shape)


def test_missing_and_corrupt_files(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="no such file"):
        load(tmp_path / "nope.onnx")
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x08\x07garbage" * 10)
    with pytest.raises(ModelError):
        load(bad)


def test_symbolic_dims_need_a_shape() -> None:
    x = helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, ["batch", "n"])
    y = helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, ["batch", "n"])
    g = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g", [x], [y])
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    with pytest.raises(ModelError, match="--input-shape x="):
        load(model)
    _, graph = load(model, {"x": [3, 5]})
    assert graph.values["y"].shape == (3, 5)


def test_preflight_lists_every_unsupported_op_and_dtype() -> None:
    x = np.zeros((1, 4, 2, 2), np.float32)
    nodes = [helper.make_node("Det", ["x"], ["a"], name="det"),
             helper.make_node("Bernoulli", ["a"], ["y"], name="coin")]
    with pytest.raises(UnsupportedError) as e:
        lower_model(make_model(nodes, {"x": x}, ["y"]), CompileOptions())
    assert set(e.value.problems) == {"Det", "Bernoulli"}
    ints = np.zeros((3,), np.int32)
    with pytest.raises(UnsupportedError, match=r"Sigmoid \(dtype i32\)"):
        lower_model(make_model([helper.make_node("Sigmoid", ["x"], ["y"])], {"x": ints}, ["y"]), CompileOptions())


def _opset1_add() -> onnx.ModelProto:
    """An opset-1 Add with the `broadcast` attribute that opset 7 removed."""
    graph = helper.make_graph(
        [helper.make_node("Add", ["x", "b"], ["y"], broadcast=1)], "old",
        [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [3, 4]),
         helper.make_tensor_value_info("b", onnx.TensorProto.FLOAT, [4])],
        [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [3, 4])],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 1)], ir_version=8)


def test_old_opsets_are_upgraded_by_onnx_version_converter() -> None:
    _, g = load(_opset1_add())
    assert g.opset >= 7
    (add,) = g.nodes
    assert add.op_type == "Add" and "broadcast" not in add.attrs


def test_an_opset_the_converter_cannot_upgrade_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    # Every opset-1 op onnx ships converts; a failing converter stands in for a future gap.
    def refuse(model: onnx.ModelProto, version: int) -> onnx.ModelProto:
        raise RuntimeError("no adapter for Add 1 -> 6")

    monkeypatch.setattr(onnx.version_converter, "convert_version", refuse)
    with pytest.raises(ModelError, match="opset 1 is too old.*no adapter for Add"):
        load(_opset1_add())


def test_a_value_takes_its_shape_from_a_same_shape_reader() -> None:
    # ReduceSum over run-time axes: shape inference cannot tell its shape, but Sqrt keeps it.
    graph = helper.make_graph(
        [helper.make_node("ReduceSum", ["x", "axes"], ["s"], keepdims=1),
         helper.make_node("Sqrt", ["s"], ["y"])], "g",
        [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [3, 4]),
         helper.make_tensor_value_info("axes", onnx.TensorProto.INT64, [1])],
        [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [3, 1])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)], ir_version=8)
    _, g = load(model)
    assert g.value("s").shape == (3, 1)


def test_shape_chains_fold_when_onnxsim_cannot_run() -> None:
    # Opset 28 is newer than ONNX Runtime (which onnxsim runs) accepts: onnx2rs folds it itself.
    nodes = [
        helper.make_node("Shape", ["x"], ["shape"]),
        helper.make_node("Slice", ["shape", "zero", "one"], ["n"]),
        helper.make_node("Concat", ["n", "minus_one"], ["target"], axis=0),
        helper.make_node("Reshape", ["x", "target"], ["y"]),
    ]
    consts = {"zero": [0], "one": [1], "minus_one": [-1]}
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [2, 3, 4])],
        [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, ["a", "b"])],
        [onnx.numpy_helper.from_array(np.array(v, np.int64), k) for k, v in consts.items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 28)], ir_version=8)
    _, g = load(model)
    assert [n.op_type for n in g.nodes] == ["Reshape"]
    assert g.value("y").shape == (2, 12)


def test_onnxsim_is_imported_without_sympy_and_sympy_still_imports_after() -> None:
    """The import shortcut in `shapes._onnxsim_simplify` hides sympy from onnxsim alone: in a fresh
    interpreter, onnxsim's simplify is the real one, sympy was not loaded by it, and a later
    `import sympy` (torch does one) still works."""
    import subprocess
    import sys

    pytest.importorskip("sympy")
    script = (
        "import sys; from onnx2rs.frontend import shapes\n"
        "simplify = shapes._onnxsim_simplify()\n"
        "assert simplify.__module__ == 'onnxsim.onnx_simplifier', simplify.__module__\n"
        "assert 'sympy' not in sys.modules\n"
        "import sympy; assert sympy.Symbol('x') + 1 != 1\n"
        "print('ok')\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def test_declared_shapes_that_inference_contradicts_are_dropped_with_a_warning(
        caplog: pytest.LogCaptureFixture) -> None:
    """As ONNX Runtime does: PP-OCR's classifier declares its output as [-1, 2]."""
    x = helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, 2])
    y = helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [-1, 2])
    t = helper.make_tensor_value_info("t", onnx.TensorProto.FLOAT, [5, 2])
    g = helper.make_graph([helper.make_node("Relu", ["x"], ["t"]), helper.make_node("Neg", ["t"], ["y"])],
                          "g", [x], [y], value_info=[t])
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    with caplog.at_level("WARNING"):
        _, graph = load(model)
    assert graph.values["y"].shape == (1, 2)
    warned = [r.getMessage() for r in caplog.records if "contradict" in r.getMessage()]
    assert warned and "y [-1, 2]" in warned[0]


def test_ops_of_every_domain_are_refused_at_once() -> None:
    """A model quantized by ONNX Runtime's quantize_dynamic: every unsupported op, not the first."""
    quantization = pytest.importorskip("onnxruntime.quantization")
    import tempfile

    rng = np.random.default_rng(0)
    w = {"w": rng.standard_normal((8, 2, 3)).astype(np.float32),
         "r": rng.standard_normal((1, 8, 2)).astype(np.float32),
         "k": rng.standard_normal((4, 1, 3, 3)).astype(np.float32),
         "m": rng.standard_normal((2, 6)).astype(np.float32)}
    nodes = [helper.make_node("Conv", ["x", "k"], ["c"], name="conv", pads=[1, 1, 1, 1]),
             helper.make_node("Reshape", ["c", "s"], ["seq"], name="reshape"),
             helper.make_node("LSTM", ["seq", "w", "r"], ["h"], name="lstm", hidden_size=2),
             helper.make_node("MatMul", ["h", "m"], ["y"], name="matmul")]
    model = make_model(nodes, {"x": np.zeros((1, 1, 4, 4), np.float32)}, ["y"],
                       {**w, "s": np.array([16, 4, 3], np.int64)})
    with tempfile.TemporaryDirectory() as tmp:
        onnx.save(model, f"{tmp}/f.onnx")
        quantization.quantize_dynamic(f"{tmp}/f.onnx", f"{tmp}/q.onnx",
                                      op_types_to_quantize=["Conv", "LSTM", "MatMul"])
        with pytest.raises(UnsupportedError) as e:
            load(f"{tmp}/q.onnx")
    assert {"com.microsoft.DynamicQuantizeLSTM", "ConvInteger", "DynamicQuantizeLinear",
            "MatMulInteger"} <= set(e.value.problems)


def test_every_symbolic_input_dim_is_listed_in_one_message() -> None:
    x = helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, ["b", 3, "h", "w"])
    y = helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, ["b", "n"])
    out = helper.make_tensor_value_info("z", onnx.TensorProto.FLOAT, [])
    g = helper.make_graph([helper.make_node("ReduceSum", ["x"], ["z"], keepdims=0)], "g", [x, y], [out])
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 11)], ir_version=8)
    with pytest.raises(ModelError) as e:
        load(model)
    assert "--input-shape x=1,3,h,w" in str(e.value) and "--input-shape y=1,n" in str(e.value)


def test_a_shape_known_only_at_run_time_names_the_node_and_the_input() -> None:
    x = helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [2, 6])
    s = helper.make_tensor_value_info("target", onnx.TensorProto.INT64, [2])
    y = helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, ["a", "b"])
    g = helper.make_graph([helper.make_node("Reshape", ["x", "target"], ["r"], name="reshape_it"),
                           helper.make_node("Relu", ["r"], ["y"], name="relu")], "g", [x, s], [y])
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    with pytest.raises(ModelError, match=r"Reshape node 'reshape_it'.*input\(s\) 'target'"):
        load(model)


@pytest.mark.parametrize("dims, message", [
    ([1, 512], "fixes axis 1 of 'x' at 576"), ([1, 576, 1], "has rank 2, not 3"),
    ([1, -3], "no dim may be negative")])
def test_input_shapes_that_contradict_the_model_are_one_clear_error(dims: list[int], message: str) -> None:
    """silero_vad_openvino_16k.onnx fixes its input at [1, 576]: ONNX Runtime refused 512 as an internal error."""
    x = helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, ["batch", 576])
    y = helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, ["batch", 576])
    g = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g", [x], [y])
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    with pytest.raises(ModelError, match=re.escape(message)):
        load(model, {"x": dims})
