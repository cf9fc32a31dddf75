"""A bounded subset of the ONNX backend suite, run through onnx2rs in CI.

The full run is `scripts/conformance.py`; its numbers are in docs/conformance.md.
"""

from __future__ import annotations

import warnings

import pytest

from onnx2rs.ops import REGISTRY
from onnx2rs.tools import conformance

pytestmark = pytest.mark.cargo

SUBSET = (
    r"^test_(abs|relu|sigmoid|tanh|add|sub|mul|div|matmul|gemm|conv|maxpool|averagepool|globalmaxpool"
    r"|globalaveragepool|batchnorm|softmax|reshape|flatten|squeeze|unsqueeze|transpose|concat|gather"
    r"|cast|clip|where|less|not|lstm|gru|simple_rnn|rnn_seq|top_k|lrn|convtranspose|bitwise|isnan|isinf"
    r"|gather_elements|eyelike|resize|einsum|reduce_sum|reduce_mean|reduce_l2|reduce_log_sum|reduce_max"
    r"|split|slice|tile|expand|constant_pad|edge_pad|reflect_pad|wrap_pad|lppool|bitcast|mod)"
)


@pytest.fixture(scope="module")
def report() -> conformance.Report:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cases = conformance.collect(kinds=("node",), pattern=SUBSET)
    assert len(cases) > 100
    return conformance.run(cases)


def test_no_case_crashes_the_tool(report: conformance.Report) -> None:
    errors = [r for r in report.results if r.status == "error"]
    assert not errors, errors


def test_every_case_the_compiler_accepts_gives_the_right_numbers(report: conformance.Report) -> None:
    compiled = [r for r in report.results if r.status in ("pass", "fail")]
    failing = [r for r in compiled if r.status == "fail"]
    assert len(compiled) > 100
    assert not failing, failing


def test_supported_ops_are_covered(report: conformance.Report) -> None:
    """Cases of registered ops that are refused are refused for a dtype, attribute or rank, not the op."""
    for r in report.results:
        if r.op_type in REGISTRY and r.status == "unsupported":
            assert r.op_type not in r.detail.split(":")[0] or "(" in r.detail, r


def test_the_cases_own_shapes_are_accepted(report: conformance.Report) -> None:
    """The tool compiles each case at its own input shapes, empty tensors included (CastLike's
    `like` is one): refusing one as a bad `--input-shape` is a bug, as 157 cases once were."""
    refused = [r for r in report.results if r.status == "unsupported" and "--input-shape" in r.detail]
    assert not refused, refused


def test_every_unsupported_case_says_why(report: conformance.Report) -> None:
    for r in report.results:
        if r.status == "unsupported":
            assert r.detail, r


def test_old_pytorch_exports_upgrade_and_pass() -> None:
    """Opset-6 models from the onnx package's pytorch-converted set: upgraded by onnx's
    version converter, with the per-channel PRelu and Split-1 forms handled; compared with
    the outputs the package ships, at the tolerances it gives."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cases = conformance.collect(kinds=("pytorch-converted", "pytorch-operator"), pattern=r"PReLU|GLU|chunk")
    assert len(cases) >= 9
    report = conformance.run(cases)
    assert [r for r in report.results if r.status != "pass"] == []
