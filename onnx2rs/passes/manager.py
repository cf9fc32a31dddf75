"""Running passes: each is a function Graph -> bool (changed), run in order and reported."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..ir import Graph

Pass = Callable[[Graph], bool]


@dataclass
class PassReport:
    """What one pass did to the graph."""

    name: str
    changed: bool
    nodes_before: int
    nodes_after: int

    @property
    def removed(self) -> int:
        """Net number of nodes the pass removed."""
        return self.nodes_before - self.nodes_after


def run_passes(graph: Graph, passes: list[Pass], check: Callable[[Graph], None] | None = None) -> list[PassReport]:
    """Run `passes` in order on `graph` (in place); `check` validates the IR after each one."""
    reports = []
    for p in passes:
        before = len(graph.nodes)
        changed = p(graph)
        if check is not None:
            try:
                check(graph)
            except AssertionError as e:
                raise type(e)(f"after pass {p.__name__}: {e}") from None
        reports.append(PassReport(p.__name__, changed, before, len(graph.nodes)))
    return reports
