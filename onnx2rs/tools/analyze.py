"""`onnx2rs analyze`: the schedule with liveness, in-place decisions and the memory plan.

Runs the same front half as `build` (load, passes, preflight) and the analyses,
and returns plain data for the table, the JSON and the HTML report.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import onnx

from ..build import CompileOptions, lower_model
from ..passes import PassReport, analyse


@dataclass
class Step:
    """One row of the schedule."""

    step: int
    node: str
    op: str
    # The model's ops this node computes ("Conv+BatchNormalization+Relu+MaxPool"), and the
    # passes that merged them into it.
    fused: str
    fused_by: list[str]
    output: str
    shape: list[int]
    dtype: str
    bytes: int
    last_use: int
    inplace: bool
    reason: str
    offset: int
    arena: str
    inputs_from: list[int]


@dataclass
class Analysis:
    """Everything `analyze` shows."""

    model: str
    steps: list[Step]
    passes: list[dict]
    nodes: int
    naive_bytes: int
    arena_bytes: int
    arenas: dict[str, int]
    weights_bytes: int

    @property
    def ratio(self) -> float:
        """Planned arena over the naive sum of all intermediates."""
        return self.arena_bytes / self.naive_bytes if self.naive_bytes else 1.0

    def to_json(self) -> dict:
        """A JSON-ready dict, with the ratio included."""
        return {**asdict(self), "arena_over_naive": round(self.ratio, 4)}


def analyze(source: str | Path | onnx.ModelProto, options: CompileOptions | None = None) -> Analysis:
    """Analyse a model (a file, or a ModelProto) without writing anything."""
    _, graph, reports = lower_model(source, options or CompileOptions())
    live, inplace, memory = analyse(graph)
    steps: list[Step] = []
    step_of: dict[str, int] = {}
    for i, node in enumerate(graph.nodes):
        out = graph.value(node.outputs[0])
        decision = inplace[node.name]
        sources = sorted({step_of[v] for v in node.inputs if v in step_of})
        steps.append(
            Step(i, node.name, node.op_type, "+".join(op for op, _ in node.ops_computed()),
                 list(dict.fromkeys(by for _, by in node.ops_computed() if by)),
                 out.name, list(out.shape), out.dtype.rust, out.nbytes,
                 live[out.name].end, decision.inplace, decision.reason, memory.offset_of(out.name),
                 out.dtype.rust, sources)
        )
        step_of.update({o: i for o in node.outputs if o})
    return Analysis(
        model=source.graph.name if isinstance(source, onnx.ModelProto) else Path(source).name,
        steps=steps,
        passes=[_report(r) for r in reports],
        nodes=len(graph.nodes),
        naive_bytes=memory.naive_bytes,
        arena_bytes=memory.arena_bytes,
        arenas=dict(memory.arenas),
        weights_bytes=sum(int(a.nbytes) for a in graph.initializers.values()),
    )


def _report(r: PassReport) -> dict:
    return {"pass": r.name, "changed": r.changed, "removed": r.removed}
