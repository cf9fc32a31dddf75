"""Lowering decisions that depend on sizes, found by lowering again at other sizes (P11).

An op's lowering may read its operands' shapes and decide (a broadcast it can skip where a dim
is 1, a kernel picked for a small size). With open dims it sees expressions, and a comparison
of an expression with a number is structural: `N == 1` is False even though N may be 1. Such a
decision would hold at some sizes only. This analysis lowers each node a second time on a copy
of the graph with every open dim at given sizes (numbers, as a static build sees them), and
compares that call with the call lowered over expressions, spelled at the same sizes.

Guarantee: at each size given, every node listed as consistent lowers to the same Rust as a
static build at that size. Decisions made by passes (which nodes fuse) are not covered here:
passes compare dims structurally, which only ever declines a rewrite.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from ..ir import Graph, Node, Value
from ..ops import Lowering, lookup
from .render import Operands, Renderer
from .sizes import is_expression


class AtSizes:
    """Spells each size as its number at `sizes` (a `Renderer`'s sizes, like `SizeTable`)."""

    def __init__(self, sizes: dict[str, int]) -> None:
        self.sizes = sizes

    def dim(self, x: Any) -> str:
        return str(Graph.at(x, self.sizes))


def at_sizes(graph: Graph, sizes: dict[str, int]) -> Graph:
    """A copy of `graph` whose shapes, and constants of expressions, are numbers at `sizes`."""
    values = {n: Value(n, v.dtype, tuple(Graph.at(d, sizes) for d in v.shape)) for n, v in graph.values.items()}
    initializers = {}
    for name, array in graph.initializers.items():
        if array.dtype == object:
            # A shape tensor's own type, or int64 for a Reshape target a pass made.
            dtype = graph.values[name].dtype.numpy if name in graph.values else np.int64
            array = np.array([Graph.at(e, sizes) for e in array.reshape(-1)], dtype).reshape(array.shape)
        initializers[name] = array
    return dataclasses.replace(graph, values=values, initializers=initializers, probe={}, equalities=[])


def _spelled(renderer: Renderer, ctx: Lowering) -> str:
    """The call and the workspace sizes that `ctx`'s node lowers to, with placeholder operands."""
    call = lookup(ctx.node.op_type, ctx.node.domain).lower(ctx)  # type: ignore[union-attr]
    node = ctx.node
    operands = Operands([f"in{i}" if n else None for i, n in enumerate(node.inputs)],
                        [f"out{i}" for i in range(len(node.outputs))],
                        {**{i: f"flat{i}" for i in range(len(node.inputs))}, None: "flat"})
    workspace = [str(n) if isinstance(n, int) else renderer.arg(n) for n in ctx.workspace_needed]
    return renderer.call(call, operands) + " | workspace " + ", ".join(workspace)


def size_dependent(graph: Graph, lowered: list[Lowering], renderer: Renderer,
                   sizes: list[dict[str, int]]) -> list[Node]:
    """The nodes (each lowered over expressions as `lowered` says) whose call at some of `sizes`
    differs from a static build's there."""
    found: list[Node] = []
    for at in sizes:
        fixed = at_sizes(graph, at)
        spell = Renderer(renderer.names, renderer.weights, AtSizes(at))
        static = Renderer(renderer.names, renderer.weights)
        for ctx in lowered:
            if ctx.node in found:
                continue
            again = ctx.like(graph)
            there = ctx.like(fixed)
            if _spelled(spell, again) != _spelled(static, there):
                found.append(ctx.node)
    return found


__all__ = ["AtSizes", "at_sizes", "is_expression", "size_dependent"]
