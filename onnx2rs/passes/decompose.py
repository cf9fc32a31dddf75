"""Rewrite ops into simpler ones the rest of the compiler already handles.

- `Split` becomes one `Slice` per output: with constant starts/ends/axes when the
  split sizes are known, else with starts/ends from CumSums of the run-time sizes
  (the Slices then check them against the static output shapes). Codegen only
  ever sees single-output nodes there.
- `DepthToSpace` and `SpaceToDepth` become Reshape -> Transpose -> Reshape, exactly
  as the spec defines them.
- A `Transpose` of rank > 4 becomes Reshape -> Transpose -> Reshape on the
  compact form (size-1 axes dropped, axes that move together merged). The
  reshapes cost nothing (they alias), and ranks <= 4 keep ndarray's shapes off
  the heap, so a run stays allocation-free (attention exports 5-D transposes).

- A `Transpose` of rank > 4 without a smaller compact form, read only by Slices with
  constant operands (q, k and v picked from one [N, S, 3, heads, dim] tensor), becomes
  per Slice a Slice of its input and a Transpose, which then compacts.
- A `Slice` of rank > 4 with constant operands slices the compact form of its input
  (runs of axes it leaves whole merged by free reshapes).

Guarantee: no Split, DepthToSpace or SpaceToDepth remains, no
Transpose of rank > 4 that has a smaller compact form remains, nor such a Slice with
constant operands; every output keeps its name. With open dims (P11), a transpose's Reshape targets hold expressions (as
shape tensors over open dims do), and only Splits into sizes that are numbers and
DepthToSpace/SpaceToDepth of static shapes are rewritten.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..ir import Graph, Node, Value, is_static, product

# The op types this pass removes before code generation (for docs/ops.md).
REMOVES = frozenset({"Split", "DepthToSpace", "SpaceToDepth"})


def _split_sizes(graph: Graph, node: Node) -> list[int] | None:
    shape = graph.value(node.inputs[0]).shape
    axis_len = shape[int(node.attrs.get("axis", 0)) % len(shape)]
    outputs = [o for o in node.outputs]
    if graph.opset >= 13 and node.input(1):
        if not graph.is_constant(node.inputs[1]):
            return None
        return [int(v) for v in np.asarray(graph.initializers[node.inputs[1]]).reshape(-1)]
    if "split" in node.attrs:
        return [int(v) for v in node.attrs["split"]]
    # Equal parts; since opset 18 the last one may be smaller.
    parts = int(node.attrs.get("num_outputs", len(outputs)))
    size = -(-axis_len // parts)
    return [min(size, max(axis_len - i * size, 0)) for i in range(parts)]


def _split_at_run_time(graph: Graph, node: Node) -> list[Node]:
    """Split by run-time sizes: output i is x[ends[i] - sizes[i] : ends[i]] along the axis,
    with ends = CumSum(sizes); each Slice checks its bounds against its static shape."""
    x, sizes = node.inputs[0], node.inputs[1]
    axis = int(node.attrs.get("axis", 0)) % len(graph.value(x).shape)
    index_type = graph.value(sizes).dtype
    n = graph.value(sizes).size

    def const(part: str, values: list[int]) -> str:
        name = graph.fresh_name(f"{node.name}/{part}")
        graph.initializers[name] = np.array(values, np.int64)
        return name

    def temp(part: str, length: int) -> str:
        name = graph.fresh_name(f"{node.name}/{part}")
        graph.values[name] = Value(name, index_type, (length,))
        return name

    zero = const("cumsum_axis", [0])
    ends_all, starts_all = temp("ends_all", n), temp("starts_all", n)
    nodes = [Node(f"{node.name}/ends", "CumSum", [sizes, zero], [ends_all]),
             Node(f"{node.name}/starts", "CumSum", [sizes, zero], [starts_all], {"exclusive": 1})]
    axes = const("axes", [axis])
    for i, out in enumerate(node.outputs):
        if not out:
            continue
        at, after = const(f"at{i}", [i]), const(f"after{i}", [i + 1])
        start, end = temp(f"start{i}", 1), temp(f"end{i}", 1)
        nodes += [Node(f"{node.name}/start{i}", "Slice", [starts_all, at, after], [start]),
                  Node(f"{node.name}/end{i}", "Slice", [ends_all, at, after], [end]),
                  Node(f"{node.name}/slice{i}", "Slice", [x, start, end, axes], [out])]
    return nodes


def _space_depth_plan(graph: Graph, node: Node) -> tuple[list[int], list[int]]:
    """The 6-D intermediate shape and the permutation of the spec's definition."""
    b, c, h, w = graph.value(node.inputs[0]).shape
    bs = int(node.attrs["blocksize"])
    crd = node.attrs.get("mode", "DCR") == "CRD"  # SpaceToDepth has `mode` since opset 28
    if node.op_type == "SpaceToDepth":
        return [b, c, h // bs, bs, w // bs, bs], [0, 1, 3, 5, 2, 4] if crd else [0, 3, 5, 1, 2, 4]
    if crd:
        return [b, c // (bs * bs), bs, bs, h, w], [0, 1, 4, 2, 5, 3]
    return [b, bs, bs, c // (bs * bs), h, w], [0, 3, 4, 1, 5, 2]


def _decompose_space_depth(graph: Graph, node: Node) -> list[Node]:
    x, y = node.inputs[0], node.outputs[0]
    split, perm = _space_depth_plan(graph, node)
    dtype = graph.value(x).dtype
    a, t = graph.fresh_name(f"{node.name}/split"), graph.fresh_name(f"{node.name}/moved")
    s1, s2 = graph.fresh_name(f"{node.name}/split_shape"), graph.fresh_name(f"{node.name}/out_shape")
    graph.values[a] = Value(a, dtype, tuple(split))
    graph.values[t] = Value(t, dtype, tuple(split[p] for p in perm))
    graph.initializers[s1] = np.array(split, np.int64)
    graph.initializers[s2] = np.array(graph.value(y).shape, np.int64)
    return [
        Node(f"{node.name}/reshape_in", "Reshape", [x, s1], [a]),
        Node(f"{node.name}/transpose", "Transpose", [a], [t], {"perm": perm}),
        Node(f"{node.name}/reshape_out", "Reshape", [t, s2], [y]),
    ]


def compact_transpose(shape: list[int], perm: list[int]) -> tuple[list[int], list[int]]:
    """The smallest equivalent (input shape, perm): size-1 axes dropped, co-moving axes merged.

    >>> compact_transpose([1, 10, 1, 3, 32], [3, 1, 2, 0, 4])
    ([10, 3, 32], [1, 0, 2])
    >>> compact_transpose([2, 3, 4], [1, 2, 0])
    ([2, 12], [1, 0])
    """
    kept = [a for a in range(len(shape)) if shape[a] != 1]
    rank_of = {a: i for i, a in enumerate(kept)}
    groups: list[list[int]] = []
    for a in (a for a in perm if shape[a] != 1):
        if groups and rank_of[a] == rank_of[groups[-1][-1]] + 1:
            groups[-1].append(a)
        else:
            groups.append([a])
    ordered = sorted(groups, key=lambda g: g[0])
    sizes = [product([shape[a] for a in g]) for g in ordered]
    return sizes, [ordered.index(g) for g in groups]


def _reshape(graph: Graph, name: str, x: str, y: str, shape: list[int]) -> Node:
    target = graph.fresh_name(f"{name}_shape")
    # Over open dims, the target holds expressions, as shape tensors do (`symbolic.open_graph`).
    graph.initializers[target] = np.array(shape, np.int64 if is_static(shape) else object)
    return Node(name, "Reshape", [x, target], [y])


def _decompose_transpose(graph: Graph, node: Node) -> list[Node] | None:
    x, y = node.inputs[0], node.outputs[0]
    shape = list(graph.value(x).shape)
    perm = _perm(node, graph)
    compact, compact_perm = compact_transpose(shape, perm)
    if len(shape) <= 4 or len(compact) >= len(shape):
        return None
    dtype, out_shape = graph.value(x).dtype, list(graph.value(y).shape)
    if compact_perm == sorted(compact_perm):  # only size-1 axes moved: a pure reshape
        return [_reshape(graph, f"{node.name}/reshape", x, y, out_shape)]
    a, t = graph.fresh_name(f"{node.name}/compact"), graph.fresh_name(f"{node.name}/moved")
    graph.values[a] = Value(a, dtype, tuple(compact))
    graph.values[t] = Value(t, dtype, tuple(compact[p] for p in compact_perm))
    return [
        _reshape(graph, f"{node.name}/reshape_in", x, a, compact),
        Node(f"{node.name}/transpose", "Transpose", [a], [t], {"perm": compact_perm}),
        _reshape(graph, f"{node.name}/reshape_out", t, y, out_shape),
    ]


def _slice_operands(graph: Graph, node: Node) -> tuple[list[int], list[list[int]]] | None:
    """A Slice's axes (normalised) and its constant starts, ends and steps operands, or None
    where they are computed at run time (or attributes, before opset 10)."""
    if graph.opset < 10 or not all(node.input(i) and graph.is_constant(node.inputs[i]) for i in (1, 2)):
        return None
    if any(node.input(i) and not graph.is_constant(node.inputs[i]) for i in (3, 4)):
        return None
    try:
        values = [[int(v) for v in np.asarray(graph.initializers[node.inputs[i]]).reshape(-1)]
                  if node.input(i) else None for i in range(1, 5)]
    except TypeError:
        return None  # expressions of open dims
    rank = len(graph.value(node.inputs[0]).shape)
    starts, ends = values[0] or [], values[1] or []
    axes = [a % rank for a in values[2]] if values[2] is not None else list(range(len(starts)))
    steps = values[3] if values[3] is not None else [1] * len(starts)
    return axes, [starts, ends, steps]


def _slice_node(graph: Graph, name: str, x: str, y: str, axes: list[int], operands: list[list[int]]) -> Node:
    names = [graph.fresh_name(f"{name}/{part}") for part in ("starts", "ends", "axes", "steps")]
    for n, values in zip(names, [operands[0], operands[1], axes, operands[2]], strict=True):
        graph.initializers[n] = np.array(values, np.int64)
    return Node(name, "Slice", [x, *names], [y])


def _slices_before_transpose(graph: Graph, node: Node) -> list[Node] | None:
    """A high-rank Transpose read only by constant Slices becomes, per Slice, the Slice of its
    input (axes mapped back through the perm) and then the Transpose: an attention export's
    q/k/v picked from [N, S, 3, heads, dim] leave a size-1 axis, so each transpose compacts."""
    x, y = node.inputs[0], node.outputs[0]
    readers = graph.readers(y)
    if y in graph.outputs or not readers or any(r.op_type != "Slice" or r.inputs[0] != y for r in readers):
        return None
    shape = list(graph.value(x).shape)
    perm = _perm(node, graph)
    operands = [_slice_operands(graph, r) for r in readers]
    if any(o is None for o in operands):
        return None
    replacement = []
    for reader, (axes, values) in zip(readers, operands, strict=True):  # type: ignore[misc]
        out = graph.value(reader.outputs[0])
        picked = graph.fresh_name(f"{reader.name}/picked")
        dims = list(shape)
        for a in axes:
            dims[perm[a]] = out.shape[a]
        graph.values[picked] = Value(picked, out.dtype, tuple(dims))
        replacement += [_slice_node(graph, f"{reader.name}/before", x, picked, [perm[a] for a in axes], values),
                        Node(f"{reader.name}/transpose", "Transpose", [picked], [reader.outputs[0]], {"perm": perm})]
        graph.nodes.remove(reader)
    graph.remove_value(y)
    return replacement


def _compact_slice(graph: Graph, node: Node) -> list[Node] | None:
    """A Slice of rank > 4 on the compact form of its input: runs of axes it leaves whole are
    merged (Reshape, free), so that its shapes stay off the heap."""
    operands = _slice_operands(graph, node)
    x, y = node.inputs[0], node.outputs[0]
    shape, out_shape = list(graph.value(x).shape), list(graph.value(y).shape)
    if operands is None or len(shape) <= 4:
        return None
    axes, values = operands
    groups: list[list[int]] = []
    for axis in range(len(shape)):
        if axis in axes or not groups or groups[-1][-1] in axes:
            groups.append([axis])
        else:
            groups[-1].append(axis)
    if len(groups) >= len(shape):
        return None
    merged = [product([shape[a] for a in g]) for g in groups]
    merged_out = [product([out_shape[a] for a in g]) for g in groups]
    new_axes = [next(i for i, g in enumerate(groups) if axis in g) for axis in axes]
    dtype = graph.value(x).dtype
    whole, picked = graph.fresh_name(f"{node.name}/compact"), graph.fresh_name(f"{node.name}/picked")
    graph.values[whole] = Value(whole, dtype, tuple(merged))
    graph.values[picked] = Value(picked, dtype, tuple(merged_out))
    return [
        _reshape(graph, f"{node.name}/reshape_in", x, whole, merged),
        _slice_node(graph, f"{node.name}/compact_slice", whole, picked, new_axes, values),
        _reshape(graph, f"{node.name}/reshape_out", picked, y, out_shape),
    ]


def decompose(graph: Graph) -> bool:
    """Replace Split (static sizes), DepthToSpace, SpaceToDepth and high-rank Transpose and
    Slice; True if any changed."""
    changed = False
    for node in [n for n in graph.nodes if n.op_type in ("DepthToSpace", "SpaceToDepth")
                 and n.domain in ("", "ai.onnx") and len(graph.value(n.inputs[0]).shape) == 4
                 and is_static(graph.value(n.inputs[0]).shape)]:
        at = graph.nodes.index(node)
        graph.nodes[at:at + 1] = _decompose_space_depth(graph, node)
        changed = True
    changed |= _split_to_slices(graph)
    rank = lambda n: len(graph.value(n.inputs[0]).shape)  # noqa: E731
    changed |= _replace_each(graph, "Transpose", _slices_before_transpose, lambda n: rank(n) > 4 and len(
        compact_transpose(list(graph.value(n.inputs[0]).shape), _perm(n, graph))[0]) == rank(n))
    changed |= _replace_each(graph, "Transpose", _decompose_transpose)
    changed |= _replace_each(graph, "Slice", _compact_slice)
    return changed


def _replace_each(graph: Graph, op: str, rewrite: Callable[[Graph, Node], list[Node] | None],
                  only: Callable[[Node], bool] = lambda n: True) -> bool:
    """Put `rewrite`'s nodes in place of each `op` node (of `only` those) it rewrites; True if any."""
    changed = False
    for node in [n for n in graph.nodes if n.op_type == op and n.domain in ("", "ai.onnx") and only(n)]:
        replacement = rewrite(graph, node)
        if replacement is not None:
            at = graph.nodes.index(node)
            graph.nodes[at:at + 1] = replacement
            changed = True
    return changed


def _perm(node: Node, graph: Graph) -> list[int]:
    rank = len(graph.value(node.inputs[0]).shape)
    return [int(p) for p in node.attrs.get("perm", reversed(range(rank)))]


def _split_to_slices(graph: Graph) -> bool:
    """Each Split into sizes known at compile time becomes one Slice per output."""
    changed = False
    for node in [n for n in graph.nodes if n.op_type == "Split" and n.domain in ("", "ai.onnx")]:
        sizes = _split_sizes(graph, node)
        if not is_static(sizes if sizes is not None else graph.value(node.inputs[0]).shape):
            continue  # sizes of an open dim: left whole (P11)
        if sizes is None:
            at = graph.nodes.index(node)
            graph.nodes[at:at + 1] = _split_at_run_time(graph, node)
            changed = True
            continue
        if len(sizes) != len(node.outputs):
            continue
        rank = len(graph.value(node.inputs[0]).shape)
        axis = int(node.attrs.get("axis", 0)) % rank
        at = graph.nodes.index(node)
        slices, start = [], 0
        for i, (out, size) in enumerate(zip(node.outputs, sizes, strict=True)):
            bounds = {"starts": [start], "ends": [start + size], "axes": [axis]}
            start += size
            if not out:
                continue
            if graph.opset < 10:  # Slice-1 takes its bounds as attributes
                slices.append(Node(f"{node.name}/slice{i}", "Slice", [node.inputs[0]], [out], bounds))
                continue
            names = [graph.fresh_name(f"{node.name}/slice{i}/{part}") for part in bounds]
            for name, value in zip(names, bounds.values(), strict=True):
                graph.initializers[name] = np.array(value, np.int64)
            slices.append(Node(f"{node.name}/slice{i}", "Slice", [node.inputs[0], *names], [out]))
        graph.nodes[at:at + 1] = slices
        changed = True
    return changed
