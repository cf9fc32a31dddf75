"""Which nodes may overwrite their input instead of allocating an output.

Consumes `liveness`; changes nothing in the graph. The rule (from the original
system, made precise): a node runs in place only if its op names an input it
may overwrite (input 0 for most; a fused residual for Conv), and that input
  - is an intermediate it owns: not a graph input (borrowed from the caller),
    not a weight (shared by every call), not a graph output;
  - is read by no later node, and by this node only once;
  - has the output's element count and dtype.
A chain of in-place nodes is allowed: each one hands its buffer to the next.
With `views`, a value and the views of it are one piece of memory: "read by no
later node" and "read once" hold for all of them together. A view's own node
needs no decision: it writes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..ir import Graph
from ..ops import lookup
from .liveness import Interval
from .views import View, root_of


@dataclass(frozen=True)
class InplaceDecision:
    """Whether `node` writes its output over `input`, and why (or why not)."""

    node: str
    inplace: bool
    reason: str
    input: str | None = None


def decide_inplace(
    graph: Graph, live: dict[str, Interval], views: dict[str, View] | None = None
) -> dict[str, InplaceDecision]:
    """One decision per node, keyed by node name."""
    decisions = {}
    for step, node in enumerate(graph.nodes):
        decisions[node.name] = _decide(graph, live, views or {}, step, node)
    return decisions


def _decide(graph: Graph, live: dict[str, Interval], views: dict[str, View], step: int, node) -> InplaceDecision:
    spec = lookup(node.op_type, node.domain)
    no = lambda reason: InplaceDecision(node.name, False, reason)  # noqa: E731
    if node.outputs and node.outputs[0] in views:
        return no("a view of its input")
    index = spec.inplace_input(node) if spec is not None and spec.inplace_input else None
    if index is None:
        return no("op kind cannot")
    x = node.input(index)
    if x is None:
        return no("no input")
    if graph.is_constant(x):
        return no("input is a weight")
    if x in graph.inputs:
        return no("input borrowed from caller")
    if x in graph.outputs:
        return no("input is a graph output")
    memory = root_of(x, views)
    if live[memory].end > step:
        return no("input read later")
    if sum(root_of(v, views) == memory for v in node.inputs if v) > 1:
        return no("input read twice here")
    src, out = graph.value(x), graph.value(node.outputs[0])
    if src.size != out.size or src.dtype != out.dtype:
        return no("size or dtype differs")
    return InplaceDecision(node.name, True, "last reader, owned", x)
