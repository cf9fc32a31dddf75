"""The pass pipeline, in the order it runs. Each entry says why it sits where it does."""

from __future__ import annotations

from .dead_nodes import eliminate_dead_nodes
from .manager import Pass, PassReport, run_passes
from .sanitize import sanitize

PIPELINE: list[Pass] = [
    # First: training-only no-ops hide real producers from every later pattern.
    sanitize,
    # After sanitize: dropping no-ops can orphan whole branches.
    eliminate_dead_nodes,
]

__all__ = ["PIPELINE", "PassReport", "run_passes"]
