"""Every op case compiled to Rust and compared with ONNX Runtime (atol = rtol = 1e-5).

All cases of one opset are merged into a single model, so the table costs one
crate build per opset rather than one per case.
"""

from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

from onnx2rs.ops import REGISTRY, onnx_ops

from ..helpers import compile_and_run, make_model, scratch_dir
from .cases import CASES, Case

TOLERANCE = 1e-5
pytestmark = pytest.mark.cargo


def _merged(cases: list[Case], opset: int):
    rng = np.random.default_rng(1234)
    nodes, feeds, consts, outputs = [], {}, {}, []
    for case in cases:
        names = []
        for j, (gen, is_const) in enumerate(case.inputs):
            if gen is None:
                names.append("")
                continue
            name = f"{case.id}__{j}"
            (consts if is_const else feeds)[name] = gen(rng)
            names.append(name)
        outs = [f"{case.id}__out{k}" for k in range(case.outputs)]
        nodes.append(helper.make_node(case.op, names, outs, name=case.id, **case.attrs))
        outputs.extend(outs)
    return make_model(nodes, feeds, outputs, consts, opset=opset, name=f"cases_opset{opset}"), feeds


@pytest.fixture(scope="module")
def results() -> dict[str, list[tuple[np.ndarray, np.ndarray]]]:
    """Run every case once: case id -> [(ours, ONNX Runtime's)] per output."""
    by_case = {}
    for opset in sorted({c.opset for c in CASES}):
        cases = [c for c in CASES if c.opset == opset]
        model, feeds = _merged(cases, opset)
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


