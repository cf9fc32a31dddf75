"""IR invariants that every pass must preserve; checked after each pass.

A violation is a bug in onnx2rs, not in the user's model, so it raises
InvariantError naming the pass that broke the graph.
"""

from __future__ import annotations

from .ir import Graph


class InvariantError(AssertionError):
    """A pass left the IR inconsistent."""


def check_graph(graph: Graph) -> None:
    """Raise InvariantError unless: nodes are in a valid order, every value has one producer,
    everything read is defined before use, and every intermediate and output has a type."""
    defined = set(graph.inputs) | set(graph.initializers)
    names = set()
    for node in graph.nodes:
        if node.name in names:
            raise InvariantError(f"two nodes are named {node.name!r}")
        names.add(node.name)
        for v in node.inputs:
            if v and v not in defined:
                raise InvariantError(f"node {node.name!r} reads {v!r} before anything defines it")
        for v in node.outputs:
            if not v:
                continue
            if v in defined:
                raise InvariantError(f"{v!r} is defined twice (by node {node.name!r})")
            if v not in graph.values:
                raise InvariantError(f"output {v!r} of node {node.name!r} has no type")
            defined.add(v)
    for v in graph.outputs:
        if v not in defined:
            raise InvariantError(f"graph output {v!r} is not defined")
