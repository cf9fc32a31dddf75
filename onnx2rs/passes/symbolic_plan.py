"""The memory plan as closed-form expressions of the open dims (P11): one layout for every size.

Consumes a `MemoryPlan` made at one probe size and each buffer's size as an expression of the
open dims; changes nothing. Buffers keep the order in which the probe plan stacks them: each one
starts where the highest-ending buffer below it ends among those of its arena whose lifetimes
overlap its own, so its offset is a max of earlier offsets plus sizes, which generated code
evaluates once per input shape. At the probe size no offset exceeds the probe plan's, since a
best-fit buffer starts above every live buffer below it.

Guarantee: at any sizes of the open dims, two buffers of one arena whose lifetimes overlap
never overlap in memory, and each arena is as long as its highest buffer's end.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..ir import Graph
from .memory_plan import ALIGNMENT, Buffer, MemoryPlan

if TYPE_CHECKING:
    import sympy


@dataclass
class SymbolicPlan:
    """Each buffer's aligned size as an expression, and the buffers it starts above: its offset
    is the largest end (offset + size) among them, 0 if none. Offsets refer to earlier ones
    by index, so generated code computes them in `order`, each once, in linear code."""

    sizes: list[sympy.Expr]
    above: list[list[int]]
    order: list[int]
    dtypes: list[str]

    def layout(self, sizes: dict[sympy.Symbol, int]) -> tuple[list[int], dict[str, int]]:
        """Every buffer's offset and every arena's length, in bytes, at `sizes`."""
        lengths = [int(s.subs(sizes)) for s in self.sizes]
        offsets = [0] * len(lengths)
        for i in self.order:
            offsets[i] = max((offsets[j] + lengths[j] for j in self.above[i]), default=0)
        arenas: dict[str, int] = {}
        for i, dtype in enumerate(self.dtypes):
            arenas[dtype] = max(arenas.get(dtype, 0), offsets[i] + lengths[i])
        return offsets, arenas


def aligned(nbytes: sympy.Expr) -> sympy.Expr:
    """`nbytes` rounded up to a multiple of ALIGNMENT, as `Buffer.size` does."""
    import sympy

    return sympy.ceiling(nbytes / ALIGNMENT) * ALIGNMENT


def closed_form(plan: MemoryPlan, nbytes: list[sympy.Expr]) -> SymbolicPlan:
    """The layout of `plan.buffers` whose sizes are `nbytes` (one expression per buffer, in
    order), keeping the stacking order of the probe plan's offsets."""
    import sympy

    buffers = plan.buffers
    # At one offset, an empty buffer goes first: the other then keeps that offset.
    order = sorted(range(len(buffers)), key=lambda i: (buffers[i].offset, buffers[i].size, buffers[i].start))
    above: list[list[int]] = [[] for _ in buffers]
    for k, i in enumerate(order):
        above[i] = [j for j in order[:k] if buffers[j].dtype == buffers[i].dtype and _overlap(buffers[i], buffers[j])]
    return SymbolicPlan([aligned(sympy.sympify(n)) for n in nbytes], above, order, [b.dtype for b in buffers])


def plan_of(graph: Graph, memory: MemoryPlan) -> SymbolicPlan | list[str]:
    """The closed-form plan of `memory` (made at `graph`'s probe size), or the first value of
    each buffer whose size is known at the probe only (`graph.probe_only`)."""
    missing = [b.values[0] for b in memory.buffers if b.values[0] in graph.probe_only]
    if missing:
        return missing
    return closed_form(memory, [graph.value(b.values[0]).nbytes for b in memory.buffers])


def _overlap(a: Buffer, b: Buffer) -> bool:
    return a.start <= b.end and b.start <= a.end


__all__ = ["SymbolicPlan", "aligned", "closed_form", "plan_of"]
