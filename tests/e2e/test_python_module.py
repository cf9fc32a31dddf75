"""`onnx2rs build model.keras --python`, then `pip install OUT` into a fresh venv: the module
imports, matches Keras and ONNX Runtime (atol = rtol = 1e-4), and turns bad input into
Python exceptions."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from onnx2rs import CompileOptions, compile_model
from onnx2rs.reference import run_onnxruntime
from onnx2rs.tools.bench import _worker, install_python_module

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.cargo, pytest.mark.tf, pytest.mark.usefixtures("vendored_runtime")]

CHECK = """
import json, sys
import numpy as np
import charcnn_py as module
model = module.Model()
x = np.load(sys.argv[1])
out = {"predict": model.predict(x).tolist(),
       "run": model.run({model.input_names[0]: x})[model.output_names[0]].tolist()}
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
    python = install_python_module([result.out_dir], tmp_path / "venv")  # pip install OUT
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


WHEEL_CHECK = """
import sys
import numpy as np
import importlib
from pathlib import Path
for name, folder in zip(sys.argv[1::2], sys.argv[2::2]):
    model = importlib.import_module(name).Model()
    # Each set of reference inputs the build recorded (more than one where dims are open).
    for data in [p.parent for p in sorted(Path(folder, "tests", "data").rglob("input_0.npy"))]:
        inputs = {n: np.load(data / f"input_{i}.npy") for i, n in enumerate(model.input_names)}
        outputs = model.run(inputs)
        for i, n in enumerate(model.output_names):
            np.save(data / f"module_out_{i}.npy", outputs[n])
"""


def test_build_wheel_installs_a_module_that_matches_the_recorded_outputs(tmp_path: Path, target_dir: Path) -> None:
    """`onnx2rs build --python --wheel`: the wheel installs into a fresh venv and its module
    matches the ONNX Runtime outputs recorded at build time (atol = rtol = 1e-5). It was
    compiled against the shared copy of the crate's vendored runtime (named by the hash of
    its sources), which the next model's wheel reuses instead of compiling its own copy.
    The model leaves its batch, height and width open (`--dynamic auto`): the module runs at
    the size it was built at and at the crate's second reference size (twice each dim)."""
    from .test_dynamic import _cnn

    model, out = tmp_path / "open_cnn.onnx", tmp_path / "open_cnn"
    model.write_bytes(_cnn().SerializeToString())
    r = subprocess.run([sys.executable, "-m", "onnx2rs", "build", str(model), "-o", str(out), "--python", "--wheel",
                        "--dynamic", "auto", "--input-shape", "x=1,3,16,20"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "] building the Python wheel with maturin" in r.stderr and "wrote wheel" in r.stdout
    digest = hashlib.sha256()
    for path in sorted((out / "runtime").rglob("*")):
        if path.is_file():
            digest.update(str(path.relative_to(out / "runtime")).encode() + b"\0" + path.read_bytes())
    shared = target_dir / "onnx2rs-runtimes" / digest.hexdigest()[:16]
    assert (shared / "Cargo.toml").read_bytes() == (out / "runtime" / "Cargo.toml").read_bytes()
    copy = target_dir / "onnx2rs-wheels" / out.name / "Cargo.toml"
    assert json.dumps(str(shared)) in copy.read_text()
    python = install_python_module([next((out / "dist").glob("*.whl"))], tmp_path / "venv")
    subprocess.run([python, "-c", WHEEL_CHECK, model.stem, str(out)], check=True)
    for data in (out / "tests" / "data", out / "tests" / "data" / "sizes_1"):
        for i in range(2):
            np.testing.assert_allclose(np.load(data / f"module_out_{i}.npy"), np.load(data / f"output_{i}.npy"),
                                       rtol=1e-5, atol=1e-5)
