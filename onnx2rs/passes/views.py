"""Which node outputs are a window of their input's memory, and so need neither code nor a buffer.

Analysis only: it changes nothing in the graph. An op declares `view` when its
output can be read where its input lies: Reshape and its kin always, Slice and
Gather when they pick one contiguous run of a static input. Such a node's
output becomes a view when its input 0 is an intermediate in the arena (a graph
input belongs to the caller; weights are folded away before this point).
`liveness` keeps a view's root alive while the view is read; `inplace` and
`memory_plan` treat a root and its views as one piece of memory.
Guarantee: `views[v] = View(root, offset)`, where `root` is not itself a view and
v's elements are root's elements [offset, offset + size) in row-major order.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..ir import Graph
from ..ops import lookup


@dataclass(frozen=True)
class View:
    """Value `value` is `root`'s elements from `offset` (counted in elements) on."""

    value: str
    root: str
    offset: int


def find_views(graph: Graph) -> dict[str, View]:
    """Every node output that is a view, keyed by value name."""
    views: dict[str, View] = {}
    for node in graph.nodes:
        spec = lookup(node.op_type, node.domain)
        source = node.input(0)
        if spec is None or spec.view is None or len(node.outputs) != 1 or source is None:
            continue
        if source in graph.inputs or graph.is_constant(source):
            continue
        if graph.value(source).dtype != graph.value(node.outputs[0]).dtype:
            continue
        offset = spec.view(node, graph)
        if offset is None:
            continue
        parent = views.get(source)
        root, base = (parent.root, parent.offset) if parent else (source, 0)
        views[node.outputs[0]] = View(node.outputs[0], root, base + offset)
    return views


def root_of(value: str, views: dict[str, View]) -> str:
    """The value whose memory `value` reads: its root if it is a view, else itself."""
    view = views.get(value)
    return view.root if view else value
