"""P11's acceptance on pretrained models: each is built once with its dims open, and runs at the
sizes its users feed it, two calls per size in one session, against ONNX Runtime.

The sizes are the build's reference sets: the crate's own tests (`tests/reference.rs`) run them
through one session, twice each, within 1e-4 (absolute and relative, element by element: tighter
than the issue's 1e-4 + 1e-3·max|reference|), and count allocations after each size's first call.
"""

from __future__ import annotations

import numpy as np
import onnx
import pytest

from onnx2rs import CompileOptions, compile_model
from onnx2rs.reference import run_onnxruntime

from ..helpers import assert_crate_tests_pass, scratch_dir

pytestmark = pytest.mark.cargo

OCR = "rapidocr-onnxruntime"
SILERO = "silero-vad"
STATE = {"h": [1, 1, 128], "c": [1, 1, 128]}

# (package, file, --dynamic, sizes: the first is the probe the plan is made at).
CASES = [
    (OCR, "ch_PP-OCRv4_det_infer.onnx", {"x": ["N", 3, "H", "W"]},
     [[1, 3, 320, 480], [1, 3, 640, 640], [1, 3, 736, 960], [2, 3, 640, 640]]),
    (OCR, "ch_PP-OCRv4_rec_infer.onnx", {"x": ["N", 3, 48, "W"]},
     [[1, 3, 48, 320], [1, 3, 48, 160], [1, 3, 48, 800], [4, 3, 48, 320]]),
    (SILERO, "silero_vad_16k_sequence.onnx", {"input": ["S", 576]}, [[7, 576], [1, 576]]),
]


def _reference(model: onnx.ModelProto, first: str, shape: list[int], seed: int) -> tuple[dict, list]:
    """Seeded image or audio in [-1, 1) for input `first`, small random recurrent state."""
    rng = np.random.default_rng(seed)
    feeds = {first: rng.uniform(-1, 1, shape).astype(np.float32)}
    for inp in model.graph.input[1:]:
        feeds[inp.name] = rng.uniform(-0.1, 0.1, STATE[inp.name]).astype(np.float32)
    return feeds, run_onnxruntime(model, feeds)


@pytest.mark.parametrize("package, file, dynamic, sizes", CASES, ids=[c[1].removesuffix(".onnx") for c in CASES])
def test_built_once_runs_at_every_size(models, package: str, file: str, dynamic: dict, sizes: list) -> None:
    path = models[package] / file
    model = onnx.load(str(path))
    (first,) = dynamic
    sets = [_reference(model, first, shape, seed) for seed, shape in enumerate(sizes)]
    with scratch_dir() as workdir:
        result = compile_model(path, workdir / "crate", CompileOptions(
            name="open", input_shapes={first: sizes[0]}, dynamic=dynamic, reference=sets[0], more_references=sets[1:]))
        assert result.graph.probe, "the dims stayed open"
        assert_crate_tests_pass(result.out_dir, open_dims=True)
