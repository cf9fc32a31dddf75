"""The values an ONNX graph fixes before it runs: its initializers and `Constant` nodes, as
numpy arrays. If-inlining (branches.py) and Loop-unrolling (unroll.py) both decide by them."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import numpy_helper


def graph_constants(graph: onnx.GraphProto) -> dict[str, np.ndarray]:
    """Every initializer and `Constant` node output (its `value` form) of `graph`, by name."""
    values = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    for n in graph.node:
        if n.op_type == "Constant" and n.domain in ("", "ai.onnx"):
            for a in n.attribute:
                if a.name == "value":
                    values[n.output[0]] = numpy_helper.to_array(a.t)
    return values


def scalar(constants: dict[str, np.ndarray], name: str) -> int | bool | None:
    """The one value of constant `name` as a Python scalar; None if it is not a constant of
    one element (or `name` is empty, an omitted input)."""
    if not name:
        return None
    value = constants.get(name)
    return None if value is None or value.size != 1 else value.reshape(-1)[0].item()
