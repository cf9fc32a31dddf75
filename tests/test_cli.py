"""The command line: clear one-line errors, exit code 2, and nothing half-written."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
from onnx import helper

from .helpers import make_model

ROOT = Path(__file__).resolve().parent.parent


def onnx2rs(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "onnx2rs", *args], capture_output=True, text=True, cwd=cwd)


def unsupported_model(path: Path) -> Path:
    x = np.zeros((1, 4, 2, 2), np.float32)
    nodes = [
        helper.make_node("Det", ["x"], ["a"], name="det"),
        helper.make_node("Relu", ["a"], ["b"], name="relu"),
        helper.make_node("Bernoulli", ["b"], ["c"], name="coin1"),
        helper.make_node("Shrink", ["c"], ["e"], name="shrink"),
        helper.make_node("Bernoulli", ["e"], ["y"], name="coin2"),
    ]
    model = make_model(nodes, {"x": x}, ["y"])
    path.write_bytes(model.SerializeToString())
    return path


def test_unsupported_ops_exit_2_naming_every_op_and_node(tmp_path: Path) -> None:
    model = unsupported_model(tmp_path / "bad.onnx")
    out = tmp_path / "out"
    r = onnx2rs("build", str(model), "-o", str(out))
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    assert "Det" in r.stderr and "'det'" in r.stderr
    assert "Bernoulli" in r.stderr and "'coin1'" in r.stderr and "'coin2'" in r.stderr
    assert "docs/ops.md" in r.stderr
    assert not out.exists()
    assert list(tmp_path.iterdir()) == [model]  # no staging folder left either


def test_corrupt_file_is_one_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "corrupt.onnx"
    bad.write_bytes((ROOT / "tests" / "models" / "mlp.onnx").read_bytes()[:100])
    r = onnx2rs("build", str(bad), "-o", str(tmp_path / "out"))
    assert r.returncode == 2
    assert "Traceback" not in r.stderr and "error:" in r.stderr
    assert not (tmp_path / "out").exists()


def test_existing_output_needs_force(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "precious.txt").write_text("keep me")
    r = onnx2rs("build", str(ROOT / "tests" / "models" / "mlp.onnx"), "-o", str(out))
    assert r.returncode == 2 and "--force" in r.stderr
    assert (out / "precious.txt").read_text() == "keep me"


def test_bad_input_shape_option(tmp_path: Path) -> None:
    r = onnx2rs("build", str(ROOT / "tests" / "models" / "mlp.onnx"), "--input-shape", "nope", "-o",
                str(tmp_path / "o"))
    assert r.returncode == 2 and "NAME=D0,D1" in r.stderr


def test_build_writes_a_crate(tmp_path: Path) -> None:
    r = onnx2rs("build", str(ROOT / "tests" / "models" / "mlp.onnx"), "-o", str(tmp_path / "o"), "--name", "My Model")
    assert r.returncode == 0, r.stderr
    assert 'name = "my_model"' in (tmp_path / "o" / "Cargo.toml").read_text()


def test_analyze_table_json_and_html(tmp_path: Path) -> None:
    import json

    r = onnx2rs("analyze", str(ROOT / "examples" / "charcnn.onnx"), "--json", "--html", str(tmp_path / "r.html"))
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["arena_bytes"] < data["naive_bytes"]
    assert len(data["steps"]) == data["nodes"] > 0
    page = (tmp_path / "r.html").read_text()
    assert page.count('class="tensor"') == data["nodes"] and "<svg" in page
    r = onnx2rs("analyze", str(ROOT / "examples" / "charcnn.onnx"))
    assert r.returncode == 0 and "planned arena" in r.stdout


def test_analyze_names_each_fused_op_and_its_pass_at_80_columns(tmp_path: Path) -> None:
    """Conv+BatchNormalization+Relu+MaxPool become one node: `analyze` says so, and which
    passes did it, in a pipe (80 columns, no word broken) and in JSON."""
    import json

    rng = np.random.default_rng(0)
    x = np.zeros((1, 3, 16, 16), np.float32)
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1], name="conv1"),
             helper.make_node("BatchNormalization", ["c", "s", "b", "m", "v"], ["n"], name="bn1"),
             helper.make_node("Relu", ["n"], ["r"], name="relu1"),
             helper.make_node("MaxPool", ["r"], ["y"], kernel_shape=[2, 2], strides=[2, 2], name="pool1")]
    params = {"w": rng.standard_normal((8, 3, 3, 3)).astype(np.float32), "s": np.ones(8, np.float32),
              "b": np.zeros(8, np.float32), "m": np.zeros(8, np.float32), "v": np.ones(8, np.float32)}
    path = tmp_path / "block.onnx"
    path.write_bytes(make_model(nodes, {"x": x}, ["y"], params).SerializeToString())
    r = onnx2rs("analyze", str(path))
    assert r.returncode == 0, r.stderr
    chain = [n.op_type for n in nodes]
    assert "+".join(chain) in r.stdout.split()
    assert "fused by fuse_conv_batchnorm, fuse_activation, fuse_conv_pool" in r.stdout
    data = json.loads(onnx2rs("analyze", str(path), "--json").stdout)
    (step,) = data["steps"]
    assert step["fused"] == "+".join(chain) and step["op"] == "Conv"
    assert step["fused_by"] == ["fuse_conv_batchnorm", "fuse_activation", "fuse_conv_pool"]


def test_analyze_dynamic_gives_shapes_and_places_at_any_size(tmp_path: Path) -> None:
    """With --dynamic, every step's shape is an expression of the open dims that gives the probe
    shape at --at and ONNX Runtime's output shape at another size; the plan stacks each buffer
    above the live ones, and bad flags get one error line."""
    import json

    import sympy

    from onnx2rs.reference import run_onnxruntime

    from .unit.test_symbolic import _model

    model = _model(shape_arithmetic=False)
    path = tmp_path / "cnn.onnx"
    path.write_bytes(model.SerializeToString())
    r = onnx2rs("analyze", str(path), "--dynamic", "x=N,3,H,W", "--at", "x=1,3,32,32", "--json")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["open_dims"] == {"N": 1, "H": 32, "W": 32} and data["dynamic_note"] == ""
    symbols = {k: sympy.Symbol(k, integer=True, positive=True) for k in "NHW"}

    def at(dims: list[str], n: int, h: int, w: int) -> list[int]:
        return [int(sympy.sympify(d, locals=symbols).subs({symbols["N"]: n, symbols["H"]: h, symbols["W"]: w}))
                for d in dims]

    steps = {s["output"]: s for s in data["steps"]}
    assert all(s["dims"] is not None and at(s["dims"], 1, 32, 32) == s["shape"] for s in data["steps"])
    x = np.zeros((2, 3, 45, 29), np.float32)
    for out, value in zip([o.name for o in model.graph.output], run_onnxruntime(model, {"x": x}), strict=True):
        assert at(steps[out]["dims"], 2, 45, 29) == list(value.shape)
    assert any(s["above"] for s in data["steps"])
    # The Reshape's target computed from Shape at run time becomes expressions: the same plan.
    shaped = _model()
    (tmp_path / "shaped.onnx").write_bytes(shaped.SerializeToString())
    r = onnx2rs("analyze", str(tmp_path / "shaped.onnx"), "--dynamic", "x=N,3,H,W", "--at", "x=1,3,32,32", "--json")
    assert r.returncode == 0, r.stderr
    shaped_steps = {s["output"]: s for s in json.loads(r.stdout)["steps"]}
    assert "Shape" not in {s["op"] for s in shaped_steps.values()}
    for out, value in zip([o.name for o in shaped.graph.output], run_onnxruntime(shaped, {"x": x}), strict=True):
        assert at(shaped_steps[out]["dims"], 2, 45, 29) == list(value.shape)
    r = onnx2rs("analyze", str(path), "--dynamic", "x=N,3,H", "--at", "x=1,3,32,32")
    assert r.returncode != 0 and r.stderr.count("error:") == 1 and "rank 4, not 3" in r.stderr
    r = onnx2rs("analyze", str(path), "--dynamic", "x=N,3,H,W", "--at", "x=1,3,32,32", "--input-shape", "x=1,3,8,8")
    assert r.returncode != 0 and "pass one of them" in r.stderr
    r = onnx2rs("analyze", str(path), "--dynamic", "x=N,3,H,W")
    assert r.returncode != 0 and "--dynamic needs --at" in r.stderr
    out = tmp_path / "out"
    r = onnx2rs("build", str(path), "-o", str(out), "--dynamic", "x=N,3,H,W")
    assert r.returncode == 2 and r.stderr.count("error:") == 1 and "--dynamic needs --input-shape" in r.stderr
    r = onnx2rs("build", str(path), "-o", str(out), "--dynamic", "y=N,3,H,W", "--input-shape", "x=1,3,32,32")
    assert r.returncode == 2 and r.stderr.count("error:") == 1 and "names no model input" in r.stderr
    assert not out.exists()
