"""Every op case compiled to Rust and compared with ONNX Runtime (atol = rtol = 1e-5).

All cases of one opset are merged into a single model, so the table costs one
crate build per opset rather than one per case.
"""

from __future__ import annotations

import numpy as np
import pytest

from onnx2rs.ops import REGISTRY, onnx_ops

from ..helpers import compile_and_run, scratch_dir
from .cases import CASES, Case, merged_model

TOLERANCE = 1e-5
pytestmark = pytest.mark.cargo


@pytest.fixture(scope="module")
def results() -> dict[str, list[tuple[np.ndarray, np.ndarray]]]:
    """Run every case once: case id -> [(ours, ONNX Runtime's)] per output."""
    by_case = {}
    for opset in sorted({c.opset for c in CASES}):
        cases = [c for c in CASES if c.opset == opset]
        model, feeds = merged_model(cases, opset)
        with scratch_dir() as workdir:
            ours, theirs = compile_and_run(model, feeds, workdir)
        pairs = iter(zip(ours, theirs, strict=True))
        for case in cases:
            by_case[case.id] = [next(pairs) for _ in range(case.outputs)]
    return by_case


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_case_matches_onnxruntime(case: Case, results: dict) -> None:
    assert len(results[case.id]) == case.outputs
    for ours, theirs in results[case.id]:
        assert ours.dtype == theirs.dtype
        assert ours.shape == theirs.shape
        np.testing.assert_allclose(ours, theirs, rtol=TOLERANCE, atol=TOLERANCE)


def test_every_registered_op_has_a_case() -> None:
    """Every ONNX op; the IR's own `Phi` (a flattened If) is covered by tests/ops/test_if.py."""
    tested = {c.op for c in CASES}
    assert set(onnx_ops()) - {"Identity", "Dropout"} <= tested, set(onnx_ops()) - tested
    assert set(REGISTRY) - set(onnx_ops()) == {"onnx2rs.Phi"}


def test_case_ids_are_unique() -> None:
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids))


