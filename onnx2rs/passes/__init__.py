"""The pass pipeline, in the order it runs. Each entry says why it sits where it does."""

from __future__ import annotations

from ..ir import Graph
from .constant_fold import constant_fold
from .dead_nodes import eliminate_dead_nodes
from .decompose import decompose
from .fuse import (
    fuse_activation,
    fuse_conv_affine,
    fuse_conv_batchnorm,
    fuse_conv_pool,
    fuse_conv_residual,
    fuse_matmul_add,
)
from .inplace import InplaceDecision, decide_inplace
from .liveness import Interval, liveness
from .manager import Pass, PassReport, run_passes
from .memory_plan import MemoryPlan, plan_memory
from .recompose import recompose
from .sanitize import sanitize
from .views import View, find_views
from .weight_layout import pack_product_weights, pretranspose_gemm_weights

PIPELINE: list[Pass] = [
    # First: training-only no-ops hide real producers from every later pattern.
    sanitize,
    # Split becomes Slices, before folding, so that constant splits fold like anything else.
    decompose,
    # Whatever onnxsim left: constant subgraphs, and Shape/Size of static shapes.
    constant_fold,
    # On folded constants, before any fusion: hard-swish spelled as Add, Clip, Mul and Div
    # becomes one HardSwish, which activation fusion then puts into the Conv before it.
    recompose,
    # Before activation fusion: BatchNormalization sits between Conv and Relu.
    fuse_conv_batchnorm,
    # The same for BatchNormalization and bias written as Mul and Add (tf2onnx), before
    # activation fusion for the same reason.
    fuse_conv_affine,
    # Makes the Gemm that activation fusion can then absorb a Relu into.
    fuse_matmul_add,
    # After the folds above (which refuse a Conv with a residual), before activation
    # fusion: a ReLU after the residual Add then becomes the Conv's epilogue.
    fuse_conv_residual,
    fuse_activation,
    # After activation fusion: the pool takes the values the epilogue made.
    fuse_conv_pool,
    # Once fusions have settled which constants each Gemm reads.
    pretranspose_gemm_weights,
    # After that: panels hold B as the product reads it, untransposed.
    pack_product_weights,
    # Last: folding and fusion orphan the weights and nodes they replaced.
    eliminate_dead_nodes,
]


def analyse(graph: Graph) -> tuple[dict[str, Interval], dict[str, InplaceDecision], MemoryPlan]:
    """The analyses of the final schedule, in dependency order:
    views -> liveness -> in place -> memory plan (which carries the views on to code generation)."""
    views = find_views(graph)
    live = liveness(graph, views)
    inplace = decide_inplace(graph, live, views)
    return live, inplace, plan_memory(graph, live, inplace, views)


__all__ = ["PIPELINE", "InplaceDecision", "Interval", "MemoryPlan", "PassReport", "View", "analyse",
           "run_passes"]
