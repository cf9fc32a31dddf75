"""Drop nodes that do nothing at inference: Identity, Dropout and training-only noise.

Guarantees: no node of these types remains; every reader of a dropped node's
output reads its input instead; graph outputs keep their names (a graph output
produced by a dropped node is renamed back onto its source).
"""

from __future__ import annotations

from ..ir import Graph

# Keras' SpatialDropout, GaussianDropout and GaussianNoise reach ONNX as Identity or Dropout.
INFERENCE_NOOPS = frozenset({"Identity", "Dropout"})


def sanitize(graph: Graph) -> bool:
    """Remove inference no-ops and rewire their readers; True if any were removed."""
    changed = False
    for node in list(graph.nodes):
        if node.op_type not in INFERENCE_NOOPS or node.domain not in ("", "ai.onnx"):
            continue
        src, dst = node.inputs[0], node.outputs[0]
        graph.nodes.remove(node)
        if dst in graph.outputs and src not in graph.inputs and not graph.is_constant(src):
            # Keep the public output name: the source's producer writes it directly.
            producer = graph.producer(src)
            if producer is not None and src not in graph.outputs:
                producer.outputs = [dst if o == src else o for o in producer.outputs]
                for reader in graph.readers(src):
                    reader.inputs = [dst if i == src else i for i in reader.inputs]
                changed = True
                continue
        graph.replace_uses(dst, src)
        changed = True
    return changed
