"""Symbolic shapes of the pretrained models at the sizes P11 asks for, against ONNX Runtime at
each size: its outputs, and every intermediate value either as ONNX's shape inference gives it
(the OCR models, whose intermediates are too many to fetch at 736×960) or as ONNX Runtime
computes it, each value made a graph output (silero, where ONNX's inference stops at its Ifs)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from onnx2rs.frontend.read import read_model
from onnx2rs.frontend.symbolic import open_dims, symbolic_shapes
from onnx2rs.reference import run_onnxruntime

from ..helpers import every_value_shape, onnx_shapes

OCR = "rapidocr-onnxruntime"
SILERO = "silero-vad"
# (package, file, sizes, whether ONNX Runtime gives every intermediate's shape)
# The OCR models at one size each: test_dynamic_real.py builds them and runs every size P11 names.
CASES = [
    (OCR, "ch_PP-OCRv4_det_infer.onnx", [{"x": [2, 3, 736, 960]}], False),
    (OCR, "ch_PP-OCRv4_rec_infer.onnx", [{"x": [4, 3, 48, 800]}], False),
    (SILERO, "silero_vad_16k_sequence.onnx", [{"input": [1, 576]}, {"input": [7, 576]}], True),
]


@pytest.mark.parametrize(("package", "file", "sizes", "every_value"), CASES, ids=[c[1] for c in CASES])
def test_one_analysis_gives_every_size(models: dict[str, Path], package: str, file: str, sizes: list,
                                       every_value: bool) -> None:
    model = read_model(models[package] / file)
    dims = open_dims(model)
    sym = symbolic_shapes(model, dims)  # once, for every size below
    assert sym.unknown() == []
    for inputs in sizes:
        named = {d: n for name, given in inputs.items() for d, n in zip(dims.inputs[name], given, strict=True)
                 if isinstance(d, str)}
        at = sym.at(named)
        feeds = {i.name: np.zeros(inputs.get(i.name) or [d.dim_value for d in i.type.tensor_type.shape.dim],
                                  np.float32) for i in model.graph.input}
        reference = every_value_shape(model, feeds) if every_value else onnx_shapes(model, inputs)
        produced = [o for node in model.graph.node for o in node.output if o in reference]
        # ONNX's inference knows most values at fixed sizes (not those inside Shape arithmetic).
        assert len(produced) >= 0.75 * sum(len(node.output) for node in model.graph.node)
        assert {v: at[v] for v in produced} == {v: reference[v] for v in produced}, inputs
        outputs = run_onnxruntime(model, feeds)
        assert [at[o.name] for o in model.graph.output] == [v.shape for v in outputs], inputs


def test_analyze_gives_silero_a_plan_at_every_length(models: dict[str, Path]) -> None:
    """Built at 3 frames, the sequence model's every step has a shape at any length, which at 7
    frames is the one ONNX Runtime computes, and every buffer a closed-form place."""
    import sympy

    from onnx2rs import CompileOptions
    from onnx2rs.tools.analyze import analyze

    path = models[SILERO] / "silero_vad_16k_sequence.onnx"
    a = analyze(path, CompileOptions(input_shapes={"input": [3, 576]}), {"input": ["T", 576]})
    assert a.open_dims == {"T": 3} and a.dynamic_note == ""
    assert all(s.dims is not None for s in a.steps)
    model = read_model(path)
    feeds = {i.name: np.zeros([7, 576] if i.name == "input" else [d.dim_value for d in i.type.tensor_type.shape.dim],
                              np.float32) for i in model.graph.input}
    reference = every_value_shape(model, feeds)
    t = sympy.Symbol("T", integer=True, positive=True)
    compared = [s for s in a.steps if s.output in reference]
    assert len(compared) >= len(a.steps) // 2
    for s in compared:
        assert tuple(int(sympy.sympify(d, locals={"T": t}).subs(t, 7)) for d in s.dims) == reference[s.output]
