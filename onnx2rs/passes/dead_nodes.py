"""Dead-node elimination.

Guarantees: every remaining node contributes to a graph output, and every
remaining initializer is read by a node or is a graph output.
"""

from __future__ import annotations

from ..ir import Graph


def eliminate_dead_nodes(graph: Graph) -> bool:
    """Remove nodes and initializers no graph output depends on; True if any were removed."""
    live = set(graph.outputs)
    kept = []
    for node in reversed(graph.nodes):
        if any(o in live for o in node.outputs if o):
            kept.append(node)
            live.update(i for i in node.inputs if i)
    removed = len(graph.nodes) - len(kept)
    graph.nodes = kept[::-1]
    dead_weights = [w for w in graph.initializers if w not in live]
    for w in dead_weights:
        del graph.initializers[w]
    # A kept node still writes its unread outputs (LSTM's Y_h, say): their values stay.
    written = {o for node in kept for o in node.outputs if o}
    for v in [v for v in graph.values if v not in live and v not in written and v not in graph.inputs]:
        del graph.values[v]
    return bool(removed or dead_weights)
