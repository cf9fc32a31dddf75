"""Recompose element-wise chains that exporters spell out into the one op they compute.

Paddle2ONNX, older torch opsets and hand-written blocks write hard-swish as
`x · clip(x + 3, 0, 6) / 6` and hard-sigmoid as `clip(x + 3, 0, 6) / 6`: four and three
passes over memory, where `HardSwish` and `HardSigmoid` are one, and where a Conv right
before them can take either as its epilogue (`fuse_activation`, which runs after this).

- `clip(x + 3, 0, 6) / 6` (or `· (1/6)`) becomes `HardSigmoid(x, alpha=1/6, beta=1/2)`;
- `x · HardSigmoid(x, 1/6, 1/2)` (as made above, or as written) becomes `HardSwish(x)`;
- `(x · clip(x + 3, 0, 6)) / 6` becomes `HardSwish(x)`;
- `x · Sigmoid(x)` (SiLU, as torch exports it: YOLO, EfficientNet) becomes `Swish(x, alpha=1)`;
- `x · (1 + erf(x / √2)) · ½` (GELU, as torch and Hugging Face export it: BERT and other
  encoders), with the halving at any place in the product and `/ √2` also as `· (1/√2)`,
  becomes `Gelu(x)`, which `fuse_activation` then makes the epilogue of the Gemm before it.

Guarantees: the constants must be float scalars equal to those values (1/6, √2 and
1/√2 within a float32 ulp); every intermediate of a chain has exactly one reader and is not a graph
output; the last node's output keeps its name. The results agree with the chain up to
float32 rounding (the chain rounds after each step).
"""

from __future__ import annotations

import numpy as np

from ..dtypes import F32
from ..ir import Graph, Node
from ..ops.elementwise import clip_bounds

SIXTH = 1.0 / 6.0
SQRT2 = float(np.sqrt(2.0))


def _scalar(graph: Graph, value: str) -> float | None:
    if not graph.is_constant(value) or graph.initializers[value].size != 1:
        return None
    return float(np.asarray(graph.initializers[value]).reshape(-1)[0])


def _other(graph: Graph, node: Node, want: float, tolerance: float = 0.0) -> str | None:
    """The input of a two-input node beside the scalar constant `want`, or None."""
    if len(node.inputs) != 2:
        return None
    for mine, other in (node.inputs, node.inputs[::-1]):
        found = _scalar(graph, other)
        if found is not None and abs(found - want) <= tolerance * abs(want):
            return mine
    return None


def _producer(graph: Graph, value: str, reader: Node, op: str) -> Node | None:
    """The `op` node computing `value`, if `reader` is its only reader."""
    node = graph.producer(value)
    if node is None or node.op_type != op or node.domain not in ("", "ai.onnx"):
        return None
    if value in graph.outputs or graph.readers(value) != [reader]:
        return None
    return node


def _divided_by_six(graph: Graph, node: Node) -> str | None:
    """`v` when `node` computes `v / 6` or `v · (1/6)`."""
    if node.op_type == "Div" and _scalar(graph, node.inputs[1]) == 6.0:
        return node.inputs[0]
    if node.op_type == "Mul":
        return _other(graph, node, SIXTH, tolerance=1e-7)
    return None


def _relu6_of_shift(graph: Graph, value: str, reader: Node) -> tuple[str, list[Node]] | None:
    """(x, [clip, add]) when `value` is `clip(x + 3, 0, 6)` read only by `reader`."""
    clip = _producer(graph, value, reader, "Clip")
    bounds = clip_bounds(clip, graph) if clip is not None else None
    if clip is None or bounds is None or any(b is None for b in bounds):
        return None
    if [float(np.asarray(b).reshape(-1)[0]) for b in bounds] != [0.0, 6.0]:
        return None
    add = _producer(graph, clip.inputs[0], clip, "Add")
    x = _other(graph, add, 3.0) if add is not None else None
    return (x, [clip, add]) if x is not None else None  # type: ignore[list-item]


def _replace(graph: Graph, removed: list[Node], last: Node, op: str, x: str, attrs: dict) -> None:
    """Put `op(x)` in `last`'s place, writing its output; drop `removed` and their values."""
    chain = sorted([*removed, last], key=graph.nodes.index)
    for node in removed:
        graph.remove_value(node.outputs[0])
        graph.nodes.remove(node)
    index = graph.nodes.index(last)
    origin = [(kind, merged or "recompose") for node in chain for kind, merged in node.ops_computed()]
    graph.nodes[index] = Node(last.name, op, [x], list(last.outputs), attrs, origin=origin)


def _reader(graph: Graph, value: str, op: str) -> Node | None:
    """The one node reading `value`, if it is an `op` and `value` is no graph output."""
    readers = graph.readers(value)
    if len(readers) != 1 or value in graph.outputs:
        return None
    node = readers[0]
    return node if node.op_type == op and node.domain in ("", "ai.onnx") and len(node.inputs) == 2 else None


