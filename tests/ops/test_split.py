"""Split (decomposed into Slices) compiled and compared with ONNX Runtime, in both opset forms."""

from __future__ import annotations

import re

import numpy as np
import pytest
from onnx import helper

from ..helpers import assert_matches_onnxruntime, make_model

pytestmark = pytest.mark.cargo


@pytest.mark.parametrize("opset", [11, 18])
def test_split_matches_onnxruntime(opset: int) -> None:
    x = np.random.default_rng(2).standard_normal((2, 7, 3)).astype(np.float32)
    if opset >= 13:
        node = helper.make_node("Split", ["x", "sizes"], ["a", "b", "c"], axis=1)
        weights = {"sizes": np.array([2, 4, 1], np.int64)}
    else:
        node = helper.make_node("Split", ["x"], ["a", "b", "c"], axis=1, split=[2, 4, 1])
        weights = {}
    relu = helper.make_node("Relu", ["b"], ["b_relu"])  # the pieces feed on like any value
    model = make_model([node, relu], {"x": x}, ["a", "b_relu", "c"], weights, opset=opset)
    source = assert_matches_onnxruntime(model, {"x": x}, tolerance=0.0)
    assert source.count("ops::slice_into(") == 3


@pytest.mark.parametrize(("op", "attrs"), [("DepthToSpace", {"mode": "DCR"}), ("DepthToSpace", {"mode": "CRD"}),
                                           ("SpaceToDepth", {})])
def test_space_depth_match_onnxruntime(op: str, attrs: dict) -> None:
    shape = (1, 8, 2, 3) if op == "DepthToSpace" else (1, 2, 4, 6)
    x = np.random.default_rng(3).standard_normal(shape).astype(np.float32)
    model = make_model([helper.make_node(op, ["x"], ["y"], blocksize=2, **attrs)], {"x": x}, ["y"])
    source = assert_matches_onnxruntime(model, {"x": x}, tolerance=0.0)
    assert "ops::transpose_into(" in source


@pytest.mark.parametrize(("shape", "perm"), [((1, 5, 1, 3, 4), (3, 1, 2, 0, 4)),
                                             ((2, 3, 1, 2, 2, 3), (0, 3, 4, 1, 5, 2)),
                                             ((1, 2, 3, 4, 1), (0, 4, 1, 2, 3))])
def test_high_rank_transpose_is_compacted(shape: tuple, perm: tuple) -> None:
    """Rank > 4 transposes run as rank <= 4 ones between aliasing reshapes (allocation-free)."""
    from onnx2rs.passes.decompose import compact_transpose

    x = np.random.default_rng(4).standard_normal(shape).astype(np.float32)
    relu = helper.make_node("Relu", ["x"], ["r"])  # an intermediate, so the reshapes can alias
    model = make_model([relu, helper.make_node("Transpose", ["r"], ["y"], perm=list(perm))], {"x": x}, ["y"])
    source = assert_matches_onnxruntime(model, {"x": x}, tolerance=0.0)
    compact, compact_perm = compact_transpose(list(shape), list(perm))
    assert len(compact) <= 4
    assert np.array_equal(x.reshape(compact).transpose(compact_perm).reshape(x.transpose(perm).shape),
                          x.transpose(perm))
    if compact_perm != sorted(compact_perm):
        assert f"&[{', '.join(map(str, compact_perm))}]" in source


def test_attention_qkv_split_runs_at_rank_four() -> None:
    """q, k and v sliced from a [N, S, 3, heads, dim] tensor after a rank-5 Transpose (as attention
    exports write it, with no size-1 axis to drop): each Slice moves before the Transpose, which
    then compacts, and the Slice runs on merged axes: no rank-5 view is left (those allocate)."""
    x = np.random.default_rng(5).standard_normal((2, 5, 3, 4, 6)).astype(np.float32)
    nodes = [helper.make_node("Relu", ["x"], ["r"]),
             helper.make_node("Transpose", ["r"], ["t"], perm=[2, 0, 3, 1, 4])]
    weights = {"axes": np.array([0], np.int64)}
    for i, part in enumerate("qkv"):
        weights |= {f"{part}_start": np.array([i], np.int64), f"{part}_end": np.array([i + 1], np.int64)}
        nodes.append(helper.make_node("Slice", ["t", f"{part}_start", f"{part}_end", "axes"], [part]))
    model = make_model(nodes, {"x": x}, ["q", "k", "v"], weights)
    source = assert_matches_onnxruntime(model, {"x": x}, tolerance=0.0)
    assert source.count("ops::slice_into(") == 3 and source.count("ops::transpose_into(") == 3
    blocks = re.split(r"\n\s*// (?=[A-Z])", source)  # one per node
    moved = [b for b in blocks if b.startswith(("Slice", "Transpose"))]
    ranks = [len(dims.split(",")) for b in moved for dims in re.findall(r"view(?:_mut)?\([^;]*?&\[([^\]]*)\]", b)]
    assert len(ranks) >= 12 and max(ranks) <= 4, ranks  # each op's input and output view
