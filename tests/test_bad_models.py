"""Bad models: each is refused with one line naming the problem and exit code 2, never a
traceback, and nothing is written. The corpus comes from scripts/make_bad_models.py; the
fuzz tests mutate a good model (bounded here; docs/security.md gives the long run)."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from onnx import helper, numpy_helper
from typer.testing import CliRunner

from onnx2rs import CompileOptions
from onnx2rs.build import lower_model
from onnx2rs.cli import app
from onnx2rs.errors import Onnx2rsError

from .helpers import make_model

ROOT = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("make_bad_models", ROOT / "scripts" / "make_bad_models.py")
bad_models = importlib.util.module_from_spec(spec)
sys.modules["make_bad_models"] = bad_models
spec.loader.exec_module(bad_models)

# What the one error line must say, per case of the corpus.
EXPECTED = {
    "truncated_protobuf": "not a readable ONNX model",
    "corrupt_protobuf": "not a readable ONNX model",
    "empty_file": "no nodes",
    "opset_too_old": "opset 0 is not an ONNX opset",
    "opset_too_new": "opset 99 is newer",
    "unsupported_op": "unsupported op Unique in node(s) 'dedupe'; docs/ops.md",
    "graph_with_a_cycle": "cycle: 'first' -> 'second' -> 'first'",
    "missing_initializer": "reads 'weights', which no node, graph input or initializer defines",
    "shape_mismatch": "Incompatible dimensions",
}
# Long runs: ONNX2RS_FUZZ_EXAMPLES=20000 pytest tests/test_bad_models.py -k fuzz
FUZZ = settings(max_examples=int(os.environ.get("ONNX2RS_FUZZ_EXAMPLES", "60")), deadline=None,
                derandomize="ONNX2RS_FUZZ_EXAMPLES" not in os.environ,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


def build(model: Path, out: Path) -> tuple[int, str]:
    """`onnx2rs build MODEL -o OUT` in-process: (exit code, everything printed)."""
    result = CliRunner().invoke(app, ["build", str(model), "-o", str(out)])
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


def test_corpus_and_expectations_cover_the_same_cases() -> None:
    assert set(EXPECTED) == set(bad_models.CASES)


@pytest.mark.parametrize("case", sorted(EXPECTED))
def test_bad_model_is_one_clear_line_and_exit_2(case: str, tmp_path: Path) -> None:
    (path,) = [p for p in bad_models.write(tmp_path / "corpus") if p.stem == case]
    code, output = build(path, tmp_path / "out")
    lines = [line for line in output.splitlines() if line.strip()]
    assert code == 2, output
    assert len(lines) == 1 and lines[0].startswith("error: "), output
    assert EXPECTED[case] in lines[0]
    assert "Traceback" not in output
    assert not (tmp_path / "out").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["corpus"]  # no staging folder left behind


def _external_model(tmp_path: Path, location: str) -> Path:
    folder = tmp_path / "model"
    folder.mkdir()
    w = numpy_helper.from_array(np.ones((1, 4), np.float32), "w")
    w.ClearField("raw_data")
    w.data_location = onnx.TensorProto.EXTERNAL
    w.external_data.add(key="location", value=location)
    model = make_model([helper.make_node("Add", ["x", "w"], ["y"])], {"x": np.zeros((1, 4), np.float32)}, ["y"],
                       {"w": np.ones((1, 4), np.float32)})
    model.graph.initializer[0].CopyFrom(w)
    path = folder / "model.onnx"
    path.write_bytes(model.SerializeToString())
    return path


@pytest.mark.parametrize("how", ["parent", "absolute", "symlink"])
def test_external_data_outside_the_model_folder_is_refused(how: str, tmp_path: Path) -> None:
    secret = tmp_path / "secret.bin"
    secret.write_bytes(np.ones(4, np.float32).tobytes())
    location = {"parent": "../secret.bin", "absolute": str(secret), "symlink": "link.bin"}[how]
    path = _external_model(tmp_path, location)
    if how == "symlink":
        (path.parent / "link.bin").symlink_to(secret)
    code, output = build(path, tmp_path / "out")
    assert code == 2 and "outside the model's folder" in output, output
    assert not (tmp_path / "out").exists()


def test_external_data_inside_the_model_folder_loads(tmp_path: Path) -> None:
    path = _external_model(tmp_path, "weights.bin")
    (path.parent / "weights.bin").write_bytes(np.ones(4, np.float32).tobytes())
    _, graph, _ = lower_model(path, CompileOptions())
    np.testing.assert_array_equal(next(iter(graph.initializers.values())), np.ones((1, 4), np.float32))


def _seed_model() -> onnx.ModelProto:
    """A small model with a bit of everything: Conv, BatchNormalization, Relu, pooling, Gemm."""
    rng = np.random.default_rng(0)
    f = lambda *s: rng.standard_normal(s).astype(np.float32)  # noqa: E731
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"], name="conv", pads=[1, 1, 1, 1]),
        helper.make_node("BatchNormalization", ["c", "s", "b", "m", "v"], ["n"], name="bn"),
        helper.make_node("Relu", ["n"], ["r"], name="relu"),
        helper.make_node("GlobalAveragePool", ["r"], ["p"], name="pool"),
        helper.make_node("Flatten", ["p"], ["flat"], name="flatten"),
        helper.make_node("Gemm", ["flat", "dw", "db"], ["y"], name="dense", transB=1),
    ]
    weights = {"w": f(4, 2, 3, 3), "s": f(4), "b": f(4), "m": f(4), "v": np.abs(f(4)) + 0.5,
               "dw": f(3, 4), "db": f(3)}
    return make_model(nodes, {"x": f(1, 2, 5, 5)}, ["y"], weights)


SEED = _seed_model().SerializeToString()


def _lower_or_refuse(data: bytes, tmp_path: Path) -> None:
    """The fuzz property: loading and lowering either works or raises Onnx2rsError."""
    path = tmp_path / "fuzzed.onnx"
    path.write_bytes(data)
    try:
        lower_model(path, CompileOptions())
    except Onnx2rsError as e:
        assert str(e).strip()


@FUZZ
@given(flips=st.lists(st.tuples(st.integers(0, len(SEED) - 1), st.integers(0, 255)), min_size=1, max_size=6),
       cut=st.integers(1, len(SEED)))
def test_fuzz_byte_mutations_never_escape_as_tracebacks(flips, cut, tmp_path: Path) -> None:
    data = bytearray(SEED[:cut])
    for at, value in flips:
        if at < len(data):
            data[at] = value
    _lower_or_refuse(bytes(data), tmp_path)


# Structural mutations: what a hand-edited or hostile model file can say.
MUTATIONS = st.sampled_from(["drop_node", "drop_initializer", "rename_input", "op_type", "attr_int",
                             "dim", "dims_of_weight", "dtype", "opset"])


@FUZZ
@given(steps=st.lists(st.tuples(MUTATIONS, st.integers(0, 2**16), st.integers(-3, 70000)), min_size=1, max_size=3))
def test_fuzz_structural_mutations_never_escape_as_tracebacks(steps, tmp_path: Path) -> None:
    model = onnx.ModelProto.FromString(SEED)
    g = model.graph
    for kind, pick, number in steps:
        node = g.node[pick % len(g.node)] if g.node else None
        if kind == "drop_node" and node is not None:
            g.node.remove(node)
        elif kind == "drop_initializer" and g.initializer:
            g.initializer.remove(g.initializer[pick % len(g.initializer)])
        elif kind == "rename_input" and node is not None and node.input:
            node.input[pick % len(node.input)] = f"v{number}"
        elif kind == "op_type" and node is not None:
            node.op_type = ["Relu", "MatMul", "Softmax", "Reshape", "Loop", "If", "Split", "Nope"][pick % 8]
        elif kind == "attr_int" and node is not None and node.attribute:
            attr = node.attribute[pick % len(node.attribute)]
            if attr.type == onnx.AttributeProto.INTS and attr.ints:
                attr.ints[pick % len(attr.ints)] = number
            elif attr.type == onnx.AttributeProto.INT:
                attr.i = number
        elif kind == "dim":
            info = [*g.input, *g.output][pick % (len(g.input) + len(g.output))]
            dims = info.type.tensor_type.shape.dim
            if dims:
                dims[pick % len(dims)].dim_value = number
        elif kind == "dims_of_weight" and g.initializer:
            t = g.initializer[pick % len(g.initializer)]
            if t.dims:
                t.dims[pick % len(t.dims)] = max(number, 0)
        elif kind == "dtype" and g.initializer:
            g.initializer[pick % len(g.initializer)].data_type = pick % 30
        elif kind == "opset":
            model.opset_import[0].version = number % 40
    _lower_or_refuse(model.SerializeToString(), tmp_path)


def test_an_unforeseen_failure_is_still_one_line(monkeypatch, capsys, tmp_path: Path) -> None:
    import onnx2rs.cli as cli

    def boom(*_args, **_kwargs):
        raise RuntimeError("something onnx2rs did not foresee")

    monkeypatch.setattr(cli, "compile_model", boom)
    monkeypatch.setattr(sys, "argv", ["onnx2rs", "build", str(ROOT / "tests" / "models" / "mlp.onnx"),
                                      "-o", str(tmp_path / "out")])
    monkeypatch.delenv("ONNX2RS_TRACEBACK", raising=False)
    with pytest.raises(SystemExit) as exit_info:
        cli.main()
    assert exit_info.value.code == 1
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 1 and "internal error" in lines[0] and "did not foresee" in lines[0]
