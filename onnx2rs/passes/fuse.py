"""Fusions worth having on CPU. Each one removes a node and a pass over memory.

- `fuse_conv_batchnorm`: Conv followed by BatchNormalization becomes one Conv with
  rescaled weights and bias (computed once, in float64, at compile time).
- `fuse_conv_affine`: per-channel Mul/Add/Sub/Div by constants after a Conv (how
  tf2onnx writes a Keras bias and BatchNormalization), possibly behind
  Squeeze/Unsqueeze/Reshape ops that keep the batch and channel axes, are folded
  into the Conv's weights and bias; the shape ops stay.
- `fuse_matmul_add`: 2-D MatMul by a constant followed by Add of a constant becomes Gemm.
- `fuse_conv_residual`: `Add(Conv(x), r)` with `r` of the Conv's output shape (a
  residual connection) becomes one Conv that adds `r` before its activation, as
  input 3 (beyond ONNX's three); the Conv moves to the Add's place in the schedule,
  so that `r` is computed before it. It then writes over `r` where `r` is not read
  again (passes/inplace.py), and a ReLU after the Add becomes its epilogue.
- `fuse_activation`: a float element-wise op of the `ops::Unary` table (Relu,
  Clip with constant bounds, Sigmoid, Tanh, LeakyRelu, HardSwish, ...) right after
  a float Conv or Gemm (or behind shape-only ops, as for `fuse_conv_affine`) becomes
  that node's epilogue.
- `fuse_conv_pool`: a MaxPool whose window is its stride, without padding (the 2x2 of
  most CNNs), right after a float Conv (or behind shape-only ops that leave its shape
  as it was) becomes part of the Conv, which then writes only the pooled output. The
  legality rule is the pool's shape alone: how the kernel pools (as it copies chunks
  out, or from a whole sample in its workspace) is the runtime's choice.

Guarantees (all six): a fusion happens only when the intermediate has exactly
one reader and is not a graph output; the graph's outputs keep their names; the
original weights are left untouched (new ones are added, and dead-node
elimination drops the old ones).
"""

from __future__ import annotations

import numpy as np

from ..dtypes import F32
from ..ir import Graph, Node
from ..ops.elementwise import UNARY, clip_bounds


def _sole_reader(graph: Graph, value: str, reader: Node) -> bool:
    return value not in graph.outputs and graph.readers(value) == [reader]


def _constants(graph: Graph, node: Node, indices: range) -> list[np.ndarray] | None:
    names = [node.input(i) for i in indices]
    if any(n is None or not graph.is_constant(n) for n in names):
        return None
    return [graph.initializers[n] for n in names]  # type: ignore[index]


def _splice(graph: Graph, producer: Node, consumer: Node) -> None:
    """`producer` now writes `consumer`'s output; `consumer` goes away (the caller records
    which node absorbed it, with `Node.absorb`)."""
    graph.remove_value(producer.outputs[0])
    producer.outputs = [consumer.outputs[0]]
    graph.nodes.remove(consumer)


def _conv_parameters(graph: Graph, conv: Node) -> tuple[np.ndarray, np.ndarray] | None:
    """A Conv's weights and bias (zeros when it has none) in float64, or None unless both are
    constants, or when it adds a residual (its output is then more than the convolution)."""
    if conv.input(3):
        return None
    weights = _constants(graph, conv, range(1, 2))
    if weights is None or (conv.input(2) and not graph.is_constant(conv.inputs[2])):
        return None
    w = weights[0].astype(np.float64)
    channels = w.shape[0] if conv.op_type == "Conv" else w.shape[1] * int(conv.attrs.get("group", 1))
    return w, graph.initializers[conv.inputs[2]].astype(np.float64) if conv.input(2) else np.zeros(channels)


