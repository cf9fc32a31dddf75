"""`onnx2rs analyze`: the schedule with liveness, in-place decisions and the memory plan.

Runs the same front half as `build` (load, passes, preflight) and the analyses,
and returns plain data for the table, the JSON and the HTML report. With open dims
(`--dynamic`), each output's shape is also given as an expression of them, and each buffer
the buffers it is stacked above in the closed-form plan (passes/symbolic_plan.py).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from pathlib import Path

import onnx

from ..build import CompileOptions, lower_model
from ..ir import Graph
from ..passes import MemoryPlan, PassReport, analyse
from ..passes.symbolic_plan import plan_of


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
    # With open dims: the output's shape as expressions of them (None if not known yet), and
    # the steps whose buffers its own starts above, at every size.
    dims: list[str] | None = None
    above: list[int] | None = None


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
    # The open dims with their sizes here and, when some buffer has no closed-form size yet,
    # why the plan is given only at these sizes.
    open_dims: dict[str, int] | None = None
    dynamic_note: str = ""

    @property
    def ratio(self) -> float:
        """Planned arena over the naive sum of all intermediates."""
        return self.arena_bytes / self.naive_bytes if self.naive_bytes else 1.0

    def to_json(self) -> dict:
        """A JSON-ready dict, with the ratio included."""
        return {**asdict(self), "arena_over_naive": round(self.ratio, 4)}


def analyze(source: str | Path | onnx.ModelProto, options: CompileOptions | None = None,
            dynamic: dict[str, list[int | str]] | None = None) -> Analysis:
    """Analyse a model (a file, or a ModelProto) without writing anything; `dynamic` opens dims
    (`--dynamic`: an identifier opens a dim, a number pins it), the IR being built at the
    sizes of `options.input_shapes`."""
    _, graph, reports = lower_model(source, replace(options or CompileOptions(), dynamic=dynamic))
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
                 out.name, [graph.at_probe(d) for d in out.shape], out.dtype.rust, graph.at_probe(out.nbytes),
                 live[out.name].end, decision.inplace, decision.reason, memory.offset_of(out.name),
                 out.dtype.rust, sources)
        )
        step_of.update({o: i for o in node.outputs if o})
    analysis = Analysis(
        model=source.graph.name if isinstance(source, onnx.ModelProto) else Path(source).name,
        steps=steps,
        passes=[_report(r) for r in reports],
        nodes=len(graph.nodes),
        naive_bytes=memory.naive_bytes,
        arena_bytes=memory.arena_bytes,
        arenas=dict(memory.arenas),
        # Shape arithmetic over open dims (object arrays of expressions) is not a weight.
        weights_bytes=sum(int(a.nbytes) for a in graph.initializers.values() if a.dtype != object),
    )
    if dynamic is not None:
        _add_symbolic(analysis, graph, memory)
    return analysis


def _add_symbolic(a: Analysis, graph: Graph, memory: MemoryPlan) -> None:
    """Each step's shape at any size, and its place in the closed-form plan."""
    a.open_dims = dict(graph.probe)
    for row in a.steps:
        if row.output not in graph.probe_only:
            row.dims = [str(d) for d in graph.value(row.output).shape]
    plan = plan_of(graph, memory)
    if isinstance(plan, list):
        a.dynamic_note = (f"the plan holds at these sizes only: {len(plan)} buffer(s) have shapes here that no "
                          f"expression gives (such as {plan[0]!r}: a value a rewrite made, or a dim of 1 "
                          "that broadcasts at these sizes; other sizes may avoid the latter)")
        return
    step_of = {s.output: s.step for s in a.steps}
    for i, buf in enumerate(memory.buffers):
        if (i_step := step_of.get(buf.values[0])) is not None:
            a.steps[i_step].above = sorted(step_of[memory.buffers[j].values[0]] for j in plan.above[i]
                                           if memory.buffers[j].values[0] in step_of)


def _report(r: PassReport) -> dict:
    return {"pass": r.name, "changed": r.changed, "removed": r.removed}
