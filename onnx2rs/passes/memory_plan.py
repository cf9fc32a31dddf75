"""The static memory plan: every intermediate gets an offset in one arena.

Consumes `liveness` and `inplace`; changes nothing in the graph. In-place
outputs share their input's buffer. Buffers are placed greedily by size, largest
first, each in the smallest gap that no buffer live at the same time occupies
(best fit, as TFLite's and ONNX Runtime's planners do). Offsets and sizes are
multiples of ALIGNMENT bytes, so SIMD loads are aligned.
Guarantee: two buffers whose lifetimes overlap never overlap in the arena.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..ir import Graph
from .inplace import InplaceDecision
from .liveness import Interval

ALIGNMENT = 64


@dataclass
class Buffer:
    """One arena slot: the values stored in it (an in-place chain), its lifetime and place."""

    values: list[str]
    nbytes: int
    start: int
    end: int
    offset: int = -1

    @property
    def size(self) -> int:
        """The aligned size in the arena."""
        return -(-self.nbytes // ALIGNMENT) * ALIGNMENT


@dataclass
class MemoryPlan:
    """Where every intermediate lives, and what that saves."""

    buffers: list[Buffer] = field(default_factory=list)
    arena_bytes: int = 0
    naive_bytes: int = 0

    def offset_of(self, value: str) -> int:
        """The arena offset of `value`."""
        return next(b.offset for b in self.buffers if value in b.values)


def plan_memory(
    graph: Graph, live: dict[str, Interval], inplace: dict[str, InplaceDecision]
) -> MemoryPlan:
    """Lay out every node output in one arena."""
    buffer_of: dict[str, Buffer] = {}
    buffers: list[Buffer] = []
    for node in graph.nodes:
        decision = inplace.get(node.name)
        for i, v in enumerate(o for o in node.outputs if o):
            if i == 0 and decision is not None and decision.inplace and decision.input in buffer_of:
                buf = buffer_of[decision.input]
                buf.values.append(v)
                buf.end = max(buf.end, live[v].end)
            else:
                value = graph.value(v)
                buf = Buffer([v], value.nbytes, live[v].start, live[v].end)
                buffers.append(buf)
            buffer_of[v] = buf
    placed: list[Buffer] = []
    for buf in sorted(buffers, key=lambda b: (-b.size, b.start)):
        busy = sorted((b for b in placed if b.start <= buf.end and buf.start <= b.end), key=lambda b: b.offset)
        best, best_gap, cursor = None, None, 0
        for b in busy:
            gap = b.offset - cursor
            if gap >= buf.size and (best_gap is None or gap < best_gap):
                best, best_gap = cursor, gap
            cursor = max(cursor, b.offset + b.size)
        buf.offset = best if best is not None else cursor
        placed.append(buf)
    naive = sum(graph.value(v).nbytes for b in buffers for v in b.values)
    arena = max((b.offset + b.size for b in buffers), default=0)
    return MemoryPlan(sorted(buffers, key=lambda b: b.start), arena, naive)
