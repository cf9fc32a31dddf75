"""Snapshot of the generated Rust for a small model: codegen changes show up in review.

Regenerate with `UPDATE_SNAPSHOTS=1 pytest tests/codegen`.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from onnx import helper

from onnx2rs import compile_model

from ..helpers import make_model

SNAPSHOTS = Path(__file__).parent / "snapshots"
# The snapshot is the crate as users get it, with its vendored runtime.
pytestmark = pytest.mark.usefixtures("vendored_runtime")


def small_model():
    rng = np.random.default_rng(0)
    nodes = [
        helper.make_node("Gemm", ["x", "w", "b"], ["h"], name="dense/Gemm", transB=1),
        helper.make_node("Relu", ["h"], ["r"], name="relu"),
        # A view: no code, the softmax reads (and overwrites) the first two of `r`'s values.
        helper.make_node("Slice", ["r", "lo", "hi", "axis"], ["r2"], name="first_two"),
        helper.make_node("Softmax", ["r2"], ["probs"], name='head"; evil()\n// ünï'),
    ]
    weights = {"w": rng.standard_normal((3, 4)).astype(np.float32), "b": np.ones(3, np.float32),
               "lo": np.array([0]), "hi": np.array([2]), "axis": np.array([1])}
    return make_model(nodes, {"x": np.zeros((1, 4), np.float32)}, ["probs"], weights, name="small")


def test_generated_sources_match_snapshots(tmp_path: Path) -> None:
    out = compile_model(small_model(), tmp_path / "small").out_dir
    for rel in ["src/model.rs", "src/lib.rs", "Cargo.toml"]:
        actual = (out / rel).read_text()
        snapshot = SNAPSHOTS / (rel.replace("/", "__") + ".snap")
        if os.environ.get("UPDATE_SNAPSHOTS"):
            snapshot.write_text(actual)
        assert snapshot.exists(), f"no snapshot for {rel}; create it with UPDATE_SNAPSHOTS=1"
        assert actual == snapshot.read_text(), f"{rel} changed; rerun with UPDATE_SNAPSHOTS=1 if intended"


def test_generation_is_deterministic(tmp_path: Path) -> None:
    a = compile_model(small_model(), tmp_path / "a").out_dir
    b = compile_model(small_model(), tmp_path / "b").out_dir
    for rel in ["src/model.rs", "src/lib.rs", "weights.safetensors"]:
        assert (a / rel).read_bytes() == (b / rel).read_bytes()
