"""The static memory plan: every intermediate gets an offset in an arena.

Consumes `liveness` and `inplace`; changes nothing in the graph. There is one
arena per element type (generated code holds a `Vec<f32>`, a `Vec<i64>`, ...,
so no bytes are ever reinterpreted). In-place outputs share their input's
buffer; views lie inside their root's buffer, at their offset. Within an arena, buffers
are placed greedily by size, largest first, each in the smallest gap that no buffer live at the same time occupies (best
fit, as TFLite's and ONNX Runtime's planners do). Offsets and sizes are
multiples of ALIGNMENT bytes, so SIMD loads are aligned (a view may start anywhere).
A graph with open dims is planned at its probe size (`symbolic_plan` makes that plan hold at
every size). Guarantee: two buffers of one arena whose lifetimes overlap never overlap in memory.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..ir import Graph
from .inplace import InplaceDecision
from .liveness import Interval
from .views import View

ALIGNMENT = 64


@dataclass
class Buffer:
    """One arena slot: the values stored in it (an in-place chain and views), its lifetime and place."""

    values: list[str]
    dtype: str
    nbytes: int
    start: int
    end: int
    offset: int = -1
    # Bytes from the buffer's start to a value that does not start there (a view).
    within: dict[str, int] = field(default_factory=dict)

    @property
    def size(self) -> int:
        """The aligned size in the arena."""
        return -(-self.nbytes // ALIGNMENT) * ALIGNMENT


@dataclass
class MemoryPlan:
    """Where every intermediate lives, and what that saves."""

    buffers: list[Buffer] = field(default_factory=list)
    arenas: dict[str, int] = field(default_factory=dict)
    naive_bytes: int = 0
    views: dict[str, View] = field(default_factory=dict)

    @property
    def arena_bytes(self) -> int:
        """The size of all arenas together."""
        return sum(self.arenas.values())

    def buffer_of(self, value: str) -> Buffer:
        """The buffer that holds `value`."""
        return next(b for b in self.buffers if value in b.values)

    def offset_of(self, value: str) -> int:
        """The offset of `value` in its arena, in bytes."""
        buf = self.buffer_of(value)
        return buf.offset + buf.within.get(value, 0)


def plan_memory(
    graph: Graph, live: dict[str, Interval], inplace: dict[str, InplaceDecision],
    views: dict[str, View] | None = None,
) -> MemoryPlan:
    """Lay out every node output in one arena."""
    views = views or {}
    buffer_of: dict[str, Buffer] = {}
    buffers: list[Buffer] = []
    for node in graph.nodes:
        decision = inplace.get(node.name)
        for i, v in enumerate(o for o in node.outputs if o):
            view = views.get(v)
            shared = view.root if view else decision.input if i == 0 and decision and decision.inplace else None
            if shared in buffer_of:
                buf = buffer_of[shared]
                buf.values.append(v)
                buf.end = max(buf.end, live[v].end)
                within = buf.within.get(shared, 0)
                if view:
                    within += graph.at_probe(view.offset) * graph.value(v).dtype.numpy.itemsize
                if within:
                    buf.within[v] = within
            else:
                value = graph.value(v)
                buf = Buffer([v], value.dtype.name, graph.at_probe(value.nbytes), live[v].start, live[v].end)
                buffers.append(buf)
            buffer_of[v] = buf
    arenas = {}
    for dtype in sorted({b.dtype for b in buffers}):
        arenas[dtype] = _place([b for b in buffers if b.dtype == dtype])
    naive = sum(graph.at_probe(graph.value(v).nbytes) for b in buffers for v in b.values)
    return MemoryPlan(sorted(buffers, key=lambda b: b.start), arenas, naive, views)


def _place(buffers: list[Buffer]) -> int:
    """Give each buffer an offset (best fit, largest first); return the arena size."""
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
    return max((b.offset + b.size for b in buffers), default=0)
