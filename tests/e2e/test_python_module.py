"""`onnx2rs build model.keras --python`, then `pip install OUT` into a fresh venv: the module
imports, matches Keras and ONNX Runtime (atol = rtol = 1e-4), and turns bad input into
Python exceptions."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from onnx2rs import CompileOptions, compile_model
from onnx2rs.bench import _worker, install_python_module
from onnx2rs.reference import run_onnxruntime

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.cargo, pytest.mark.tf, pytest.mark.usefixtures("vendored_runtime")]

CHECK = """
import json, sys
import numpy as np
import charcnn_py as module
model = module.Model()
x = np.load(sys.argv[1])
out = {"predict": model.predict(x).tolist(), "run": model.run({model.input_names[0]: x})[model.output_names[0]].tolist()}
errors = []
# A wrong length (the batch may be any size: Keras declares it None), then a wrong dtype.
for bad in (np.zeros((1, x.shape[1] + 1), x.dtype), x.astype(np.float64)):
    try:
        model.predict(bad)
    except (ValueError, TypeError) as e:
        errors.append(type(e).__name__)
out["errors"] = errors
out["names"] = [model.input_names, model.output_names]
print(json.dumps(out))
"""


def test_keras_model_as_a_python_module_in_a_fresh_venv(tmp_path: Path) -> None:
    pytest.importorskip("tensorflow")
    spec = importlib.util.spec_from_file_location("make_models", ROOT / "scripts" / "make_models.py")
    make_models = importlib.util.module_from_spec(spec)
    sys.modules["make_models"] = make_models
    spec.loader.exec_module(make_models)
    make_models.keras.utils.set_random_seed(8)
    model = make_models.charcnn()
    make_models.randomise_stats(model, np.random.default_rng(8))
    path = tmp_path / "charcnn.keras"
    model.save(path)
    x = np.random.default_rng(9).integers(0, 70, (1, 64)).astype(np.int32)
    expected = np.asarray(model(x, training=False))

    result = compile_model(path, tmp_path / "out", CompileOptions(name="charcnn_py", python=True))
    assert (result.out_dir / "pyproject.toml").is_file()
    python = install_python_module(result.out_dir, tmp_path / "venv")
    np.save(tmp_path / "x.npy", x)
    run = subprocess.run([python, "-c", CHECK, str(tmp_path / "x.npy")], check=True, capture_output=True, text=True)
    out = json.loads(run.stdout)
    ours = np.array(out["predict"], np.float32)
    np.testing.assert_allclose(ours, expected, rtol=1e-4, atol=1e-4)
    (reference,) = run_onnxruntime(result.model, {result.graph.inputs[0]: x})
    np.testing.assert_allclose(ours, reference, rtol=1e-4, atol=1e-4)
    assert out["run"] == out["predict"]
    assert out["errors"] == ["ValueError", "TypeError"]  # wrong shape, wrong dtype
    assert out["names"] == [list(result.graph.inputs), list(result.graph.outputs)]
    # What `onnx2rs bench --python` times, in the same venv.
    np.savez(tmp_path / "feeds.npz", **{result.graph.inputs[0]: x})
    timing = _worker(["python_module", "charcnn_py", str(tmp_path / "feeds.npz"), "20"], python=python)
    assert 0 < timing["median_us"] <= timing["p90_us"] and timing["peak_rss_mb"] > 0
