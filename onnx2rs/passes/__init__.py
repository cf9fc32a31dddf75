"""The pass pipeline, in the order it runs. Each entry says why it sits where it does."""

from __future__ import annotations

from ..ir import Graph
from .dead_nodes import eliminate_dead_nodes
from .inplace import InplaceDecision, decide_inplace
from .liveness import Interval, liveness
from .manager import Pass, PassReport, run_passes
from .memory_plan import MemoryPlan, plan_memory
from .sanitize import sanitize

PIPELINE: list[Pass] = [
    # First: training-only no-ops hide real producers from every later pattern.
    sanitize,
    # After sanitize: dropping no-ops can orphan whole branches.
    eliminate_dead_nodes,
]



def analyse(graph: Graph) -> tuple[dict[str, Interval], dict[str, InplaceDecision], MemoryPlan]:
    """The analyses of the final schedule, in dependency order: liveness -> in place -> memory plan."""
    live = liveness(graph)
    inplace = decide_inplace(graph, live)
    return live, inplace, plan_memory(graph, live, inplace)


__all__ = ["PIPELINE", "InplaceDecision", "MemoryPlan", "PassReport", "analyse", "run_passes"]