def _scale_output_channels(conv: Node, w: np.ndarray, factor: np.ndarray) -> np.ndarray:
    """`w` with each output channel's filter multiplied by its factor: a Conv's weights are
    [out, in/group, ...]; a ConvTranspose's [in, out/group, ...], output channel g*(out/group)+j
    being column j of group g's rows."""
    if conv.op_type == "Conv":
        return w * factor.reshape(-1, *[1] * (w.ndim - 1))
    group = int(conv.attrs.get("group", 1))
    grouped = w.reshape(group, w.shape[0] // group, *w.shape[1:])
    return (grouped * factor.reshape(group, 1, w.shape[1], *[1] * (w.ndim - 2))).reshape(w.shape)


def _set_conv_parameters(graph: Graph, conv: Node, w: np.ndarray, bias: np.ndarray) -> None:
    """Give `conv` folded weights and bias, as new initializers of its weights' dtype."""
    dtype = graph.initializers[conv.inputs[1]].dtype
    w_name, b_name = graph.fresh_name(f"{conv.name}/folded_weight"), graph.fresh_name(f"{conv.name}/folded_bias")
    graph.initializers[w_name], graph.initializers[b_name] = w.astype(dtype), bias.astype(dtype)
    conv.inputs = [conv.inputs[0], w_name, b_name]


def fuse_conv_batchnorm(graph: Graph) -> bool:
    """Fold inference-mode BatchNormalization into the Conv or ConvTranspose that feeds it."""
    changed = False
    for bn in [n for n in graph.nodes if n.op_type == "BatchNormalization"]:
        conv = graph.producer(bn.inputs[0])
        params = _constants(graph, bn, range(1, 5))
        if conv is None or conv.op_type not in ("Conv", "ConvTranspose"):
            continue
        if params is None or conv.activation is not None:
            continue
        if not _sole_reader(graph, bn.inputs[0], bn) or len([o for o in bn.outputs if o]) != 1:
            continue
        folded = _conv_parameters(graph, conv)
        if folded is None:
            continue
        w, bias = folded
        scale, shift, mean, var = (p.astype(np.float64) for p in params)
        factor = scale / np.sqrt(var + float(bn.attrs.get("epsilon", 1e-5)))
        _set_conv_parameters(graph, conv, _scale_output_channels(conv, w, factor), (bias - mean) * factor + shift)
        conv.absorb(bn, "fuse_conv_batchnorm")
        _splice(graph, conv, bn)
        changed = True
    return changed


# Ops that only relabel the shape of a row-major tensor.
_SHAPE_ONLY = ("Squeeze", "Unsqueeze", "Reshape")


def _behind_shape_ops(graph: Graph, value: str, reader: Node, kinds: tuple[str, ...]) -> tuple[Node, Node] | None:
    """If `value` (read only by `reader`) comes from a node of `kinds`, possibly through a
    chain of shape-only ops that each have one reader and keep axes 0 and 1 (batch and
    channels) of that node's output: (that node, the last node of the chain)."""
    last = graph.producer(value)
    node = last
    while node is not None and node.op_type in _SHAPE_ONLY:
        if not _sole_reader(graph, node.outputs[0], reader):
            return None
        reader, node = node, graph.producer(node.inputs[0])
    if node is None or node.op_type not in kinds or not _sole_reader(graph, node.outputs[0], reader):
        return None
    head = graph.value(node.outputs[0]).shape
    if last is not node and (len(graph.value(value).shape) < 2 or graph.value(value).shape[:2] != head[:2]):
        return None
    return node, last  # type: ignore[return-value]


def _per_channel(constant: np.ndarray, shape: tuple[int, ...]) -> np.ndarray | None:
    """`constant` as one value per channel (axis 1 of `shape`), if it broadcasts that way."""
    if constant.ndim > len(shape) or len(shape) < 2:
        return None
    padded = constant.reshape((1,) * (len(shape) - constant.ndim) + constant.shape)
    if any(d != 1 for i, d in enumerate(padded.shape) if i != 1) or padded.shape[1] not in (1, shape[1]):
        return None
    return np.broadcast_to(padded.reshape(-1).astype(np.float64), (shape[1],))


def fuse_conv_affine(graph: Graph) -> bool:
    """Fold `y * s`, `y / s`, `y + t`, `y - t` with per-channel constants into the Conv making `y`."""
    changed = False
    for op in [n for n in graph.nodes if n.op_type in ("Add", "Sub", "Mul", "Div")]:
        if op not in graph.nodes or len(op.inputs) != 2:
            continue
        for side in (0, 1) if op.op_type in ("Add", "Mul") else (0,):
            found = _behind_shape_ops(graph, op.inputs[side], op, ("Conv",))
            constant = op.inputs[1 - side]
            if found is None or not graph.is_constant(constant):
                continue
            conv, last = found
            if conv.activation is not None or graph.value(op.outputs[0]).dtype != F32:
                continue
            factors = _per_channel(graph.initializers[constant], graph.value(op.inputs[side]).shape)
            folded = _conv_parameters(graph, conv)
            if factors is None or folded is None:
                continue
            w, bias = folded
            if op.op_type in ("Mul", "Div"):
                scale = factors if op.op_type == "Mul" else 1.0 / factors
                w, bias = w * scale.reshape(-1, *[1] * (w.ndim - 1)), bias * scale
            else:
                bias = bias + factors if op.op_type == "Add" else bias - factors
            _set_conv_parameters(graph, conv, w, bias)
            conv.absorb(op, "fuse_conv_affine")
            _splice(graph, last, op)
            changed = True
            break
    return changed


def fuse_matmul_add(graph: Graph) -> bool:
    """Turn MatMul(A, B) + C, with A 2-D and B, C constant, into Gemm(A, B, C)."""
    changed = False
    for add in [n for n in graph.nodes if n.op_type == "Add"]:
        for product, c in ((add.inputs[0], add.inputs[1]), (add.inputs[1], add.inputs[0])):
            mm = graph.producer(product)
            if mm is None or mm.op_type != "MatMul" or not graph.is_constant(c):
                continue
            a, b = graph.value(mm.inputs[0]), mm.inputs[1]
            out = graph.value(product)
            if len(a.shape) != 2 or not graph.is_constant(b) or graph.initializers[b].ndim != 2:
                continue
            c_shape = graph.initializers[c].shape
            if len(c_shape) > 2 or np.broadcast_shapes(c_shape, out.shape) != out.shape:
                continue
            if not _sole_reader(graph, product, add) or out.dtype.rust not in ("f32", "f64"):
                continue
            mm.absorb(add, "fuse_matmul_add")
            mm.op_type, mm.inputs, mm.attrs = "Gemm", [mm.inputs[0], b, c], {}
            _splice(graph, mm, add)
            changed = True
            break
    return changed


def fuse_conv_residual(graph: Graph) -> bool:
    """Make `Add(Conv(x), r)`, with `r` a run-time tensor of the same shape, one Conv reading `r`."""
    changed = False
    for add in [n for n in graph.nodes if n.op_type == "Add" and n.domain in ("", "ai.onnx")]:
        if len(add.inputs) != 2 or graph.value(add.outputs[0]).dtype != F32:
            continue
        shape = graph.value(add.outputs[0]).shape
        for side in (0, 1):
            y, r = add.inputs[side], add.inputs[1 - side]
            conv = graph.producer(y)
            if conv is None or conv.op_type != "Conv" or conv.activation is not None or conv.input(3):
                continue
            if y == r or graph.is_constant(r) or not _sole_reader(graph, y, add):
                continue
            if graph.value(y).shape != shape or graph.value(r).shape != shape:
                continue
            # The Conv runs where the Add did: after `r`'s producer, before the Add's readers.
            graph.nodes.remove(conv)
            graph.nodes.insert(graph.nodes.index(add), conv)
            conv.inputs = [conv.inputs[0], conv.inputs[1], conv.input(2) or "", r]
            conv.absorb(add, "fuse_conv_residual")
            _splice(graph, conv, add)
            changed = True
            break
    return changed


def _activation(graph: Graph, node: Node) -> tuple[str, dict] | None:
    """(op, attributes) of a float element-wise op that can be an epilogue, or None."""
    if node.op_type not in UNARY or node.domain not in ("", "ai.onnx"):
        return None
    if node.op_type == "Clip":
        bounds = clip_bounds(node, graph)
        if bounds is None:
            return None
        lo, hi = (float(np.asarray(b).reshape(-1)[0]) if b is not None else d
                  for b, d in zip(bounds, (-np.inf, np.inf), strict=True))
        return ("Clip", {"min": lo, "max": hi})
    return (node.op_type, dict(node.attrs))


def fuse_activation(graph: Graph) -> bool:
    """Make an activation that follows a float Conv or Gemm part of that node."""
    changed = False
    for act in list(graph.nodes):
        kind = _activation(graph, act)
        found = _behind_shape_ops(graph, act.inputs[0], act, ("Conv", "Gemm")) if kind else None
        if found is None or found[0].activation is not None or graph.value(act.inputs[0]).dtype != F32:
            continue
        producer, last = found
        producer.activation = kind
        producer.absorb(act, "fuse_activation")
        _splice(graph, last, act)
        changed = True
    return changed


def _plain_pool_window(graph: Graph, pool: Node) -> tuple[int, ...] | None:
    """The window of a float MaxPool that tiles its input: stride equal to the window, no
    padding, no dilation, no ceil mode and no Indices output; else None."""
    if pool.op_type != "MaxPool" or pool.domain not in ("", "ai.onnx") or any(pool.outputs[1:]):
        return None
    kernel = [int(k) for k in pool.attrs.get("kernel_shape", [])]
    n = len(kernel)
    if not kernel or min(kernel) < 1 or [int(s) for s in pool.attrs.get("strides", [1] * n)] != kernel:
        return None
    padded = any(int(p) for p in pool.attrs.get("pads", []))
    if padded or pool.attrs.get("auto_pad", "NOTSET") not in ("NOTSET", "VALID"):
        return None
    if any(int(d) != 1 for d in pool.attrs.get("dilations", [])) or int(pool.attrs.get("ceil_mode", 0)):
        return None
    return tuple(kernel) if graph.value(pool.inputs[0]).dtype == F32 else None


def fuse_conv_pool(graph: Graph) -> bool:
    """Make a MaxPool that tiles a float Conv's output (window = stride) part of that Conv."""
    changed = False
    for pool in list(graph.nodes):
        window = _plain_pool_window(graph, pool)
        found = _behind_shape_ops(graph, pool.inputs[0], pool, ("Conv",)) if window else None
        if window is None or found is None:
            continue
        conv = found[0]
        y = graph.value(conv.outputs[0])
        if conv.pool is not None or conv.input(3) or int(conv.attrs.get("group", 1)) != 1:
            continue
        if y.shape != graph.value(pool.inputs[0]).shape or len(window) != len(y.shape) - 2:
            continue
        # The shape ops between keep the shape as it was: the pooled output is the Conv's.
        between = graph.producer(pool.inputs[0])
        while between is not conv and between is not None:
            graph.nodes.remove(between)
            graph.remove_value(between.outputs[0])
            between = graph.producer(between.inputs[0])
        graph.remove_value(conv.outputs[0])
        conv.outputs, conv.pool = [pool.outputs[0]], window
        conv.absorb(pool, "fuse_conv_pool")
        graph.nodes.remove(pool)
        changed = True
    return changed
