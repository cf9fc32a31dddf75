"""Drop nodes that do nothing at inference: Identity, Dropout and training-only noise.

Guarantees: no Identity remains, no Phi on a condition known at build time (it is the
chosen branch's value), and no Dropout unless it is in training mode
(a `training_mode` input that is not the constant false); every reader of a
dropped node's output reads its input instead; Dropout's optional mask output
becomes the constant all-true mask; graph outputs keep their names (a graph
output produced by a dropped node is renamed back onto its source).
"""

from __future__ import annotations

import numpy as np

from ..ir import IR_DOMAIN, Graph, Node

# Keras' SpatialDropout, GaussianDropout and GaussianNoise reach ONNX as Identity or Dropout.
INFERENCE_NOOPS = frozenset({"Identity", "Dropout"})
# The op types this pass removes before code generation (for docs/ops.md).
REMOVES = INFERENCE_NOOPS


def _source(graph: Graph, node: Node) -> str | None:
    """The value a no-op passes on, or None if `node` does something."""
    if node.op_type == "Phi" and node.domain == IR_DOMAIN and graph.is_constant(node.inputs[0]):
        return node.inputs[1] if bool(graph.initializers[node.inputs[0]].reshape(-1)[0]) else node.inputs[2]
    return node.inputs[0] if _is_noop(graph, node) else None


def _is_noop(graph: Graph, node: Node) -> bool:
    if node.op_type not in INFERENCE_NOOPS or node.domain not in ("", "ai.onnx"):
        return False
    training = node.input(2) if node.op_type == "Dropout" else None
    return training is None or (graph.is_constant(training) and not np.any(graph.initializers[training]))


def sanitize(graph: Graph) -> bool:
    """Remove inference no-ops and rewire their readers; True if any were removed."""
    changed = False
    for node in list(graph.nodes):
        src = _source(graph, node)
        if src is None:
            continue
        dst = node.outputs[0]
        if len(node.outputs) > 1 and node.outputs[1]:
            mask = node.outputs[1]  # at inference Dropout keeps everything
            graph.initializers[mask] = np.ones(graph.value(src).shape, np.bool_)
            graph.remove_value(mask)
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
