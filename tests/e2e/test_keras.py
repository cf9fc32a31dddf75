"""Against the source framework: a Keras model, exported in-test with tf2onnx, compiled to
Rust, must give Keras' own outputs (atol = rtol = 1e-4)."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import numpy as np
import pytest

from onnx2rs import compile_model, toolchain
from onnx2rs.tools.verify import run_cli

from ..helpers import assert_crate_tests_pass

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.cargo, pytest.mark.tf]


@pytest.fixture(scope="module")
def make_models():
    """scripts/make_models.py as a module (its model builders and exporter)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    pytest.importorskip("tensorflow")
    spec = importlib.util.spec_from_file_location("make_models", ROOT / "scripts" / "make_models.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["make_models"] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("builder", ["charcnn", "mlp", "conv2d_image", "word_bilstm", "stacked_gru"])
def test_compiled_model_matches_keras(make_models, builder: str, tmp_path: Path) -> None:
    keras = make_models.keras
    keras.utils.set_random_seed(3)
    model = getattr(make_models, builder)()
    make_models.randomise_stats(model, np.random.default_rng(3))
    onnx_path = tmp_path / f"{builder}.onnx"
    make_models.export(model, onnx_path)

    rng = np.random.default_rng(5)
    (inp,) = model.inputs
    shape = (1, *inp.shape[1:])
    if "int" in str(inp.dtype):
        x = rng.integers(0, 70, shape).astype(np.int32)  # every vocabulary here has >= 70 entries
    else:
        x = rng.standard_normal(shape).astype(np.float32)
    expected = np.asarray(model(x, training=False))

    result = compile_model(onnx_path, tmp_path / "crate")
    # Training-only layers (Dropout, SpatialDropout1D, GaussianNoise) leave no trace; Loops are unrolled.
    assert not {n.op_type for n in result.graph.nodes} & {"Dropout", "Identity", "RandomNormal",
                                                          "RandomNormalLike", "Loop"}
    binary = toolchain.build_binary(result.out_dir, result.crate, profile="dev")
    (ours,) = run_cli(binary, [x], 1, tmp_path)
    np.testing.assert_allclose(ours, expected, rtol=1e-4, atol=1e-4)
    assert_crate_tests_pass(result.out_dir)  # ONNX Runtime's outputs, and zero allocations per run


@pytest.mark.parametrize(("builder", "fmt"), [("mobilenet_style", ".keras"), ("transformer_encoder", ".keras"),
                                              ("mlp", ".h5"), ("mlp", "saved_model"), ("conv2d_image", ".tflite")])
def test_keras_files_build_through_the_front_end(make_models, builder: str, fmt: str, tmp_path: Path) -> None:
    """`onnx2rs build model.keras` (and .h5, a SavedModel folder, .tflite) matches Keras at 1e-4."""
    keras = make_models.keras
    keras.utils.set_random_seed(4)
    model = getattr(make_models, builder)()
    make_models.randomise_stats(model, np.random.default_rng(4))
    path = tmp_path / f"{builder}{fmt}"
    if fmt == "saved_model":
        model.export(str(path), verbose=False)
    elif fmt == ".tflite":
        import tensorflow

        path.write_bytes(tensorflow.lite.TFLiteConverter.from_keras_model(model).convert())
    else:
        model.save(path)
    rng = np.random.default_rng(6)
    x = rng.standard_normal((1, *model.inputs[0].shape[1:])).astype(np.float32)
    expected = np.asarray(model(x, training=False))
    result = compile_model(path, tmp_path / "crate")
    binary = toolchain.build_binary(result.out_dir, result.crate, profile="dev")
    (ours,) = run_cli(binary, [x], 1, tmp_path)
    np.testing.assert_allclose(ours, expected, rtol=1e-4, atol=1e-4)
    if fmt == ".keras":  # the models only this test builds
        assert_crate_tests_pass(result.out_dir)
    if builder == "mlp":
        # Keras' None batch comes through as the README's dynamic batch: any batch size runs.
        assert result.dynamic_batch
        x3 = rng.standard_normal((3, *model.inputs[0].shape[1:])).astype(np.float32)
        (ours3,) = run_cli(binary, [x3], 1, tmp_path)
        np.testing.assert_allclose(ours3, np.asarray(model(x3, training=False)), rtol=1e-4, atol=1e-4)


def test_keras_none_batch_and_length_are_open_dims(make_models, tmp_path: Path) -> None:
    """A text model with `None` batch and length: `analyze --dynamic` gives every step's shape
    as an expression of both, which at another size is what ONNX Runtime computes for the
    exported model, and the output's is what Keras gives."""
    import sympy

    from onnx2rs import CompileOptions
    from onnx2rs.tools.analyze import analyze

    from ..helpers import every_value_shape

    model, path, exported = _text_model(make_models, tmp_path)
    (name,) = [i.name for i in exported.graph.input]
    a = analyze(path, CompileOptions(input_shapes={name: [1, 20]}), {name: ["N", "L"]})
    assert a.open_dims == {"N": 1, "L": 20} and a.dynamic_note == ""
    assert all(s.dims is not None for s in a.steps)
    x = np.random.default_rng(5).integers(0, 100, (3, 11)).astype(np.int32)
    reference = every_value_shape(exported, {name: x})
    symbols = {k: sympy.Symbol(k, integer=True, positive=True) for k in "NL"}

    def at(dims: list[str]) -> tuple[int, ...]:
        return tuple(int(sympy.sympify(d, locals=symbols).subs({symbols["N"]: 3, symbols["L"]: 11})) for d in dims)

    compared = [s for s in a.steps if s.output in reference]
    assert len(compared) >= len(a.steps) // 2
    assert {s.output: at(s.dims) for s in compared} == {s.output: reference[s.output] for s in compared}
    assert at(a.steps[-1].dims) == np.asarray(model(x, training=False)).shape


@pytest.mark.cargo
def test_keras_none_batch_and_length_built_once_run_at_every_size(make_models, tmp_path: Path) -> None:
    """P11's acceptance: the text model with `None` batch and length, built once with both open,
    matches ONNX Runtime at three sizes (two calls each through one session: the crate's own
    tests) and Keras at a fourth through its CLI."""
    from onnx2rs import CompileOptions
    from onnx2rs.reference import run_onnxruntime

    model, path, exported = _text_model(make_models, tmp_path)
    (name,) = [i.name for i in exported.graph.input]
    sets = []
    for seed, shape in enumerate([(1, 20), (3, 11), (2, 64)]):
        feeds = {name: np.random.default_rng(seed).integers(0, 100, shape).astype(np.int32)}
        sets.append((feeds, run_onnxruntime(exported, feeds)))
    result = compile_model(path, tmp_path / "crate", CompileOptions(
        name="text", input_shapes={name: [1, 20]}, dynamic={name: ["N", "L"]}, reference=sets[0],
        more_references=sets[1:]))
    assert_crate_tests_pass(result.out_dir, open_dims=True)
    binary = toolchain.build_binary(result.out_dir, result.crate, profile="dev")
    x = np.random.default_rng(9).integers(0, 100, (5, 7)).astype(np.int32)
    (ours,) = run_cli(binary, [x], 1, tmp_path)
    np.testing.assert_allclose(ours, np.asarray(model(x, training=False)), rtol=1e-5, atol=1e-6)


def _text_model(make_models, tmp_path: Path):
    """A Keras text model whose batch and length are `None`: the model, its saved file, and
    the ONNX that onnx2rs reads from it."""
    from onnx2rs.frontend.read import read_model

    keras = make_models.keras
    keras.utils.set_random_seed(3)
    tokens = keras.Input(shape=(None,), dtype="int32")
    x = keras.layers.Embedding(100, 16)(tokens)
    x = keras.layers.Conv1D(8, 3, padding="same", activation="relu")(x)
    x = keras.layers.GlobalMaxPooling1D()(x)
    model = keras.Model(tokens, keras.layers.Dense(2, activation="softmax")(x))
    path = tmp_path / "text.keras"
    model.save(path)
    return model, path, read_model(path)
