"""Weight layouts paid for once, at build time, instead of on every call.

- `pretranspose_gemm_weights`: a Gemm whose B is a constant read transposed
  (`transB=1`, how PyTorch's Linear and tf2onnx's Dense often export) gets that
  constant transposed here and `transB=0`. The runtime's matrix product then streams
  contiguous rows of B into register tiles, instead of one dot product per output
  (resnet50-light's classifier: 3.6 GFLOP/s that way).

- `pack_product_weights`: a float Gemm's or MatMul's constant 2-D B is stored as the
  runtime's panels (`PackedB` in `runtime-crate/src/ops/linalg/prepacked.rs`, whose `PANEL_COLUMNS` is
  read from there): each call then streams the weight panel by panel, contiguously,
  instead of copying it tile by tile out of rows far apart (an eighth of BERT's time).
  The weight takes no more memory: it is stored only in this form. A B whose padding to
  whole panels would add more than an eighth stays as it is (a narrow B takes other kernels).

Guarantees: each product computes the same values; the original initializer is left
untouched (another node may read it), and dead-node elimination drops it if not.
`Graph.panels` names each packed weight with the `[k, n]` matrix it holds.
"""

from __future__ import annotations

import numpy as np

from ..dtypes import F32
from ..ir import Graph
from ..resources import runtime_constant


def pretranspose_gemm_weights(graph: Graph) -> bool:
    """Transpose a constant 2-D B read with `transB=1` once, and clear `transB`."""
    changed = False
    for node in graph.nodes:
        b = node.input(1) if node.op_type == "Gemm" else None
        if b is None or not node.attrs.get("transB", 0) or not graph.is_constant(b):
            continue
        weights = graph.initializers[b]
        if weights.ndim != 2:
            continue
        name = graph.fresh_name(f"{node.name}/weight_transposed")
        graph.initializers[name] = np.ascontiguousarray(weights.T)
        node.inputs = [node.inputs[0], name, *node.inputs[2:]]
        node.attrs = {k: v for k, v in node.attrs.items() if k != "transB"}
        changed = True
    return changed


def pack_product_weights(graph: Graph) -> bool:
    """Store the constant 2-D B of each float Gemm (not transposed) or MatMul as panels."""
    width = runtime_constant("ops/linalg/prepacked.rs", "PANEL_COLUMNS")
    changed = False
    for node in graph.nodes:
        b = node.input(1) if node.op_type in ("Gemm", "MatMul") and node.domain in ("", "ai.onnx") else None
        if b is None or b in graph.panels or not graph.is_constant(b) or graph.value(b).dtype != F32:
            continue
        weights = graph.initializers[b]
        if weights.ndim != 2 or node.attrs.get("transA", 0) or node.attrs.get("transB", 0):
            continue
        k, n = weights.shape
        tiles = -(-n // width)
        if tiles * width * 8 > n * 9:
            continue
        padded = np.zeros((k, tiles * width), weights.dtype)
        padded[:, :n] = weights
        name = graph.fresh_name(f"{b}/panels")
        graph.initializers[name] = np.ascontiguousarray(padded.reshape(k, tiles, width).transpose(1, 0, 2))
        graph.panels[name] = (k, n)
        node.inputs = [node.inputs[0], name, *node.inputs[2:]]
        changed = True
    return changed
