"""The compiler's mirror of the convolution workspace (onnx2rs/ops/conv.py) gives exactly what
the runtime computes (`conv_shapes` in runtime-crate/src/ops/conv.rs), shape by shape.

The runtime refuses a workspace that is too small, so a mirror that is short fails loudly at
run time; one that is too generous would only waste memory, which nothing else would catch.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

from onnx2rs.ops.conv import conv_workspace_len, pool_rows, shifted_workspace_len
from onnx2rs.ops.window import Window

pytestmark = pytest.mark.cargo

RUNTIME = Path(__file__).resolve().parents[2] / "runtime-crate"


Case = tuple[list[int], list[int], list[int], list[int], list[int], int, list[int]]


def _cases() -> list[Case]:
    """(x shape, w shape, strides, pads, dilations, group, fused pool window): every layout
    the kernel picks (read in place, shifted whole and in bands, phases, packed), then
    random ones, each also with a max pool fused into it."""
    cases = [
        ([1, 64, 56, 56], [16, 64, 1, 1], [1, 1], [0, 0, 0, 0], [1, 1], 1),    # read in place
        ([1, 3, 5, 5], [4, 3, 1, 1], [1, 1], [0, 0, 1, 1], [1, 1], 1),         # 1x1 with pads after
        ([1, 64, 56, 56], [128, 64, 1, 1], [2, 2], [0, 0, 0, 0], [1, 1], 1),   # one phase of four
        ([1, 3, 224, 224], [16, 3, 7, 7], [2, 2], [3, 3, 3, 3], [1, 1], 1),    # banded stem
        ([1, 8, 130, 131], [12, 8, 3, 3], [1, 1], [1, 0, 1, 2], [1, 1], 1),    # banded
        ([1, 16, 200, 180], [10, 8, 3, 2], [1, 2], [2, 1, 0, 1], [2, 1], 2),   # dilated, grouped
        ([1, 64, 1100], [5, 64, 3], [1], [1, 1], [1], 1),                      # packed blocks
        ([1, 32, 14, 14], [32, 1, 3, 3], [1, 1], [1, 1, 1, 1], [1, 1], 32),    # depthwise
    ]
    rng = np.random.default_rng(11)
    while len(cases) < 300:
        rank = int(rng.integers(1, 3))
        group = int(rng.choice([1, 1, 2, 4]))
        cg, mg = int(rng.integers(1, 40)), int(rng.integers(1, 40))
        spatial = [int(rng.integers(1, 160)) for _ in range(rank)]
        kernel = [int(rng.integers(1, 8)) for _ in range(rank)]
        strides = [int(rng.integers(1, 4)) for _ in range(rank)]
        dilations = [int(rng.choice([1, 1, 2, 3])) for _ in range(rank)]
        pads = [int(rng.integers(0, k)) for k in kernel * 2]
        if any(s + b + e < d * (k - 1) + 1 for s, b, e, d, k in
               zip(spatial, pads[:rank], pads[rank:], dilations, kernel, strict=True)):
            continue  # no output
        cases.append(([1, cg * group, *spatial], [mg * group, cg, *kernel], strides, pads, dilations, group))
    pooled = [(*c, [int(rng.integers(1, 4)) for _ in c[2]]) for c in cases]
    return [(*c, []) for c in cases] + pooled


def _mirror(x: list[int], w: list[int], strides: list[int], pads: list[int], dilations: list[int], group: int,
            pool: list[int]) -> str:
    """The runtime's answer as the compiler predicts it: the workspace, or a refusal where
    a fused pool meets a convolution not read as shifted rows (what `fuse_conv_pool` checks)."""
    window = Window(list(w[2:]), strides, dilations, pads)
    out = window.output(list(x[2:]))
    args = (w[1], w[0] // group, window, list(x[2:]), out, pool_rows(pool))
    if any(k > 1 for k in pool) and shifted_workspace_len(*args) is None:
        return "error"
    return str(conv_workspace_len(*args))


def test_the_workspace_mirror_equals_the_runtime_for_every_layout() -> None:
    cases = _cases()
    lines = "".join(";".join(",".join(map(str, f)) for f in (*c[:5], [c[5]], c[6])) + "\n" for c in cases)
    runtime = subprocess.run(
        ["cargo", "run", "--release", "--quiet", "--example", "conv_workspace"],
        cwd=RUNTIME, input=lines, capture_output=True, text=True, check=True, env=os.environ,
    ).stdout.split("\n")[: len(cases)]
    disagree = [(case, theirs, _mirror(*case)) for case, theirs in zip(cases, runtime, strict=True)
                if theirs.split(":")[0] != _mirror(*case)]
    assert not disagree, disagree[:5]
