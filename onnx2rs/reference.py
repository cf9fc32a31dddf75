"""ONNX Runtime as the reference: sample inputs, run the model, compare outputs.

This is the only module that imports onnxruntime.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx

from .ir import Graph, Node

# onnxruntime 1.31 refuses IR versions above 13; onnx 1.23 writes 14 by default.
MAX_ORT_IR_VERSION = 13


def ort_compatible(model: onnx.ModelProto) -> onnx.ModelProto:
    """A copy of `model` that ONNX Runtime accepts (IR version at most 13, node names
    unique: ONNX allows repeats, ORT does not); the caller's proto is left unchanged."""
    names = [n.name for n in model.graph.node if n.name]
    if model.ir_version <= MAX_ORT_IR_VERSION and len(set(names)) == len(names):
        return model
    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    copy.ir_version = min(copy.ir_version, MAX_ORT_IR_VERSION)
    taken, first = set(names), set()
    for i, node in enumerate(copy.graph.node):
        if node.name and node.name in first:  # a repeat: rename it to an unused name
            while node.name in taken:
                node.name = f"{node.name}#{i}"
            taken.add(node.name)
        first.add(node.name)
    return copy


ONNXRUNTIME = "ONNX Runtime"
ONNX_EVALUATOR = "onnx's reference evaluator"