def _times(node: Node, value: str) -> str | None:
    """The other factor of a two-input Mul that reads `value`."""
    if len(node.inputs) != 2 or value not in node.inputs:
        return None
    return node.inputs[1] if node.inputs[0] == value else node.inputs[0]


def _gelu(graph: Graph, erf: Node) -> tuple[str, list[Node], Node] | None:
    """(x, removed, last) when `erf` is the middle of `x · (1 + erf(x / √2)) · ½`."""
    scale = _producer(graph, erf.inputs[0], erf, "Div") or _producer(graph, erf.inputs[0], erf, "Mul")
    if scale is None or len(scale.inputs) != 2:
        return None
    if scale.op_type == "Div":
        divisor = _scalar(graph, scale.inputs[1])
        x = scale.inputs[0] if divisor is not None and abs(divisor - SQRT2) <= 1e-7 * SQRT2 else None
    else:
        x = _other(graph, scale, 1 / SQRT2, tolerance=1e-7)
    add = _reader(graph, erf.outputs[0], "Add")
    if x is None or add is None or _other(graph, add, 1.0) != erf.outputs[0]:
        return None
    mul = _reader(graph, add.outputs[0], "Mul")
    other = _times(mul, add.outputs[0]) if mul is not None else None
    if mul is None or other is None:
        return None
    if other == x:  # (x · (1 + erf)) · ½
        half = _reader(graph, mul.outputs[0], "Mul")
        ok = half is not None and _other(graph, half, 0.5) == mul.outputs[0]
        return (x, [scale, erf, add, mul], half) if ok else None  # type: ignore[return-value]
    if _other(graph, mul, 0.5) == add.outputs[0]:  # x · ((1 + erf) · ½)
        last = _reader(graph, mul.outputs[0], "Mul")
        ok = last is not None and _times(last, mul.outputs[0]) == x
        return (x, [scale, erf, add, mul], last) if ok else None  # type: ignore[return-value]
    halved = _producer(graph, other, mul, "Mul")  # (x · ½) · (1 + erf)
    if halved is not None and _other(graph, halved, 0.5) == x:
        return (x, [scale, erf, add, halved], mul)
    return None


def _is_hard_sigmoid_of(graph: Graph, node: Node) -> bool:
    alpha, beta = node.attrs.get("alpha", 0.2), node.attrs.get("beta", 0.5)
    return node.op_type == "HardSigmoid" and abs(alpha - SIXTH) <= 1e-7 * SIXTH and beta == 0.5


def recompose(graph: Graph) -> bool:
    """Rewrite every hard-sigmoid, hard-swish, SiLU and GELU chain of float values; True if any."""
    changed = False
    for node in list(graph.nodes):
        if node not in graph.nodes or node.domain not in ("", "ai.onnx") or not (node.outputs and node.outputs[0]):
            continue  # removed by an earlier rewrite, another domain's, or its first output left out
        if graph.value(node.outputs[0]).dtype != F32:
            continue
        gelu = _gelu(graph, node) if node.op_type == "Erf" else None
        if gelu is not None:
            x, chain, last = gelu
            _replace(graph, chain, last, "Gelu", x, {})
            changed = True
            continue
        inner = _divided_by_six(graph, node)
        if inner is not None:
            found = _relu6_of_shift(graph, inner, node)
            if found is not None:
                x, chain = found
                _replace(graph, chain, node, "HardSigmoid", x, {"alpha": SIXTH, "beta": 0.5})
                changed = True
                continue
            mul = _producer(graph, inner, node, "Mul")
            if mul is None or len(mul.inputs) != 2:
                continue
            for x, other in (mul.inputs, mul.inputs[::-1]):
                found = _relu6_of_shift(graph, other, mul)
                if found is not None and found[0] == x:
                    _replace(graph, [*found[1], mul], node, "HardSwish", x, {})
                    changed = True
                    break
            continue
        if node.op_type == "Mul" and len(node.inputs) == 2:
            for x, other in (node.inputs, node.inputs[::-1]):
                sigmoid = _producer(graph, other, node, "HardSigmoid")
                if sigmoid is not None and sigmoid.inputs[0] == x and _is_hard_sigmoid_of(graph, sigmoid):
                    _replace(graph, [sigmoid], node, "HardSwish", x, {})
                    changed = True
                    break
                sigmoid = _producer(graph, other, node, "Sigmoid")
                if sigmoid is not None and sigmoid.inputs[0] == x and x != other:
                    _replace(graph, [sigmoid], node, "Swish", x, {"alpha": 1.0})
                    changed = True
                    break
    return changed
