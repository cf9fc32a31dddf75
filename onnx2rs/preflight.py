"""Before anything is written: list every unsupported op, dtype and attribute at once."""

from __future__ import annotations

from .errors import UnsupportedError
from .ir import Graph
from .ops import lookup
from .passes.constant_fold import REMOVES as FOLDED


def check_supported(graph: Graph) -> None:
    """Raise UnsupportedError naming every unsupported op type and its nodes; else return."""
    problems: dict[str, list[str]] = {}
    if not graph.inputs:
        problems["a model without run-time inputs (its outputs are constants)"] = [graph.name]
    for node in graph.nodes:
        if node.is_loop_begin or node.is_loop_end:
            continue  # the IR's own structure, which code generation writes out
        spec = lookup(node.op_type, node.domain)
        label = node.op_type if node.domain in ("", "ai.onnx") else f"{node.domain}.{node.op_type}"
        if spec is None:
            if node.op_type in FOLDED and graph.probe:  # left unfolded by constant_fold: an open dim
                label += " (of an open dim: run-time shape arithmetic is not compiled yet)"
            problems.setdefault(label, []).append(node.name)
            continue
        main = node.input(spec.dtype_input)
        if main is None:
            problems.setdefault(f"{label} (missing input {spec.dtype_input})", []).append(node.name)
            continue
        dtype = graph.value(main).dtype
        if dtype not in spec.dtypes:
            problems.setdefault(f"{label} (dtype {dtype.name})", []).append(node.name)
            continue
        reason = spec.check(node, graph) if spec.check else None
        if reason:
            problems.setdefault(f"{label} ({reason})", []).append(node.name)
    if problems:
        raise UnsupportedError(problems)
