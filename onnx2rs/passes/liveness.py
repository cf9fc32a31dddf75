"""Liveness analysis: for the fixed schedule `graph.nodes`, when each value is born and last read.

Analysis only: it changes nothing. `inplace` and `memory_plan` consume its result.
Steps are node indices. Graph inputs are born at step -1; graph outputs stay live
until step len(nodes), i.e. past the last node, because the caller receives them.
Given `views`, a view's readers also read its root's memory: the root stays live
until its last view is read. A value that the body of a run-time loop reads but that
was defined before the loop stays live until the loop's last node (LoopEnd): the next
step reads it again.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..ir import Graph
from .views import View


@dataclass(frozen=True)
class Interval:
    """The lifetime of one value: defined at `start`, last read at `end` (inclusive)."""

    value: str
    start: int
    end: int
    readers: int

    def overlaps(self, other: Interval) -> bool:
        """True if the two values are live at the same step."""
        return self.start <= other.end and other.start <= self.end


def liveness(graph: Graph, views: dict[str, View] | None = None) -> dict[str, Interval]:
    """The interval of every graph input and every node output (weights are not tracked)."""
    start = {v: -1 for v in graph.inputs}
    end = dict.fromkeys(graph.inputs, -1)
    readers = dict.fromkeys(graph.inputs, 0)
    for step, node in enumerate(graph.nodes):
        for v in node.inputs:
            if v in start:
                end[v] = step
                readers[v] += 1
        for v in node.outputs:
            if v:
                start[v], end[v], readers[v] = step, step, 0
    for v in graph.outputs:
        if v in end:
            end[v] = len(graph.nodes)
    for begin, finish in graph.loops():
        for node in graph.nodes[begin + 1:finish]:
            for v in node.inputs:
                if v in start and start[v] < begin:
                    end[v] = max(end[v], finish)
    for view in (views or {}).values():
        end[view.root] = max(end[view.root], end[view.value])
        readers[view.root] += readers[view.value]
    return {v: Interval(v, start[v], end[v], readers[v]) for v in start}
