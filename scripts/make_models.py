"""Build the Keras models that onnx2rs ships and tests, and export them with tf2onnx.

Run with the `[tf]` extra installed:

    python scripts/make_models.py            # examples/charcnn.onnx and tests/models/*.onnx

The weights are random but seeded, so every run writes the same graphs.  The
committed .onnx files mean that `make demo` and most tests need no TensorFlow;
this script is how they were made and how to make them again.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
from tensorflow import keras  # noqa: E402

from onnx2rs.frontend.frameworks.tfkeras import export_keras  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
# onnxruntime 1.31 refuses IR versions above 13, and onnx 1.23 writes 14 by default.
IR_VERSION = 8


def charcnn(seq_len: int = 64, vocab: int = 70) -> keras.Model:
    """A char-level CNN classifier in the style of Zhang et al. (2015), scaled down."""
    inp = keras.Input(shape=(seq_len,), dtype="int32", name="chars")
    x = keras.layers.Embedding(vocab, 16, name="embedding")(inp)
    x = keras.layers.Conv1D(32, 5, padding="same", name="conv1")(x)
    x = keras.layers.BatchNormalization(name="bn1")(x)
    x = keras.layers.ReLU(name="relu1")(x)
    x = keras.layers.MaxPooling1D(2, name="pool1")(x)
    x = keras.layers.Conv1D(32, 3, padding="valid", activation="relu", name="conv2")(x)
    x = keras.layers.GlobalMaxPooling1D(name="global_pool")(x)
    x = keras.layers.Dense(32, activation="relu", name="dense1")(x)
    x = keras.layers.Dropout(0.5, name="dropout")(x)
    out = keras.layers.Dense(1, activation="sigmoid", name="score")(x)
    return keras.Model(inp, out, name="charcnn")


def mlp() -> keras.Model:
    """A small multi-layer perceptron with a softmax head."""
    inp = keras.Input(shape=(20,), dtype="float32", name="features")
    x = keras.layers.Dense(64, activation="relu")(inp)
    x = keras.layers.Dense(32, activation="tanh")(x)
    out = keras.layers.Dense(5, activation="softmax")(x)
    return keras.Model(inp, out, name="mlp")


def conv2d_image() -> keras.Model:
    """A small Conv2D image classifier (NHWC input, as Keras users have it)."""
    inp = keras.Input(shape=(16, 16, 3), dtype="float32", name="image")
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(inp)
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.MaxPooling2D(2)(x)
    x = keras.layers.Conv2D(16, 3, strides=2, padding="valid")(x)
    x = keras.layers.ReLU()(x)
    x = keras.layers.AveragePooling2D(2, padding="same")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Dense(4)(x)
    out = keras.layers.Softmax()(x)
    return keras.Model(inp, out, name="conv2d_image")


def mobilenet_style() -> keras.Model:
    """MobileNet-style blocks: strided Conv2D, DepthwiseConv2D and pointwise Conv2D, BN, ReLU6."""
    inp = keras.Input(shape=(32, 32, 3), dtype="float32", name="image")
    x = keras.layers.Conv2D(16, 3, strides=2, padding="same", use_bias=False)(inp)
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.ReLU(6.0)(x)
    x = keras.layers.DepthwiseConv2D(3, padding="same", use_bias=False)(x)
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.ReLU(6.0)(x)
    x = keras.layers.Conv2D(32, 1, use_bias=False)(x)
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.ReLU(6.0)(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    out = keras.layers.Dense(5, activation="softmax")(x)
    return keras.Model(inp, out, name="mobilenet_style")


@keras.utils.register_keras_serializable(package="onnx2rs")
def gelu_tanh(x):
    """GELU, tanh approximation: tf2onnx cannot convert the exact one (TensorFlow's Erfc)."""
    return keras.activations.gelu(x, approximate=True)


def transformer_encoder(seq_len: int = 12, dim: int = 32) -> keras.Model:
    """One Transformer encoder block: MultiHeadAttention, residuals, LayerNormalization, GELU MLP."""
    inp = keras.Input(shape=(seq_len, dim), dtype="float32", name="tokens")
    attended = keras.layers.MultiHeadAttention(num_heads=4, key_dim=dim // 4)(inp, inp)
    x = keras.layers.LayerNormalization()(inp + attended)
    hidden = keras.layers.Dense(2 * dim, activation=gelu_tanh)(x)
    x = keras.layers.LayerNormalization()(x + keras.layers.Dense(dim)(hidden))
    pooled = keras.layers.GlobalAveragePooling1D()(x)
    out = keras.layers.Dense(2, activation="softmax")(pooled)
    return keras.Model(inp, out, name="transformer_encoder")


def word_bilstm(seq_len: int = 20, vocab: int = 500) -> keras.Model:
    """The original word-level classifier: Embedding, SpatialDropout1D, GaussianNoise, Conv1D,
    Bidirectional LSTM. The two noise layers are training-only and must vanish."""
    inp = keras.Input(shape=(seq_len,), dtype="int32", name="words")
    x = keras.layers.Embedding(vocab, 16)(inp)
    x = keras.layers.SpatialDropout1D(0.2)(x)
    x = keras.layers.GaussianNoise(0.1)(x)
    x = keras.layers.Conv1D(16, 3, activation="relu")(x)
    x = keras.layers.Bidirectional(keras.layers.LSTM(8))(x)
    out = keras.layers.Dense(1, activation="sigmoid")(x)
    return keras.Model(inp, out, name="word_bilstm")


def stacked_gru(seq_len: int = 15, vocab: int = 300) -> keras.Model:
    """A text model with two stacked GRU layers (tf2onnx writes each as an ONNX Loop)."""
    inp = keras.Input(shape=(seq_len,), dtype="int32", name="words")
    x = keras.layers.Embedding(vocab, 16)(inp)
    x = keras.layers.GRU(12, return_sequences=True)(x)
    x = keras.layers.GRU(12)(x)
    out = keras.layers.Dense(3, activation="softmax")(x)
    return keras.Model(inp, out, name="stacked_gru")


def randomise_stats(model: keras.Model, rng: np.random.Generator) -> None:
    """Give biases and BatchNorm statistics non-zero values, so that tests exercise them.

    Keras initialises them to zeros and ones, which tf2onnx then folds away.
    """
    for layer in model.layers:
        bias = getattr(layer, "bias", None)
        if bias is not None:
            bias.assign(rng.normal(0, 0.2, tuple(bias.shape)).astype(np.float32))
        if isinstance(layer, keras.layers.BatchNormalization):
            gamma, beta, mean, var = layer.get_weights()
            layer.set_weights(
                [
                    rng.uniform(0.5, 1.5, gamma.shape).astype(np.float32),
                    rng.normal(0, 0.1, beta.shape).astype(np.float32),
                    rng.normal(0, 0.1, mean.shape).astype(np.float32),
                    rng.uniform(0.5, 1.5, var.shape).astype(np.float32),
                ]
            )


def export(model: keras.Model, path: Path) -> None:
    """Export `model` as onnx2rs's Keras front end does (a tf.function at batch 1)."""
    proto = export_keras(model)
    proto.ir_version = IR_VERSION
    proto.doc_string = f"{model.name}: made by scripts/make_models.py"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(proto.SerializeToString())
    print(f"wrote {path}")


def main() -> int:
    """Write every model this script knows."""
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    models = {
        ROOT / "examples" / "charcnn.onnx": charcnn(),
        ROOT / "tests" / "models" / "mlp.onnx": mlp(),
        ROOT / "tests" / "models" / "conv2d_image.onnx": conv2d_image(),
    }
    for path, model in models.items():
        randomise_stats(model, rng)
        export(model, path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