def run_onnxruntime(model: onnx.ModelProto, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
    """Run `model` on one thread with ONNX Runtime and return its outputs in order
    (see `run_reference` for the models it refuses)."""
    return run_reference(model, feeds)[0]


def run_reference(model: onnx.ModelProto, feeds: dict[str, np.ndarray]) -> tuple[list[np.ndarray], str]:
    """The outputs of `model` from the reference, and which reference gave them.

    ONNX Runtime (one thread) refuses opsets that onnx ships as "under development" (27
    and 28 for ONNX Runtime 1.31); those models run on onnx's own reference evaluator."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.log_severity_level = 3
    try:
        session = ort.InferenceSession(
            ort_compatible(model).SerializeToString(), options, providers=["CPUExecutionProvider"]
        )
    except Exception as err:  # onnxruntime's own Fail type; it lives in a private module
        if "under development" not in str(err):
            raise
        from onnx.reference import ReferenceEvaluator

        return [np.asarray(x) for x in ReferenceEvaluator(model).run(None, feeds)], ONNX_EVALUATOR
    return [np.asarray(x) for x in session.run(None, feeds)], ONNXRUNTIME


def evaluate_node(node: Node, inputs: list[np.ndarray | None], opset: int) -> list[np.ndarray]:
    """Run one IR node on constant inputs with onnx's reference evaluator (for constant folding)."""
    from onnx import helper, numpy_helper
    from onnx.reference import ReferenceEvaluator

    attrs = {k: numpy_helper.from_array(v) if isinstance(v, np.ndarray) else v for k, v in node.attrs.items()}
    names = [f"in{i}" if x is not None else "" for i, x in enumerate(inputs)]
    outs = [f"out{i}" for i in range(len(node.outputs))]
    proto = helper.make_node(node.op_type, names, outs, domain=node.domain or None, **attrs)
    evaluator = ReferenceEvaluator(proto, opsets={"": opset})
    feeds = {n: x for n, x in zip(names, inputs, strict=True) if n}
    return [np.asarray(x) for x in evaluator.run(None, feeds)]


def _reads_through(graph: Graph, value: str, passes_on):
    """Every (node, v) where `node` reads `v`, `value` itself or what it became through the nodes
    that `passes_on(node, v)` says carry it on; each value visited once."""
    frontier, seen = [value], set()
    while frontier:
        v = frontier.pop()
        if v in seen:
            continue
        seen.add(v)
        for node in graph.readers(v):
            yield node, v
            if passes_on(node, v):
                frontier.extend(node.outputs)


# Ops tf2onnx wraps around embedding ids before their Gather.
_ID_OPS = frozenset({"Cast", "Add", "Sub", "Mul", "Where", "Identity", "Squeeze", "Unsqueeze", "Reshape",
                     "Flatten", "Less", "Not"})


def index_bound(graph: Graph, value: str) -> int | None:
    """The exclusive upper bound for an integer input that ends up indexing a Gather(Elements), if any.

    Follows the value through the ops tf2onnx wraps around embeddings (Cast, Add, Mul, Where,
    Less, Not...) to the Gather that consumes it, so that sampled ids stay in the table.
    """
    bounds = []
    for node, v in _reads_through(graph, value, lambda n, v: n.op_type in _ID_OPS):
        if node.op_type in ("Gather", "GatherElements") and node.input(1) == v and node.input(0):
            data = graph.value(node.inputs[0])
            bounds.append(data.shape[node.attrs.get("axis", 0) % len(data.shape)])
    return min(bounds) if bounds else None


def compared_constants(graph: Graph, value: str) -> list[int]:
    """The constants an integer input is tested for equality with (silero-vad's `sr == 16000`
    choosing a branch): the values that exercise the model, sorted."""
    found = set()
    for node, v in _reads_through(graph, value, lambda n, v: n.op_type in _SAME_VALUES and n.inputs[0] == v):
        if node.op_type == "Equal":
            other = node.inputs[1] if node.inputs[0] == v else node.inputs[0]
            if graph.is_constant(other) and graph.initializers[other].size == 1:
                found.add(int(graph.initializers[other].reshape(-1)[0]))
    return sorted(found)


# Ops that pass a scalar's value on unchanged (silero-vad reshapes and gathers `sr` first).
_SAME_VALUES = frozenset({"Reshape", "Squeeze", "Unsqueeze", "Gather", "Cast", "Flatten", "Expand"})


def sample_inputs(graph: Graph, seed: int = 0, sizes: dict[str, int] | None = None) -> dict[str, np.ndarray]:
    """Random inputs of the right shape, dtype and range for every graph input (open dims at
    `sizes`, else at the probe); an integer input that the model compares with constants
    takes the largest of them."""
    rng = np.random.default_rng(seed)
    feeds = {}
    for name in graph.inputs:
        value = graph.values[name]
        dtype = value.dtype.numpy
        shape = tuple(graph.at(d, graph.probe if sizes is None else sizes) for d in value.shape)
        if value.dtype.is_float:
            feeds[name] = rng.standard_normal(shape).astype(dtype)
        elif dtype.kind == "b":
            feeds[name] = rng.integers(0, 2, shape).astype(dtype)
        elif choices := compared_constants(graph, name):
            feeds[name] = np.full(shape, choices[-1], dtype)
        else:
            high = index_bound(graph, name) or 10
            feeds[name] = rng.integers(0, high, shape).astype(dtype)
    return feeds


@dataclass
class Mismatch:
    """How far one output of ours is from the reference."""

    name: str
    max_abs: float
    # The worst error over the reference's scale (its largest magnitude), not element by
    # element: a reference with zeros would make that infinite for any rounding.
    max_rel: float
    ok: bool


def compare(
    name: str, ours: np.ndarray, reference: np.ndarray, atol: float = 1e-4, rtol: float = 1e-4
) -> Mismatch:
    """Worst absolute error, and the same over the reference's largest magnitude; `ok` if
    every element is within atol + rtol*|ref|."""
    if ours.shape != reference.shape or ours.dtype != reference.dtype:
        return Mismatch(name, float("inf"), float("inf"), False)
    a, b = ours.astype(np.float64), reference.astype(np.float64)
    both_nan = np.isnan(a) & np.isnan(b)
    same = both_nan | (a == b)  # equal infinities too
    diff = np.where(same, 0.0, np.abs(a - b))
    ok = bool(np.all((diff <= atol + rtol * np.abs(b)) | same))
    max_abs = float(diff.max()) if diff.size else 0.0  # NaN where only one side is NaN
    finite = np.abs(b[np.isfinite(b)])
    scale = float(finite.max()) if finite.size else 0.0
    max_rel = max_abs / scale if scale > 0 else (0.0 if max_abs == 0 else float("inf"))
    return Mismatch(name, max_abs, max_rel, ok)
